//! Odd bytes on the wire through the real binary: heads the HTTP library would refuse get the
//! device's answer and a complete event, pipelined requests are answered in order however
//! long the pipeline runs, and `/cgi` bodies in other charsets are still SMS sends.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

mod sensor_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use sensor_support::{Sensor, events, raw};
use serde_json::Value;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Header names of a response, in order, without `Connection` and `Date`.
fn header_names(response: &str) -> Vec<String> {
    response
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(':').next().unwrap().to_owned())
        .filter(|n| n != "Connection" && n != "Date")
        .collect()
}

fn tagged<'a>(ev: &'a [Value], tag: &str) -> Vec<&'a Value> {
    ev.iter().filter(|e| e["tags"].as_array().is_some_and(|t| t.iter().any(|x| x == tag))).collect()
}

fn headers_of(e: &Value) -> Vec<(String, String)> {
    serde_json::from_value(e["http"]["headers"].clone()).unwrap()
}

#[test]
fn heads_the_http_library_refuses_get_the_device_answer_and_a_complete_event() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Sensor::start(&data);
    let addr = s.addr();
    let wait = Duration::from_secs(5);
    let not_found =
        text(&raw(addr, b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", wait));
    assert!(not_found.starts_with("HTTP/1.1 404 "), "{not_found}");
    let device_headers = header_names(&not_found);

    let many: String =
        (0..300).map(|i| format!("X-Header-{i:03}: value-{i:03}-padding\r\n")).collect();
    let big = format!("GET /big HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    assert!(big.len() > 8 * 1024);
    let cases: [(&str, &[u8]); 5] = [
        ("xss", b"GET /<script>alert(1)</script> HTTP/1.1\r\nHost: x\r\nUser-Agent: probe\r\n\r\n"),
        ("backtick", b"GET /cgi-bin/`id`?x=<y> HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("body", b"POST /cgi>x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"),
        // HTTP/0.9: one line, and the client waits for the answer.
        ("http09", b"GET /\r\n"),
        ("big", big.as_bytes()),
    ];
    for (name, bytes) in cases {
        let started = Instant::now();
        let answer = text(&raw(addr, bytes, wait));
        assert!(answer.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{name}: {answer}");
        assert_eq!(
            header_names(&answer),
            device_headers,
            "{name}: the device's headers, in its order"
        );
        assert!(answer.contains("400 Bad Request</h1>") || answer.contains("400"), "{name}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{name} answered after {:?}",
            started.elapsed()
        );
    }
    s.stop();

    let ev = events(&data);
    let xss = ev.iter().find(|e| e["http"]["path"] == "/<script>alert(1)</script>").unwrap();
    assert_eq!(xss["http"]["method"], "GET");
    assert_eq!(xss["http"]["version"], "HTTP/1.1");
    assert_eq!(xss["response_status"], 400);
    assert_eq!(
        headers_of(xss),
        [("Host".to_owned(), "x".to_owned()), ("User-Agent".to_owned(), "probe".to_owned())]
    );
    assert_eq!(tagged(&ev, "malformed:target").len(), 3);
    let backtick = ev.iter().find(|e| e["http"]["path"] == "/cgi-bin/`id`").unwrap();
    assert_eq!(backtick["http"]["query"], "x=<y>");
    let body = ev.iter().find(|e| e["http"]["path"] == "/cgi>x").unwrap();
    assert_eq!(
        (body["http"]["method"].as_str(), body["http"]["body"].as_str()),
        (Some("POST"), Some("hello"))
    );
    let http09 = tagged(&ev, "malformed:http09");
    assert_eq!(http09.len(), 1);
    assert_eq!(
        (http09[0]["http"]["method"].as_str(), http09[0]["http"]["path"].as_str()),
        (Some("GET"), Some("/"))
    );
    assert_eq!(http09[0]["http"]["body"], "GET /\r\n", "the raw bytes");
    let big_ev: Vec<_> = ev.iter().filter(|e| e["http"]["path"] == "/big").collect();
    assert_eq!(big_ev.len(), 1);
    assert!(
        ["limit:header-count", "limit:head-size"]
            .iter()
            .any(|t| !tagged(&[big_ev[0].clone()], t).is_empty()),
        "{}",
        big_ev[0]
    );
    assert_eq!(headers_of(big_ev[0]).len(), 64, "as many headers as an event holds");
    assert!(
        big_ev[0]["http"]["body"]
            .as_str()
            .unwrap()
            .starts_with("GET /big HTTP/1.1\r\nHost: x\r\nX-Header-000")
    );
    assert!(tagged(&ev, "malformed:hyper").is_empty(), "the HTTP library answered nothing itself");
}

#[test]
fn requests_before_a_refused_head_are_answered_first_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Sensor::start(&data);
    let mut conn = TcpStream::connect(s.addr()).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn.write_all(
        b"GET /login.html HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /<svg/onload=alert(1)> HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    assert_eq!(read_responses(&mut conn, 3), [200, 404, 400]);
    // A client that closes its sending side after a request still gets the answer.
    let mut half = TcpStream::connect(s.addr()).unwrap();
    half.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    half.write_all(b"GET /login.html HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    half.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_responses(&mut half, 1), [200]);
    s.stop();
    let ev = events(&data);
    let paths: Vec<(&str, u64)> = ev
        .iter()
        .map(|e| (e["http"]["path"].as_str().unwrap(), e["response_status"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        paths,
        [
            ("/login.html", 200),
            ("/nope", 404),
            ("/<svg/onload=alert(1)>", 400),
            ("/login.html", 200)
        ]
    );
}

const PIPELINE_CONFIG: &str = r#"
[[listener]]
listen = "127.0.0.1:0"
persona = "milesight-ur32l"

[limits]
header_timeout_secs = 1
idle_timeout_secs = 5
"#;

/// Reads `n` responses (status line to end of body) from `stream`; returns their status codes.
fn read_responses(stream: &mut TcpStream, n: usize) -> Vec<u16> {
    let mut buf = Vec::new();
    let mut statuses = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    while statuses.len() < n {
        // Parse complete responses out of the buffer.
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = text(&buf[..end]);
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + len {
                statuses.push(head[9..12].parse().unwrap());
                buf.drain(..end + 4 + len);
                continue;
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
    statuses
}

#[test]
fn fast_pipelining_is_never_cut_but_a_slowloris_is() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sensor.toml");
    std::fs::write(&config, PIPELINE_CONFIG).unwrap();
    let data = dir.path().join("data");
    let s = Sensor::start_with(&data, &["--config", config.to_str().unwrap()], 1);
    let addr: SocketAddr = s.addr();

    // Every write ends one head and starts the next, for three header timeouts.
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = conn.try_clone().unwrap();
    let n = 200;
    let responses = std::thread::spawn(move || read_responses(&mut reader, n));
    let started = Instant::now();
    conn.write_all(b"GET /login.html HTTP/1.1\r\nHost: x\r").unwrap();
    for i in 1..=n {
        std::thread::sleep(Duration::from_millis(15));
        let next: &[u8] =
            if i < n { b"\n\r\nGET /login.html HTTP/1.1\r\nHost: x\r" } else { b"\n\r\n" };
        conn.write_all(next).unwrap();
    }
    let statuses = responses.join().unwrap();
    assert!(started.elapsed() > Duration::from_secs(3), "the pipeline outlasts the header timeout");
    assert_eq!(statuses.len(), n, "every pipelined request answered");
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    // A head sent a byte at a time, slower than the timeout allows, is still cut unanswered.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut closed = false;
    for b in b"GET / HTTP/1.1\r\nX-Slow: 1234567890123456789012345678901234567890\r\n"
        .iter()
        .cycle()
        .take(400)
    {
        if slow.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        let mut one = [0u8; 1024];
        match slow.read(&mut one) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(k) => answer.extend_from_slice(&one[..k]),
            Err(_) => {}
        }
    }
    assert!(closed, "a slowloris is cut");
    assert!(answer.is_empty(), "unanswered: {}", text(&answer));
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(conn);
    drop(slow);
    s.stop();

    let ev = events(&data);
    assert_eq!(ev.iter().filter(|e| e["http"]["path"] == "/login.html").count(), n);
    let cut = tagged(&ev, "limit:header-timeout");
    assert_eq!(cut.len(), 1, "only the slowloris was cut");
    assert!(cut[0]["http"]["body"].as_str().unwrap().starts_with("GET / HTTP"), "{}", cut[0]);
}

#[test]
fn a_latin1_send_is_an_sms_send_with_its_raw_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Sensor::start(&data);
    let text_fr = "Votre colis est bloqu\u{e9} \u{e0} la douane: https://colis-fr.example/p";
    let json = format!(
        r#"{{"id":"1","execute":1,"function":"send_sms","values":[{{"base":"api_sms","phone_number":"+33600000001","content":"{text_fr}"}}]}}"#
    );
    let latin1: Vec<u8> = json.chars().map(|c| u8::try_from(u32::from(c)).unwrap()).collect();
    let mut request =
        format!("POST /cgi HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", latin1.len())
            .into_bytes();
    request.extend_from_slice(&latin1);
    let answer = text(&raw(s.addr(), &request, Duration::from_secs(5)));
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    s.stop();
    let ev = events(&data);
    let send = ev.iter().find(|e| e["kind"] == "sms.send").expect("an sms.send event");
    assert_eq!(send["sms"]["text"], text_fr);
    assert_eq!(send["sms"]["to"][0], "+33600000001");
    assert_eq!(send["http"]["body_encoding"], "base64", "the raw bytes are kept");
    assert_eq!(tagged(&ev, "charset:latin1").len(), 1);
}
