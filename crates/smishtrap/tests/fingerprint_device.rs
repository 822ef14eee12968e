//! Detection checks on the device's state (issue 13, tells 1, 2, 3, 5, 11, 12 and the send
//! outcome policy): each is what a careful attacker or a honeypot-detection scan would compare,
//! run through a real HTTP client against the real sensor binary. Rows in docs/fingerprint.md.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

#[path = "sensor_support.rs"]
mod support;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use chrono::{Datelike, NaiveDateTime, Utc};
use serde_json::{Value, json};
use support::{BIN, Sensor, client, encrypt, events};

fn cgi_at(c: &reqwest::blocking::Client, addr: SocketAddr, body: &Value) -> Value {
    let r = c.post(format!("http://{addr}/cgi")).json(body).send().unwrap();
    assert_eq!(r.status(), 200);
    r.json().unwrap()
}

fn cgi_from(c: &reqwest::blocking::Client, s: &Sensor, body: &Value) -> Value {
    cgi_at(c, s.addr(), body)
}

fn cgi(s: &Sensor, body: &Value) -> Value {
    cgi_from(&client(), s, body)
}

fn text(s: &Sensor, path: &str) -> String {
    let r = client().get(s.url(path)).send().unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.text().unwrap()
}

/// A client whose connections come from `ip` (127.0.0.0/8 is all loopback on Linux).
fn client_from(ip: &str) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Writes a seed file so a sensor's identity is fixed (`created` one day ago).
fn seeded(byte: u8) -> tempfile::TempDir {
    seeded_days_ago(byte, 1)
}

