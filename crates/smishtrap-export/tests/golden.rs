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
        honeypot: false,
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

/// A campaign whose lures use a shortener, a shared platform and (as a reference) the
/// brand's own site, sent from a public, a private, a loopback and the sensor's own address.
fn third_party_campaigns() -> Vec<Campaign> {
    let links = [
        ("https://bit.ly/3xYz", "bit.ly", true),
        ("https://sites.google.com/view/csam-be", "sites.google.com", false),
        ("https://csam-verify.netlify.app/login", "csam-verify.netlify.app", false),
        ("https://www.bpost.be/track", "www.bpost.be", false),
    ];
    let ips = ["8.8.4.4", "10.0.0.7", "127.0.0.1", "93.184.216.34"];
    let inputs: Vec<CampaignInput> = (0..8)
        .map(|k| {
            let (url, host, shortener) = links[k % links.len()];
            let text = format!("CSAM: uw sleutel vervalt op {}/03. Verleng hem via {url}", k + 10);
            let mut m = msg(
                k,
                &format!("2025-03-10T08:0{k}:00Z"),
                "UR35-1",
                &format!("+3247000000{k}"),
                &text,
                Verdict::Smishing,
                Some(url),
            );
            m.src_ip = Some(ips[k % ips.len()].to_owned());
            for u in &mut m.urls {
                u.host = host.to_owned();
                u.domain = smishtrap_extract::RegistrableDomain::parse(host)
                    .map(smishtrap_extract::RegistrableDomain::into_string);
                u.shortener = shortener;
            }
            m
        })
        .collect();
    campaign::cluster(&inputs, &Config::default()).campaigns
}

