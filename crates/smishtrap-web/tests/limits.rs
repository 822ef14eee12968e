//! The console's connection limits through real sockets: slow heads, idle keep-alive, floods
//! of idle connections from many addresses and from one, large bodies, and live streams that
//! outlive the idle timeout.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{Server, event};
use smishtrap_event::EventKind;
use smishtrap_web::ConsoleLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

/// One test at a time: the flood test reads the process's memory, and timing assertions
/// should not share two cores with another test's thousands of connections.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn quick_timeouts() -> ConsoleLimits {
    ConsoleLimits {
        header_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_millis(1500),
        ..ConsoleLimits::default()
    }
}

/// Long timeouts, so only the caps act.
fn caps(max_connections: usize, max_connections_per_ip: usize) -> ConsoleLimits {
    ConsoleLimits {
        header_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(120),
        max_connections,
        max_connections_per_ip,
        ..ConsoleLimits::default()
    }
}

async fn start(limits: ConsoleLimits) -> Server {
    Server::start_with(tempfile::tempdir().expect("tempdir"), limits).await
}

/// A connection from `source` (any 127.0.0.0/8 address works on Linux).
async fn connect_from(server: &Server, source: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::from((source, 0))).expect("bind");
    socket.connect(server.addr).await.expect("connect")
}

/// Reads until the server closes the connection (or `limit` passes): how long it took and
/// what was read.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> Option<(Duration, Vec<u8>)> {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((start + limit).into(), stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some((start.elapsed(), got)),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends a request and reads its whole answer (`Content-Length` bodies only), leaving the
/// connection open.
async fn request(stream: &mut TcpStream, head: &[u8]) -> String {
    try_request(stream, head).await.expect("an answer before the connection closed")
}

/// [`request`], or `None` when the server closes the connection without an answer.
async fn try_request(stream: &mut TcpStream, head: &[u8]) -> Option<String> {
    stream.write_all(head).await.ok()?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("answer or close within 10 s")
            .ok()?;
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_owned)
                })
                .and_then(|n| n.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return Some(text);
            }
        }
    }
}

