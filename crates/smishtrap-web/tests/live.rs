//! The follower and the stream through the real server: late commits, replay after a known
//! event, session expiry, the bound on open streams.

mod common;

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::{Server, TOKEN, event};
use smishtrap_event::EventKind;
use smishtrap_web::{Console, ConsoleConfig, Token};

/// Reads SSE frames until `n` `event: event` frames arrived; returns their ids in order.
async fn read_ids(response: &mut reqwest::Response, n: usize) -> Vec<String> {
    let mut text = String::new();
    let is_event = |(kind, _): &&(String, String)| kind == "event";
    let seen =
        common::frames(response, &mut text, |f| f.iter().filter(is_event).count() >= n).await;
    seen.iter()
        .filter(is_event)
        .filter_map(|(_, data)| serde_json::from_str::<serde_json::Value>(data).ok())
        .filter_map(|row| row["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_commits_within_the_overlap_are_followed_and_streamed() {
    let server = Server::start().await;
    // Events keep microseconds.
    let now = chrono::DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).expect("now");
    server.write(&[event(0, EventKind::HttpRequest, now)]);
    server.wait_for_events(1).await;
    let mut stream = server.api("/api/v1/events/stream").await;
    // Committed after the newest event but stamped 10 s before it (a slow request).
    server.write(&[event(11, EventKind::SmsSend, now - TimeDelta::seconds(10))]);
    server.wait_for_events(2).await;
    server.write(&[event(12, EventKind::SmsSend, now + TimeDelta::milliseconds(1))]);
    let ids = read_ids(&mut stream, 2).await;
    assert_eq!(ids, ["c1-1", "c1-2"]);
    let sensors = server.api_json("/api/v1/sensors").await;
    assert_eq!(sensors["sensors"][0]["by_kind"]["sms.send"], 2);
    assert_eq!(
        sensors["sensors"][0]["first_seen"],
        serde_json::json!(now - TimeDelta::seconds(10))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_replays_what_came_after_a_known_event() {
    let server = Server::start().await;
    let now = Utc::now();
    let all: Vec<_> = (0..5)
        .map(|i| event(i, EventKind::SmsSend, now + TimeDelta::milliseconds(i as i64)))
        .collect();
    server.write(&all);
    server.wait_for_events(5).await;
    let mut stream = server.api("/api/v1/events/stream?after=c0-2").await;
    assert_eq!(read_ids(&mut stream, 2).await, ["c0-3", "c0-4"]);
    // `Last-Event-ID` (what EventSource sends on reconnect) works the same way.
    let mut stream = server
        .client
        .get(server.url("/api/v1/events/stream"))
        .header("last-event-id", "c0-3")
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("stream");
    server.write(&[event(7, EventKind::SmsSend, now + TimeDelta::milliseconds(7))]);
    assert_eq!(read_ids(&mut stream, 2).await, ["c0-4", "c0-7"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_streams_are_bounded_and_freed_when_clients_leave() {
    let server = Server::start().await;
    let mut open = Vec::new();
    for _ in 0..smishtrap_web::api::MAX_STREAMS {
        let response = server.api("/api/v1/events/stream").await;
        assert_eq!(response.status(), 200);
        open.push(response);
    }
    let refused = server.api("/api/v1/events/stream").await;
    assert_eq!(refused.status(), 503);
    let body: serde_json::Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], "too_many_streams");
    drop(open);
    // A client that left frees its slot even though no event arrives.
    for attempt in 0.. {
        let response = server.api("/api/v1/events/stream").await;
        if response.status() == 200 {
            break;
        }
        assert!(attempt < 200, "slots were never freed");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = ConsoleConfig::new(dir.path(), Token::parse(TOKEN, "test").expect("token"));
    config.session_ttl = Duration::from_millis(300);
    let server = Server::start_config(dir, config).await;
    let (addr, client) = (server.addr, &server.client);
    let login =
        client.get(format!("http://{addr}/login?token={TOKEN}")).send().await.expect("login");
    let cookie = login.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    let session = cookie.split(';').next().expect("pair").to_owned();
    let get = || client.get(format!("http://{addr}/")).header("cookie", &session).send();
    assert_eq!(get().await.expect("get").status(), 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(get().await.expect("get").status(), 303, "an expired session is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_streams() {
    let dir = tempfile::tempdir().expect("tempdir");
    let console =
        Console::start(ConsoleConfig::new(dir.path(), Token::parse(TOKEN, "test").expect("token")))
            .expect("console");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(smishtrap_web::serve(listener, console.state(), async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let mut stream = client
        .get(format!("http://{addr}/api/v1/events/stream"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status(), 200);
    let _ = stop.send(());
    let finished = tokio::time::timeout(Duration::from_secs(10), server).await;
    assert!(matches!(finished, Ok(Ok(Ok(())))), "the server waited for the open stream");
    // The client sees its stream end.
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(end.is_ok());
    console.stop();
}
