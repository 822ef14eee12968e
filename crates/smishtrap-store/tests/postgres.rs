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

fn ok<T>(r: Result<T, StoreError>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// Ids of the messages a query lists, newest first, and how many it counts.
fn listed(store: &mut PostgresStore, query: &smishtrap_store::MessageQuery) -> (Vec<String>, u64) {
    use smishtrap_store::AnalysisStore;
    let ids = ok(store.messages(query, 100)).into_iter().map(|m| m.message.id);
    (ids.collect(), ok(store.count_messages(query, 1000)))
}

/// The names of the `messages` table's indexes, sorted.
fn indexes(b: &Postgres) -> Vec<String> {
    let mut client =
        postgres::Client::connect(&conninfo(), postgres::NoTls).unwrap_or_else(|e| panic!("{e}"));
    client
        .query(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 \
             AND tablename = 'messages' ORDER BY 1",
            &[&b.schema.0],
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// A store holding `messages`, stored by plain inserts (every index kept).
fn store_with(messages: &[smishtrap_store::NewMessage]) -> (Postgres, PostgresStore) {
    use smishtrap_store::AnalysisStore;
    use suite::Backend;
    let b = Postgres::new();
    let mut store = b.open().unwrap_or_else(|e| panic!("{e}"));
    store.insert_messages(messages, None).unwrap_or_else(|e| panic!("{e}"));
    (b, store)
}

/// What a large import into a small store leaves: the unique `id` and the primary key.
const KEPT: [&str; 2] = ["messages_id_key", "messages_pkey"];

/// A large import into a small store builds the secondary indexes (the text index among
/// them) once at the end, or after its clustering pass when held; killed before that, the
/// next open builds them. Searches are right meanwhile.
#[test]
fn large_imports_defer_indexes_until_finished_or_reopened() {
    use smishtrap_store::BulkSink;
    use suite::Backend;
    let b = Postgres::new();
    let mut store = ok(b.open());
    let all = indexes(&b);
    assert_eq!(all.len(), 12, "{all:?}");
    let messages = common::many(10_000);
    let (_plain_schema, mut plain) = store_with(&messages);
    ok(store.begin_bulk());
    ok(store.insert_messages_bulk(&messages));
    assert_eq!(indexes(&b), KEPT);
    for query in common::queries() {
        assert_eq!(listed(&mut store, &query), listed(&mut plain, &query), "{query:?}");
    }
    // killed here: the server ends the session (and its bulk lock) just after the client
    // leaves, and the next open builds them
    drop(store);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut store = loop {
        let store = ok(b.open());
        if indexes(&b) == all {
            break store;
        }
        assert!(std::time::Instant::now() < deadline, "not rebuilt: {:?}", indexes(&b));
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    // a rerun stores nothing and defers nothing
    ok(store.begin_bulk());
    let again = ok(store.insert_messages_bulk(&messages));
    assert!(again.iter().all(Option::is_none));
    // the rerun's rolled-back copy took row numbers: new rows come after that gap, their
    // numbers read back
    use smishtrap_store::AnalysisStore;
    let last = ok(store.messages_after(0, 20_000)).last().map_or(0, |m| m.seq);
    let fresh: Vec<_> =
        (0..3).map(|i| common::message(&format!("z{i}"), i, "new", "ham")).collect();
    let seqs = ok(store.insert_messages_bulk(&fresh));
    let stored: Vec<Option<i64>> =
        ok(store.messages_after(last, 10)).iter().map(|m| Some(m.seq)).collect();
    assert_eq!(seqs, stored);
    assert!(seqs[0].is_some_and(|s| s > last + 1), "no gap, the read-back untested: {seqs:?}");
    ok(store.finish_bulk());
    assert_eq!(indexes(&b), all);
    ok(plain.insert_messages(&fresh, None));
    for query in common::queries() {
        assert_eq!(listed(&mut store, &query), listed(&mut plain, &query), "{query:?}");
    }
    // held past the end of the load (the import's clustering pass), built when asked
    let held = Postgres::new();
    let mut store = ok(held.open());
    store.hold_deferred_indexes();
    ok(store.begin_bulk());
    ok(store.insert_messages_bulk(&messages));
    ok(store.finish_bulk());
    assert_eq!(indexes(&held), KEPT);
    assert!(ok(store.build_deferred_indexes()));
    assert_eq!(indexes(&held), all);
    // a small batch keeps them
    let small = Postgres::new();
    let mut store = ok(small.open());
    ok(store.insert_messages_bulk(&messages[..100]));
    assert_eq!(indexes(&small), all);
}

/// While an import has deferred the indexes, another opener (a hub, a console, a second
/// import) leaves them deferred and does not defer them itself; the import builds them at
/// its end, and searches are right on both connections meanwhile.
#[test]
fn other_openers_leave_deferred_indexes_to_the_import() {
    use smishtrap_store::{BulkSink, NewMessage};
    use suite::Backend;
    let b = Postgres::new();
    let mut import = ok(b.open());
    let all = indexes(&b);
    let messages = common::many(10_000);
    ok(import.begin_bulk());
    ok(import.insert_messages_bulk(&messages[..9_000]));
    assert_eq!(indexes(&b), KEPT);
    let mut other = ok(b.open());
    assert_eq!(indexes(&b), KEPT, "rebuilt by another open");
    // a second import cannot take the bulk lock: it inserts with the indexes as they are
    let later: Vec<NewMessage> = common::many(20_000).split_off(10_000);
    ok(other.begin_bulk());
    ok(other.insert_messages_bulk(&later[..8_192]));
    ok(import.insert_messages_bulk(&messages[9_000..]));
    assert_eq!(indexes(&b), KEPT);
    // the second import's end cannot build them either: the first holds the lock
    ok(other.finish_bulk());
    assert_eq!(indexes(&b), KEPT);
    ok(import.finish_bulk());
    assert_eq!(indexes(&b), all);
    let (_both_schema, mut both) = store_with(&[messages, later[..8_192].to_vec()].concat());
    for query in common::queries() {
        let expect = listed(&mut both, &query);
        assert_eq!(listed(&mut other, &query), expect, "{query:?}");
        assert_eq!(listed(&mut import, &query), expect, "{query:?}");
    }
}

/// A store a newer smishtrap migrated (its version tables ahead of this build) is refused,
/// for the store's own tables and for the hub's fleet tables alike, and left as it is.
#[test]
fn a_store_of_a_newer_version_is_refused_and_left_alone() {
    use smishtrap_store::PostgresFleet;
    use suite::Backend;
    let b = Postgres::new();
    drop(b.open().unwrap_or_else(|e| panic!("{e}")));
    drop(PostgresFleet::open(&conninfo(), &b.schema.0).unwrap_or_else(|e| panic!("{e}")));
    let mut client = b.schema.client();
    let bump = |client: &mut postgres::Client, table: &str| {
        client
            .batch_execute(&format!(
                "SET search_path TO \"{0}\"; UPDATE {table} SET version = 99",
                b.schema.0
            ))
            .unwrap_or_else(|e| panic!("{e}"));
    };
    let version = |client: &mut postgres::Client, table: &str| -> i64 {
        client
            .query_one(&format!("SELECT version FROM \"{0}\".{table}", b.schema.0), &[])
            .and_then(|row| row.try_get(0))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    bump(&mut client, "smishtrap_schema");
    let err = b.open().map(drop).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("99"), "{err}");
    assert_eq!(version(&mut client, "smishtrap_schema"), 99);
    bump(&mut client, "smishtrap_fleet_schema");
    let err = PostgresFleet::open(&conninfo(), &b.schema.0)
        .map(drop)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("99"), "{err}");
    assert_eq!(version(&mut client, "smishtrap_fleet_schema"), 99);
}
