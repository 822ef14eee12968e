//! `smishtrap events` through the real binary, on stores written with the real `SqliteStore`.

use std::io::{BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use chrono::{DateTime, Duration, TimeZone, Utc};
use smishtrap_event::{AuthRecord, Event, EventKind, SmsAction, SmsDialect, body_digest};
use smishtrap_store::{SqliteStore, db_path};

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 7, 22, 10, 0, 0).single().unwrap_or_default()
}

fn event(id: &str, secs: i64, kind: EventKind) -> Event {
    let ts = t0() + Duration::seconds(secs) + Duration::microseconds(250);
    let mut e =
        Event::request(id, ts, "sensor-a", "milesight-ur32l", IpAddr::from([203, 0, 113, 7]));
    e.kind = kind;
    e.http.headers = vec![("Host".into(), "198.51.100.1".into()), ("Accept".into(), "*/*".into())];
    e
}

fn sms(id: &str, secs: i64, to: &[&str], text: &str) -> Event {
    let mut e = event(id, secs, EventKind::SmsSend);
    e.http.method = "POST".into();
    e.http.path = "/cgi".into();
    e.http.body = format!("{{\"function\":\"send_sms\",\"content\":{text:?}}}");
    e.http.body_len = e.http.body.len() as u64;
    e.http.body_sha256 = body_digest(e.http.body.as_bytes());
    e.sms = Some(SmsAction {
        to: to.iter().map(|s| (*s).to_owned()).collect(),
        text: Some(text.to_owned()),
        dialect: SmsDialect::ApiSms,
        mailbox: None,
        status: Some("failed".into()),
    });
    e
}

/// A store holding a small, varied capture, returned in the order the CLI must print it.
fn sample(dir: &Path) -> Vec<Event> {
    let mut login = event("c1-1", 60, EventKind::AuthLogin);
    login.http.method = "POST".into();
    login.http.path = "/cgi".into();
    login.auth = Some(AuthRecord {
        username: "admin".into(),
        password: "password".into(),
        password_decrypted: true,
        success: true,
    });
    let mut log = event("c2-0", 30, EventKind::LogRead);
    log.http.path = "/lang/log/httpd.log".into();
    log.tags = vec!["cve-2023-43261".into()];
    log.sensor = "sensor-b".into();
    log.session = "c2".into();
    log.src_ip = "2001:db8::5".parse().unwrap_or(log.src_ip);
    let send = sms("c1-2", 120, &["+32470000001", "+32470000002"], "Uw pakket wacht");
    let mut probe = event("c3-0", 3 * 3600, EventKind::HttpRequest);
    probe.session = "c3".into();
    // written out of time order, in two batches
    let mut store = ok(SqliteStore::open(&db_path(dir)));
    ok(store.insert_batch(&[send.clone(), login.clone()]));
    ok(store.insert_batch(&[probe.clone(), log.clone()]));
    vec![log, login, send, probe]
}

fn smishtrap(args: &[&str]) -> Output {
    ok(Command::new(env!("CARGO_BIN_EXE_smishtrap")).args(args).env("NO_COLOR", "1").output())
}

fn events(dir: &Path, extra: &[&str]) -> (Vec<Event>, Vec<serde_json::Value>) {
    let data = dir.to_string_lossy();
    let mut args = vec!["events", "--data", &data, "--format", "jsonl"];
    args.extend_from_slice(extra);
    let out = smishtrap(&args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = ok(String::from_utf8(out.stdout));
    let values: Vec<serde_json::Value> =
        stdout.lines().map(|l| ok(serde_json::from_str(l))).collect();
    let parsed = stdout.lines().map(|l| ok(serde_json::from_str(l))).collect();
    (parsed, values)
}

fn ids(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.id.as_str()).collect()
}

#[test]
fn jsonl_prints_every_event_oldest_first_field_by_field() {
    let dir = ok(tempfile::tempdir());
    let expect = sample(dir.path());
    let (got, values) = events(dir.path(), &[]);
    assert_eq!(got, expect);
    // the JSON shape is the v1 contract, checked on the raw output too
    let send = values.get(2).cloned().unwrap_or_default();
    assert_eq!(send["schema"], 1);
    assert_eq!(send["id"], "c1-2");
    assert_eq!(send["ts"], "2025-07-22T10:02:00.000250Z");
    assert_eq!(send["kind"], "sms.send");
    assert_eq!(send["sensor"], "sensor-a");
    assert_eq!(send["persona"], "milesight-ur32l");
    assert_eq!(send["session"], "c1");
    assert_eq!(send["src_ip"], "203.0.113.7");
    assert_eq!(send["src_port"], 40_000);
    assert_eq!(send["dst_port"], 8080);
    assert_eq!(send["http"]["method"], "POST");
    assert_eq!(send["http"]["path"], "/cgi");
    assert_eq!(send["http"]["headers"][0], serde_json::json!(["Host", "198.51.100.1"]));
    assert_eq!(send["sms"]["to"], serde_json::json!(["+32470000001", "+32470000002"]));
    assert_eq!(send["sms"]["text"], "Uw pakket wacht");
    assert_eq!(send["sms"]["dialect"], "api_sms");
    let login = values.get(1).cloned().unwrap_or_default();
    assert_eq!(login["auth"]["username"], "admin");
    assert_eq!(login["auth"]["success"], true);
    let log = values.first().cloned().unwrap_or_default();
    assert_eq!(log["src_ip"], "2001:db8::5");
    assert_eq!(log["tags"], serde_json::json!(["cve-2023-43261"]));
}

