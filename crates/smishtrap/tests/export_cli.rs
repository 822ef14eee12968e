//! `smishtrap export` through the binary: every format, files and standard output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/campaign_fixtures/small.jsonl")
}

fn run(args: &[&str]) -> Output {
    match Command::new(env!("CARGO_BIN_EXE_smishtrap"))
        .args(args)
        .env("SMISHTRAP_LOG", "warn")
        .output()
    {
        Ok(o) => {
            assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
            o
        }
        Err(e) => panic!("running smishtrap: {e}"),
    }
}

fn f() -> String {
    fixture().to_str().unwrap_or_default().to_owned()
}

#[test]
fn stix_is_deterministic_and_keeps_real_values_in_patterns() {
    let a = run(&["export", "--format", "stix", &f()]);
    let b = run(&["export", "--format", "stix", &f()]);
    assert_eq!(a.stdout, b.stdout, "same input, same bundle");
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap_or_default();
    assert_eq!(v["type"], "bundle");
    let objects = v["objects"].as_array().cloned().unwrap_or_default();
    let patterns: Vec<&str> = objects.iter().filter_map(|o| o["pattern"].as_str()).collect();
    assert!(patterns.contains(&"[domain-name:value = 'postnord-frakt.com']"), "{patterns:?}");
    assert!(
        patterns.iter().any(|p| p.contains("\\'x")),
        "quote escaped in a URL pattern: {patterns:?}"
    );
    // the fixture's senders use documentation addresses: never indicators (issue 14)
    assert!(!patterns.iter().any(|p| p.contains("198.51.100.77")), "{patterns:?}");
    let marking = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
    assert!(objects.iter().any(|o| o["id"] == marking), "TLP:AMBER marking definition");
    assert!(
        objects
            .iter()
            .filter(|o| o["type"] != "marking-definition")
            .all(|o| o["object_marking_refs"] == serde_json::json!([marking])),
        "every object marked"
    );
    let kinds: std::collections::HashSet<&str> =
        objects.iter().filter_map(|o| o["type"].as_str()).collect();
    for k in [
        "identity",
        "campaign",
        "intrusion-set",
        "infrastructure",
        "indicator",
        "relationship",
        "domain-name",
        "url",
        "observed-data",
        "note",
    ] {
        assert!(kinds.contains(k), "{k}");
    }
    for o in &objects {
        for field in ["name", "description", "content", "abstract"] {
            let t = o[field].as_str().unwrap_or("");
            assert!(!t.contains("https://") && !t.contains("postnord-frakt.com"), "{field}: {t}");
        }
    }
    let notes: Vec<&str> = objects
        .iter()
        .filter(|o| o["type"] == "note")
        .filter_map(|o| o["content"].as_str())
        .collect();
    assert!(notes.iter().any(|n| n.contains("+37060000111")), "operator numbers in a note");
}

#[test]
fn misp_per_campaign_directory_single_and_lines() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("events");
    run(&["export", "--format", "misp", &f(), "--out", out.to_str().unwrap_or_default()]);
    let files: Vec<_> =
        std::fs::read_dir(&out).map(|d| d.filter_map(Result::ok).collect()).unwrap_or_default();
    assert_eq!(files.len(), 2);
    for file in files {
        let name = file.file_name().to_string_lossy().into_owned();
        assert!(name.starts_with("cmp-") && name.ends_with(".json"), "{name}");
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(file.path()).unwrap_or_default())
                .unwrap_or_default();
        let tags: Vec<&str> = v["Event"]["Tag"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["name"].as_str())
            .collect();
        assert!(tags.contains(&"phishing:techniques=\"sms-phishing\""));
    }
    let o = run(&["export", "--format", "misp", &f()]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().count(),
        2,
        "one event per line on stdout"
    );
    let o = run(&["export", "--format", "misp", "--misp-mode", "single", &f()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    let objects: Vec<&str> = v["Event"]["Object"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["name"].as_str())
        .collect();
    for name in ["short-message-service", "phishing", "url", "domain-ip", "phone-number"] {
        assert!(objects.contains(&name), "{name}");
    }
}

#[test]
fn csv_has_one_indicator_per_row_and_is_formula_safe() {
    let o = run(&["export", "--format", "csv", &f()]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut rows = text.lines();
    assert_eq!(
        rows.next(),
        Some(
            "type,value,defanged,campaign,campaign_label,brand,first_seen,last_seen,count,registrable_domain,router_families,dialects"
        )
    );
    assert!(text.contains("\ndomain,csam-sleutel.top,csam-sleutel[.]top,cmp-"), "{text}");
    assert!(text.contains("\nphone-number,+37060000111,+37060000111,"), "{text}");
    assert!(!text.contains("192.0.2.44"), "a documentation address is no indicator: {text}");
    for row in text.lines() {
        for cell in row.split(',') {
            assert!(!cell.starts_with(['=', '@', '-']), "{row}");
        }
    }
}

#[test]
fn json_export_and_out_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("campaigns.json");
    run(&["export", "--format", "json", &f(), "--out", path.to_str().unwrap_or_default()]);
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_default()).unwrap_or_default();
    assert_eq!(v["campaigns"].as_array().map(Vec::len), Some(2));
}

/// Links on attacker hosts under someone else's domain (a hacked site; `x.fr.com` style
/// parents and dynamic DNS behave the same): every format's indicators are the hosts, the
/// registrable parent is never one.
#[test]
fn indicators_are_link_hosts_not_their_registrable_parent() {
    let parent = "bakkerij-janssens.be";
    let fx =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/campaign_fixtures/parent_zone.jsonl");
    let fx = fx.to_str().unwrap_or_default();

    let stix: serde_json::Value =
        serde_json::from_slice(&run(&["export", "--format", "stix", fx]).stdout)
            .unwrap_or_default();
    let objects = stix["objects"].as_array().cloned().unwrap_or_default();
    let mut scos: Vec<&str> = objects
        .iter()
        .filter(|o| o["type"] == "domain-name")
        .filter_map(|o| o["value"].as_str())
        .collect();
    scos.sort_unstable();
    assert_eq!(scos, ["csam-sleutel.bakkerij-janssens.be", "csam-verlengen.bakkerij-janssens.be"]);
    let patterns: Vec<&str> = objects.iter().filter_map(|o| o["pattern"].as_str()).collect();
    assert!(patterns.contains(&"[domain-name:value = 'csam-sleutel.bakkerij-janssens.be']"));
    assert!(!patterns.iter().any(|p| p.contains(&format!("'{parent}'"))), "{patterns:?}");

    let misp = String::from_utf8_lossy(
        &run(&["export", "--format", "misp", "--misp-mode", "single", fx]).stdout,
    )
    .into_owned();
    assert!(
        misp.contains("\"value\": \"csam-sleutel.bakkerij-janssens.be\"")
            || misp.contains("\"value\":\"csam-sleutel.bakkerij-janssens.be\""),
        "{misp}"
    );
    assert!(!misp.contains(&format!("\"{parent}\"")), "{misp}");

    let csv = String::from_utf8_lossy(&run(&["export", "--format", "csv", fx]).stdout).into_owned();
    assert!(csv.contains("\ndomain,csam-sleutel.bakkerij-janssens.be,"), "{csv}");
    for row in csv.lines().skip(1) {
        assert_ne!(row.split(',').nth(1), Some(parent), "{row}");
        if row.starts_with("domain,") {
            // registrable_domain, then the (empty: imported) router_families and dialects
            assert!(row.ends_with(&format!(",{parent},,")), "{row}");
        }
    }
}
