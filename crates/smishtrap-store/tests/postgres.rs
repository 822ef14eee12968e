//! The conformance suite against PostgreSQL (cargo feature `postgres`).
//!
//! Needs a server: `SMISHTRAP_TEST_POSTGRES` (libpq conninfo), default
//! `host=127.0.0.1 port=5432 user=postgres dbname=postgres` (trust auth). Each test works in
//! its own schema with a random name, dropped afterwards.
//! Run: `cargo test -p smishtrap-store --features postgres --test postgres`.

#![cfg(feature = "postgres")]

mod common;
mod suite;

use smishtrap_store::{PostgresStore, StoreError};
use smishtrap_testkit::{Schema, conninfo};

/// A fresh schema per test, dropped at the end.
struct Postgres {
    schema: Schema,
}

impl suite::Backend for Postgres {
    type Store = PostgresStore;

    fn new() -> Self {
        Postgres { schema: Schema::new("smishtrap_test") }
    }

    fn open(&self) -> Result<PostgresStore, StoreError> {
        PostgresStore::open(&conninfo(), &self.schema.0)
    }

    fn open_reader(&self) -> Result<PostgresStore, StoreError> {
        PostgresStore::open_read_only(&conninfo(), &self.schema.0)
    }

    fn open_unwritable(&self) -> Result<PostgresStore, StoreError> {
        PostgresStore::open(
            &format!("{} dbname=smishtrap_no_such_database", conninfo()),
            &self.schema.0,
        )
    }
}

store_test_suite!(Postgres);

#[test]
fn reading_a_missing_schema_is_not_found() {
    let err = PostgresStore::open_read_only(&conninfo(), "smishtrap_never_created")
        .map(drop)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.starts_with("no event store at postgres://127.0.0.1:5432/"), "{err}");
}

#[test]
fn hostile_schema_name_is_refused() {
    let err = PostgresStore::open(&conninfo(), "x\"; DROP SCHEMA public; --")
        .map(drop)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.starts_with("cannot select schema in postgres store"), "{err}");
}

/// A single-runner job belongs to one connection at a time and passes on when it closes
/// (the same happens when its process dies: the server ends the session).
#[test]
fn the_lead_passes_on_when_its_holder_closes() {
    use smishtrap_store::AnalysisStore;
    use suite::Backend;
    let b = Postgres::new();
    let ok = |r: Result<bool, StoreError>| r.unwrap_or_else(|e| panic!("{e}"));
    let mut first = b.open().unwrap_or_else(|e| panic!("{e}"));
    let mut second = b.open().unwrap_or_else(|e| panic!("{e}"));
    assert!(ok(first.lead("cluster")));
    assert!(ok(first.lead("cluster")), "asking again keeps it");
    assert!(!ok(second.lead("cluster")));
    assert!(ok(second.lead("analyse-captures")), "jobs are independent");
    // another schema's job is another job
    let other = Postgres::new();
    let mut third = other.open().unwrap_or_else(|e| panic!("{e}"));
    assert!(ok(third.lead("cluster")));
    drop(first);
    // the server ends the session just after the client leaves
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !ok(second.lead("cluster")) {
        assert!(std::time::Instant::now() < deadline, "the lead was not released");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Version 1 stores (events only) are migrated in place: their events stay.
#[test]
fn a_version_1_store_is_migrated_keeping_its_events() {
    use smishtrap_store::{AnalysisStore, EventFilter, EventStore};
    use suite::Backend;
    let b = Postgres::new();
    let mut client =
        postgres::Client::connect(&conninfo(), postgres::NoTls).unwrap_or_else(|e| panic!("{e}"));
    drop(b.open().unwrap_or_else(|e| panic!("{e}")));
    let mut store = b.open().unwrap_or_else(|e| panic!("{e}"));
    let events = [suite::event("v1-a", 0)];
    EventStore::insert_batch(&mut store, &events).unwrap_or_else(|e| panic!("{e}"));
    drop(store);
    // back to v1: drop what v2 and v3 added
    client
        .batch_execute(&format!(
            "SET search_path TO \"{0}\"; DROP TABLE messages, campaigns, campaign_aliases, \
             cursors, sensors, audit_targets; UPDATE smishtrap_schema SET version = 1",
            b.schema.0
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(b.open_reader().is_err(), "a reader does not migrate");
    let mut store = b.open().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.count_events(&EventFilter::default()).unwrap_or_default(), 1);
    assert_eq!(store.cursor("analysed-events").unwrap_or(-1), 0);
    assert!(b.open_reader().is_ok());
}

/// A hub's heartbeats (`PostgresFleet`, from NATS) are the console's sensor statuses, merged
/// with the store's own rows: the newest heartbeat of each sensor wins.
#[test]
fn fleet_heartbeats_are_the_consoles_sensor_statuses() {
    use chrono::{DateTime, Utc};
    use smishtrap_event::{Health, SensorStatus};
    use smishtrap_store::{AnalysisStore, PostgresFleet};

    let at = |s: i64| DateTime::<Utc>::from_timestamp(1_750_000_000 + s, 0).unwrap_or_default();
    let beat = |sensor: &str, updated: i64| SensorStatus {
        sensor: sensor.into(),
        listeners: vec!["milesight-ur32l@127.0.0.1:8080".into()],
        started_at: at(0),
        updated_at: at(updated),
        events_recorded: u64::try_from(updated).unwrap_or(0),
        events_not_recorded: 0,
        stopped: false,
        health: Health::Ok,
        fleet: None,
    };
    let check = |store: &mut PostgresStore, expect: &[(&str, i64)]| {
        let got: Vec<(String, i64)> = store
            .sensor_statuses()
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|s| (s.sensor, s.updated_at.timestamp() - 1_750_000_000))
            .collect();
        let expect: Vec<(String, i64)> =
            expect.iter().map(|(n, t)| ((*n).to_owned(), *t)).collect();
        assert_eq!(got, expect);
    };
    let backend = <Postgres as suite::Backend>::new();
    let mut store =
        PostgresStore::open(&conninfo(), &backend.schema.0).unwrap_or_else(|e| panic!("{e}"));
    store.put_sensor_status(&beat("local", 5)).unwrap_or_else(|e| panic!("{e}"));
    store.put_sensor_status(&beat("both", 20)).unwrap_or_else(|e| panic!("{e}"));
    check(&mut store, &[("both", 20), ("local", 5)]);
    let mut fleet =
        PostgresFleet::open(&conninfo(), &backend.schema.0).unwrap_or_else(|e| panic!("{e}"));
    for (sensor, updated) in [("remote-b", 7), ("remote-a", 9), ("both", 10)] {
        fleet.put_heartbeat(&beat(sensor, updated), 0).unwrap_or_else(|e| panic!("{e}"));
    }
    let mut reader = PostgresStore::open_read_only(&conninfo(), &backend.schema.0)
        .unwrap_or_else(|e| panic!("{e}"));
    let all = [("both", 20), ("local", 5), ("remote-a", 9), ("remote-b", 7)];
    check(&mut reader, &all);
    fleet.put_heartbeat(&beat("both", 30), 0).unwrap_or_else(|e| panic!("{e}"));
    check(&mut reader, &[("both", 30), ("local", 5), ("remote-a", 9), ("remote-b", 7)]);
}
