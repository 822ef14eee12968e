//! `smishtrap run` and `smishtrap import` through the real binary: a send captured by the
//! sensor becomes an analysed message with its campaign in the store; imports are
//! idempotent and report bad records with file and line.

mod console_support;
mod sensor_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use console_support::{BIN, ConsoleProcess};
use serde_json::json;
use smishtrap_store::{CLUSTERED_CURSOR, MessageQuery, SqliteStore, StoredMessage};

const TOKEN: &str = "run-test-token-0123456789";
const LURE: &str = "CSAM: uw digitale identiteit verloopt vandaag. Bevestig uw gegevens via \
                    https://login.csam-be.info/verify om blokkering te voorkomen";

fn send(http: &reqwest::blocking::Client, sensor: std::net::SocketAddr, to: &str, text: &str) {
    let body = json!({"id": "1", "execute": 1, "function": "send_sms", "values": [{
        "base": "api_sms", "phone_number": to, "content": text,
    }]});
    let response = http.post(format!("http://{sensor}/cgi")).json(&body).send().expect("send_sms");
    assert!(response.status().is_success());
}

/// Messages of the store once `n` of them are clustered (generous deadline, not a timing
/// assertion).
fn clustered(data: &Path, n: usize) -> Vec<StoredMessage> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(store) = SqliteStore::open_read_only(&smishtrap_store::db_path(data)) {
            let messages = store.messages(&MessageQuery::default(), 1000).expect("messages");
            let cursor = store.cursor(CLUSTERED_CURSOR).expect("cursor");
            if messages.len() >= n && messages.iter().all(|m| m.seq <= cursor) {
                return messages;
            }
        }
        assert!(Instant::now() < deadline, "{n} messages were not analysed and clustered");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn a_captured_send_becomes_an_analysed_message_with_its_campaign() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let run = ConsoleProcess::run(&data, &["--console-token", TOKEN]);
    let sensor = run.sensor.expect("sensor address in the banner");
    let http = sensor_support::client();
    for i in 0..3 {
        send(&http, sensor, &format!("+3247012345{i}"), LURE);
    }
    send(&http, sensor, "+32470999999", "see you at dinner, love");
    let messages = clustered(&data, 4);
    let lures: Vec<&StoredMessage> = messages.iter().filter(|m| m.message.text == LURE).collect();
    assert_eq!(lures.len(), 3);
    for m in &lures {
        assert_eq!(m.message.verdict, "smishing");
        assert_eq!(m.message.brand.as_deref(), Some("CSAM"));
        assert_eq!(m.message.country.as_deref(), Some("BE"));
        assert!(m.message.event_id.is_some());
        assert_eq!(m.campaign, lures[0].campaign);
    }
    assert!(lures[0].campaign.is_some());
    // The console of the same process answers with the token, and not without it.
    let health = http.get(run.url("/api/v1/health")).bearer_auth(TOKEN).send().expect("health");
    assert!(health.status().is_success());
    let anonymous = http.get(run.url("/api/v1/health")).send().expect("health");
    assert_eq!(anonymous.status().as_u16(), 401);
    assert_eq!(run.stop(), Some(0));

    // The heartbeat's last word: stopped, with what was recorded.
    let store = SqliteStore::open_read_only(&smishtrap_store::db_path(&data)).expect("store");
    let statuses = store.sensor_statuses().expect("statuses");
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert!(statuses[0].stopped);
    assert_eq!(statuses[0].events_recorded, 4);
    assert_eq!(statuses[0].events_not_recorded, 0);
}

#[test]
fn first_start_generates_a_token_and_the_console_never_shares_a_sensor_port() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let run = ConsoleProcess::run(&data, &[]);
    assert!(run.login_line.contains("/login?token="), "{}", run.login_line);
    let stored = std::fs::read_to_string(data.join("console-token")).expect("token file");
    assert!(run.login_line.contains(stored.trim()));
    assert_eq!(run.stop(), Some(0));
    let again = ConsoleProcess::run(&data, &[]);
    assert!(!again.login_line.contains("token="), "{}", again.login_line);
    // the restart banner still says where to log in
    assert!(again.login_line.contains("http://127.0.0.1:"), "{}", again.login_line);
    assert!(again.login_line.contains("/login"), "{}", again.login_line);
    assert_eq!(again.stop(), Some(0));

    let clash = Command::new(BIN)
        .args(["run", "--sensor-listen", "127.0.0.1:39090", "--console-listen", "127.0.0.1:39090"])
        .arg("--data")
        .arg(&data)
        .output()
        .expect("run");
    assert_eq!(clash.status.code(), Some(2));
    let err = String::from_utf8_lossy(&clash.stderr);
    assert!(err.contains("cannot listen on a sensor port"), "{err}");
}