/// Issue 14 defect 3: shorteners, platforms and official domains are never blockable
/// domains (their URLs are exported instead); loopback, private and own addresses are
/// never indicators.
#[test]
fn third_parties_and_non_public_addresses_are_never_blockable() {
    let c = third_party_campaigns();
    assert_eq!(c.len(), 1);
    let own: std::net::IpAddr = "93.184.216.34".parse().unwrap_or(std::net::IpAddr::from([0; 4]));
    let producer = Producer {
        hygiene: smishtrap_export::indicator::Hygiene::builtin(&[own])
            .unwrap_or_else(|e| panic!("{e}")),
        ..Producer::default()
    };
    let never =
        ["bit.ly", "sites.google.com", "www.bpost.be", "10.0.0.7", "127.0.0.1", "93.184.216.34"];

    let csv = String::from_utf8(csv::indicators_for(&c, &producer)).unwrap_or_default();
    for line in csv.lines().skip(1) {
        let mut cells = line.split(',');
        let (kind, value) = (cells.next().unwrap_or(""), cells.next().unwrap_or(""));
        if kind != "url" {
            assert!(!never.contains(&value), "csv blocks {value}: {line}");
        }
    }
    assert!(csv.contains("\ndomain,csam-verify.netlify.app,"), "{csv}");
    assert!(csv.contains("\nurl,https://bit.ly/3xYz,"), "the shortened URL stays: {csv}");
    assert!(csv.contains("\nipv4,8.8.4.4,"), "{csv}");
    assert!(!csv.contains("www.bpost.be/track"), "the brand's own site is no indicator: {csv}");

    let bundle = stix::bundle(&c, &producer);
    for o in bundle["objects"].as_array().into_iter().flatten() {
        if o["type"] == "indicator" {
            let pattern = o["pattern"].as_str().unwrap_or("");
            // full URLs are specific (also on a shortener), but never the brand's own site
            if pattern.starts_with("[url:") {
                assert!(!pattern.contains("bpost.be"), "{pattern}");
                continue;
            }
            for v in never {
                assert!(!pattern.contains(&format!("value = '{v}'")), "stix indicator on {v}");
            }
        }
        if o["type"] == "ipv4-addr" {
            assert_eq!(o["value"], "8.8.4.4");
        }
    }

    let events = misp::events(&c, misp::Mode::PerCampaign, &producer);
    let mut flagged = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(m) => {
                if m.get("to_ids") == Some(&serde_json::Value::Bool(true)) {
                    let t = m.get("type").and_then(|t| t.as_str()).unwrap_or("").to_owned();
                    let v = m.get("value").and_then(|t| t.as_str()).unwrap_or("").to_owned();
                    out.push((t, v));
                }
                m.values().for_each(|v| walk(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&events[0], &mut flagged);
    for (kind, value) in &flagged {
        assert!(kind == "url" || !never.contains(&value.as_str()), "misp to_ids on {kind} {value}");
        assert!(!value.contains("bpost.be"), "misp to_ids on the brand's site {value}");
    }
    assert!(flagged.iter().any(|(k, v)| k == "url" && v == "https://bit.ly/3xYz"));
    assert!(flagged.iter().any(|(k, v)| k == "domain" && v == "csam-verify.netlify.app"));
}

/// Issue 14 defect 5: STIX objects carry the TLP 2.0 marking of MISP's tag (amber by
/// default, configurable), with the official marking-definition ids.
#[test]
fn stix_and_misp_share_one_tlp_marking() {
    let c = campaigns();
    for (tlp, id, tag) in [
        (
            smishtrap_export::Tlp::Amber,
            "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
            "tlp:amber",
        ),
        (
            smishtrap_export::Tlp::Clear,
            "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
            "tlp:clear",
        ),
        (
            smishtrap_export::Tlp::AmberStrict,
            "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
            "tlp:amber+strict",
        ),
    ] {
        let producer = Producer { tlp, ..Producer::default() };
        let bundle = stix::bundle(&c, &producer);
        let objects = bundle["objects"].as_array().cloned().unwrap_or_default();
        let markings: Vec<&serde_json::Value> =
            objects.iter().filter(|o| o["type"] == "marking-definition").collect();
        assert_eq!(markings.len(), 1);
        assert_eq!(markings[0]["id"], id);
        for o in objects.iter().filter(|o| o["type"] != "marking-definition") {
            assert_eq!(o["object_marking_refs"], serde_json::json!([id]), "{}", o["type"]);
        }
        let events = misp::events(&c, misp::Mode::PerCampaign, &producer);
        let tags: Vec<&str> = events[0]["Event"]["Tag"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["name"].as_str())
            .filter(|t| t.starts_with("tlp:"))
            .collect();
        assert_eq!(tags, [tag]);
    }
    assert_eq!(Producer::default().tlp, smishtrap_export::Tlp::Amber);
}

/// The MISP feed layout: one `<uuid>.json` per campaign event, a manifest of them, and
/// `hashes.csv` lines `md5(value),uuid`.
#[test]
fn misp_feed_has_manifest_hashes_and_one_file_per_event() {
    let c = campaigns();
    let files = smishtrap_export::feed::files(&c, &Producer::default());
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let events = misp::events(&c, misp::Mode::PerCampaign, &Producer::default());
    let uuid = events[0]["Event"]["uuid"].as_str().unwrap_or_default().to_owned();
    assert_eq!(names, [format!("{uuid}.json").as_str(), "manifest.json", "hashes.csv"]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&files[1].1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(manifest.as_object().map(|m| m.len()), Some(1));
    assert_eq!(manifest[&uuid]["info"], events[0]["Event"]["info"]);
    let hashes = String::from_utf8(files[2].1.clone()).unwrap_or_default();
    assert!(hashes.lines().all(|l| l.len() == 32 + 1 + 36 && l.ends_with(&uuid)), "{hashes}");
    // md5("csam-sleutel.top"), the campaign's domain attribute
    assert!(hashes.contains(&format!("841549498aa5840726d7ad98c4f9bb8f,{uuid}\n")), "{hashes}");
    let event: serde_json::Value =
        serde_json::from_slice(&files[0].1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(event, events[0]);
}

/// Issue 17: every format says where a campaign was captured (the router family and API
/// dialect of the sensor personas among its routers); imports and unknown personas add nothing.
#[test]
fn exports_show_the_family_and_dialect_of_the_captures() {
    use smishtrap_export::{Capture, PersonaInfo, captures};
    let mut all = campaigns();
    let c = all.iter_mut().find(|c| c.message_count >= 3).unwrap_or_else(|| panic!("a campaign"));
    let routers: Vec<(&str, usize)> = vec![
        ("s1/tplink-mr600", 3),
        ("s2/huawei-b535", 1),
        ("s3/tplink-mr600", 1),
        ("imported-router", 2),
    ];
    c.routers = routers
        .into_iter()
        .map(|(v, n)| smishtrap_intel::campaign::Count { value: v.to_owned(), count: n })
        .collect();
    let mut producer = Producer::default();
    assert!(captures(c, &producer).is_empty(), "no persona table, nothing shown");
    let info = |f: &str, d: &str| PersonaInfo { family: f.to_owned(), dialect: d.to_owned() };
    producer.personas.insert("tplink-mr600".to_owned(), info("TP-Link", "tplink"));
    producer.personas.insert("huawei-b535".to_owned(), info("Huawei\n<b>", "hilink"));
    let got = captures(c, &producer);
    let expect = vec![
        Capture { family: "TP-Link".to_owned(), dialect: "tplink".to_owned(), messages: 4 },
        Capture { family: "Huawei\\u{a}<b>".to_owned(), dialect: "hilink".to_owned(), messages: 1 },
    ];
    assert_eq!(got, expect, "control characters escaped in human fields");
    let one = vec![c.clone()];

    let csv = String::from_utf8(csv::indicators_for(&one, &producer)).unwrap_or_default();
    assert!(csv.lines().next().unwrap_or("").ends_with(",router_families,dialects"));
    assert!(
        csv.lines().skip(1).all(|l| l.ends_with(",Huawei\\u{a}<b>;TP-Link,hilink;tplink")),
        "{csv}"
    );

    let bundle = stix::bundle(&one, &producer);
    let objects = bundle["objects"].as_array().cloned().unwrap_or_default();
    let routers = objects
        .iter()
        .find(|o| o["infrastructure_types"][0] == "routers-switches")
        .unwrap_or_else(|| panic!("a routers infrastructure: {bundle}"));
    let description = routers["description"].as_str().unwrap_or("");
    assert!(description.contains("TP-Link (tplink API): 4 messages"), "{description}");
    assert!(
        objects.iter().any(|o| o["type"] == "relationship" && o["target_ref"] == routers["id"]),
        "the campaign uses the routers"
    );

    let event = misp::events(&one, misp::Mode::PerCampaign, &producer);
    let text = serde_json::to_string(&event).unwrap_or_default();
    assert!(
        text.contains("captured on a TP-Link router emulation (tplink API), 4 messages"),
        "{text}"
    );
}
