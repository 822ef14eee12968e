//! SQLite on a full disk: a commit that fails for lack of space is an error the pipeline can
//! tell apart (`no_space`), stores nothing of its batch, and the same open store commits
//! again once space is freed, without a restart. Needs root (a small tmpfs); skipped with a
//! printed reason otherwise.

use chrono::{DateTime, Utc};
use smishtrap_bus::Sink;
use smishtrap_event::{Event, EventKind, HttpRecord};
use smishtrap_store::{EventFilter, SqliteStore};
use smishtrap_testkit::TinyVolume;

fn event(n: usize) -> Event {
    Event {
        schema: smishtrap_event::SCHEMA_VERSION,
        id: format!("full-{n:06}"),
        ts: DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::milliseconds(n as i64),
        sensor: "t".into(),
        persona: "p".into(),
        session: format!("c{n}"),
        src_ip: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        src_port: 1,
        dst_port: 80,
        kind: EventKind::HttpRequest,
        http: HttpRecord { path: format!("/{}", "x".repeat(1500)), ..Default::default() },
        response_status: 200,
        auth: None,
        sms: None,
        tags: Vec::new(),
    }
}

#[test]
fn a_full_disk_fails_whole_batches_and_the_store_recovers_when_space_is_freed() {
    let Some(volume) = TinyVolume::mount(8 * 1024 * 1024) else { return };
    let db = volume.path().join("smishtrap.db");
    let mut store = SqliteStore::open(&db).unwrap_or_else(|e| panic!("{e}"));
    let filler = volume.path().join("filler");
    std::fs::write(&filler, vec![0u8; 6 * 1024 * 1024]).unwrap_or_else(|e| panic!("{e}"));
    let mut stored = Vec::new();
    let mut no_space = 0;
    let mut n = 0;
    while no_space < 5 && n < 20_000 {
        let batch: Vec<Event> = (n..n + 20).map(event).collect();
        n += 20;
        match store.write_batch(&batch) {
            Ok(()) => stored.extend(batch.iter().map(|e| e.id.clone())),
            Err(err) => {
                assert!(err.no_space, "a full disk must say so: {err}");
                no_space += 1;
            }
        }
    }
    assert_eq!(no_space, 5, "the disk never filled ({} stored)", stored.len());
    assert!(!stored.is_empty());
    // Space comes back; the same connection commits again.
    std::fs::remove_file(&filler).unwrap_or_else(|e| panic!("{e}"));
    let after: Vec<Event> = (n..n + 50).map(event).collect();
    store.write_batch(&after).unwrap_or_else(|e| panic!("after freeing space: {e}"));
    stored.extend(after.iter().map(|e| e.id.clone()));
    store.flush().unwrap_or_else(|e| panic!("{e}"));
    drop(store);
    let reader = SqliteStore::open_read_only(&db).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<String> = reader
        .events(&EventFilter::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|e| e.map(|e| e.id).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(ids, stored, "exactly the committed batches, whole");
}
