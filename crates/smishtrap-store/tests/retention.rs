//! Retention of a sensor's SQLite store: forwarded events go first (by age, then by size),
//! unforwarded ones only past the hard cap (counted), and the forward cursor keeps working:
//! new events always get a `seq` above every cursor.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use std::net::IpAddr;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use smishtrap_event::Event;
use smishtrap_store::retention::{DROPPED_UNFORWARDED_CURSOR, PRUNED_CURSOR, Retention};
use smishtrap_store::{FORWARDED_CURSOR, SqliteStore};

/// Event `n`, `n` minutes after the start, with a 2 KiB body (sizes add up fast).
fn event(n: i64) -> Event {
    let t =
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap() + chrono::Duration::minutes(n);
    let mut e = Event::request(
        &format!("e{n:06}"),
        t,
        "sensor-a",
        "milesight-ur32l",
        IpAddr::from([203, 0, 113, 7]),
    );
    e.http.headers = vec![("X-Pad".into(), "x".repeat(2048))];
    e
}

fn fill(store: &mut SqliteStore, range: std::ops::Range<i64>) {
    let events: Vec<Event> = range.map(event).collect();
    store.insert_batch(&events).unwrap();
}

fn seqs(store: &SqliteStore) -> Vec<i64> {
    store.events_after(0, usize::MAX).unwrap().iter().map(|e| e.seq).collect()
}

fn now_us(minutes: i64) -> i64 {
    (Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap()
        + chrono::Duration::minutes(minutes))
    .timestamp_micros()
}

const MIB: u64 = 1024 * 1024;

#[test]
fn forwarded_events_go_first_then_unforwarded_past_the_hard_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("smishtrap.db")).unwrap();
    fill(&mut store, 0..4000); // about 9 MiB
    store.set_cursor(FORWARDED_CURSOR, 1000).unwrap();
    let full = store.used_bytes().unwrap();
    assert!(full > 8 * MIB, "{full}");

    // Soft limit: forwarded events (seq <= 1000) go, oldest first; nothing unforwarded while
    // the store is under the hard cap.
    let soft = Retention { max_bytes: 4 * MIB, hard_cap_bytes: 64 * MIB, max_age: None };
    let report = store.prune(&soft, Some(1000), now_us(5000)).unwrap();
    assert_eq!(report.dropped_unforwarded, 0);
    assert_eq!(report.pruned, 1000, "every forwarded event goes before any other");
    assert_eq!(seqs(&store).first(), Some(&1001));
    assert!(report.used_bytes > 4 * MIB, "{}", report.used_bytes);

    // Over the hard cap: the oldest unforwarded go, counted; the newest stays.
    let policy = Retention { max_bytes: 4 * MIB, hard_cap_bytes: 6 * MIB, max_age: None };
    let report = store.prune(&policy, Some(1000), now_us(5000)).unwrap();
    let left = seqs(&store);
    assert_eq!(report.pruned, 0);
    assert!(report.used_bytes <= 6 * MIB, "{}", report.used_bytes);
    let dropped = store.cursor(DROPPED_UNFORWARDED_CURSOR).unwrap();
    assert!(dropped > 0, "nothing dropped past the hard cap");
    assert_eq!(u64::try_from(dropped).unwrap(), report.dropped_unforwarded);
    assert_eq!(left.len() as i64, 3000 - dropped);
    assert_eq!(left.first(), Some(&(1001 + dropped)));
    assert_eq!(left.last(), Some(&4000));
    assert_eq!(store.cursor(PRUNED_CURSOR).unwrap(), 1000);

    // More events later: the store stays under the hard cap (freed pages are reused).
    fill(&mut store, 4000..5000);
    let report = store.prune(&policy, Some(1000), now_us(6000)).unwrap();
    assert!(report.used_bytes <= 6 * MIB, "{}", report.used_bytes);
    assert_eq!(seqs(&store).last(), Some(&5000));
}

#[test]
fn age_prunes_only_forwarded_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("smishtrap.db")).unwrap();
    fill(&mut store, 0..100);
    let policy = Retention {
        max_bytes: u64::MAX,
        hard_cap_bytes: u64::MAX,
        max_age: Some(Duration::from_secs(3600)),
    };
    // At minute 130 everything before minute 70 is too old; only 1..=40 were forwarded.
    let report = store.prune(&policy, Some(40), now_us(130)).unwrap();
    assert_eq!(report.pruned, 40);
    assert_eq!(seqs(&store).first(), Some(&41));
    // Without forwarding every event counts as forwarded.
    let report = store.prune(&policy, None, now_us(130)).unwrap();
    assert_eq!(report.pruned, 30);
    assert_eq!(seqs(&store).first(), Some(&71));
}

#[test]
fn pruning_everything_forwarded_never_lets_a_seq_be_reused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&dir.path().join("smishtrap.db")).unwrap();
    fill(&mut store, 0..50);
    store.set_cursor(FORWARDED_CURSOR, 50).unwrap();
    let policy = Retention { max_bytes: 0, hard_cap_bytes: 0, max_age: None };
    store.prune(&policy, Some(50), now_us(100)).unwrap();
    // The newest row stays, so the next event is 51, after the cursor: it gets forwarded.
    assert_eq!(seqs(&store), vec![50]);
    fill(&mut store, 50..51);
    let spool = store.events_after(store.cursor(FORWARDED_CURSOR).unwrap(), 10).unwrap();
    assert_eq!(spool.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![51]);
    assert_eq!(store.oldest_after(50).unwrap(), Some(event(50).ts.timestamp_micros()));
    assert_eq!(store.oldest_after(51).unwrap(), None);
}
