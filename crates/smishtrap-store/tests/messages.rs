//! What only the SQLite store does with analysed messages (the conformance suite,
//! `tests/suite/analysis.rs`, checks the rest on every backend): its query planning, its
//! bulk import deferring and rebuilding indexes, its JSON of scores.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{many, message, queries, seed_messages};
use smishtrap_store::{
    AssignmentChange, BulkSink, CLUSTERED_CURSOR, MessageQuery, NewMessage, SqliteStore,
    WriteChunks,
};

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let store = SqliteStore::open(&dir.path().join("s.db")).unwrap_or_else(|e| panic!("{e}"));
    (dir, store)
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// Ids of the messages a query lists, newest first, and how many it counts.
fn listed(store: &SqliteStore, query: &MessageQuery) -> (Vec<String>, u64) {
    let ids = ok(store.messages(query, 100)).into_iter().map(|m| m.message.id).collect();
    (ids, ok(store.count_messages(query, 1000)))
}

/// The names of the message tables' indexes, sorted.
fn indexes(store: &SqliteStore) -> Vec<String> {
    let conn = ok(rusqlite::Connection::open(store.path()));
    let mut stmt = ok(conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN \
         ('messages', 'message_domains') AND name NOT LIKE 'sqlite_autoindex%' ORDER BY name",
    ));
    let names = ok(stmt.query_map([], |row| row.get::<_, String>(0)));
    names.map(ok).collect()
}

#[test]
fn bulk_rows_search_like_inserted_ones() {
    let (_a_dir, mut inserted) = store();
    let (_b_dir, mut bulk) = store();
    ok(inserted.insert_messages(&seed_messages(), None));
    ok(BulkSink::begin_bulk(&mut bulk));
    ok(bulk.insert_messages_bulk(&seed_messages()));
    ok(BulkSink::finish_bulk(&mut bulk));
    for query in queries() {
        assert_eq!(listed(&bulk, &query), listed(&inserted, &query), "{query:?}");
    }
}

/// A large import into a small store builds the secondary indexes once at the end; killed
/// before that, the next open builds them. Searches are right meanwhile.
#[test]
fn large_imports_defer_indexes_until_finished_or_reopened() {
    let (dir, mut store) = store();
    let all = indexes(&store);
    assert_eq!(all.len(), 8, "{all:?}");
    let messages = many(10_000);
    let (_c_dir, plain) = store_with(&messages);
    ok(BulkSink::begin_bulk(&mut store));
    ok(store.insert_messages_bulk(&messages));
    assert!(indexes(&store).is_empty(), "deferred: {:?}", indexes(&store));
    for query in queries() {
        assert_eq!(listed(&store, &query), listed(&plain, &query), "{query:?}");
    }
    // killed here: the next open builds them
    drop(store);
    let mut store = ok(SqliteStore::open(&dir.path().join("s.db")));
    assert_eq!(indexes(&store), all);
    // a rerun defers nothing it need not: every id is stored, nothing changes
    let again = ok(store.insert_messages_bulk(&messages));
    assert!(again.iter().all(Option::is_none));
    ok(BulkSink::finish_bulk(&mut store));
    assert_eq!(indexes(&store), all);
    for query in queries() {
        assert_eq!(listed(&store, &query), listed(&plain, &query), "{query:?}");
    }
    // a small batch keeps them
    let (_d_dir, mut small) = store_with(&[]);
    ok(small.insert_messages_bulk(&[message("x", 1, "one more", "ham")]));
    assert_eq!(indexes(&small), all);
}

/// While an import has deferred the indexes, another opener (a console, `run`, a second
/// import) leaves them deferred and does not defer them itself; the import builds them at
/// its end, and searches are right on both connections meanwhile.
#[test]
fn other_openers_leave_deferred_indexes_to_the_import() {
    let (dir, mut import) = store();
    let path = dir.path().join("s.db");
    let all = indexes(&import);
    let messages = many(10_000);
    ok(BulkSink::begin_bulk(&mut import));
    ok(import.insert_messages_bulk(&messages[..9_000]));
    assert!(indexes(&import).is_empty());
    let mut other = ok(SqliteStore::open(&path));
    assert!(indexes(&other).is_empty(), "rebuilt by another open: {:?}", indexes(&other));
    // a second import cannot take the bulk lock: it inserts with the indexes as they are
    let later: Vec<NewMessage> = many(20_000).split_off(10_000);
    ok(BulkSink::begin_bulk(&mut other));
    ok(other.insert_messages_bulk(&later[..8_192]));
    ok(import.insert_messages_bulk(&messages[9_000..]));
    assert!(indexes(&other).is_empty());
    // the second import's end cannot build them either: the first holds the lock
    ok(BulkSink::finish_bulk(&mut other));
    assert!(indexes(&other).is_empty());
    ok(BulkSink::finish_bulk(&mut import));
    assert_eq!(indexes(&other), all);
    let (_d_dir, both) = store_with(&[messages.clone(), later[..8_192].to_vec()].concat());
    for query in queries() {
        assert_eq!(listed(&other, &query), listed(&both, &query), "{query:?}");
        assert_eq!(listed(&import, &query), listed(&both, &query), "{query:?}");
    }
}

