//! Hostile and malformed input against the real binary: limits, slow clients, bytes that are
//! not HTTP, bad configuration. Every refusal is answered like the device and recorded.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

#[path = "sensor_support.rs"]
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;
use support::{BIN, Sensor, client, events, raw};

const CONFIG: &str = r#"
sensor_name = "limits"

[[listener]]
listen = "127.0.0.1:0"
persona = "milesight-ur32l"

[[listener]]
listen = "127.0.0.1:0"
persona = "milesight-ur41"

[limits]
max_head_bytes = 1024
max_headers = 16
max_body_bytes = 2048
requests_per_second = 1
request_burst = 3
header_timeout_secs = 1
idle_timeout_secs = 2
body_timeout_secs = 1
"#;

fn start(dir: &std::path::Path) -> Sensor {
    let config = dir.join("sensor.toml");
    std::fs::write(&config, CONFIG).unwrap();
    Sensor::start_with(&dir.join("data"), &["--config", config.to_str().unwrap()], 2)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn by_tag<'a>(ev: &'a [Value], tag: &str) -> Vec<&'a Value> {
    ev.iter().filter(|e| e["tags"].as_array().is_some_and(|t| t.iter().any(|x| x == tag))).collect()
}

#[test]
fn malformed_input_gets_the_device_error_page_and_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    let addr = s.addr();
    let wait = Duration::from_secs(5);

    // A TLS ClientHello on the HTTP port.
    let tls = raw(addr, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03hello", wait);
    let tls = text(&tls);
    assert!(tls.starts_with("HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n"), "{tls}");
    assert!(tls.contains("<h1>400 Bad Request</h1>"));
    // The same error page hyper would never write by itself: compare with a normal 404's header names.
    let not_found =
        text(&raw(addr, b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", wait));
    let names = |r: &str| -> Vec<String> {
        r.split("\r\n\r\n")
            .next()
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(':').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&not_found)[..3], names(&tls)[..3], "{not_found}\n---\n{tls}");

    // Oversized head, too many headers, broken framing.
    let big = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(2000));
    assert!(text(&raw(addr, big.as_bytes(), wait)).starts_with("HTTP/1.1 400 "));
    let many: String = (0..20).map(|i| format!("X-H{i}: v\r\n")).collect();
    assert!(
        text(&raw(addr, format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes(), wait))
            .starts_with("HTTP/1.1 400 ")
    );
    let framing = b"POST /cgi HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
    assert!(text(&raw(addr, framing, wait)).starts_with("HTTP/1.1 400 "));

    // Body over the limit: 413 from the device.
    let body = "x".repeat(5000);
    let r = client().post(s.url("/cgi")).body(body).send().unwrap();
    assert_eq!(r.status(), 413);

    // Invalid JSON on /cgi: the device's JSON error answer.
    let r: Value = client().post(s.url("/cgi")).body("{not json").send().unwrap().json().unwrap();
    assert_eq!(r["status"], -1);
    assert_eq!(r["model"], "UR32L");

    // Headers are recorded as sent: case and order.
    let ordered = b"GET /login.html HTTP/1.1\r\nhost: a\r\nX-Zeta: 1\r\nx-alpha: 2\r\nX-Zeta: 3\r\nConnection: close\r\n\r\n";
    assert!(text(&raw(addr, ordered, wait)).starts_with("HTTP/1.1 200 OK"));

    s.stop();
    let ev = events(&dir.path().join("data"));
    let not_http = by_tag(&ev, "malformed:not-http");
    assert_eq!(not_http.len(), 1);
    assert_eq!(not_http[0]["kind"], "http.malformed");
    assert_eq!(not_http[0]["response_status"], 400);
    assert_eq!(not_http[0]["http"]["body_encoding"], "base64", "the raw bytes are kept");
    assert_eq!(by_tag(&ev, "limit:head-size").len(), 1);
    assert_eq!(by_tag(&ev, "limit:header-count").len(), 1);
    assert_eq!(by_tag(&ev, "malformed:framing").len(), 1);
    let too_big = by_tag(&ev, "limit:body-size");
    assert_eq!(too_big.len(), 1);
    assert_eq!(too_big[0]["response_status"], 413);
    assert_eq!(too_big[0]["http"]["body_len"], 2048);
    assert_eq!(by_tag(&ev, "cgi:invalid-json").len(), 1);
    let login_page = ev.iter().find(|e| e["http"]["path"] == "/login.html").unwrap();
    let headers: Vec<(String, String)> =
        serde_json::from_value(login_page["http"]["headers"].clone()).unwrap();
    let expect = [
        ("host", "a"),
        ("X-Zeta", "1"),
        ("x-alpha", "2"),
        ("X-Zeta", "3"),
        ("Connection", "close"),
    ];
    assert_eq!(headers, expect.map(|(a, b)| (a.to_owned(), b.to_owned())));
}