fn import(data: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .arg("import")
        .arg("--data")
        .arg(data)
        .args(args)
        .env("SMISHTRAP_LOG", "warn")
        .output()
        .expect("import");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `DIR/outbox.jsonl`: five sends of one lure (line 1-5), a line that is not JSON (6), a
/// harmless message (7).
fn write_outbox(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("outbox.jsonl");
    let mut lines = Vec::new();
    for i in 0..5 {
        lines.push(
            json!({"ts": format!("2025-07-22T10:0{i}:00Z"), "to": format!("+3247012345{i}"),
                   "router": "r1", "text": LURE})
            .to_string(),
        );
    }
    lines.push("{not json".to_owned());
    lines.push(json!({"to": "+32470999999", "text": "see you at dinner"}).to_string());
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");
    file
}

#[test]
fn imports_are_analysed_clustered_and_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let file = write_outbox(dir.path());
    let name = file.to_str().expect("utf-8 path");

    let (code, err) = import(&data, &[name]);
    assert_eq!(code, Some(1), "a malformed record fails the import: {err}");
    assert!(err.contains(&format!("{name}:6:")), "names file and line: {err}");
    assert!(err.contains("6 new"), "{err}");

    let (code, err) = import(&data, &["--allow-bad", name]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("0 new, 6 already stored"), "{err}");

    let store = SqliteStore::open_read_only(&smishtrap_store::db_path(&data)).expect("store");
    let smishing = store
        .messages(&MessageQuery { verdict: Some("smishing".into()), ..Default::default() }, 100)
        .expect("messages");
    assert_eq!(smishing.len(), 5);
    assert!(smishing.iter().all(|m| m.campaign.is_some() && m.campaign == smishing[0].campaign));
    assert_eq!(store.count_campaigns().expect("count"), 1);
    // the record's own time orders the messages
    assert_eq!(smishing[0].message.ts_micros, 1_753_178_640_000_000);

    let (code, err) = import(&data, &[dir.path().join("missing.jsonl").to_str().unwrap_or("")]);
    assert_eq!(code, Some(2));
    assert!(err.contains("missing.jsonl"), "{err}");
}

#[test]
fn import_reports_lossy_utf8_with_file_and_line_and_keeps_the_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let file = dir.path().join("latin1.jsonl");
    let mut bytes = b"{\"to\":\"+32470123456\",\"text\":\"see you at dinner\"}\n".to_vec();
    bytes.extend_from_slice(b"{\"to\":\"+32470123457\",\"text\":\"caf\xe9 at 8\"}\n");
    std::fs::write(&file, bytes).expect("write");
    let name = file.to_str().expect("utf-8 path");
    let (code, err) = import(&data, &[name]);
    assert_eq!(code, Some(0), "a warning is not a failure: {err}");
    assert!(err.contains(&format!("warning: {name}:2:")), "{err}");
    assert!(err.contains("2 new"), "{err}");
}

#[test]
fn console_limits_in_the_config_are_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let check = |console: &str| {
        let config = dir.path().join("run.toml");
        std::fs::write(&config, format!("[console]\n{console}\n")).expect("write config");
        let out = Command::new(BIN)
            .args(["run", "--check-config", "--config"])
            .arg(&config)
            .arg("--data")
            .arg(dir.path().join("data"))
            .output()
            .expect("run");
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, err) = check(
        "header_timeout_secs = 2.5\nidle_timeout_secs = 30\nmax_connections = 64\n\
         max_connections_per_ip = 8\nmax_body_bytes = 4096\nsession_idle_minutes = 30",
    );
    assert!(ok, "{err}");
    for (bad, key) in [
        ("idle_timeout_secs = 0", "console.idle_timeout_secs"),
        ("header_timeout_secs = -1", "console.header_timeout_secs"),
        ("max_connections = 0", "console.max_connections"),
        ("max_connections_per_ip = 0", "console.max_connections_per_ip"),
        ("max_idle = 3", "max_idle"),
        ("session_idle_minutes = 0", "console.session_idle_minutes"),
    ] {
        let (ok, err) = check(bad);
        assert!(!ok, "{bad} accepted");
        assert!(err.contains(key), "{bad}: {err}");
    }
}

