//! The forwarder against a real `nats-server -js`: order, exactly-once in the stream across
//! a NATS outage and an abrupt forwarder stop, cursor only after the ack.
//! Run: `cargo test -p smishtrap-forward --test forward` (needs /usr/sbin/nats-server).

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use smishtrap_forward::{ForwardConfig, Forwarder, SensorName, ensure_stream};
use smishtrap_store::{FORWARDED_CURSOR, SqliteStore};
use support::{Nats, event, stream_ids, wait_until};

fn config(url: String, store: std::path::PathBuf) -> ForwardConfig {
    let mut config = ForwardConfig::new(url, store, SensorName::parse("be-01").unwrap());
    config.batch = 16;
    config.poll = Duration::from_millis(20);
    config.ack_timeout = Duration::from_secs(1);
    config.min_backoff = Duration::from_millis(20);
    config.max_backoff = Duration::from_millis(200);
    config
}

fn insert(store: &mut SqliteStore, range: std::ops::Range<u32>) {
    let events: Vec<_> = range.map(|n| event("be-01", n)).collect();
    store.insert_batch(&events).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_in_order_exactly_once_across_outage_and_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let mut nats = Nats::start(&tmp.path().join("js"));
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    ensure_stream(&js, Duration::from_secs(120)).await.unwrap();
    let db = tmp.path().join("smishtrap.db");
    let mut store = SqliteStore::open(&db).unwrap();
    insert(&mut store, 0..50);

    let forwarder = Forwarder::new(config(nats.url(), db.clone()));
    let stats = forwarder.stats();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(forwarder.run(async {
        let _ = stopped.await;
    }));
    wait_until(20, "first 50 forwarded", || stats.cursor.load(Ordering::Relaxed) == 50).await;

    // NATS down: events keep being committed locally, the cursor stays put.
    nats.stop();
    insert(&mut store, 50..80);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(stats.cursor.load(Ordering::Relaxed), 50, "cursor moved without an ack");
    assert_eq!(store.cursor(FORWARDED_CURSOR).unwrap(), 50);
    assert!(stats.failures.load(Ordering::Relaxed) > 0, "no failed round while NATS was down");

    nats.restart();
    wait_until(30, "spooled events forwarded after the outage", || {
        stats.cursor.load(Ordering::Relaxed) == 80
    })
    .await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(store.cursor(FORWARDED_CURSOR).unwrap(), 80);

    // An abrupt stop (task aborted mid-stream, like kill -9) and a restart: resumes from the
    // committed cursor; repeats of unacknowledged events are dropped by Nats-Msg-Id.
    insert(&mut store, 80..400);
    let forwarder = Forwarder::new(config(nats.url(), db.clone()));
    let stats = forwarder.stats();
    let task = tokio::spawn(forwarder.run(std::future::pending()));
    wait_until(20, "some progress", || stats.cursor.load(Ordering::Relaxed) > 100).await;
    task.abort();
    let _ = task.await;
    let forwarder = Forwarder::new(config(nats.url(), db.clone()));
    let stats = forwarder.stats();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(forwarder.run(async {
        let _ = stopped.await;
    }));
    wait_until(30, "all 400 forwarded", || stats.cursor.load(Ordering::Relaxed) == 400).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();

    // A crash after the acks but before the cursor commit: the last 100 are sent again.
    store.set_cursor(FORWARDED_CURSOR, 300).unwrap();
    let forwarder = Forwarder::new(config(nats.url(), db.clone()));
    let stats = forwarder.stats();
    let task = tokio::spawn(forwarder.run(std::future::pending()));
    wait_until(20, "the repeats acked", || stats.cursor.load(Ordering::Relaxed) == 400).await;
    task.abort();
    assert_eq!(stats.duplicates.load(Ordering::Relaxed), 100, "repeats not recognised");

    let got = stream_ids(&js).await;
    let want: Vec<(String, String)> =
        (0..400).map(|n| ("smishtrap.events.be-01".to_owned(), event("be-01", n).id)).collect();
    assert_eq!(got.len(), want.len(), "stream holds a duplicate or misses an event");
    assert_eq!(got, want, "stream order differs from commit order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sensor_started_while_nats_is_down_spools_then_forwards() {
    let tmp = tempfile::tempdir().unwrap();
    let mut nats = Nats::start(&tmp.path().join("js"));
    let url = nats.url();
    {
        let js = async_nats::jetstream::new(async_nats::connect(url.clone()).await.unwrap());
        ensure_stream(&js, Duration::from_secs(120)).await.unwrap();
    }
    nats.stop();
    let db = tmp.path().join("smishtrap.db");
    let mut store = SqliteStore::open(&db).unwrap();
    insert(&mut store, 0..10);
    let forwarder = Forwarder::new(config(url, db));
    let stats = forwarder.stats();
    let task = tokio::spawn(forwarder.run(std::future::pending()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stats.cursor.load(Ordering::Relaxed), 0);
    nats.restart();
    wait_until(30, "forwarded after NATS came up", || stats.cursor.load(Ordering::Relaxed) == 10)
        .await;
    task.abort();
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    assert_eq!(stream_ids(&js).await.len(), 10);
}