/// A seed file made `days` ago.
fn seeded_days_ago(byte: u8, days: i64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let created = Utc::now().timestamp() - days * 86_400;
    let seed = format!("smishtrap-seed v1\n{}\n{created}\n", hex(&[byte; 32]));
    std::fs::write(dir.path().join("sensor.seed"), seed).unwrap();
    dir
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn login(user: &str, password: &str) -> Value {
    json!({"id":"1","execute":1,"core":"user","function":"login","values":[{"username":user,"password":encrypt(password)}]})
}

fn send(to: &str) -> Value {
    json!({"id":"2","execute":1,"function":"send_sms","values":[{"base":"api_sms","phone":to,"content":"Test"}]})
}

fn summary(s: &Sensor) -> Value {
    let v = cgi(
        s,
        &json!({"id":3,"execute":1,"core":"yruo_status","function":"get","values":[{"base":"summary"}]}),
    );
    v["result"][0]["get"][0]["value"].clone()
}

fn outbox(c: &reqwest::blocking::Client, s: &Sensor) -> Vec<(String, String)> {
    let v = cgi_from(
        c,
        s,
        &json!({"core":"yruo_sms","function":"query_outbox","values":[{"base":"query_outbox","limit":50}]}),
    );
    v["result"][0]["get"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let v = &r["value"];
            (v["number"].as_str().unwrap().to_owned(), v["status"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn inbox(addr: SocketAddr) -> Vec<(String, String)> {
    let v = cgi_at(
        &client(),
        addr,
        &json!({"core":"yruo_sms","function":"query_inbox","values":[{"base":"query_inbox","limit":50}]}),
    );
    v["result"][0]["get"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let v = &r["value"];
            (v["time"].as_str().unwrap().to_owned(), v["content"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// "16 days, 03:04:05" in seconds.
fn uptime_secs(uptime: &str) -> i64 {
    let (days, clock) = uptime.split_once(" days, ").unwrap();
    let parts: Vec<i64> = clock.split(':').map(|p| p.parse().unwrap()).collect();
    days.parse::<i64>().unwrap() * 86_400 + parts[0] * 3600 + parts[1] * 60 + parts[2]
}

/// The `Mmm dd HH:MM:SS` stamp a syslog line starts with, in `year`.
fn line_time(line: &str, year: i32) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(&format!("{year} {}", &line[..15]), "%Y %b %e %H:%M:%S")
        .unwrap_or_else(|e| panic!("{e}: {line}"))
}

/// Tell 1: the log is a file that only grows; its boot lines are as old as the uptime says.
#[test]
fn system_log_is_generated_once_from_the_boot_and_only_appended_to() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sensor::start(dir.path());
    let first = text(&s, "/lang/log/system.log");
    let listing = text(&s, "/lang/log/");
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(text(&s, "/lang/log/system.log"), first, "two fetches seconds apart differ");
    assert_eq!(text(&s, "/lang/log/"), listing, "the listing shows the time of the fetch");

    // The first line is the boot: local time minus uptime.
    let sys = summary(&s)["system"].clone();
    let local =
        NaiveDateTime::parse_from_str(sys["local_time"].as_str().unwrap(), "%Y-%m-%d %H:%M:%S")
            .unwrap();
    let boot = local - chrono::Duration::seconds(uptime_secs(sys["uptime"].as_str().unwrap()));
    let logged = line_time(first.lines().next().unwrap(), boot.year());
    // Both in local time: a summer-time change since the boot shifts them by an hour.
    let after_boot = (logged - boot).num_seconds();
    assert!(
        [0, 3600, -3600].iter().any(|dst| (0..120).contains(&(after_boot - dst))),
        "boot {boot}, first line {logged}"
    );

    // An attacker's failed login is appended (host and facility like every line), not rewritten.
    cgi(&s, &login("admin", "wrong-password"));
    let later = text(&s, "/lang/log/system.log");
    assert!(later.starts_with(&first), "the log was rewritten");
    let added = &later[first.len()..];
    assert!(added.contains("login failed from 127.0.0.1"), "{added}");
    assert_ne!(text(&s, "/lang/log/"), listing, "the listing keeps the old modification time");
    s.stop();
}

/// Tell 2: inbox times are facts of the device, not `now - n hours`; texts differ per persona
/// and the picks and times per sensor.
#[test]
fn inbox_times_are_fixed_and_texts_differ_per_persona_and_seed() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sensor.toml");
    std::fs::write(
        &config,
        "[[listener]]\nlisten = \"127.0.0.1:0\"\npersona = \"milesight-ur32l\"\n\n\
         [[listener]]\nlisten = \"127.0.0.1:0\"\npersona = \"milesight-ur35\"\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let s = Sensor::start_with(&data, &["--config", config.to_str().unwrap()], 2);
    let ur32l = inbox(s.addrs[0]);
    let ur35 = inbox(s.addrs[1]);
    assert!(!ur32l.is_empty() && !ur35.is_empty());
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(inbox(s.addrs[0]), ur32l, "inbox times drift with the clock");
    let texts = |rows: &[(String, String)]| -> HashSet<String> {
        rows.iter().map(|(_, t)| t.clone()).collect()
    };
    assert!(texts(&ur32l).is_disjoint(&texts(&ur35)), "two personas share inbox texts");
    s.stop();

    let other = seeded(0x5a);
    let s = Sensor::start(other.path());
    let times = |rows: &[(String, String)]| -> HashSet<String> {
        rows.iter().map(|(t, _)| t.clone()).collect()
    };
    let again = inbox(s.addr());
    assert!(times(&again).is_disjoint(&times(&ur32l)), "two sensors share inbox times");
    s.stop();
}

/// Tell 3: a router has one outbox; every client sees every message, and the SIM counter grew
/// by the successful ones.
#[test]
fn one_outbox_shared_by_every_client_and_the_counter_matches_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sensor::start(dir.path());
    let before = summary(&s)["cell"]["sim_monthly_sms"].as_u64().unwrap();
    let a = client_from("127.0.0.2");
    let b = client_from("127.0.0.3");
    for n in ["+32470000001", "+32470000002", "+32470000003"] {
        cgi_from(&a, &s, &send(n));
    }
    cgi_from(&b, &s, &send("+32470000004"));
    let seen_a = outbox(&a, &s);
    let seen_b = outbox(&b, &s);
    assert_eq!(seen_a.len(), 4, "{seen_a:?}");
    assert_eq!(seen_a, seen_b, "each client sees its own outbox");
    let successes = seen_a.iter().filter(|(_, st)| st == "success").count() as u64;
    let after = summary(&s)["cell"]["sim_monthly_sms"].as_u64().unwrap();
    assert_eq!(after - before, successes, "the counter does not match the outbox");
    s.stop();
    let ev = events(dir.path());
    let sources: HashSet<&str> = ev.iter().filter_map(|e| e["src_ip"].as_str()).collect();
    assert!(sources.contains("127.0.0.2") && sources.contains("127.0.0.3"), "{sources:?}");
}

/// Tell 5: the cellular interface looks like an operator's: the device and its gateway are the
/// two hosts of a /30, the DNS servers are the operator's (public), all three differ.
#[test]
fn cellular_addressing_is_an_operators() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sensor::start(dir.path());
    let v =
        cgi(&s, &json!({"core":"yruo_status","function":"get","values":[{"base":"yruo_celluar"}]}));
    let net = &v["result"][0]["get"][0]["value"]["network"];
    let addr = |key: &str| -> std::net::Ipv4Addr { net[key].as_str().unwrap().parse().unwrap() };
    let (ip, gate) = (addr("ip"), addr("gate"));
    let dns: Vec<std::net::Ipv4Addr> =
        net["dns"].as_str().unwrap().split_whitespace().map(|d| d.parse().unwrap()).collect();
    assert_ne!(ip, gate, "{net}");
    assert_eq!(net["netmask"], "255.255.255.252");
    let host = |a: std::net::Ipv4Addr| u32::from(a) & 3;
    assert_eq!(u32::from(ip) & !3, u32::from(gate) & !3, "gateway outside the /30: {net}");
    assert!([1, 2].contains(&host(ip)) && [1, 2].contains(&host(gate)), "{net}");
    assert!(!dns.is_empty());
    for d in &dns {
        assert!(!d.is_private() && *d != ip && *d != gate, "DNS {d} is not an operator's: {net}");
    }
    s.stop();
}

/// The lines of both logs of a sensor with a fixed seed.
fn logs_of(seed: u8) -> (String, String) {
    let dir = seeded(seed);
    let s = Sensor::start(dir.path());
    let out = (text(&s, "/lang/log/system.log"), text(&s, "/lang/log/httpd.log"));
    s.stop();
    out
}

/// `[1234]` PIDs in a log.
fn pids(log: &str) -> HashSet<String> {
    log.split('[')
        .skip(1)
        .filter_map(|rest| rest.split_once(']'))
        .map(|(n, _)| n)
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

/// Tell 11: two sensors share no PID, kernel banner or log timestamp; `httpd.log` lines carry
/// the host and facility `system.log` lines do.
#[test]
fn two_sensors_share_no_log_artefact() {
    let (sys_a, httpd_a) = logs_of(0x11);
    let (sys_b, httpd_b) = logs_of(0x33);
    let shared_pids: Vec<_> = pids(&sys_a).intersection(&pids(&sys_b)).cloned().collect();
    assert!(shared_pids.is_empty(), "shared PIDs {shared_pids:?}");
    let kernel = |log: &str| {
        log.lines()
            .find(|l| l.contains("kernel:"))
            .unwrap()
            .split_once("kernel:")
            .unwrap()
            .1
            .to_owned()
    };
    assert_ne!(kernel(&sys_a), kernel(&sys_b), "same kernel banner");
    let stamps =
        |log: &str| -> HashSet<String> { log.lines().map(|l| l[..15].to_owned()).collect() };
    let a: HashSet<String> = stamps(&sys_a).union(&stamps(&httpd_a)).cloned().collect();
    let b: HashSet<String> = stamps(&sys_b).union(&stamps(&httpd_b)).cloned().collect();
    assert!(
        a.is_disjoint(&b),
        "shared log timestamps {:?}",
        a.intersection(&b).collect::<Vec<_>>()
    );
    for (sys, httpd) in [(&sys_a, &httpd_a), (&sys_b, &httpd_b)] {
        let host = sys.lines().next().unwrap()[16..].split(' ').next().unwrap().to_owned();
        for line in httpd.lines() {
            let mut fields = line[16..].split(' ');
            assert_eq!(fields.next(), Some(host.as_str()), "no host: {line}");
            let facility = fields.next().unwrap();
            assert!(
                facility.split_once('.').is_some_and(|(f, l)| !f.is_empty() && !l.is_empty()),
                "no facility: {line}"
            );
        }
    }
}

/// Tell 11: the attacker's own login shows in the logs, as on the device.
#[test]
fn the_attackers_login_appears_in_both_logs() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sensor::start(dir.path());
    let httpd = text(&s, "/lang/log/httpd.log");
    let (user, enc) = support::leaked_credentials(&httpd)[0].clone();
    let password = support::decrypt(&enc);
    let c = client_from("127.0.0.4");
    let ok = cgi_from(&c, &s, &login(&user, &password));
    assert_eq!(ok["status"], 0);
    let httpd2 = text(&s, "/lang/log/httpd.log");
    let added = &httpd2[httpd.len()..];
    assert!(
        added.contains("127.0.0.4 POST /cgi")
            && added.contains(&format!("\"username\":\"{user}\"")),
        "{added}"
    );
    let system = text(&s, "/lang/log/system.log");
    assert!(system.contains(&format!("user {user} login from 127.0.0.4")), "{system}");
    s.stop();
}

/// Tell 12: firmware 41.0.0.3 has the CVE-2023-43261 fix (35.3.0.7): no leaking logs.
#[test]
fn fixed_firmware_does_not_leak_the_cve_logs() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sensor::start_with(
        dir.path(),
        &["--listen", "127.0.0.1:0", "--persona", "milesight-ur41"],
        1,
    );
    for path in ["/lang/log/", "/lang/log/httpd.log", "/lang/log/system.log"] {
        assert_eq!(client().get(s.url(path)).send().unwrap().status(), 404, "{path}");
    }
    s.stop();
}

/// Tell 12: the current time shown is the local time of the time zone shown.
#[test]
fn current_time_is_in_the_zone_shown() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sensor::start(dir.path());
    let v = cgi(&s, &json!({"core":"yruo_system","function":"get","values":[{"base":"time"}]}));
    let value = &v["result"][0]["get"][0]["value"];
    let zone = value["timezone"].as_str().unwrap().to_owned();
    let shown =
        NaiveDateTime::parse_from_str(value["current_time"].as_str().unwrap(), "%Y-%m-%d %H:%M:%S")
            .unwrap();
    assert!(
        Path::new("/usr/share/zoneinfo").join(&zone).exists(),
        "{zone}: this check needs the tz database (Debian package tzdata)"
    );
    let out = std::process::Command::new("date")
        .env("TZ", &zone)
        .arg("+%Y-%m-%d %H:%M:%S")
        .output()
        .unwrap();
    let expect = NaiveDateTime::parse_from_str(
        String::from_utf8(out.stdout).unwrap().trim(),
        "%Y-%m-%d %H:%M:%S",
    )
    .unwrap();
    assert!(
        (expect - shown).num_seconds().abs() <= 5,
        "{zone}: shows {shown}, local time is {expect}"
    );
    s.stop();
}

/// Restarts continue the device: boot time, logs and outbox are what they were.
#[test]
fn a_restart_continues_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sensor::start(dir.path());
    cgi(&s, &login("admin", "wrong-password"));
    for n in ["+32470000001", "+32470000002", "+32470000003"] {
        cgi(&s, &send(n));
    }
    let log = text(&s, "/lang/log/system.log");
    let rows = outbox(&client(), &s);
    let sys = summary(&s)["system"].clone();
    s.stop();
    std::thread::sleep(Duration::from_millis(1100));
    let s = Sensor::start(dir.path());
    assert_eq!(text(&s, "/lang/log/system.log"), log, "the log after a restart");
    assert_eq!(outbox(&client(), &s), rows, "the outbox after a restart");
    let again = summary(&s)["system"].clone();
    let boot = |v: &Value| {
        let local =
            NaiveDateTime::parse_from_str(v["local_time"].as_str().unwrap(), "%Y-%m-%d %H:%M:%S")
                .unwrap();
        local - chrono::Duration::seconds(uptime_secs(v["uptime"].as_str().unwrap()))
    };
    assert!((boot(&again) - boot(&sys)).num_seconds().abs() <= 2, "boot moved: {sys} -> {again}");
    assert!(
        uptime_secs(again["uptime"].as_str().unwrap())
            > uptime_secs(sys["uptime"].as_str().unwrap())
    );
    s.stop();
}

/// A corrupt state file stops the sensor with a clear error naming it (never a panic, never a
/// silent new device).
#[test]
fn a_corrupt_state_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("device");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("milesight-ur32l.json"), "{\"version\":1,").unwrap();
    let log = dir.path().join("stderr.log");
    let mut child = std::process::Command::new(BIN)
        .args(["sensor", "--listen", "127.0.0.1:0", "--persona", "milesight-ur32l", "--data"])
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(status.is_some_and(|s| !s.success()), "started over a corrupt state: {err}");
    assert!(err.contains("milesight-ur32l.json") && err.contains("corrupt device state"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Send outcomes are a persona setting: a persona that reports every send as sent.
#[test]
fn send_outcome_is_a_persona_setting() {
    let dir = tempfile::tempdir().unwrap();
    let personas = dir.path().join("personas");
    std::fs::create_dir_all(&personas).unwrap();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../smishtrap-sensor/personas/milesight-ur32l.toml");
    let toml = std::fs::read_to_string(shipped).unwrap();
    let toml = toml.replace("mode = \"fail_first\"\nfailures = 2", "mode = \"success\"");
    assert!(toml.contains("mode = \"success\""));
    std::fs::write(personas.join("milesight-ur32l.toml"), toml).unwrap();
    // The templates the persona names come with the shipped ones.
    copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../smishtrap-sensor/personas/milesight"),
        &personas.join("milesight"),
    );
    let data = dir.path().join("data");
    let s = Sensor::start_with(
        &data,
        &[
            "--listen",
            "127.0.0.1:0",
            "--persona",
            "milesight-ur32l",
            "--personas",
            personas.to_str().unwrap(),
        ],
        1,
    );
    cgi(&s, &send("+32470000001"));
    assert_eq!(outbox(&client(), &s), [("+32470000001".to_owned(), "success".to_owned())]);
    s.stop();
}

/// The `index` of every mailbox row: the device's tokens (the core name and 8 characters),
/// never row numbers, and a row keeps its token when newer rows arrive.
#[test]
fn mailbox_rows_carry_the_devices_index_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sensor::start(dir.path());
    let indexes = |mailbox: &str| -> Vec<(String, Value)> {
        let v = cgi(
            &s,
            &json!({"core":"yruo_sms","function":mailbox,"values":[{"base":mailbox,"limit":50}]}),
        );
        v["result"][0]["get"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["value"]["number"].as_str().unwrap().to_owned(), r["index"].clone()))
            .collect()
    };
    cgi(&s, &send("+32470000001"));
    cgi(&s, &send("+32470000002"));
    for mailbox in ["query_outbox", "query_inbox"] {
        let rows = indexes(mailbox);
        assert!(!rows.is_empty(), "{mailbox}");
        for (_, index) in &rows {
            let token = index.as_str().unwrap_or_else(|| panic!("{mailbox}: index {index}"));
            let rest = token.strip_prefix("yruo_sms").unwrap_or_default();
            assert!(
                rest.len() == 8
                    && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                "{mailbox}: index {token:?} is not the core name and an 8-character token"
            );
        }
        let distinct: HashSet<&Value> = rows.iter().map(|(_, i)| i).collect();
        assert_eq!(distinct.len(), rows.len(), "{mailbox}: repeated tokens {rows:?}");
    }
    let before = indexes("query_outbox");
    cgi(&s, &send("+32470000003"));
    let after = indexes("query_outbox");
    for row in &before {
        assert!(after.contains(row), "row {row:?} changed its index: {after:?}");
    }
    s.stop();
}