/// Issue 14 CLI defects: errors name the file, an unterminated quote does not swallow the
/// next line, empty input and plain text lists say so, and no colour codes reach a pipe.
#[test]
fn import_problems_name_the_file_and_line_without_colour_codes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let missing = dir.path().join("missing.jsonl");
    let (code, err) = import(&data, &[missing.to_str().unwrap_or("")]);
    assert_eq!(code, Some(2));
    let first = err.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
    assert!(first.contains("missing.jsonl") && first.contains("cannot open"), "{err}");

    let quoted = dir.path().join("q.csv");
    std::fs::write(&quoted, "text,to\n\"unterminated,+32470000001\nhello,+32470000002\n")
        .expect("write");
    let (code, err) = import(&data, &["--allow-bad", quoted.to_str().unwrap_or("")]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("q.csv:2: field 1 (text): quote not closed"), "{err}");
    assert!(err.contains("imported 1 messages"), "the next line is its own record: {err}");

    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").expect("write");
    let (_, err) = import(&data, &[empty.to_str().unwrap_or("")]);
    assert!(err.contains("empty.jsonl: empty input, no records"), "{err}");

    let plain = dir.path().join("list.txt");
    std::fs::write(&plain, "hello there\nsecond message\n").expect("write");
    let (code, err) = import(&data, &[plain.to_str().unwrap_or("")]);
    assert_eq!(code, Some(2));
    assert!(err.contains("list.txt") && err.contains("first line `text`"), "{err}");
    assert!(!err.contains('\u{1b}'), "no colour codes into a pipe: {err:?}");
}

/// Two `run`s cannot share one data directory: the second is refused naming the directory
/// and the first one's pid.
#[test]
fn a_second_run_on_one_data_directory_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let first = ConsoleProcess::run(&data, &[]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_smishtrap"))
        .args(["run", "--sensor-listen", "127.0.0.1:0", "--console-listen", "127.0.0.1:0"])
        .arg("--data")
        .arg(&data)
        .env("SMISHTRAP_LOG", "warn")
        .output()
        .expect("second run");
    drop(first);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is in use by another smishtrap process (pid "), "{err}");
    assert!(err.contains(&data.display().to_string()), "{err}");
}

/// `import --store` into the hub's PostgreSQL (cargo feature `hub`; `SMISHTRAP_TEST_POSTGRES`
/// as for the hub tests, a fresh schema per run): bad lines named by file and line, the
/// messages searchable and clustered, a rerun stores nothing.
#[cfg(feature = "hub")]
#[test]
fn imports_into_postgresql_are_reported_searchable_clustered_and_idempotent() {
    use smishtrap_store::AnalysisStore;
    let conninfo = smishtrap_testkit::conninfo();
    let schema = smishtrap_testkit::Schema::new("import_store");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_outbox(dir.path());
    let name = file.to_str().expect("utf-8 path");
    let import = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(["import", "--store", &conninfo, "--schema", &schema.0])
            .args(args)
            .env("SMISHTRAP_LOG", "warn")
            .output()
            .expect("import");
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };

    let (code, err) = import(&[name]);
    assert_eq!(code, Some(1), "a malformed record fails the import: {err}");
    assert!(err.contains(&format!("{name}:6:")), "names file and line: {err}");
    assert!(err.contains("6 new") && err.contains("1 campaigns in the store"), "{err}");
    let (code, err) = import(&["--allow-bad", name]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("0 new, 6 already stored"), "{err}");

    let mut store = smishtrap_store::PostgresStore::open(&conninfo, &schema.0).expect("store");
    let search = MessageQuery { text: Some("IDENTITEIT VERLOOPT".into()), ..Default::default() };
    let smishing = store.messages(&search, 100).expect("messages");
    assert_eq!(smishing.len(), 5);
    assert!(smishing.iter().all(|m| m.campaign.is_some() && m.campaign == smishing[0].campaign));
    assert_eq!(store.count_campaigns().expect("count"), 1);
    let dinner = MessageQuery { text: Some("dinner".into()), ..Default::default() };
    assert_eq!(store.messages(&dinner, 10).expect("messages").len(), 1);
}
