//! Hub ingestion against a real `nats-server -js` and PostgreSQL (cargo feature `hub`).
//!
//! PostgreSQL: `SMISHTRAP_TEST_POSTGRES` (libpq conninfo), default
//! `host=127.0.0.1 port=5432 user=postgres dbname=postgres` (trust auth); each test works in
//! its own schema with a random name, dropped afterwards (like the store's suite).
//! Run: `cargo test -p smishtrap-forward --features hub --test hub`.

#![cfg(feature = "hub")]
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage as Publish};
use smishtrap_forward::hub::{Hub, HubConfig};
use smishtrap_store::{EventFilter, PostgresStore};
use smishtrap_testkit::{Schema, conninfo};
use support::{Nats, event, wait_until};

/// A fresh schema (dropped when the test ends) for the hub's tests.
fn fresh_schema(tag: &str) -> Schema {
    Schema::new(&format!("hub_{tag}"))
}

/// The schema's store, opened off the runtime.
fn open_store(schema: &Schema) -> PostgresStore {
    off_runtime(|| PostgresStore::open(&conninfo(), &schema.0).unwrap())
}

/// The blocking PostgreSQL client must not run (or be dropped) on a runtime thread.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

fn config() -> HubConfig {
    HubConfig {
        batch: 32,
        fetch_wait: Duration::from_millis(200),
        ack_wait: Duration::from_secs(2),
        min_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        ..HubConfig::default()
    }
}

async fn publish(js: &jetstream::Context, subject: &str, payload: String, id: &str) {
    js.send_publish(subject.to_owned(), Publish::build().payload(payload.into()).message_id(id))
        .await
        .unwrap()
        .await
        .unwrap();
}

/// Ids stored in the schema, with how often each is there.
fn stored_ids(schema: &Schema) -> Vec<String> {
    off_runtime(|| {
        let mut store = PostgresStore::open(&conninfo(), &schema.0).unwrap();
        let mut ids: Vec<String> =
            store.events(&EventFilter::default()).unwrap().map(|e| e.unwrap().id).collect();
        ids.sort();
        ids
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_sensor_and_malformed_messages_are_rejected_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("js"));
    let schema = fresh_schema("forged");
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let hub = Hub::start(&js, open_store(&schema), config()).await.unwrap();
    let stats = hub.stats();
    let task = tokio::spawn(hub.run(std::future::pending()));

    for n in 0..3 {
        let e = event("be-01", n);
        publish(&js, "smishtrap.events.be-01", serde_json::to_string(&e).unwrap(), &e.id).await;
    }
    // be-01's credentials used to claim be-02's events
    let forged = event("be-02", 9);
    publish(&js, "smishtrap.events.be-01", serde_json::to_string(&forged).unwrap(), &forged.id)
        .await;
    publish(&js, "smishtrap.events.be-01", "{not an event".into(), "junk-1").await;

    wait_until(20, "all five handled", || {
        stats.inserted.load(Ordering::Relaxed) == 3
            && stats.rejected_sensor.load(Ordering::Relaxed) == 1
            && stats.malformed.load(Ordering::Relaxed) == 1
    })
    .await;
    task.abort();
    let want: Vec<String> = (0..3).map(|n| event("be-01", n).id).collect();
    assert_eq!(stored_ids(&schema), want);
    // terminated, so nothing is pending on the consumer
    let mut consumer: jetstream::consumer::PullConsumer = js
        .get_stream(smishtrap_forward::STREAM)
        .await
        .unwrap()
        .get_consumer("smishtrap-hub")
        .await
        .unwrap();
    let info = consumer.info().await.unwrap();
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(info.num_pending, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_share_one_consumer_and_store_each_event_once() {
    let tmp = tempfile::tempdir().unwrap();
    let nats = Nats::start(&tmp.path().join("js"));
    let schema = fresh_schema("two");
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let first = Hub::start(&js, open_store(&schema), config()).await.unwrap();
    let second = Hub::start(&js, open_store(&schema), config()).await.unwrap();
    let (a, b) = (first.stats(), second.stats());
    let first = tokio::spawn(first.run(std::future::pending()));
    let second = tokio::spawn(second.run(std::future::pending()));

    let mut want = Vec::new();
    for sensor in ["be-01", "nl-02"] {
        for n in 0..300 {
            let e = event(sensor, n);
            let subject = format!("smishtrap.events.{sensor}");
            // not awaiting each ack keeps the stream busy while both hubs pull
            let ack = js
                .send_publish(
                    subject,
                    Publish::build()
                        .payload(serde_json::to_string(&e).unwrap().into())
                        .message_id(&e.id),
                )
                .await
                .unwrap();
            drop(ack);
            want.push(e.id);
        }
    }
    // A hub dies mid-stream: its unacked messages go to the other after ack_wait.
    wait_until(20, "first hub made progress", || a.inserted.load(Ordering::Relaxed) > 0).await;
    first.abort();
    let _ = first.await;
    // (the aborted hub may have committed a batch it never counted or acked)
    wait_until(60, "all 600 stored", || stored_ids(&schema).len() >= 600).await;
    // redeliveries of what the dead hub took arrive after ack_wait; they must not add rows
    tokio::time::sleep(Duration::from_millis(3000)).await;
    second.abort();
    want.sort();
    assert_eq!(stored_ids(&schema), want, "an event is missing or stored twice");
    let inserted = a.inserted.load(Ordering::Relaxed) + b.inserted.load(Ordering::Relaxed);
    assert!(inserted <= 600, "{inserted} inserts for 600 events");
    assert!(b.inserted.load(Ordering::Relaxed) > 0, "the second hub did no work");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_started_before_nats_waits_for_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut nats = Nats::start(&tmp.path().join("js"));
    nats.stop();
    let schema = fresh_schema("early");
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(nats.url())
        .await
        .unwrap();
    let js = jetstream::new(client);
    let store = open_store(&schema);
    let starting = tokio::spawn({
        let js = js.clone();
        async move { Hub::start(&js, store, config()).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!starting.is_finished(), "the hub gave up while NATS was down");
    nats.restart();
    let hub =
        tokio::time::timeout(Duration::from_secs(30), starting).await.unwrap().unwrap().unwrap();
    let stats = hub.stats();
    let task = tokio::spawn(hub.run(std::future::pending()));
    let e = event("be-01", 1);
    publish(&js, "smishtrap.events.be-01", serde_json::to_string(&e).unwrap(), &e.id).await;
    wait_until(20, "the event stored", || stats.inserted.load(Ordering::Relaxed) == 1).await;
    task.abort();
    assert_eq!(stored_ids(&schema), vec![e.id]);
}
