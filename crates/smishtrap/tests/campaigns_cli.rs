//! `smishtrap campaigns`, `export` and the campaign pass of `analyze`, through the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_smishtrap")
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/campaign_fixtures/small.jsonl")
}

fn run(args: &[&str]) -> Output {
    match Command::new(bin()).args(args).env("SMISHTRAP_LOG", "warn").output() {
        Ok(o) => o,
        Err(e) => panic!("running smishtrap: {e}"),
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    match serde_json::from_slice(&o.stdout) {
        Ok(v) => v,
        Err(e) => panic!("not JSON ({e}): {}", stdout(o)),
    }
}

fn lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o).lines().map(|l| serde_json::from_str(l).unwrap_or(serde_json::Value::Null)).collect()
}

#[test]
fn campaigns_table_lists_campaigns_by_size_defanged() {
    let f = fixture();
    let o = run(&["campaigns", f.to_str().unwrap_or_default()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("cmp-")).collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(rows[0].contains("CSAM") && rows[1].contains("PostNord"), "{out}");
    assert!(out.contains("csam-sleutel[.]top"), "{out}");
    assert!(!out.contains("csam-sleutel.top") && !out.contains("https://"), "{out}");
    assert!(out.contains("+37060000111"), "operator number listed: {out}");
}

#[test]
fn campaigns_json_and_show_detail() {
    let f = fixture();
    let f = f.to_str().unwrap_or_default();
    let o = run(&["campaigns", "--format", "json", f]);
    assert!(o.status.success());
    let v = json(&o);
    let list = v["campaigns"].as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 2);
    let csam = &list[0];
    assert_eq!(csam["brand"], "CSAM");
    assert_eq!(csam["waves"].as_array().map(Vec::len), Some(2));
    let ops: Vec<&str> = csam["operator_numbers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["e164"].as_str())
        .collect();
    assert_eq!(ops, ["+37060000111", "+447700900777"]);
    let id = csam["id"].as_str().unwrap_or_default().to_owned();

    let o = run(&["campaigns", "--show", &id, f]);
    assert!(o.status.success());
    let detail = stdout(&o);
    for needle in [
        "waves",
        "#1",
        "#2",
        "validation from",
        "csam-sleutel2[.]shop",
        "sample messages",
        "hxxps://csam-sleutel[.]top",
    ] {
        assert!(detail.contains(needle), "{needle}: {detail}");
    }
    assert!(!detail.contains("https://"), "{detail}");

    let o = run(&["campaigns", "--show", "cmp-nothing\u{1b}[31m", f]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no campaign") && !err.contains('\u{1b}'), "{err}");
}

#[test]
fn no_control_characters_reach_the_terminal() {
    let f = fixture();
    let f = f.to_str().unwrap_or_default();
    let o = run(&["campaigns", "--format", "json", f]);
    let v = json(&o);
    for c in v["campaigns"].as_array().into_iter().flatten() {
        let id = c["id"].as_str().unwrap_or_default();
        let detail = stdout(&run(&["campaigns", "--show", id, f]));
        assert!(!detail.chars().any(|ch| ch == '\u{202e}' || ch == '\u{7}'), "{detail:?}");
    }
}

#[test]
fn analyze_fills_campaign_and_phase_in_input_order() {
    let f = fixture();
    let o = run(&["analyze", "--format", "jsonl", f.to_str().unwrap_or_default()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = lines(&o);
    assert_eq!(out.len(), 55);
    let by_id = |id: &str| out.iter().find(|r| r["id"] == id).cloned().unwrap_or_default();
    assert_eq!(out[0]["id"], "fx-001");
    // test sends before the first wave: validation of the CSAM campaign
    for id in ["fx-001", "fx-002", "fx-003", "fx-020", "fx-021", "fx-022"] {
        assert_eq!(by_id(id)["phase"], "validation", "{id}");
        assert_eq!(by_id(id)["campaign"], by_id("fx-004")["campaign"], "{id}");
    }
    assert_eq!(by_id("fx-010")["phase"], "wave");
    assert_ne!(by_id("fx-040")["campaign"], by_id("fx-010")["campaign"]);
    // ham stays out, even a router alarm from a campaign router and an inbox "ok"
    for id in ["fx-051", "fx-052", "fx-053", "fx-054"] {
        assert!(by_id(id)["campaign"].is_null() && by_id(id)["phase"].is_null(), "{id}");
    }

    let o =
        run(&["analyze", "--format", "jsonl", "--no-campaigns", f.to_str().unwrap_or_default()]);
    assert!(lines(&o).iter().all(|r| r["campaign"].is_null() && r["phase"].is_null()));
}

#[test]
fn campaign_ids_do_not_depend_on_record_order() {
    let body = std::fs::read_to_string(fixture()).unwrap_or_default();
    let mut records: Vec<&str> = body.lines().collect();
    records.reverse();
    records.rotate_left(17);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let shuffled = dir.path().join("shuffled.jsonl");
    std::fs::write(&shuffled, records.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    let a = lines(&run(&["analyze", fixture().to_str().unwrap_or_default()]));
    let b = lines(&run(&["analyze", shuffled.to_str().unwrap_or_default()]));
    assert_eq!(a.len(), b.len());
    for r in &a {
        let other = b.iter().find(|x| x["id"] == r["id"]).cloned().unwrap_or_default();
        assert_eq!(r["campaign"], other["campaign"], "{}", r["id"]);
        assert_eq!(r["phase"], other["phase"], "{}", r["id"]);
    }
}

#[test]
fn malformed_records_are_reported_and_counted() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("bad.jsonl");
    let mut body = std::fs::read_to_string(fixture()).unwrap_or_default();
    body.push_str("{\"text\": 12}\nnot json\n");
    std::fs::write(&path, body).unwrap_or_else(|e| panic!("{e}"));
    let p = path.to_str().unwrap_or_default();
    let o = run(&["campaigns", p]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.jsonl:56") && err.contains("bad.jsonl:57"), "{err}");
    assert!(
        stdout(&o).lines().filter(|l| l.starts_with("cmp-")).count() == 2,
        "accepted records still count"
    );
    let o = run(&["export", "--format", "csv", "--allow-bad", p]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn show_lists_link_hosts_with_their_registrable_domain() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/campaign_fixtures/parent_zone.jsonl");
    let f = f.to_str().unwrap_or_default();
    let v = json(&run(&["campaigns", "--format", "json", f]));
    let id = v["campaigns"][0]["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(v["campaigns"][0]["domains"][0]["registrable_domain"], "bakkerij-janssens.be");
    let out = stdout(&run(&["campaigns", "--show", &id, f]));
    assert!(out.contains("hosts csam-sleutel[.]bakkerij-janssens[.]be"), "{out}");
    let host_line = out
        .lines()
        .find(|l| l.trim_start().starts_with("csam-verlengen[.]bakkerij-janssens[.]be"))
        .unwrap_or_default();
    assert!(host_line.ends_with("under bakkerij-janssens[.]be"), "{out}");
    assert!(!out.contains("bakkerij-janssens.be") && !out.contains("https://"), "{out}");
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = v["campaigns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

/// Issue 14 defect 1: `campaigns --data` and `export --data` read the campaigns stored in the
/// data directory (imports included, as the console shows them), with the ids files get.
#[test]
fn data_directory_campaigns_are_the_stored_ones_with_the_ids_of_files() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("data");
    let data = data.to_str().unwrap_or_default();
    let f = fixture();
    let f = f.to_str().unwrap_or_default();
    // stored without a clustering pass: `campaigns` catches the store up itself
    let o = run(&["import", "--data", data, "--no-cluster", f]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let from_files = ids(&json(&run(&["campaigns", "--format", "json", f])));
    assert_eq!(from_files.len(), 2);
    let o = run(&["campaigns", "--format", "json", "--data", data]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(ids(&json(&o)), from_files, "same campaigns, same ids");

    // the ids the console serves are the stored ones
    let db = smishtrap_store::db_path(Path::new(data));
    let store = smishtrap_store::SqliteStore::open_read_only(&db).unwrap_or_else(|e| panic!("{e}"));
    let mut stored: Vec<String> =
        store.all_campaigns().unwrap_or_else(|e| panic!("{e}")).into_iter().map(|c| c.id).collect();
    stored.sort();
    assert_eq!(stored, from_files);

    let o = run(&["campaigns", "--data", data, "--show", &stored[0]]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains(&stored[0]));

    let o = run(&["export", "--format", "json", "--data", data]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(ids(&json(&o)), from_files);

    // files and --data are two sources, not one
    let o = run(&["campaigns", "--data", data, f]);
    assert_eq!(o.status.code(), Some(2));
    // a directory without a store says so
    let o = run(&["campaigns", "--data", dir.path().join("none").to_str().unwrap_or_default()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no store"), "{o:?}");
}

/// `export --format misp-feed --out DIR` writes the MISP feed layout: one event per
/// campaign, a manifest naming each, and hashes.
#[test]
fn misp_feed_directory_layout() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("feed");
    let f = fixture();
    let o = run(&[
        "export",
        "--format",
        "misp-feed",
        "--out",
        out.to_str().unwrap_or_default(),
        f.to_str().unwrap_or_default(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("manifest.json")).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let uuids: Vec<&String> = manifest.as_object().map(|m| m.keys().collect()).unwrap_or_default();
    assert_eq!(uuids.len(), 2, "one event per campaign");
    for uuid in uuids {
        let event: serde_json::Value = serde_json::from_slice(
            &std::fs::read(out.join(format!("{uuid}.json"))).unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(event["Event"]["uuid"], uuid.as_str());
    }
    let hashes = std::fs::read_to_string(out.join("hashes.csv")).unwrap_or_default();
    assert!(hashes.lines().count() > 4, "{hashes}");
    // a feed needs a directory
    let o = run(&["export", "--format", "misp-feed", f.to_str().unwrap_or_default()]);
    assert_eq!(o.status.code(), Some(2));
}

/// Issue 15: `import` hands the new messages' features (only what can cluster) straight to
/// its clustering pass; the stored campaigns are those of the files, summaries included.
#[test]
fn imported_campaigns_are_the_files_campaigns_in_full() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("data");
    let data = data.to_str().unwrap_or_default();
    let f = fixture();
    let f = f.to_str().unwrap_or_default();
    let o = run(&["import", "--data", data, f]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let from_files = json(&run(&["campaigns", "--format", "json", f]));
    let o = run(&["campaigns", "--format", "json", "--data", data]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(json(&o)["campaigns"], from_files["campaigns"]);
}
