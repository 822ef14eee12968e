//! The analyst on PostgreSQL (cargo feature `postgres`): two workers on one store, as two
//! hubs run them. Needs a server: `SMISHTRAP_TEST_POSTGRES` (libpq conninfo), default
//! `host=127.0.0.1 port=5432 user=postgres dbname=postgres`; each test works in its own
//! schema, dropped afterwards.

#![cfg(feature = "postgres")]

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use smishtrap_analyst::{Worker, WorkerConfig};
use smishtrap_event::{Event, EventKind, SmsAction, SmsDialect};
use smishtrap_intel::Engine;
use smishtrap_store::{
    AnalysisStore, CLUSTERED_CURSOR, EventStore, MessageQuery, PostgresStore, StoreError,
};
use smishtrap_testkit::{Schema, conninfo};

/// A fresh schema per test (dropped at the end) and its store.
fn fresh_schema() -> Schema {
    Schema::new("smishtrap_analyst")
}

fn open(schema: &Schema) -> Result<PostgresStore, StoreError> {
    PostgresStore::open(&conninfo(), &schema.0)
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

const LURE: &str = "CSAM: uw digitale identiteit verloopt vandaag. Bevestig uw gegevens via \
                    https://login.csam-be.info/verify om blokkering te voorkomen";

fn wave(first: usize, n: usize) -> Vec<Event> {
    let t0 = Utc.with_ymd_and_hms(2025, 7, 22, 10, 0, 0).single().unwrap_or_default();
    (first..first + n)
        .map(|i| {
            let mut e = Event::request(
                &format!("pg-{i}"),
                t0 + chrono::Duration::seconds(i as i64),
                "sensor-a",
                "milesight-ur32l",
                IpAddr::from([203, 0, 113, 7]),
            );
            e.kind = EventKind::SmsSend;
            e.sms = Some(SmsAction {
                to: vec![format!("+32470123{i:03}")],
                text: Some(LURE.to_owned()),
                dialect: SmsDialect::ApiSms,
                mailbox: None,
                status: Some("success".into()),
            });
            e
        })
        .collect()
}

fn start(schema: &Schema, engine: &Arc<Engine>) -> Worker {
    let name = schema.0.clone();
    let open = Arc::new(move || PostgresStore::open(&conninfo(), &name));
    ok(Worker::start_on(open, WorkerConfig::new(Default::default()), engine.clone()))
}

/// Waits (a generous deadline, not a timing assertion) until `n` messages are stored and
/// every one is clustered into a campaign.
fn wait_for(store: &mut PostgresStore, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let clustered = ok(store.cursor(CLUSTERED_CURSOR));
        let done = ok(store.messages(&MessageQuery::default(), 1000));
        if done.len() == n
            && clustered >= done.iter().map(|m| m.seq).max().unwrap_or(0)
            && done.iter().all(|m| m.campaign.is_some())
        {
            return;
        }
        assert!(Instant::now() < deadline, "workers did not catch up: {} of {n}", done.len());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Two workers on one store: each capture is analysed once, by whichever holds the job;
/// when that worker stops, the other takes over.
#[test]
fn two_workers_analyse_each_capture_once_and_take_over() {
    let schema = fresh_schema();
    let mut store = ok(open(&schema));
    let engine = Arc::new(ok(Engine::builtin()));
    let a = start(&schema, &engine);
    let b = start(&schema, &engine);
    ok(EventStore::insert_batch(&mut store, &wave(0, 6)));
    wait_for(&mut store, 6);
    let analysed = |w: &Worker| w.stats().messages_analysed.load(Ordering::Relaxed);
    assert_eq!(analysed(&a) + analysed(&b), 6, "each capture analysed once");
    assert!(analysed(&a) == 0 || analysed(&b) == 0, "one worker holds the job");
    let (leader, follower) = if analysed(&a) > 0 { (a, b) } else { (b, a) };
    leader.stop();
    ok(EventStore::insert_batch(&mut store, &wave(6, 3)));
    wait_for(&mut store, 9);
    assert_eq!(analysed(&follower), 3);
    let campaigns = ok(store.campaigns(None, None, 10));
    assert_eq!(campaigns.len(), 1, "{campaigns:?}");
    let text = MessageQuery { text: Some("csam-be.INFO/verify".into()), ..Default::default() };
    assert_eq!(ok(store.count_messages(&text, 100)), 9);
    follower.stop();
}
