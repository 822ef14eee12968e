//! Descriptor exhaustion through the real binary under a lowered `nofile` limit (`prlimit`):
//! one source holding hundreds of idle connections locks nobody else out, and `run`'s console
//! answers during a 2,000-connection slowloris on its sensor. Loopback only (127.0.0.0/8 is
//! all local on Linux, so other sources are other 127.x addresses), bounded in time and count.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

mod console_support;
mod sensor_support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use console_support::ConsoleProcess;
use sensor_support::{Sensor, events};
use serde_json::Value;

const PAGE: &[u8] = b"GET /login.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/// A blocking connection from `source` (any 127.x address) to `to`.
fn connect_from(rt: &tokio::runtime::Runtime, source: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let stream = rt
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::from((source, 0)))?;
            socket.connect(to).await?.into_std()
        })
        .unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
}

/// What the sensor answers `request` on `stream` before closing (or within `wait`).
fn answer(mut stream: TcpStream, request: &[u8], wait: Duration) -> String {
    stream.set_read_timeout(Some(wait)).unwrap();
    let _ = stream.write_all(request);
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn tagged<'a>(ev: &'a [Value], tag: &str) -> Vec<&'a Value> {
    ev.iter().filter(|e| e["tags"].as_array().is_some_and(|t| t.iter().any(|x| x == tag))).collect()
}

/// A log without its colour escapes.
fn plain(log: &str) -> String {
    let mut out = String::new();
    let mut rest = log;
    while let Some(i) = rest.find('\x1b') {
        out.push_str(&rest[..i]);
        rest = rest[i..].find('m').map_or("", |m| &rest[i + m + 1..]);
    }
    out + rest
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn idle_connections_of_one_source_leave_room_for_another() {
    let _ = smishtrap_sensor::raise_descriptor_limit();
    let dir = tempfile::tempdir().unwrap();
    let s = Sensor::start_under(
        &["prlimit", "--nofile=256:256"],
        &dir.path().join("data"),
        &["--listen", "127.0.0.1:0", "--persona", "milesight-ur32l"],
        1,
    );
    let addr = s.addr();
    let rt = runtime();
    // 300 idle connections from one source: more than the process has descriptors.
    let idle: Vec<TcpStream> = (0..300).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(500));

    // Another source is answered by the device, promptly.
    let started = Instant::now();
    let other =
        answer(connect_from(&rt, Ipv4Addr::new(127, 0, 0, 2), addr), PAGE, Duration::from_secs(10));
    assert!(other.starts_with("HTTP/1.1 200 OK"), "{other:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "answered after {:?}", started.elapsed());
    // The crowded source is turned away at once instead of waiting in the backlog.
    let crowded = answer(TcpStream::connect(addr).unwrap(), PAGE, Duration::from_secs(10));
    assert_eq!(crowded, "", "a source over its cap is closed unanswered");

    drop(idle);
    let log = plain(&s.stop());
    assert!(log.contains("max_connections=192"), "caps follow the descriptor limit:\n{log}");
    assert!(!log.contains("accept failed"), "no descriptor ran out:\n{log}");
    let ev = events(&dir.path().join("data"));
    let shed = tagged(&ev, "limit:per-ip");
    // 300 - 96 held + the retry above were shed; a burst is recorded while at most 64 wait for
    // the store at once, the rest only counted.
    assert!((64..=205).contains(&shed.len()), "{} shed events", shed.len());
    for e in &shed {
        assert_eq!(
            (e["src_ip"].as_str(), e["response_status"].as_u64()),
            (Some("127.0.0.1"), Some(0))
        );
        assert_eq!(e["kind"], "http.malformed");
    }
    assert!(ev.iter().any(|e| e["src_ip"] == "127.0.0.2" && e["http"]["path"] == "/login.html"));
}

#[test]
fn the_console_answers_during_a_slowloris_on_the_sensor() {
    let _ = smishtrap_sensor::raise_descriptor_limit();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = "exhaustion-test-token-0123456789";
    let run = ConsoleProcess::run_under(
        &["prlimit", "--nofile=1024:1024"],
        &data,
        &["--console-token", token],
    );
    let sensor = run.sensor.unwrap();
    let rt = runtime();
    // 2,000 heads that never end, from 20 sources, all opened before anything else is asked.
    let slow: Vec<tokio::net::TcpStream> = rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..2000u32 {
            let source = Ipv4Addr::new(127, 0, 1, u8::try_from(10 + i % 20).unwrap());
            tasks.push(tokio::spawn(async move {
                let socket = tokio::net::TcpSocket::new_v4().ok()?;
                socket.bind(SocketAddr::from((source, 0))).ok()?;
                let mut stream = socket.connect(sensor).await.ok()?;
                tokio::io::AsyncWriteExt::write_all(
                    &mut stream,
                    b"GET / HTTP/1.1\r\nHost: x\r\nX-a: ",
                )
                .await
                .ok()?;
                Some(stream)
            }));
        }
        let mut open = Vec::new();
        for t in tasks {
            if let Ok(Some(s)) = t.await {
                open.push(s);
            }
        }
        open
    });
    assert!(slow.len() >= 1900, "only {} slow connections opened", slow.len());
    std::thread::sleep(Duration::from_millis(500));

    let http = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    for _ in 0..3 {
        let health = http.get(run.url("/healthz")).send().expect("/healthz answers");
        assert!(health.status().is_success());
        let api = http.get(run.url("/api/v1/health")).bearer_auth(token).send().expect("health");
        assert!(api.status().is_success());
    }
    // A new source finds the sensor full: closed at once, not left hanging.
    let started = Instant::now();
    let full = answer(
        connect_from(&rt, Ipv4Addr::new(127, 0, 2, 1), sensor),
        PAGE,
        Duration::from_secs(10),
    );
    assert!(full.is_empty() || full.starts_with("HTTP/1.1 "), "{full:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "left hanging {:?}", started.elapsed());

    // Once the slow clients go, the sensor serves again.
    drop(slow);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let page = answer(TcpStream::connect(sensor).unwrap(), PAGE, Duration::from_secs(5));
        if page.starts_with("HTTP/1.1 200 OK") {
            break;
        }
        assert!(Instant::now() < deadline, "the sensor did not recover: {page:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = plain(&run.stderr.lock().unwrap());
    assert_eq!(run.stop(), Some(0), "{log}");
    assert!(!log.contains("accept failed"), "no descriptor ran out:\n{log}");
}
