//! Test helpers: events, waits and stream reads; the `nats-server -js` launcher is
//! `smishtrap-testkit`'s (re-exported here).

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    reason = "test helpers; each test binary uses a part"
)]

use std::time::{Duration, Instant};

use smishtrap_event::Event;
pub use smishtrap_testkit::Nats;

/// Event `n` of `sensor`: the fixture with its own id, session and time.
pub fn event(sensor: &str, n: u32) -> Event {
    let mut value: serde_json::Value =
        serde_json::from_str(include_str!("../data/event.json")).unwrap();
    value["sensor"] = sensor.into();
    value["session"] = format!("{sensor}s{n}").into();
    value["id"] = format!("{sensor}s{n}-0").into();
    value["ts"] = format!("2026-11-24T17:{:02}:{:02}Z", (n / 60) % 60, n % 60).into();
    serde_json::from_value(value).unwrap()
}

/// Polls `done` every 20 ms until it holds or `secs` pass.
pub async fn wait_until(secs: u64, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every message of the stream, in stream order: (subject, event id).
pub async fn stream_ids(js: &async_nats::jetstream::Context) -> Vec<(String, String)> {
    let mut stream = js.get_stream(smishtrap_forward::STREAM).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut out = Vec::new();
    for seq in 1..=last {
        let Ok(message) = stream.get_raw_message(seq).await else { continue };
        let event: Event = serde_json::from_slice(&message.payload).unwrap();
        out.push((message.subject.to_string(), event.id));
    }
    out
}