/// The SIM counter (`sim_monthly_sms`) counts this month's messages: on a unit installed in an
/// earlier month it starts from 0 and grows by this month's successful sends only (it never
/// carries the count it had at installation into later months).
#[test]
fn sim_counter_starts_again_each_month() {
    let dir = seeded_days_ago(0x33, 40);
    let s = Sensor::start(dir.path());
    assert_eq!(
        summary(&s)["cell"]["sim_monthly_sms"].as_u64(),
        Some(0),
        "a unit installed 40 days ago still counts the messages of its first month"
    );
    for n in ["+32470000001", "+32470000002", "+32470000003"] {
        cgi(&s, &send(n));
    }
    let successes = outbox(&client(), &s).iter().filter(|(_, st)| st == "success").count();
    assert!(successes > 0);
    assert_eq!(summary(&s)["cell"]["sim_monthly_sms"].as_u64(), Some(successes as u64));
    s.stop();
    // The month's count survives a restart.
    let s = Sensor::start(dir.path());
    assert_eq!(summary(&s)["cell"]["sim_monthly_sms"].as_u64(), Some(successes as u64));
    s.stop();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// Two ports of one persona are one device: one outbox, one log.
#[test]
fn two_listeners_of_one_persona_are_one_device() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sensor.toml");
    std::fs::write(
        &config,
        "[[listener]]\nlisten = \"127.0.0.1:0\"\npersona = \"milesight-ur32l\"\n\n\
         [[listener]]\nlisten = \"127.0.0.1:0\"\npersona = \"milesight-ur32l\"\n",
    )
    .unwrap();
    let s =
        Sensor::start_with(&dir.path().join("data"), &["--config", config.to_str().unwrap()], 2);
    let c = client();
    cgi_at(&c, s.addrs[0], &send("+32470000001"));
    let rows = |addr: SocketAddr| {
        let v = cgi_at(&c, addr, &json!({"function":"query_outbox","values":[{"base":"api_sms"}]}));
        v["result"][0]["count"].as_u64().unwrap()
    };
    assert_eq!((rows(s.addrs[0]), rows(s.addrs[1])), (1, 1));
    let log = |addr: SocketAddr| {
        client().get(format!("http://{addr}/lang/log/system.log")).send().unwrap().text().unwrap()
    };
    assert_eq!(log(s.addrs[0]), log(s.addrs[1]));
    s.stop();
}
