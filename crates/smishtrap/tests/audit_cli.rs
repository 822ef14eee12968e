//! `smishtrap audit` against a fleet of real sensors: the Milesight persona in four
//! configurations (vulnerable with an open API, vulnerable with the API locked, patched,
//! patched but with the API open) plus abused outboxes, 52 listeners on 127.0.0.x. The audit's
//! findings must match what each listener was configured to be (precision and recall 1.0),
//! it must never send an SMS, and it must connect to no address outside its target list.

#![allow(clippy::unwrap_used, clippy::print_stderr, reason = "test code fails loudly")]

mod console_support;
mod sensor_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sensor_support::{BIN, Sensor, client};
use serde_json::Value;

/// How a listener is configured, and so what the audit must find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// CVE-2023-43261 firmware, logs readable, SMS API without login (Sekoia's 572 units).
    VulnerableOpen,
    /// Vulnerable firmware and leaky logs, but the API needs a session.
    VulnerableLocked,
    /// Fixed firmware, no log listing, API locked.
    Patched,
    /// Fixed firmware, API open anyway (misconfiguration).
    OpenApi,
    /// Open API whose outbox the test fills with smishing first (as the attackers did).
    Abused,
}

impl Kind {
    fn persona(self) -> &'static str {
        match self {
            // listeners of one persona are one device with one outbox, so each abused unit gets
            // a persona of its own (`audit-abused-<n>`, see `start_fleet`)
            Kind::VulnerableOpen | Kind::Abused => "audit-vulnerable-open",
            Kind::VulnerableLocked => "audit-vulnerable-locked",
            Kind::Patched => "audit-patched",
            Kind::OpenApi => "audit-open-api",
        }
    }

    /// Findings expected with `--use-leaked-credentials --exposure` on loopback.
    fn expected(self) -> BTreeSet<&'static str> {
        let mut e: BTreeSet<&str> = ["identified", "plain-http"].into();
        let leak = ["log-leak", "password-recovered", "system-log-exposed", "vulnerable-firmware"];
        match self {
            Kind::VulnerableOpen => e.extend(leak.iter().chain(&["sms-api-open", "mailbox-read"])),
            // read with the leaked password
            Kind::VulnerableLocked => e.extend(leak.iter().chain(&["mailbox-read"])),
            Kind::Patched => {}
            Kind::OpenApi => e.extend(["sms-api-open", "mailbox-read"]),
            Kind::Abused => {
                e.extend(leak.iter().chain(&["sms-api-open", "mailbox-read", "outbox-abused"]))
            }
        }
        e
    }
}

/// The shipped UR32L persona, changed as `kind` needs, written with its templates into `dir`.
/// Personas written for abused units, one per unit (a fleet has at most this many).
const ABUSED_PERSONAS: usize = 64;

