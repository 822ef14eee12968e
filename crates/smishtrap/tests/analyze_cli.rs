//! `smishtrap analyze` through the real binary, over the fixtures in `tests/analyze_fixtures/`
//! (well-formed and malformed JSONL, CSV with BOM and quoted newlines, TSV, invalid UTF-8)
//! and a real sensor store.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/analyze_fixtures")
        .join(name)
        .display()
        .to_string()
}

fn run(args: &[&str]) -> Output {
    match Command::new(env!("CARGO_BIN_EXE_smishtrap")).arg("analyze").args(args).output() {
        Ok(o) => o,
        Err(e) => panic!("running smishtrap: {e}"),
    }
}

fn stdout_records(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| match serde_json::from_str(l) {
            Ok(v) => v,
            Err(e) => panic!("output line is not JSON ({e}): {l}"),
        })
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn jsonl_outbox_follows_the_contract() {
    let out = run(&["--format", "jsonl", &fixture("outbox.jsonl")]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let recs = stdout_records(&out);
    assert_eq!(recs.len(), 4);
    for r in &recs {
        for field in [
            "id",
            "verdict",
            "score",
            "reasons",
            "lang",
            "recipient",
            "sender",
            "urls",
            "brand",
            "campaign",
            "phase",
        ] {
            assert!(r.get(field).is_some(), "field {field} missing in {r}");
        }
        let score = r["score"].as_f64().unwrap_or(-1.0);
        assert!((0.0..=1.0).contains(&score));
        assert_eq!(r["verdict"] != "ham", score >= 0.5, "score/verdict agree: {r}");
    }
    let ids: Vec<&str> = recs.iter().map(|r| r["id"].as_str().unwrap_or("")).collect();
    assert_eq!(ids, ["sm-1", "ham-1", "42", "4"], "input ids, else the record number");

    let sm = &recs[0];
    assert_eq!(sm["verdict"], "smishing");
    assert_eq!(sm["brand"], "CSAM");
    assert_eq!(sm["lang"], "nl");
    assert_eq!(sm["recipient"]["e164"], "+32470123456");
    assert_eq!(sm["recipient"]["country"], "BE");
    assert_eq!(sm["urls"][0]["registrable_domain"], "csam-verificatie.top");
    assert_eq!(sm["urls"][0]["impersonates"], "CSAM");
    let reasons = sm["reasons"].to_string();
    assert!(reasons.contains("csam-verificatie[.]top imitates CSAM"), "{reasons}");
    assert!(!reasons.contains("https://"), "reasons show no live link: {reasons}");
    // campaign and phase are filled by campaign clustering; the contract only fixes their type
    assert!(sm["campaign"].is_null() || sm["campaign"].is_string());
    assert!(sm["phase"].is_null() || sm["phase"] == "wave" || sm["phase"] == "validation");

    assert_eq!(recs[1]["verdict"], "ham", "official eBox link: {}", recs[1]);
    assert_eq!(recs[1]["sender"]["country"], "BE");
    assert_eq!(recs[2]["verdict"], "ham");
    assert_eq!(
        recs[2]["recipient"]["e164"], "+32470123456",
        "national number read with router_country"
    );

    let defanged = &recs[3];
    assert_eq!(defanged["verdict"], "smishing", "{defanged}");
    assert_eq!(defanged["recipient"]["e164"], "not a number", "invalid numbers are kept raw");
    assert_eq!(defanged["recipient"]["country"], Value::Null);
    assert_eq!(defanged["urls"][0]["impersonates"], "La Poste");
}

#[test]
fn malformed_records_are_reported_and_counted() {
    let path = fixture("malformed.jsonl");
    let out = run(&[&path]);
    assert_eq!(out.status.code(), Some(1), "malformed input exits non-zero");
    let err = stderr(&out);
    assert!(err.contains("malformed.jsonl:2: invalid JSON record"), "{err}");
    assert!(err.contains("malformed.jsonl:3: missing field text"), "{err}");
    assert!(err.contains("malformed.jsonl:4: field text: expected a string"), "{err}");
    assert!(err.contains("3 malformed records skipped, 2 analysed"), "{err}");
    let ids: Vec<String> =
        stdout_records(&out).iter().map(|r| r["id"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(ids, ["a", "e"], "valid records kept, in order");

    let allowed = run(&["--allow-bad", &path]);
    assert_eq!(allowed.status.code(), Some(0));
    assert_eq!(stdout_records(&allowed).len(), 2);
}

#[test]
fn csv_with_bom_quoted_newlines_and_formula_cells() {
    let out = run(&["--format", "jsonl", &fixture("export.csv")]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let recs = stdout_records(&out);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["id"], "1");
    assert_eq!(recs[0]["brand"], "ANTAI");
    assert_eq!(recs[0]["verdict"], "smishing");
    assert_eq!(recs[0]["recipient"]["country"], "FR");

    let csv = run(&["--format", "csv", &fixture("export.csv")]);
    assert!(csv.status.success());
    let text = String::from_utf8_lossy(&csv.stdout);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "id,verdict,score,brand,lang,recipient,recipient_country,sender,sender_country,urls,impersonates,reasons"
        )
    );
    assert!(text.contains("'+33612345678"), "phone numbers cannot start a formula: {text}");
    assert!(text.contains("hxxps://antai-amende[.]fr[.]com/p"), "urls defanged: {text}");
    assert!(!text.contains(",=cmd"), "formula cell neutralised: {text}");
    assert!(!text.contains("https://antai"), "no live link: {text}");
}

#[test]
fn tsv_and_invalid_utf8() {
    let out = run(&[&fixture("uci_like.tsv")]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let recs = stdout_records(&out);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["verdict"], "ham");
    assert_ne!(recs[1]["verdict"], "ham", "{}", recs[1]);

    let out = run(&[&fixture("invalid_utf8.jsonl")]);
    assert!(out.status.success(), "lossy decoding is not an error: {}", stderr(&out));
    assert!(
        stderr(&out).contains("invalid_utf8.jsonl:1: invalid UTF-8 replaced"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout_records(&out).len(), 1);
}

#[test]
fn stdin_and_several_files_number_records_across_the_run() {
    let mut child = match Command::new(env!("CARGO_BIN_EXE_smishtrap"))
        .args(["analyze", "-", &fixture("uci_like.tsv")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"{\"text\":\"hello there\"}\n{\"text\":\"see you\"}\n");
    }
    let out = match child.wait_with_output() {
        Ok(o) => o,
        Err(e) => panic!("{e}"),
    };
    assert!(out.status.success(), "{}", stderr(&out));
    let ids: Vec<String> =
        stdout_records(&out).iter().map(|r| r["id"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(ids, ["1", "2", "3", "4"]);
}

#[test]
fn table_output_is_defanged() {
    let out = run(&["--format", "table", &fixture("outbox.jsonl")]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("ID "), "{text}");
    assert!(text.contains("hxxps://csam-verificatie[.]top"), "{text}");
    assert!(!text.contains("https://"), "{text}");
    assert_eq!(text.lines().count(), 5);
}

#[test]
fn user_brand_catalogs_extend_and_are_validated() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let input = dir.path().join("in.jsonl");
    let line = "{\"text\":\"Acme Energie: uw terugbetaling staat klaar, bevestig uw rekening via https://acmeenergie-terugbetaling.com/x\"}\n";
    if let Err(e) = std::fs::write(&input, line) {
        panic!("{e}");
    }
    let input = input.display().to_string();
    let out = run(&["--brands", &fixture("extra_brands.toml"), &input]);
    assert!(out.status.success(), "{}", stderr(&out));
    let recs = stdout_records(&out);
    assert_eq!(recs[0]["urls"][0]["impersonates"], "Acme Energie");
    assert_eq!(recs[0]["brand"], "Acme Energie");

    let bad = run(&["--brands", &fixture("bad_brands.toml"), &input]);
    assert_eq!(bad.status.code(), Some(2));
    let err = stderr(&bad);
    assert!(
        err.contains("bad_brands.toml")
            && err.contains("brand \"Broken\"")
            && err.contains("field domains"),
        "{err}"
    );
}

#[test]
fn no_input_and_missing_file_are_errors() {
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no input"));
    let out = run(&["/nonexistent/x.jsonl"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("/nonexistent/x.jsonl"), "{}", stderr(&out));
}

#[test]
fn sensor_store_sms_send_events() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let event = serde_json::json!({
        "schema": 1, "id": "s1-0", "ts": "2025-07-22T10:00:00.000000Z", "sensor": "sensor-a",
        "persona": "milesight-ur32l", "session": "s1", "src_ip": "127.0.0.1", "src_port": 40000,
        "dst_port": 8080, "kind": "sms.send",
        "http": {"method": "POST", "path": "/cgi", "version": "HTTP/1.1", "headers": [["Host", "x"]],
                 "body": "{}", "body_encoding": "utf8", "body_len": 2, "body_truncated": false,
                 "body_sha256": "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
        "response_status": 200,
        "sms": {"to": ["+32470000001", "+32470000002"],
                "text": "eBox: nieuw document, bekijk het voor 18:00 op https://ebox-belgie.net/doc", "dialect": "api_sms", "status": "sent"}
    });
    let event: smishtrap_event::Event = match serde_json::from_value(event) {
        Ok(e) => e,
        Err(e) => panic!("event shape: {e}"),
    };
    {
        let mut store =
            match smishtrap_store::SqliteStore::open(&smishtrap_store::db_path(dir.path())) {
                Ok(s) => s,
                Err(e) => panic!("{e}"),
            };
        if let Err(e) = store.insert_batch(&[event]) {
            panic!("{e}");
        }
    }
    let out = run(&["--data", &dir.path().display().to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let recs = stdout_records(&out);
    assert_eq!(recs.len(), 2, "one record per recipient");
    assert_eq!(recs[0]["id"], "s1-0#1");
    assert_eq!(recs[1]["recipient"]["e164"], "+32470000002");
    assert_eq!(recs[0]["brand"], "eBox");
    assert_eq!(recs[0]["verdict"], "smishing");

    let empty = tempfile::tempdir().map(|d| d.path().display().to_string()).unwrap_or_default();
    let out = run(&["--data", &empty]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("no sensor store"), "{}", stderr(&out));
}

/// Many pieces of records analysed by more workers than cores, with texts of very uneven
/// cost and malformed lines between them: the output keeps input order and loses nothing.
#[test]
fn output_keeps_input_order_across_workers() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let path = dir.path().join("many.jsonl");
    let mut input = String::new();
    let mut expect_ids = Vec::new();
    let mut bad_lines = 0;
    for i in 1..=5000usize {
        if i % 997 == 0 {
            input.push_str("{not json\n");
            bad_lines += 1;
            continue;
        }
        // every 300th record is a long text, so some pieces take far longer than others
        let text = if i % 300 == 0 {
            "Votre colis est en attente, payez les frais sur https://colis-suivi.top/x ".repeat(40)
        } else {
            format!("message {i}: see you at {} tonight", i % 24)
        };
        input.push_str(&serde_json::json!({ "id": format!("r{i}"), "text": text }).to_string());
        input.push('\n');
        expect_ids.push(format!("r{i}"));
    }
    if let Err(e) = std::fs::write(&path, input) {
        panic!("{e}");
    }
    let path = path.display().to_string();
    for jobs in ["1", "3"] {
        let out = run(&["--jobs", jobs, "--no-campaigns", "--allow-bad", &path]);
        assert!(out.status.success(), "{}", stderr(&out));
        let ids: Vec<String> = stdout_records(&out)
            .iter()
            .map(|r| r["id"].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(ids, expect_ids, "--jobs {jobs}");
        assert!(
            stderr(&out).contains(&format!("{bad_lines} malformed records skipped")),
            "{}",
            stderr(&out)
        );
    }
}
