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

/// A campaign whose links sit on attacker hosts under a parent domain that is not a public
/// suffix (`x.fr.com` style, hacked sites, dynamic DNS not on the PSL).
fn parent_zone_campaigns() -> Vec<Campaign> {
    let hosts = ["pay-brand.parent-zone.com", "brand-verify.parent-zone.com"];
    let inputs: Vec<CampaignInput> = (0..6)
        .map(|k| {
            let host = hosts[k % 2];
            let url = format!("https://{host}/p{k}");
            let text = format!("CSAM: uw sleutel vervalt op {}/03. Verleng hem via {url}", k + 10);
            let mut m = msg(
                k,
                &format!("2025-03-10T08:0{k}:00Z"),
                "UR35-1",
                &format!("+3247000000{k}"),
                &text,
                Verdict::Smishing,
                Some(&url),
            );
            for u in &mut m.urls {
                u.domain = Some("parent-zone.com".to_owned());
            }
            m
        })
        .collect();
    campaign::cluster(&inputs, &Config::default()).campaigns
}

#[test]
fn indicators_are_hosts_never_their_registrable_parent() {
    let parent = "parent-zone.com";
    let c = parent_zone_campaigns();
    assert_eq!(c.len(), 1);

    // STIX: every domain-name SCO and domain pattern is one of the hosts
    let bundle = stix::bundle(&c, &Producer::default());
    let mut sco_values = Vec::new();
    for o in bundle["objects"].as_array().into_iter().flatten() {
        if o["type"] == "domain-name" {
            sco_values.push(o["value"].as_str().unwrap_or("").to_owned());
        }
        if o["type"] == "indicator" {
            let pattern = o["pattern"].as_str().unwrap_or("");
            assert_ne!(pattern, format!("[domain-name:value = '{parent}']"));
        }
    }
    sco_values.sort();
    assert_eq!(sco_values, ["brand-verify.parent-zone.com", "pay-brand.parent-zone.com"]);
    assert!(
        bundle["objects"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|o| o["pattern"] == "[domain-name:value = 'pay-brand.parent-zone.com']")
    );

    // MISP: no attribute value is the bare parent (to_ids or not); hosts are to_ids
    let events = misp::events(&c, misp::Mode::Single, &Producer::default());
    let mut values: Vec<(String, String, bool)> = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<(String, String, bool)>) {
        match v {
            serde_json::Value::Object(m) => {
                if let (Some(t), Some(val)) = (m.get("type"), m.get("value")) {
                    out.push((
                        t.as_str().unwrap_or("").to_owned(),
                        val.as_str().unwrap_or("").to_owned(),
                        m.get("to_ids").and_then(serde_json::Value::as_bool).unwrap_or(false),
                    ));
                }
                m.values().for_each(|v| walk(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&events[0], &mut values);
    assert!(values.iter().all(|(_, v, _)| v != parent), "{values:?}");
    assert!(values.contains(&("domain".into(), "pay-brand.parent-zone.com".into(), true)));
    assert!(values.contains(&("hostname".into(), "brand-verify.parent-zone.com".into(), true)));

    // CSV: domain rows carry the host; the parent only in the context column
    let text = String::from_utf8(csv::indicators(&c)).unwrap_or_default();
    let mut rdr = ::csv::Reader::from_reader(text.as_bytes());
    let header = rdr.headers().cloned().unwrap_or_default();
    assert_eq!(header.get(1), Some("value"));
    assert_eq!(header.get(9), Some("registrable_domain"));
    let rows: Vec<::csv::StringRecord> = rdr.records().filter_map(Result::ok).collect();
    let domains: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| r.get(0) == Some("domain"))
        .map(|r| (r.get(1).unwrap_or(""), r.get(9).unwrap_or("")))
        .collect();
    assert_eq!(domains.len(), 2, "{text}");
    for (value, registrable) in domains {
        assert!(value.ends_with(".parent-zone.com"), "{value}");
        assert_eq!(registrable, parent);
    }
    assert!(rows.iter().all(|r| r.get(1) != Some(parent)), "{text}");
}