/// Of these connections, how many the server has not closed.
async fn still_open(streams: &mut [TcpStream]) -> usize {
    // closes travel through the loopback in well under this
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut open = 0;
    let mut buf = [0u8; 1];
    for s in streams.iter_mut() {
        match s.try_read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => open += 1,
            _ => {}
        }
    }
    open
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_head_is_closed_after_the_header_timeout() {
    let _serial = SERIAL.lock().await;
    let server = start(quick_timeouts()).await;
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    let (mut read, mut write) = stream.into_split();
    // slowloris: a header line every 100 ms, never the blank line that ends the head
    let trickle = tokio::spawn(async move {
        write.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.ok();
        for i in 0..200 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if write.write_all(format!("X-{i}: y\r\n").as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(10), read.read(&mut buf)).await {
            Err(_) => break None,
            Ok(Ok(0) | Err(_)) => break Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    };
    trickle.abort();
    let took = closed.expect("a slow head is closed");
    assert!(took >= Duration::from_millis(400), "closed after {took:?}, before the timeout");
    assert!(took < Duration::from_millis(2500), "closed after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_closes_but_a_live_stream_outlives_the_idle_timeout() {
    let _serial = SERIAL.lock().await;
    let server = start(quick_timeouts()).await;
    let mut stream = server.api("/api/v1/events/stream").await;
    assert_eq!(stream.status(), 200);

    let mut idle = TcpStream::connect(server.addr).await.expect("connect");
    let answer = request(&mut idle, HEALTHZ).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (took, rest) =
        until_closed(&mut idle, Duration::from_secs(10)).await.expect("idle connection closed");
    assert!(rest.is_empty());
    assert!(took >= Duration::from_millis(1300), "closed after {took:?}, before the timeout");
    assert!(took < Duration::from_millis(4000), "closed after {took:?}");

    // The stream has been open for longer than the idle timeout and still delivers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.write(&[event(1, EventKind::SmsSend, Utc::now())]);
    let mut text = String::new();
    let frames =
        common::frames(&mut stream, &mut text, |f| f.iter().any(|(k, _)| k == "event")).await;
    assert!(frames.iter().any(|(_, data)| data.contains("c0-1")), "{frames:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_connections_does_not_lock_out_a_new_client() {
    let _serial = SERIAL.lock().await;
    const FLOOD: usize = 2000;
    const CAP: usize = 200;
    let server = start(caps(CAP, 100)).await;
    let rss_before = rss_kib();
    let mut flood = Vec::with_capacity(FLOOD);
    for i in 0..FLOOD {
        // 40 addresses, 50 each: under the per-address cap, so only the global cap acts
        let mut s = connect_from(&server, [127, 0, 0, 2 + (i % 40) as u8]).await;
        match i % 3 {
            // a finished request, then idle keep-alive (buffers allocated)
            0 => drop(request(&mut s, HEALTHZ).await),
            // half a head
            1 => s.write_all(b"GET /healthz HTTP/1.1\r\nHo").await.expect("write"),
            // nothing at all
            _ => {}
        }
        flood.push(s);
    }
    let started = Instant::now();
    let answer = server.get("/healthz").await;
    assert_eq!(answer.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(2), "healthz took {:?}", started.elapsed());
    let open = still_open(&mut flood).await;
    // The server holds at most CAP connections' buffers, not FLOOD (about 16 KiB each).
    let grown = rss_kib().saturating_sub(rss_before);
    assert!(open <= CAP, "{open} flood connections open, cap {CAP}");
    assert!(open >= CAP / 2, "only {open} of the newest connections kept");
    assert!(grown < (FLOOD as u64 * 8), "RSS grew {grown} KiB for {FLOOD} connections");
    // The newest connections are served (this one's first request was answered before).
    assert_eq!((FLOOD - 2) % 3, 0);
    let newest = &mut flood[FLOOD - 2];
    let answer = request(newest, HEALTHZ).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_hold_every_slot() {
    let _serial = SERIAL.lock().await;
    let server = start(caps(1000, 50)).await;
    let mut greedy = Vec::new();
    for _ in 0..150 {
        let mut s = connect_from(&server, [127, 0, 0, 77]).await;
        drop(request(&mut s, HEALTHZ).await);
        greedy.push(s);
    }
    let open = still_open(&mut greedy).await;
    assert!(open <= 50, "{open} connections from one address, cap 50");
    // Others are untouched by that address's churn.
    let mut other = connect_from(&server, [127, 0, 0, 78]).await;
    let answer = request(&mut other, HEALTHZ).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_connections_are_not_shed_and_the_newcomer_is_refused() {
    let _serial = SERIAL.lock().await;
    let server = start(caps(3, 3)).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let response = server.api("/api/v1/events/stream").await;
        assert_eq!(response.status(), 200);
        streams.push(response);
    }
    let mut refused = TcpStream::connect(server.addr).await.expect("connect");
    assert_eq!(try_request(&mut refused, HEALTHZ).await, None, "refused without an answer");
    drop(streams);
    // Once the streams end their slots are free again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut s = TcpStream::connect(server.addr).await.expect("connect");
        if try_request(&mut s, HEALTHZ).await.is_some_and(|a| a.starts_with("HTTP/1.1 200")) {
            break;
        }
        assert!(Instant::now() < deadline, "slots never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_body_over_the_limit_gets_413() {
    let limits = ConsoleLimits { max_body_bytes: 1024, ..ConsoleLimits::default() };
    let server = start(limits).await;
    let response = server
        .client
        .post(server.url("/logout"))
        .body(vec![b'x'; 4096])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 413);
    assert!(response.headers().contains_key("content-security-policy"));
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "payload_too_large");
}
