//! Fuzzes campaign clustering and the text helpers it exposes: arbitrary lines become
//! messages (text, time, router, recipient derived from the bytes), clustered at once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smishtrap_intel::Verdict;
use smishtrap_intel::campaign::{
    CampaignInput, Config, carry_ids, cluster, defang_text, template,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let inputs: Vec<CampaignInput> = text
        .lines()
        .take(256)
        .enumerate()
        .map(|(i, line)| {
            let b = line.as_bytes();
            let pick = |k: usize| b.get(k).copied().unwrap_or(0);
            CampaignInput {
                index: i,
                ts: Some(i64::from(pick(0)) * 600 + i as i64),
                router: Some(format!("r{}", pick(1) % 4)),
                src_ip: None,
                sender: None,
                recipient: Some(format!("+3247{:07}", pick(2) % 8)),
                recipient_country: Some(if pick(3) % 3 == 0 { "LT" } else { "BE" }.to_owned()),
                outbound: pick(4) % 5 != 0,
                status: Some(if pick(5) % 2 == 0 { "failed" } else { "sent" }.to_owned()),
                text: line.to_owned(),
                verdict: if line.len() > 20 { Verdict::Smishing } else { Verdict::Ham },
                brand: (pick(6) % 3 != 0).then(|| "CSAM".to_owned()),
                lang: None,
                urls: Vec::new(),
                honeypot: pick(7) % 2 == 0,
            }
        })
        .collect();
    let mut result = cluster(&inputs, &Config::default());
    assert_eq!(result.assignments.len(), inputs.len());
    // carrying arbitrary earlier ids over keeps one assignment per input, ids unique
    let previous: Vec<Option<String>> =
        inputs.iter().map(|m| Some(format!("old-{}", m.text.len() % 3))).collect();
    carry_ids(&inputs, &mut result, &previous, &Default::default());
    assert_eq!(result.assignments.len(), inputs.len());
    let mut ids: Vec<&str> = result.campaigns.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), result.campaigns.len());
    for c in &result.campaigns {
        assert!(c.message_count > 0);
    }
    let t = template::normalise(&text);
    assert_eq!(template::normalise(&text).hash, t.hash);
    let shown = defang_text(&text);
    assert!(!shown.chars().any(|c| c.is_control()));
});