/// The text index merges 16 segments a level, in new stores and in older ones once opened.
#[test]
fn text_index_merges_sixteen_segments_a_level() {
    let automerge = |path: &std::path::Path| -> i64 {
        let conn = ok(rusqlite::Connection::open(path));
        ok(conn.query_row("SELECT v FROM messages_text_config WHERE k = 'automerge'", [], |r| {
            r.get(0)
        }))
    };
    let (dir, store) = store();
    let path = dir.path().join("s.db");
    assert_eq!(automerge(&path), 16);
    drop(store);
    let conn = ok(rusqlite::Connection::open(&path));
    ok(conn.execute("INSERT INTO messages_text (messages_text, rank) VALUES ('automerge', 4)", []));
    drop(conn);
    assert_eq!(automerge(&path), 4);
    let _store = ok(SqliteStore::open(&path));
    assert_eq!(automerge(&path), 16);
}

fn store_with(messages: &[NewMessage]) -> (tempfile::TempDir, SqliteStore) {
    let (dir, mut store) = store();
    ok(store.insert_messages(messages, None));
    (dir, store)
}

/// A clustering write shares the write lock: while one runs (each change made slowly, as
/// millions of them take long), a sensor's event insert on another connection, with the
/// store's own busy timeout, goes in between two of its transactions. In one transaction
/// the insert waited for the whole write: here past its busy timeout, so it failed.
#[test]
fn an_event_insert_goes_in_while_a_long_clustering_write_runs() {
    let (dir, mut store) = store_with(&many(500));
    store.set_write_chunks(WriteChunks {
        rows: 20,
        hold: Duration::from_millis(50),
        gap: Duration::from_millis(5),
    });
    let mut sensor = ok(SqliteStore::open(&dir.path().join("s.db")));
    let inserted = Arc::new(AtomicBool::new(false));
    let (writing, started) = std::sync::mpsc::channel::<()>();
    let insert = {
        let inserted = inserted.clone();
        std::thread::spawn(move || {
            let _ = started.recv();
            let at = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
            let event = smishtrap_event::Event::request(
                "e1",
                at,
                "sensor-a",
                "milesight-ur32l",
                std::net::IpAddr::from([203, 0, 113, 7]),
            );
            let begun = Instant::now();
            let result = sensor.insert_batch(&[event]).map_err(|e| e.to_string());
            inserted.store(true, Ordering::SeqCst);
            (result, begun.elapsed())
        })
    };
    // longer than the busy timeout (10 s): a write that keeps the lock outlasts the insert
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut changes = (0i64..).map_while(|k| {
        if k == 1 {
            let _ = writing.send(());
        }
        std::thread::sleep(Duration::from_millis(1));
        let done = inserted.load(Ordering::SeqCst) || Instant::now() > deadline;
        (!done).then(|| AssignmentChange {
            seq: k % 500 + 1,
            campaign: Some("c1".into()),
            phase: Some("wave".into()),
        })
    });
    let row = smishtrap_store::CampaignRow {
        id: "c1".into(),
        first_seen: None,
        last_seen: None,
        message_count: 500,
        brand: None,
        summary: "{}".into(),
    };
    ok(store.apply_clustering_streamed(
        &mut changes,
        &mut std::iter::once(row),
        &[],
        Some((CLUSTERED_CURSOR, 500)),
    ));
    let ended = Instant::now();
    let (result, waited) = insert.join().unwrap_or_else(|_| panic!("the insert panicked"));
    assert_eq!(result, Ok(1), "the insert failed after {waited:?}");
    assert!(ended < deadline, "the write outlasted the insert: it never let it in");
    assert_eq!(ok(store.cursor(CLUSTERED_CURSOR)), 500);
    assert_eq!(ok(store.count_campaigns()), 1);
}