#[test]
fn filters_select_events() {
    let dir = ok(tempfile::tempdir());
    sample(dir.path());
    let cases: &[(&[&str], &[&str])] = &[
        (&["--kind", "sms.send"], &["c1-2"]),
        (&["--kind", "sms.send", "--kind", "log.read"], &["c2-0", "c1-2"]),
        (&["--kind", "sms.send,auth.login"], &["c1-1", "c1-2"]),
        (&["--since", "2025-07-22T10:01:00Z"], &["c1-1", "c1-2", "c3-0"]),
        (&["--since", "2025-07-22T10:01:00Z", "--until", "2025-07-22T10:02:00Z"], &["c1-1"]),
        (&["--until", "2025-07-22"], &[]),
        (&["--sensor", "sensor-b"], &["c2-0"]),
        (&["--src-ip", "203.0.113.7"], &["c1-1", "c1-2", "c3-0"]),
        (&["--src-ip", "2001:0db8:0::5"], &["c2-0"]),
        (&["--session", "c1"], &["c1-1", "c1-2"]),
        (&["--limit", "2"], &["c2-0", "c1-1"]),
        (&["--kind", "http.request", "--sensor", "sensor-a", "--limit", "5"], &["c3-0"]),
    ];
    for (args, expect) in cases {
        let (got, _) = events(dir.path(), args);
        assert_eq!(ids(&got), *expect, "{args:?}");
        let data = dir.path().to_string_lossy();
        let mut count = vec!["events", "--data", &data, "--count"];
        count.extend_from_slice(args);
        let out = smishtrap(&count);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            expect.len().to_string(),
            "{args:?}"
        );
    }
}

#[test]
fn relative_since_is_relative_to_now() {
    let dir = ok(tempfile::tempdir());
    let now = Utc::now();
    let mut old = event("old", 0, EventKind::HttpRequest);
    old.ts = now - Duration::hours(3);
    let mut recent = event("recent", 0, EventKind::HttpRequest);
    recent.ts = now - Duration::minutes(10);
    ok(ok(SqliteStore::open(&db_path(dir.path()))).insert_batch(&[old, recent]));
    assert_eq!(ids(&events(dir.path(), &["--since", "1h"]).0), ["recent"]);
    assert_eq!(ids(&events(dir.path(), &["--since", "2d"]).0), ["old", "recent"]);
    assert_eq!(ids(&events(dir.path(), &["--until", "30m"]).0), ["old"]);
}

