//! Golden files of every export format over a small hand-made set of campaigns (features
//! built directly, so the snapshots do not move when the verdict engine changes).

use smishtrap_export::{Producer, csv, misp, stix};
use smishtrap_intel::Verdict;
use smishtrap_intel::campaign::{self, Campaign, CampaignInput, Config, UrlFeature, parse_ts};

fn msg(
    index: usize,
    ts: &str,
    router: &str,
    to: &str,
    text: &str,
    verdict: Verdict,
    url: Option<&str>,
) -> CampaignInput {
    let country = if to.starts_with("+32") {
        "BE"
    } else if to.starts_with("+370") {
        "LT"
    } else {
        "GB"
    };
    CampaignInput {
        index,
        ts: parse_ts(ts),
        router: Some(router.to_owned()),
        src_ip: index.is_multiple_of(3).then(|| "192.0.2.10".to_owned()),
        sender: None,
        recipient: Some(to.to_owned()),
        recipient_country: Some(country.to_owned()),
        outbound: true,
        status: Some(if index.is_multiple_of(4) { "failed" } else { "sent" }.to_owned()),
        text: text.to_owned(),
        verdict,
        brand: url.map(|_| "CSAM".to_owned()),
        lang: Some("nl".to_owned()),
        urls: url
            .map(|u| {
                let host =
                    u.trim_start_matches("https://").split('/').next().unwrap_or("").to_owned();
                UrlFeature {
                    url: u.to_owned(),
                    host: host.clone(),
                    domain: Some(host),
                    impersonates: Some("CSAM".to_owned()),
                    technique: Some("combosquatting".to_owned()),
                    shortener: false,
                }
            })
            .into_iter()
            .collect(),
    }
}

fn campaigns() -> Vec<Campaign> {
    let mut inputs = vec![
        msg(0, "2025-03-10T07:10:00Z", "UR35-1", "+37060000111", "test", Verdict::Ham, None),
        msg(1, "2025-03-10T07:12:00Z", "UR32-2", "+37060000111", "ok", Verdict::Ham, None),
    ];
    let template =
        |url: &str, n: usize| format!("CSAM: uw sleutel vervalt op {n}/03. Verleng hem via {url}");
    for k in 0..6 {
        let url = if k == 5 {
            "https://csam-sleutel.top/a'b".to_owned()
        } else {
            format!("https://csam-sleutel.top/x{k}")
        };
        let i = inputs.len();
        inputs.push(msg(
            i,
            &format!("2025-03-10T08:0{k}:00Z"),
            ["UR35-1", "UR32-2"][k % 2],
            &format!("+3247000000{k}"),
            &template(&url, k + 10),
            Verdict::Smishing,
            Some(&url),
        ));
    }
    let i = inputs.len();
    inputs.push(msg(i, "2025-04-02T18:40:00Z", "UR41-3", "+37060000111", "1", Verdict::Ham, None));
    for k in 0..4 {
        let url = format!("https://csam-sleutel2.shop/y{k}");
        let i = inputs.len();
        inputs.push(msg(
            i,
            &format!("2025-04-02T19:0{k}:00Z"),
            "UR41-3",
            &format!("+3248000000{k}"),
            &template(&url, k + 1),
            Verdict::Smishing,
            Some(&url),
        ));
    }
    campaign::cluster(&inputs, &Config::default()).campaigns
}

#[test]
fn stix_bundle_golden() {
    let c = campaigns();
    assert_eq!(c.len(), 1);
    let bundle = stix::bundle(&c, &Producer::default());
    assert_eq!(bundle, stix::bundle(&c, &Producer::default()), "deterministic");
    insta::assert_json_snapshot!("stix", bundle);
}

#[test]
fn misp_events_golden() {
    let c = campaigns();
    let events = misp::events(&c, misp::Mode::PerCampaign, &Producer::default());
    assert_eq!(events.len(), 1);
    insta::assert_json_snapshot!("misp", events);
}

#[test]
fn csv_golden() {
    let c = campaigns();
    let text = String::from_utf8(csv::indicators(&c)).unwrap_or_default();
    insta::assert_snapshot!("csv", text);
}

#[test]
fn human_fields_never_carry_live_links() {
    let c = campaigns();
    let bundle = stix::bundle(&c, &Producer::default());
    for o in bundle["objects"].as_array().into_iter().flatten() {
        for field in ["name", "description", "content", "abstract"] {
            let text = o[field].as_str().unwrap_or("");
            assert!(
                !text.contains("https://") && !text.contains("csam-sleutel.top"),
                "{field}: {text}"
            );
        }
    }
    let events = misp::events(&c, misp::Mode::Single, &Producer::default());
    let mut comments = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    if k == "comment" || k == "info" {
                        out.push(v.as_str().unwrap_or("").to_owned());
                    }
                    walk(v, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&events[0], &mut comments);
    assert!(!comments.is_empty());
    for c in comments {
        assert!(!c.contains("https://") && !c.contains("csam-sleutel.top"), "{c}");
    }
    // machine values stay real
    let csv = String::from_utf8(csv::indicators(&campaigns())).unwrap_or_default();
    assert!(csv.contains("\ndomain,csam-sleutel.top,csam-sleutel[.]top,"), "{csv}");
}