#[test]
fn slow_and_idle_clients_are_cut_off_and_the_rate_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    let addr = s.addr();

    // Slowloris: a head that never ends is cut off after header_timeout_secs, unanswered.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nX-a: b\r\n").unwrap();
    let mut buf = Vec::new();
    let n = slow.read_to_end(&mut buf).unwrap_or(usize::MAX);
    assert_eq!(n, 0, "closed without an answer, got {:?}", text(&buf));

    // A slow body: 408 from the device.
    let mut slow_body = TcpStream::connect(addr).unwrap();
    slow_body.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    slow_body.write_all(b"POST /cgi HTTP/1.1\r\nContent-Length: 100\r\n\r\n{").unwrap();
    let mut answer = Vec::new();
    let _ = slow_body.read_to_end(&mut answer);
    assert!(text(&answer).starts_with("HTTP/1.1 408 "), "{}", text(&answer));

    // An idle connection is closed after idle_timeout_secs.
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut nothing = Vec::new();
    assert_eq!(idle.read_to_end(&mut nothing).unwrap_or(usize::MAX), 0);

    // Rate: burst of 3, then 503 on the same connection.
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        conn.write_all(b"GET /login.html HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut head = [0u8; 12];
        conn.read_exact(&mut head).unwrap();
        statuses.push(text(&head[9..12]));
        // drain the rest of this response
        let mut rest = Vec::new();
        let mut byte = [0u8; 1];
        while !rest.ends_with(b"\r\n\r\n") {
            conn.read_exact(&mut byte).unwrap();
            rest.push(byte[0]);
        }
        let len: usize = text(&rest)
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let mut body = vec![0u8; len];
        conn.read_exact(&mut body).unwrap();
    }
    assert_eq!(statuses, ["200", "200", "200", "503", "503"]);

    // The second listener serves its own persona.
    let other: Value =
        client().post(format!("http://{}/islogin", s.addrs[1])).send().unwrap().json().unwrap();
    assert_eq!(other["model"], "UR41");

    s.stop();
    let ev = events(&dir.path().join("data"));
    let slowloris = by_tag(&ev, "limit:header-timeout");
    assert_eq!(slowloris.len(), 1);
    assert_eq!(slowloris[0]["http"]["body"], "GET / HTTP/1.1\r\nX-a: b\r\n");
    assert_eq!(by_tag(&ev, "limit:body-timeout").len(), 1);
    assert_eq!(by_tag(&ev, "limit:rate").len(), 2);
    assert!(ev.iter().any(|e| e["persona"] == "milesight-ur41"));
    // --sensor-name (given by the test harness) wins over the config's `sensor_name`.
    assert!(ev.iter().all(|e| e["sensor"] == "test-sensor"));
}

fn config_error(toml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, toml).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["sensor", "--check-config", "--data"])
        .arg(dir.path())
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success(), "accepted: {toml}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("bad.toml"), "error names the file: {err}");
    err
}

#[test]
fn bad_configuration_is_rejected_naming_file_key_and_reason() {
    let err = config_error("[limits]\nmax_conections = 5\n");
    assert!(err.contains("line 2") && err.contains("unknown field `max_conections`"), "{err}");
    let err = config_error(
        "[limits]\nmax_headers = 0\n[[listener]]\nlisten = \"127.0.0.1:0\"\npersona = \"milesight-ur32l\"\n",
    );
    assert!(err.contains("limits.max_headers") && err.contains("1..=1024"), "{err}");
    let err = config_error("[[listener]]\nlisten = \"nowhere\"\npersona = \"milesight-ur32l\"\n");
    assert!(err.contains("line 2"), "{err}");
    let err = config_error("[[listener]]\nlisten = \"127.0.0.1:0\"\npersona = \"cisco-x\"\n");
    assert!(!err.is_empty());
    // a good one passes and prints the listeners
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.toml");
    std::fs::write(&path, "[[listener]]\nlisten = \"127.0.0.1:0\"\npersona = \"milesight-ur35\"\n")
        .unwrap();
    let out = std::process::Command::new(BIN)
        .args(["sensor", "--check-config", "--data"])
        .arg(dir.path())
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "127.0.0.1:0\tmilesight-ur35\n");
}

#[test]
fn a_persona_directory_is_validated_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.toml"), "name = \"broken\"\n").unwrap();
    let out = std::process::Command::new(BIN)
        .args(["personas", "--personas"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.toml") && err.contains("missing field"), "{err}");
}

#[test]
fn connections_over_the_cap_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cap.toml");
    std::fs::write(
        &config,
        "[[listener]]\nlisten = \"127.0.0.1:0\"\npersona = \"milesight-ur32l\"\n[limits]\nmax_connections = 1\n",
    )
    .unwrap();
    let s =
        Sensor::start_with(&dir.path().join("data"), &["--config", config.to_str().unwrap()], 1);
    let holder = TcpStream::connect(s.addr()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // The second connection is accepted by the kernel, then closed without an answer.
    let mut second = TcpStream::connect(s.addr()).unwrap();
    second.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = second.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut refused = Vec::new();
    let _ = second.read_to_end(&mut refused);
    assert!(refused.is_empty(), "{}", text(&refused));
    drop(holder);
    std::thread::sleep(Duration::from_millis(200));
    let served = raw(
        s.addr(),
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(text(&served).starts_with("HTTP/1.1 200 OK"));
    s.stop();
}