#[test]
fn bad_arguments_are_named() {
    let dir = ok(tempfile::tempdir());
    sample(dir.path());
    let data = dir.path().to_string_lossy();
    for (args, fragment) in [
        (vec!["--kind", "sms.sendx"], "unknown event kind (known: http.request"),
        (vec!["--since", "yesterday"], "expected RFC 3339"),
        (vec!["--src-ip", "not-an-ip"], "--src-ip"),
        (vec!["--format", "xml"], "--format"),
    ] {
        let mut all = vec!["events", "--data", &data];
        all.extend(args.iter().copied());
        let out = smishtrap(&all);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(fragment), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn reads_while_a_writer_holds_the_store_open() {
    let dir = ok(tempfile::tempdir());
    let mut writer = ok(SqliteStore::open(&db_path(dir.path())));
    ok(writer.insert_batch(&[event("w-0", 0, EventKind::HttpRequest)]));
    // committed to the WAL, not checkpointed, writer still open: what a live sensor looks like
    assert!(dir.path().join("smishtrap.db-wal").exists());
    assert_eq!(ids(&events(dir.path(), &[]).0), ["w-0"]);
    ok(writer.insert_batch(&[event("w-1", 1, EventKind::SmsSend)]));
    assert_eq!(ids(&events(dir.path(), &[]).0), ["w-0", "w-1"]);
    drop(writer);
}

#[test]
fn missing_store_is_a_clear_error_and_creates_nothing() {
    let dir = ok(tempfile::tempdir());
    let data = dir.path().join("nowhere");
    let out = smishtrap(&["events", "--data", &data.to_string_lossy(), "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: no event store in "), "{err}");
    assert!(err.contains("smishtrap.db"), "{err}");
    assert!(!data.exists());
}

#[test]
fn empty_store_prints_nothing_and_succeeds() {
    let dir = ok(tempfile::tempdir());
    drop(ok(SqliteStore::open(&db_path(dir.path()))));
    for format in ["jsonl", "table"] {
        let out =
            smishtrap(&["events", "--data", &dir.path().to_string_lossy(), "--format", format]);
        assert!(out.status.success(), "{format}");
        assert!(out.stdout.is_empty(), "{format}: {:?}", String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
fn table_escapes_hostile_strings() {
    let dir = ok(tempfile::tempdir());
    let ansi = "\u{1b}[2J\u{1b}[31mPWNED\u{1b}[0m";
    let mut login = event("h-1", 0, EventKind::AuthLogin);
    login.http.path = format!("/cgi\r\nX-Injected: {ansi}");
    login.auth = Some(AuthRecord {
        username: format!("admin\n{ansi}"),
        password: "<script>alert(1)</script>".into(),
        password_decrypted: false,
        success: false,
    });
    let text = format!(
        "Beste klant,\nuw pakket: https://track-parcel.example-post.com/nl?id=9 {ansi}\u{202e}txt.exe{}",
        "A".repeat(5000)
    );
    let send = sms("h-2", 1, &["+32470000001\u{7}"], &text);
    let mut proxy = event("h-3", 2, EventKind::HttpRequest);
    proxy.http.path = "http://evil-proxy.example.net/".into();
    ok(ok(SqliteStore::open(&db_path(dir.path()))).insert_batch(&[login, send, proxy]));

    let out = smishtrap(&["events", "--data", &dir.path().to_string_lossy(), "--format", "table"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = ok(String::from_utf8(out.stdout));
    assert!(
        !table.bytes().any(|b| b < 0x20 && b != b'\n'),
        "no raw control bytes reach the terminal: {table:?}"
    );
    assert!(!table.contains('\u{202e}') && !table.contains('\u{9b}'));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "one header and one line per event: {table}");
    assert!(lines.first().is_some_and(|l| l.starts_with("TIME (UTC)")));
    assert!(lines.iter().all(|l| l.chars().count() < 260), "rows are bounded: {table}");
    let (login, send, proxy) = (lines[1], lines[2], lines[3]);
    assert!(login.contains("auth.login") && login.contains("203.0.113.7:40000"), "{login}");
    assert!(login.contains("/cgi\\r\\nX-Injected: \\u{1b}[2J"), "{login}");
    assert!(login.contains("user=\"admin\\n\\u{1b}[2J"), "{login}");
    assert!(login.contains("pass=\"<script>alert(1)</script>\""), "{login}");
    assert!(send.contains("to=+32470000001\\u{7}"), "{send}");
    assert!(send.contains("hxxps://track-parcel[.]example-post[.]com/nl?id=9"), "{send}");
    assert!(!table.contains("https://track-parcel.example-post.com"), "{send}");
    assert!(send.contains("…"), "long text truncated: {send}");
    assert!(proxy.contains("hxxp://evil-proxy[.]example[.]net/"), "{proxy}");
}

#[test]
fn table_shows_each_event_on_one_line_oldest_first() {
    let dir = ok(tempfile::tempdir());
    sample(dir.path());
    let out = smishtrap(&["events", "--data", &dir.path().to_string_lossy()]);
    assert!(out.status.success());
    let table = ok(String::from_utf8(out.stdout));
    let kinds: Vec<&str> =
        table.lines().skip(1).filter_map(|l| l.split_whitespace().nth(2)).collect();
    assert_eq!(kinds, ["log.read", "auth.login", "sms.send", "http.request"], "{table}");
    assert!(table.contains("2025-07-22 10:00:30"), "{table}");
    assert!(table.contains("[2001:db8::5]:40000"), "{table}");
    assert!(table.contains("user=\"admin\" pass=\"password\" login=ok"), "{table}");
    assert!(table.contains("#cve-2023-43261"), "{table}");
}

#[test]
fn broken_pipe_exits_quietly() {
    let dir = ok(tempfile::tempdir());
    let mut store = ok(SqliteStore::open(&db_path(dir.path())));
    let batch: Vec<Event> =
        (0..20_000).map(|i| sms(&format!("e{i}"), i, &["+32470000001"], "x")).collect();
    ok(store.insert_batch(&batch));
    drop(store);
    for format in ["jsonl", "table"] {
        let mut child = ok(Command::new(env!("CARGO_BIN_EXE_smishtrap"))
            .args(["events", "--data", &dir.path().to_string_lossy(), "--format", format])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn());
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut first = String::new();
        ok(BufReader::new(stdout).read_line(&mut first));
        assert!(!first.is_empty());
        // the reader is dropped here, like `| head -1`
        let mut err = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            ok(stderr.read_to_string(&mut err));
        }
        let status = ok(child.wait());
        assert!(status.success(), "{format}: {status:?} {err}");
        assert!(err.is_empty(), "{format}: {err}");
    }
}