fn write_personas(dir: &Path) {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../smishtrap-sensor/personas");
    copy_dir(&shipped.join("milesight"), &dir.join("milesight"));
    let base = std::fs::read_to_string(shipped.join("milesight-ur32l.toml")).unwrap();
    let without_logs = |text: &str| {
        // drop the three /lang/log pages
        let mut out = String::new();
        for block in text.split("\n[[page]]\n") {
            if out.is_empty() {
                out.push_str(block);
            } else if !block.contains("/lang/log") {
                out.push_str("\n[[page]]\n");
                out.push_str(block);
            } else if let Some(i) = block.find("\n[") {
                // keep what follows the page table (the next section)
                out.push_str(&block[i..]);
            }
        }
        out
    };
    let variants = [
        ("audit-vulnerable-open", base.clone()),
        ("audit-vulnerable-locked", base.replace("require_auth = false", "require_auth = true")),
        (
            "audit-patched",
            without_logs(&base)
                .replace("require_auth = false", "require_auth = true")
                .replace("rtver = \"32.3.0.8-r1\"", "rtver = \"35.3.0.9\""),
        ),
        (
            "audit-open-api",
            without_logs(&base).replace("rtver = \"32.3.0.8-r1\"", "rtver = \"35.3.0.7\""),
        ),
    ];
    let abused = (0..ABUSED_PERSONAS).map(|n| (format!("audit-abused-{n}"), base.clone()));
    let variants = variants.into_iter().map(|(n, t)| (n.to_owned(), t)).chain(abused);
    for (name, text) in variants {
        let text = text.replace("name = \"milesight-ur32l\"", &format!("name = \"{name}\""));
        assert!(text.contains(&format!("name = \"{name}\"")));
        std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

const SMISHING: &[&str] = &[
    "bpost: your parcel is held at customs. Pay the 2,99 EUR fee today or it is returned: https://bpost-be.parcel-fee.info/pay",
    "bpost: last reminder, your parcel waits for the customs fee. Pay now: https://bpost-be.parcel-fee.info/pay",
    "bpost: your parcel is held at customs, pay the 2,99 EUR fee: https://bpost-be.parcel-fee.info/pay",
];

/// Fills a listener's outbox through its open API, as the attackers do (the sensor sends
/// nothing: it only records).
fn abuse(addr: SocketAddr) -> usize {
    let http = client();
    let mut sent = 0;
    for (i, text) in SMISHING.iter().enumerate() {
        let body = serde_json::json!({"id": "1", "execute": 1, "core": "yruo_sms", "function": "send_sms",
            "values": [{"base": "api_sms", "phone": format!("+3247000000{i}"), "content": text}]});
        let r = http.post(format!("http://{addr}/cgi")).body(body.to_string()).send().unwrap();
        assert!(r.status().is_success());
        sent += 1;
    }
    sent
}

fn sms_sends(data: &Path) -> usize {
    sensor_support::events(data).iter().filter(|e| e["kind"] == "sms.send").count()
}

struct Fleet {
    sensor: Sensor,
    kinds: BTreeMap<String, Kind>,
    sent: usize,
    _dirs: Vec<tempfile::TempDir>,
}

fn start_fleet(size: usize) -> Fleet {
    let personas = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    write_personas(personas.path());
    let cycle =
        [Kind::VulnerableOpen, Kind::VulnerableLocked, Kind::Patched, Kind::OpenApi, Kind::Abused];
    let mut config = String::new();
    let mut by_ip = BTreeMap::new();
    for i in 0..size {
        let ip = format!("127.0.0.{}", 10 + i);
        let kind = cycle[i % cycle.len()];
        let persona = match kind {
            Kind::Abused => format!("audit-abused-{}", i / cycle.len()),
            _ => kind.persona().to_owned(),
        };
        config.push_str(&format!("[[listener]]\nlisten = \"{ip}:0\"\npersona = \"{persona}\"\n"));
        by_ip.insert(ip, kind);
    }
    // not in the personas directory, where every *.toml is a persona
    let config_path = data.path().join("fleet.toml");
    std::fs::write(&config_path, config).unwrap();
    let sensor = Sensor::start_with(
        data.path(),
        &[
            "--config",
            config_path.to_str().unwrap(),
            "--personas",
            personas.path().to_str().unwrap(),
        ],
        size,
    );
    let mut kinds = BTreeMap::new();
    let mut sent = 0;
    for addr in &sensor.addrs {
        let kind = by_ip[&addr.ip().to_string()];
        if kind == Kind::Abused {
            sent += abuse(*addr);
        }
        kinds.insert(addr.to_string(), kind);
    }
    Fleet { sensor, kinds, sent, _dirs: vec![personas, data] }
}

fn audit(targets: &Path, extra: &[&str], prefix: &[&str]) -> (std::process::Output, Duration) {
    let started = Instant::now();
    let program = prefix.first().copied().unwrap_or(BIN);
    let mut cmd = Command::new(program);
    if !prefix.is_empty() {
        cmd.args(&prefix[1..]).arg(BIN);
    }
    let out = cmd
        .arg("audit")
        .arg("--targets")
        .arg(targets)
        .args(["--rate", "1000", "--timeout", "10", "--concurrency", "16"])
        .args(extra)
        .env("SMISHTRAP_LOG", "warn")
        .output()
        .unwrap();
    (out, started.elapsed())
}

#[test]
fn fleet_findings_match_the_configuration() {
    let fleet = start_fleet(52);
    let work = tempfile::tempdir().unwrap();
    let targets = work.path().join("targets.txt");
    let list: Vec<String> = fleet.kinds.keys().cloned().collect();
    std::fs::write(&targets, list.join("\n")).unwrap();
    let data = work.path().join("data");
    let report_path = work.path().join("report.jsonl");
    let sends_before = sms_sends(&fleet.sensor.data);
    assert_eq!(sends_before, fleet.sent);

    let (out, took) = audit(
        &targets,
        &[
            "--use-leaked-credentials",
            "--exposure",
            "--format",
            "jsonl",
            "--out",
            report_path.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "high findings exit 1; stderr:\n{stderr}");

    let lines: Vec<Value> = std::fs::read_to_string(&report_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (mut true_pos, mut false_pos, mut false_neg) = (0u32, 0u32, 0u32);
    let mut wrong = Vec::new();
    for line in lines.iter().filter(|l| l["type"] == "target") {
        let target = line["target"].as_str().unwrap();
        let kind = fleet.kinds[target];
        let found: BTreeSet<&str> = line["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["check"].as_str().unwrap())
            .collect();
        let expected = kind.expected();
        true_pos += found.intersection(&expected).count() as u32;
        false_pos += found.difference(&expected).count() as u32;
        false_neg += expected.difference(&found).count() as u32;
        if found != expected {
            wrong.push(format!("{target} {kind:?}: found {found:?}, expected {expected:?}"));
        }
        assert_eq!(line["device"]["model"], "UR32L", "{target}");
    }
    // the recovered password stays out of the report without --show-secrets
    let leaky = fleet.kinds.iter().find(|(_, k)| **k == Kind::VulnerableOpen).unwrap().0;
    let log =
        client().get(format!("http://{leaky}/lang/log/httpd.log")).send().unwrap().text().unwrap();
    let (_, encrypted) = sensor_support::leaked_credentials(&log).remove(0);
    let password = sensor_support::decrypt(&encrypted);
    assert!(password.len() >= 6, "{password}");
    let report_text = std::fs::read_to_string(&report_path).unwrap();
    assert!(!report_text.contains(&password), "the report shows the password");
    assert!(report_text.contains("password not shown (use --show-secrets)"));
    let precision = f64::from(true_pos) / f64::from(true_pos + false_pos);
    let recall = f64::from(true_pos) / f64::from(true_pos + false_neg);
    eprintln!(
        "fleet of {}: precision {precision}, recall {recall}, audit took {took:?}",
        fleet.kinds.len()
    );
    assert!(wrong.is_empty(), "precision {precision}, recall {recall}:\n{}", wrong.join("\n"));
    assert_eq!(lines.iter().filter(|l| l["type"] == "target").count(), 52);

    // the abused outboxes were analysed and stored
    let summary = lines.iter().find(|l| l["type"] == "summary").unwrap();
    assert_eq!(summary["abused"].as_array().unwrap().len(), 10, "{summary}");
    let abused = summary["abused"][0]["evidence"].to_string();
    assert!(abused.contains("3 smishing") && abused.contains("validation send"), "{abused}");
    assert!(stderr.contains("mailbox messages stored"), "{stderr}");

    // never harm: the audit sent no SMS (every sms.send event is the test's own)
    assert_eq!(sms_sends(&fleet.sensor.data), fleet.sent, "the audit must not send an SMS");
    let functions: BTreeSet<String> = sensor_support::events(&fleet.sensor.data)
        .iter()
        .filter_map(|e| {
            e["http"]["body"].as_str().and_then(|b| serde_json::from_str::<Value>(b).ok())
        })
        .filter_map(|b| b["function"].as_str().map(str::to_owned))
        .collect();
    for f in &functions {
        assert!(
            ["query_outbox", "query_inbox", "get", "login", "send_sms"].contains(&f.as_str()),
            "function {f}"
        );
    }

    // the human table, worst first
    let (out, _) = audit(&targets, &["--use-leaked-credentials"], &[]);
    let table = String::from_utf8_lossy(&out.stdout);
    eprintln!("{table}");
    // abused routers rank first: they have the most critical findings
    let first = table.lines().nth(1).unwrap();
    assert!(first.contains("critical") && first.contains("outbox-abused"), "{table}");
    assert!(table.lines().take(11).skip(1).all(|l| l.contains("outbox-abused")), "{table}");
    assert!(table.contains("52 targets, 52 reachable"), "{table}");
    fleet.sensor.stop();
}

#[test]
fn connects_only_to_the_targets() {
    // a canary listening on loopback, not in the target list, must see no connection
    let canary = TcpListener::bind("127.0.0.250:0").unwrap();
    canary.set_nonblocking(true).unwrap();
    let fleet = start_fleet(5);
    let work = tempfile::tempdir().unwrap();
    let targets = work.path().join("targets.txt");
    let list: Vec<String> = fleet.kinds.keys().cloned().collect();
    std::fs::write(&targets, list.join("\n")).unwrap();
    let trace = work.path().join("trace");
    let strace = Command::new("strace").arg("-V").output().is_ok_and(|o| o.status.success());
    let prefix: Vec<&str> = if strace {
        vec!["strace", "-f", "-qq", "-e", "trace=connect", "-o", trace.to_str().unwrap()]
    } else {
        Vec::new()
    };
    let (out, _) = audit(
        &targets,
        &["--use-leaked-credentials", "--try-default-credentials", "--exposure"],
        &prefix,
    );
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(canary.accept().is_err(), "the canary was contacted");
    if strace {
        let log = std::fs::read_to_string(&trace).unwrap();
        let allowed: BTreeSet<String> = list.iter().cloned().collect();
        let mut seen = 0;
        for line in log.lines().filter(|l| l.contains("connect(")) {
            if line.contains("AF_UNIX") {
                continue;
            }
            let ip =
                line.split("inet_addr(\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("?");
            let port = line.split("htons(").nth(1).and_then(|r| r.split(')').next()).unwrap_or("?");
            let addr = format!("{ip}:{port}");
            assert!(allowed.contains(&addr), "connect to {addr} outside the targets: {line}");
            seen += 1;
        }
        assert!(seen >= list.len(), "strace saw {seen} connects:\n{log}");
    } else {
        eprintln!("strace not installed: only the canary was checked");
    }
    assert_eq!(sms_sends(&fleet.sensor.data), fleet.sent);
    fleet.sensor.stop();
}

#[test]
fn operator_credentials_secrets_record_and_formats() {
    let fleet = start_fleet(5);
    let work = tempfile::tempdir().unwrap();
    let locked = fleet.kinds.iter().find(|(_, k)| **k == Kind::VulnerableLocked).unwrap().0.clone();
    let targets = work.path().join("targets.txt");
    std::fs::write(&targets, format!("# one router\nhttp://{locked}/login.html\n")).unwrap();
    // the operator knows the password (here: as the leaked log gives it)
    let log =
        client().get(format!("http://{locked}/lang/log/httpd.log")).send().unwrap().text().unwrap();
    let (user, encrypted) = sensor_support::leaked_credentials(&log).remove(0);
    let password = sensor_support::decrypt(&encrypted);
    let creds = work.path().join("creds.txt");
    std::fs::write(&creds, format!("# fleet account\nnobody:wrong\n{user}:{password}\n")).unwrap();
    let record = work.path().join("requests.jsonl");

    let (out, _) = audit(
        &targets,
        &[
            "--credentials",
            creds.to_str().unwrap(),
            "--record",
            record.to_str().unwrap(),
            "--format",
            "jsonl",
        ],
        &[],
    );
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains("\"mailbox_access\":\"operator\""), "{report}");
    assert!(report.contains("mailboxes read with the operator's credentials"), "{report}");
    assert!(!report.contains(&password), "the password is shown without --show-secrets");
    // every request made is recorded, none to another address, none with the password
    let requests = std::fs::read_to_string(&record).unwrap();
    assert!(requests.lines().count() >= 8, "{requests}");
    for line in requests.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert!(
            v["request"]["url"].as_str().unwrap().starts_with(&format!("http://{locked}/")),
            "{line}"
        );
    }
    assert!(!requests.contains(&password) && !requests.contains(&encrypted));
    assert!(requests.contains("\"call\":\"login\""), "{requests}");

    // --show-secrets puts the recovered password in the report
    let (out, _) = audit(&targets, &["--show-secrets", "--format", "markdown"], &[]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains(&password) && md.contains("# smishtrap audit"), "{md}");

    for (format, marker) in
        [("csv", "target,url,vendor"), ("html", "<!DOCTYPE html>"), ("table", "TARGET")]
    {
        let (out, _) = audit(&targets, &["--format", format, "--fail-on", "critical"], &[]);
        assert_eq!(out.status.code(), Some(1), "{format}: password-recovered is critical");
        assert!(String::from_utf8_lossy(&out.stdout).starts_with(marker), "{format}");
    }
    // nothing at or above --fail-on: exit 0; a bad file: exit 2 with the line
    let patched = fleet.kinds.iter().find(|(_, k)| **k == Kind::Patched).unwrap().0.clone();
    std::fs::write(&targets, &patched).unwrap();
    let (out, _) = audit(&targets, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    std::fs::write(&targets, "10.0.0.1\nftp://x\n").unwrap();
    let (out, _) = audit(&targets, &[], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2: scheme \"ftp\" is not http or https"), "{stderr}");
    fleet.sensor.stop();
}

#[test]
fn audited_messages_join_the_campaigns_already_stored() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    // what sensors or an import already stored: the same campaign sent elsewhere
    let records = work.path().join("seen.jsonl");
    let lines: Vec<String> = SMISHING
        .iter()
        .enumerate()
        .map(|(i, t)| serde_json::json!({"to": format!("+3247111111{i}"), "text": t, "ts": "2026-11-01T10:00:00Z"}).to_string())
        .collect();
    std::fs::write(&records, lines.join("\n")).unwrap();
    let out =
        Command::new(BIN).arg("import").arg(&records).arg("--data").arg(&data).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let store = || smishtrap_store::SqliteStore::open(&smishtrap_store::db_path(&data)).unwrap();
    let before = store().count_campaigns().unwrap();
    assert!(before >= 1);

    let fleet = start_fleet(5);
    let abused = fleet.kinds.iter().find(|(_, k)| **k == Kind::Abused).unwrap().0.clone();
    let targets = work.path().join("targets.txt");
    std::fs::write(&targets, &abused).unwrap();
    let (out, _) = audit(&targets, &["--data", data.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));

    let messages = store().messages_after(0, 100).unwrap();
    let audited: Vec<_> = messages.iter().filter(|m| m.message.origin == "audit").collect();
    // the 3 outbox messages, and the inbox messages this unit has received by now (the
    // device picks 3-4 per seed, each arriving at its own time since boot)
    let from = |source: &str| {
        audited
            .iter()
            .filter(|m| m.message.record.contains(&format!("\"source\":\"{source}\"")))
            .count()
    };
    assert_eq!(from("audit:outbox"), 3, "{audited:?}");
    assert!((1..=4).contains(&from("audit:inbox")), "{audited:?}");
    assert_eq!(audited.len(), from("audit:outbox") + from("audit:inbox"), "{audited:?}");
    assert!(audited.iter().all(|m| m.message.router.as_deref() == Some(abused.as_str())));
    let imported_campaigns: BTreeSet<_> = messages
        .iter()
        .filter(|m| m.message.origin == "import")
        .filter_map(|m| m.campaign.clone())
        .collect();
    let audited_smishing: Vec<_> =
        audited.iter().filter(|m| m.message.verdict == "smishing").collect();
    assert_eq!(audited_smishing.len(), 3);
    for m in audited_smishing {
        let c = m.campaign.clone().unwrap_or_else(|| panic!("no campaign: {m:?}"));
        assert!(imported_campaigns.contains(&c), "{c} is not one of {imported_campaigns:?}");
    }
    assert_eq!(
        store().count_campaigns().unwrap(),
        before,
        "the audit's smishing joined, no new campaign"
    );
    fleet.sensor.stop();
}

/// A device whose login page title is hostile: markup and a live phishing URL.
fn hostile_title_device() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.240:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 8192];
            let n = stream.read(&mut buf).unwrap_or(0);
            let root = String::from_utf8_lossy(&buf[..n]).starts_with("GET / ");
            let body = if root {
                "<html><head><title><script>alert(1)</script> https://evil-login.info/pay</title></head><body>Milesight</body></html>"
            } else {
                "not found"
            };
            let status = if root { "200 OK" } else { "404 Not Found" };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

#[test]
fn the_console_fleet_page_shows_the_stored_audit() {
    let fleet = start_fleet(5);
    let hostile = hostile_title_device();
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let targets = work.path().join("targets.txt");
    let mut list: Vec<String> = fleet.kinds.keys().cloned().collect();
    list.push(hostile.to_string());
    std::fs::write(&targets, list.join("\n")).unwrap();
    // --show-secrets shows the password in the report, never in the store
    let (out, _) = audit(
        &targets,
        &[
            "--use-leaked-credentials",
            "--show-secrets",
            "--format",
            "markdown",
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let leaky = fleet.kinds.iter().find(|(_, k)| **k == Kind::VulnerableOpen).unwrap().0;
    let log =
        client().get(format!("http://{leaky}/lang/log/httpd.log")).send().unwrap().text().unwrap();
    let password = sensor_support::decrypt(&sensor_support::leaked_credentials(&log).remove(0).1);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&password), "shown in the report");

    let console = console_support::ConsoleProcess::start(&data, &[]);
    let token = std::fs::read_to_string(data.join("console-token")).unwrap();
    let http = client();
    let get = |path: &str| {
        let r = http.get(console.url(path)).bearer_auth(token.trim()).send().unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.text().unwrap()
    };
    let api: Value = serde_json::from_str(&get("/api/v1/fleet")).unwrap();
    assert_eq!(api["stored"], 6, "{api}");
    let targets = api["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 6);
    // worst first: the abused router (most critical) leads; the hostile device is info only
    let abused = fleet.kinds.iter().find(|(_, k)| **k == Kind::Abused).unwrap().0;
    assert_eq!(api["abused"], serde_json::json!([abused]), "{api}");
    let by_check: BTreeMap<&str, u64> = api["by_check"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["targets"].as_u64().unwrap()))
        .collect();
    for (check, n) in
        [("identified", 6), ("sms-api-open", 3), ("outbox-abused", 1), ("log-leak", 3)]
    {
        assert_eq!(by_check.get(check), Some(&n), "{check}: {by_check:?}");
    }
    let firmware: Vec<&str> =
        api["firmware"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(firmware.contains(&"Milesight UR32L 32.3.0.8-r1"), "{firmware:?}");
    // the abused router's campaign is the one stored, and its page opens
    let row = targets.iter().find(|t| t["target"] == abused.as_str()).unwrap();
    // the 3 smishing sends joined one campaign (inbox messages may join others)
    let joined = row["campaigns"].as_array().unwrap();
    let campaign = joined.iter().find(|c| c["messages"] == 3).unwrap_or_else(|| panic!("{row}"));
    let campaign = campaign["id"].as_str().unwrap().to_owned();
    let store =
        smishtrap_store::SqliteStore::open_read_only(&smishtrap_store::db_path(&data)).unwrap();
    assert!(store.campaign(&campaign).unwrap().is_some(), "{campaign}");
    assert!(get(&format!("/campaigns/{campaign}")).contains(&campaign));

    let page = get("/fleet");
    assert!(page.contains("<h1>Fleet</h1>") && page.contains("id=\"fleet-abused\""), "{page}");
    assert!(page.contains(&format!("href=\"/campaigns/{campaign}\"")), "campaign link");
    assert!(page.contains("password not stored"), "redaction shown");
    // hostile device text is escaped and its URL defanged
    assert!(!page.contains("<script>alert(1)"), "unescaped markup");
    assert!(page.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "escaped markup");
    assert!(
        !page.contains("https://evil-login.info") && page.contains("evil-login[.]info"),
        "defanged: {}",
        page.split("evil").nth(1).unwrap_or("no evil at all")
    );
    assert!(page.contains("bpost-be[.]parcel-fee[.]info"), "abuse evidence, defanged");
    // the recovered password is in no page, API answer or stored row
    let stored = smishtrap_store::SqliteStore::open_read_only(&smishtrap_store::db_path(&data))
        .unwrap()
        .audit_results(100)
        .unwrap();
    assert_eq!(stored.len(), 6);
    for text in [page.as_str(), &api.to_string()]
        .into_iter()
        .chain(stored.iter().map(|r| r.report.as_str()))
    {
        assert!(!text.contains(&password), "the password leaked");
    }
    assert!(get("/").contains("href=\"/fleet\""), "the nav links the Fleet page");
    console.stop();
    fleet.sensor.stop();
}

/// `--store` puts what the audit read and found into the hub's PostgreSQL store (cargo
/// feature `hub`; `SMISHTRAP_TEST_POSTGRES` as for the hub tests, a fresh schema per run):
/// the same results table and messages as `--data`, clustered when no hub runs the job.
#[cfg(feature = "hub")]
#[test]
fn audit_results_go_to_the_hubs_postgresql() {
    use smishtrap_store::AnalysisStore;
    let conninfo = smishtrap_testkit::conninfo();
    let schema = smishtrap_testkit::Schema::new("audit_store");

    let fleet = start_fleet(5);
    let work = tempfile::tempdir().unwrap();
    let targets = work.path().join("targets.txt");
    let list: Vec<String> = fleet.kinds.keys().cloned().collect();
    std::fs::write(&targets, list.join("\n")).unwrap();
    let (out, _) = audit(&targets, &["--store", &conninfo, "--schema", &schema.0], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));

    let mut store = smishtrap_store::PostgresStore::open(&conninfo, &schema.0).unwrap();
    assert_eq!(store.count_audit_results().unwrap(), 5);
    let results = store.audit_results(10).unwrap();
    let abused = fleet.kinds.iter().find(|(_, k)| **k == Kind::Abused).unwrap().0.clone();
    let row = results.iter().find(|r| r.target == abused).unwrap();
    assert!(matches!(row.worst.as_str(), "high" | "critical"), "{row:?}");
    let messages = store.messages_after(0, 100).unwrap();
    let smishing: Vec<_> = messages
        .iter()
        .filter(|m| m.message.origin == "audit" && m.message.verdict == "smishing")
        .collect();
    assert_eq!(smishing.len(), 3, "{messages:?}");
    assert!(smishing.iter().all(|m| m.campaign.is_some()), "clustered: {smishing:?}");
    assert!(store.count_campaigns().unwrap() >= 1);
    let campaign = smishing[0].campaign.clone().unwrap();
    assert!(row.report.contains(&campaign), "the result names its campaign: {}", row.report);
    fleet.sensor.stop();
}