/// A chunked clustering write deletes the stale campaigns (listed before it starts) in its
/// last transaction only: until then a reader still finds a campaign the write drops, which
/// messages not yet reassigned name; campaigns the write keeps or adds stay.
#[test]
fn stale_campaigns_go_only_in_the_last_transaction_of_a_chunked_write() {
    let (dir, mut store) = store_with(&many(50));
    let row = |id: &str| smishtrap_store::CampaignRow {
        id: id.into(),
        first_seen: None,
        last_seen: None,
        message_count: 50,
        brand: None,
        summary: "{}".into(),
    };
    let assign = |seq: i64, id: &str| AssignmentChange {
        seq,
        campaign: Some(id.into()),
        phase: Some("wave".into()),
    };
    let old: Vec<AssignmentChange> = (1..=50).map(|seq| assign(seq, "old")).collect();
    ok(store.apply_clustering(&old, &[row("old"), row("kept")], None));
    store.set_write_chunks(WriteChunks {
        rows: 5,
        hold: Duration::from_secs(10),
        gap: Duration::ZERO,
    });
    let reader = ok(SqliteStore::open(&dir.path().join("s.db")));
    let mut seen = Vec::new();
    let mut changes = (1..=50).map(|seq| {
        seen.push(ok(reader.campaign("old")).is_some());
        assign(seq, "new")
    });
    ok(store.apply_clustering_streamed(
        &mut changes,
        &mut [row("kept"), row("new")].into_iter(),
        &[],
        Some((CLUSTERED_CURSOR, 50)),
    ));
    assert_eq!(seen, vec![true; 50], "a stale campaign went before the last transaction");
    let mut ids = ok(reader.campaign_ids());
    ids.sort();
    assert_eq!(ids, ["kept", "new"]);
    assert_eq!(ok(reader.cursor(CLUSTERED_CURSOR)), 50);
    // the next write lists its own stale campaigns
    ok(store.apply_clustering_streamed(
        &mut std::iter::empty(),
        &mut std::iter::once(row("new")),
        &[],
        None,
    ));
    assert_eq!(ok(reader.campaign_ids()), ["new"]);
}

/// Scores read back have three decimals, so the API shows `0.823`, not `0.8234567`.
#[test]
fn scores_are_read_back_rounded_to_three_decimals() {
    let (_dir, mut store) = store();
    let mut m = message("s1", 1, "hello", "ham");
    m.score = 0.823_456_7;
    store.insert_messages(&[m], None).unwrap_or_else(|e| panic!("{e}"));
    let got = store.message("s1").unwrap_or_else(|e| panic!("{e}")).map(|m| m.message.score);
    assert_eq!(got, Some(0.823));
    assert_eq!(serde_json::to_string(&got).unwrap_or_default(), "0.823");
}

#[test]
fn broad_filters_page_the_same_as_narrow_ones() {
    let (_dir, mut store) = store();
    // 6,000 messages, every other one with the lure's domain: broad enough to walk the time
    // index; one with a rare domain and number: narrow.
    let mut all = Vec::new();
    for i in 0..6000_i64 {
        let mut m =
            message(&format!("m{i}"), i, "text", if i % 2 == 0 { "smishing" } else { "ham" });
        m.recipient = Some(format!("+32470{i:06}"));
        if i == 4321 {
            m.domains = vec!["rare.example".into()];
            m.recipient = Some("+46700000001".into());
        }
        all.push(m);
    }
    assert_eq!(store.insert_messages(&all, None).unwrap_or_else(|e| panic!("{e}")), 6000);
    let ids = |q: MessageQuery, limit: usize| -> Vec<String> {
        store
            .messages(&q, limit)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|m| m.message.id)
            .collect()
    };
    let domain = |d: &str| MessageQuery { domain: Some(d.into()), ..Default::default() };
    assert_eq!(ids(domain("csam-be.info"), 3), ["m5998", "m5996", "m5994"]);
    let page = MessageQuery { before: Some((5994, 0)), ..domain("csam-be.info") };
    assert_eq!(ids(page, 2), ["m5992", "m5990"]);
    assert_eq!(ids(domain("rare.example"), 3), ["m4321"]);
    let number = |n: &str| MessageQuery { number: Some(n.into()), ..Default::default() };
    assert_eq!(ids(number("+32470"), 2), ["m5999", "m5998"]);
    assert_eq!(ids(number("+3247000123"), 20).len(), 10);
    assert_eq!(ids(number("+4670"), 5), ["m4321"]);
    let both = MessageQuery { verdict: Some("ham".into()), ..domain("csam-be.info") };
    assert!(ids(both, 5).is_empty(), "ham messages carry no domain here");
}
