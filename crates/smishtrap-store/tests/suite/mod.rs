//! The conformance suite every storage backend passes (Quickwit `metastore_test_suite!`
//! style): each test is a generic function over a [`Backend`], and `store_test_suite!`
//! instantiates all of them for one backend.

#![allow(dead_code, reason = "each backend's test crate uses the whole suite")]

mod analysis;

pub(crate) use analysis::*;

use std::net::IpAddr;

use chrono::{DateTime, Duration, TimeZone, Utc};
use smishtrap_bus::{Outcome, Pipeline, PipelineConfig, Sink};
use smishtrap_event::{
    AuthRecord, BodyEncoding, Event, EventKind, SmsAction, SmsBox, SmsDialect, body_digest,
};
use smishtrap_store::{AnalysisStore, BulkSink, EventFilter, EventStore, StoreError};

/// A place to keep one test's store, removed when dropped.
pub(crate) trait Backend: Sized {
    type Store: EventStore + AnalysisStore + BulkSink + Sink;
    /// A fresh, empty location.
    fn new() -> Self;
    /// Opens the location for writing (creating it the first time).
    fn open(&self) -> Result<Self::Store, StoreError>;
    /// Opens the location for reading only.
    fn open_reader(&self) -> Result<Self::Store, StoreError>;
    /// Tries to open a store where it cannot be created.
    fn open_unwritable(&self) -> Result<Self::Store, StoreError>;
}

/// Instantiates every conformance test for one backend.
#[macro_export]
macro_rules! store_test_suite {
    ($backend:ty) => {
        $crate::store_test_suite!(@tests $backend;
            round_trip_field_by_field,
            insert_is_idempotent_on_id,
            events_come_oldest_first_then_in_insertion_order,
            filters_select_and_count_the_same_events,
            streaming_crosses_pages_without_gaps_or_repeats,
            reopen_after_drop_keeps_everything,
            reader_sees_commits_of_a_concurrent_writer,
            reader_cannot_write,
            unwritable_location_is_an_error,
            sms_records_come_from_sms_send_events,
            pipeline_acknowledged_events_are_stored,
            hostile_strings_are_stored_verbatim,
            message_searches_find_what_they_should,
            text_search_takes_nul_quotes_like_and_fts_syntax,
            any_substring_finds_its_message,
            message_inserts_are_idempotent_and_move_the_cursor_atomically,
            message_scores_read_back_with_three_decimals,
            clustering_updates_assignments_and_replaces_campaigns,
            streamed_clustering_writes_cross_batches,
            campaigns_page_by_recency_then_id,
            aliases_of_merged_campaigns_resolve_in_one_step,
            facets_count_by_column,
            sensor_heartbeats_replace_each_other,
            the_latest_audit_of_each_target_is_kept,
            overview_aggregates_count_a_campaigns_messages,
            sms_send_tail_reads_each_row_once,
            bulk_batches_number_new_rows_and_skip_stored_ids,
        );
    };
    (@tests $backend:ty; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::suite::$name::<$backend>();
            }
        )*
    };
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 7, 22, 10, 0, 0).single().unwrap_or_default()
}

/// A plain `http.request` event `n` seconds after [`t0`].
pub(crate) fn event(id: &str, secs: i64) -> Event {
    let mut e = Event::request(
        id,
        t0() + Duration::seconds(secs),
        "sensor-a",
        "milesight-ur32l",
        IpAddr::from([203, 0, 113, 7]),
    );
    e.http.headers = vec![("Host".into(), "198.51.100.1".into())];
    e
}

/// An `sms.send` event with every optional part filled.
pub(crate) fn sms_event(id: &str, secs: i64, to: &[&str], text: &str) -> Event {
    let body = format!("{{\"function\":\"send_sms\",\"text\":{text:?}}}");
    let mut e = event(id, secs);
    e.kind = EventKind::SmsSend;
    e.ts += Duration::microseconds(123_456);
    e.http.method = "POST".into();
    e.http.path = "/cgi".into();
    e.http.query = Some("a=1&b=2".into());
    e.http.headers = vec![
        ("Host".into(), "198.51.100.1".into()),
        ("Content-Type".into(), "application/json".into()),
        ("X-Dup".into(), "1".into()),
        ("x-dup".into(), "2".into()),
    ];
    e.http.body_len = body.len() as u64;
    e.http.body_sha256 = body_digest(body.as_bytes());
    e.http.body = body;
    e.sms = Some(SmsAction {
        to: to.iter().map(|s| (*s).to_owned()).collect(),
        text: Some(text.to_owned()),
        dialect: SmsDialect::ApiSms,
        mailbox: None,
        status: Some("failed".into()),
    });
    e.tags = vec!["sms".into()];
    e
}

fn ids(events: impl Iterator<Item = Result<Event, StoreError>>) -> Vec<String> {
    events.map(|e| ok(e).id).collect()
}

fn all<S: EventStore>(store: &mut S, filter: &EventFilter) -> Vec<Event> {
    ok(store.events(filter)).map(ok).collect()
}

pub(crate) fn round_trip_field_by_field<B: Backend>() {
    let b = B::new();
    let mut store = ok(b.open());
    let mut sms = sms_event("c1-0", 0, &["+32470000001", "0470 00 00 02"], "Uw pakket wacht");
    sms.src_ip = "2001:db8::7".parse().unwrap_or(sms.src_ip);
    sms.http.body_truncated = true;
    sms.http.body_len = 70_000;
    let mut login = event("c1-1", 1);
    login.kind = EventKind::AuthLogin;
    login.auth = Some(AuthRecord {
        username: "admin".into(),
        password: "password".into(),
        password_decrypted: true,
        success: false,
    });
    login.response_status = 403;
    let mut query = event("c1-2", 2);
    query.kind = EventKind::SmsQuery;
    query.http.body = "AAEC/w==".into();
    query.http.body_encoding = BodyEncoding::Base64;
    query.sms = Some(SmsAction {
        to: vec![],
        text: None,
        dialect: SmsDialect::YruoSms,
        mailbox: Some(SmsBox::Outbox),
        status: None,
    });
    query.tags = vec!["cve-2023-43261".into(), "recon".into()];
    let written = vec![sms, login, query];
    assert_eq!(ok(store.insert_batch(&written)), 3);
    let read = all(&mut store, &EventFilter::default());
    assert_eq!(read.len(), written.len());
    for (r, w) in read.iter().zip(&written) {
        assert_eq!(r.schema, w.schema);
        assert_eq!(r.id, w.id);
        assert_eq!(r.ts, w.ts, "microsecond timestamps survive");
        assert_eq!(r.sensor, w.sensor);
        assert_eq!(r.persona, w.persona);
        assert_eq!(r.session, w.session);
        assert_eq!(r.src_ip, w.src_ip);
        assert_eq!(r.src_port, w.src_port);
        assert_eq!(r.dst_port, w.dst_port);
        assert_eq!(r.kind, w.kind);
        assert_eq!(r.http.method, w.http.method);
        assert_eq!(r.http.path, w.http.path);
        assert_eq!(r.http.query, w.http.query);
        assert_eq!(r.http.version, w.http.version);
        assert_eq!(r.http.headers, w.http.headers, "header order and duplicates kept");
        assert_eq!(r.http.body, w.http.body);
        assert_eq!(r.http.body_encoding, w.http.body_encoding);
        assert_eq!(r.http.body_len, w.http.body_len);
        assert_eq!(r.http.body_truncated, w.http.body_truncated);
        assert_eq!(r.http.body_sha256, w.http.body_sha256);
        assert_eq!(r.response_status, w.response_status);
        assert_eq!(r.auth, w.auth);
        assert_eq!(r.sms, w.sms);
        assert_eq!(r.tags, w.tags);
        assert_eq!(r, w);
    }
}

pub(crate) fn insert_is_idempotent_on_id<B: Backend>() {
    let b = B::new();
    let mut store = ok(b.open());
    let first = vec![event("a", 0), event("b", 1)];
    assert_eq!(ok(store.insert_batch(&first)), 2);
    // A retried batch overlapping the first, with a changed copy of "a" and an in-batch repeat.
    let mut changed_a = event("a", 5);
    changed_a.http.path = "/changed".into();
    let second = vec![changed_a, event("c", 2), event("c", 2), event("b", 1)];
    assert_eq!(ok(store.insert_batch(&second)), 1);
    let read = all(&mut store, &EventFilter::default());
    assert_eq!(read.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(read.first().map(|e| e.http.path.as_str()), Some("/"), "first copy wins");
    assert_eq!(ok(store.count_events(&EventFilter::default())), 3);
    assert_eq!(ok(store.insert_batch(&[])), 0);
}

pub(crate) fn events_come_oldest_first_then_in_insertion_order<B: Backend>() {
    let b = B::new();
    let mut store = ok(b.open());
    ok(store.insert_batch(&[event("late", 10), event("tie-1", 5)]));
    ok(store.insert_batch(&[event("early", -3600), event("tie-2", 5)]));
    ok(store.insert_batch(&[event("tie-3", 5)]));
    let mut micro = event("tie-plus-1us", 5);
    micro.ts += Duration::microseconds(1);
    ok(store.insert_batch(&[micro]));
    let got = ids(ok(store.events(&EventFilter::default())));
    assert_eq!(got, ["early", "tie-1", "tie-2", "tie-3", "tie-plus-1us", "late"]);
}

pub(crate) fn filters_select_and_count_the_same_events<B: Backend>() {
    let b = B::new();
    let mut store = ok(b.open());
    let mut events = Vec::new();
    for i in 0..12_i64 {
        let mut e = if i % 3 == 0 {
            sms_event(&format!("e{i}"), i * 60, &["+32470000001"], "x")
        } else {
            event(&format!("e{i}"), i * 60)
        };
        if i % 4 == 1 {
            e.kind = EventKind::LogRead;
        }
        if i >= 6 {
            e.sensor = "sensor-b".into();
            e.session = "c2".into();
        }
        if i % 2 == 0 {
            e.src_ip = IpAddr::from([198, 51, 100, 9]);
        }
        events.push(e);
    }
    ok(store.insert_batch(&events));
    let ts = |min: i64| t0() + Duration::minutes(min);
    let cases: Vec<(EventFilter, Vec<&str>)> = vec![
        (EventFilter::default(), (0..12).map(|_| "").collect()),
        (
            EventFilter { kinds: vec![EventKind::SmsSend], ..Default::default() },
            vec!["e0", "e3", "e6"],
        ),
        (
            EventFilter {
                kinds: vec![EventKind::LogRead, EventKind::SmsSend],
                ..Default::default()
            },
            vec!["e0", "e1", "e3", "e5", "e6", "e9"],
        ),
        (EventFilter { since: Some(ts(9)), ..Default::default() }, vec!["e9", "e10", "e11"]),
        (EventFilter { until: Some(ts(2)), ..Default::default() }, vec!["e0", "e1"]),
        (
            EventFilter { since: Some(ts(2)), until: Some(ts(4)), ..Default::default() },
            vec!["e2", "e3"],
        ),
        (
            EventFilter { sensor: Some("sensor-a".into()), limit: Some(2), ..Default::default() },
            vec!["e0", "e1"],
        ),
        (
            EventFilter {
                src_ip: Some(IpAddr::from([198, 51, 100, 9])),
                session: Some("c2".into()),
                ..Default::default()
            },
            vec!["e6", "e8", "e10"],
        ),
        (
            EventFilter {
                kinds: vec![EventKind::SmsSend],
                sensor: Some("sensor-b".into()),
                src_ip: Some(IpAddr::from([198, 51, 100, 9])),
                ..Default::default()
            },
            vec!["e6"],
        ),
        (EventFilter { sensor: Some("nobody".into()), ..Default::default() }, vec![]),
        (
            EventFilter {
                persona: Some("milesight-ur32l".into()),
                limit: Some(0),
                ..Default::default()
            },
            vec![],
        ),
    ];
    for (filter, expect) in cases {
        let got = ids(ok(store.events(&filter)));
        if filter == EventFilter::default() {
            assert_eq!(got.len(), 12);
        } else {
            assert_eq!(got, expect, "{filter:?}");
        }
        assert_eq!(ok(store.count_events(&filter)), got.len() as u64, "{filter:?}");
    }
}

pub(crate) fn streaming_crosses_pages_without_gaps_or_repeats<B: Backend>() {
    let b = B::new();
    let mut store = ok(b.open());
    // More than two pages of every backend; timestamps in reverse insertion order per batch
    // and many ties, so the cursor must use both ts and insertion order.
    let n = 2_600_i64;
    let batch: Vec<Event> = (0..n).map(|i| event(&format!("e{i:05}"), (n - i) / 7)).collect();
    for chunk in batch.chunks(1000) {
        ok(store.insert_batch(chunk));
    }
    let got = ids(ok(store.events(&EventFilter::default())));
    let mut expect: Vec<(i64, i64)> = (0..n).map(|i| ((n - i) / 7, i)).collect();
    expect.sort();
    let expect: Vec<String> = expect.into_iter().map(|(_, i)| format!("e{i:05}")).collect();
    assert_eq!(got, expect);
    let limited = ids(ok(store.events(&EventFilter { limit: Some(1_300), ..Default::default() })));
    assert_eq!(limited.as_slice(), expect.get(..1_300).unwrap_or_default());
    assert_eq!(ok(store.count_events(&EventFilter::default())), n as u64);
}

pub(crate) fn reopen_after_drop_keeps_everything<B: Backend>() {
    let b = B::new();
    {
        let mut store = ok(b.open());
        ok(store.insert_batch(&[event("a", 0), sms_event("b", 1, &["+1"], "t")]));
        ok(store.flush());
    }
    {
        let mut store = ok(b.open());
        ok(store.insert_batch(&[event("c", 2)]));
        // dropped without flush: the commit alone must be enough
    }
    let mut reader = ok(b.open_reader());
    assert_eq!(ids(ok(reader.events(&EventFilter::default()))), ["a", "b", "c"]);
    let mut again = ok(b.open());
    assert_eq!(ok(again.count_events(&EventFilter::default())), 3);
}

pub(crate) fn reader_sees_commits_of_a_concurrent_writer<B: Backend>() {
    let b = B::new();
    let mut writer = ok(b.open());
    ok(writer.insert_batch(&[event("w0000", 0)]));
    let mut reader = ok(b.open_reader());
    let batches = 40_i64;
    let per_batch = 50_i64;
    let handle = std::thread::spawn(move || {
        for i in 0..batches {
            let batch: Vec<Event> = (0..per_batch)
                .map(|j| {
                    let n = 1 + i * per_batch + j;
                    event(&format!("w{n:04}"), n)
                })
                .collect();
            ok(writer.insert_batch(&batch));
        }
        writer
    });
    // Read while the writer commits: every read is a consistent, ordered prefix.
    let mut last_len = 0;
    while !handle.is_finished() {
        let got = ids(ok(reader.events(&EventFilter::default())));
        assert!(got.len() >= last_len);
        assert!(got.windows(2).all(|w| w.first() < w.get(1)), "ordered");
        last_len = got.len();
    }
    let writer = handle.join().unwrap_or_else(|_| panic!("writer thread panicked"));
    let total = 1 + batches * per_batch;
    assert_eq!(ok(reader.count_events(&EventFilter::default())), total as u64);
    assert_eq!(ids(ok(reader.events(&EventFilter::default()))).len(), total as usize);
    drop(writer);
}

pub(crate) fn reader_cannot_write<B: Backend>() {
    let b = B::new();
    ok(ok(b.open()).insert_batch(&[event("a", 0)]));
    let mut reader = ok(b.open_reader());
    assert!(reader.insert_batch(&[event("b", 1)]).is_err());
    assert_eq!(ok(reader.count_events(&EventFilter::default())), 1);
}

pub(crate) fn unwritable_location_is_an_error<B: Backend>() {
    let b = B::new();
    match b.open_unwritable() {
        Ok(_) => panic!("opened a store in an unwritable location"),
        Err(err) => {
            let msg = err.to_string();
            assert!(msg.starts_with("cannot ") || msg.starts_with("no "), "{msg}");
            assert!(!msg.ends_with('.'), "{msg}");
        }
    }
}

pub(crate) fn sms_records_come_from_sms_send_events<B: Backend>() {
    let b = B::new();
    let mut store = ok(b.open());
    let mut query = sms_event("q", 0, &[], "");
    query.kind = EventKind::SmsQuery;
    ok(store.insert_batch(&[
        query,
        sms_event("s1", 1, &["+32470000001", "+32470000002"], "Itsme: bevestig uw gegevens"),
        event("h", 2),
        sms_event("s2", 3, &[], "no recipient"),
    ]));
    let records: Vec<_> = ok(store.sms_records(&EventFilter::default())).map(ok).collect();
    let got: Vec<(Option<&str>, Option<&str>, &str)> =
        records.iter().map(|r| (r.id.as_deref(), r.to.as_deref(), r.text.as_str())).collect();
    assert_eq!(
        got,
        [
            (Some("s1#1"), Some("+32470000001"), "Itsme: bevestig uw gegevens"),
            (Some("s1#2"), Some("+32470000002"), "Itsme: bevestig uw gegevens"),
            (Some("s2"), None, "no recipient"),
        ]
    );
    assert!(records.iter().all(|r| r.src_ip.as_deref() == Some("203.0.113.7")));
    let since = EventFilter { since: Some(t0() + Duration::seconds(2)), ..Default::default() };
    assert_eq!(ok(store.sms_records(&since)).count(), 1);
}

pub(crate) fn pipeline_acknowledged_events_are_stored<B: Backend>() {
    let b = B::new();
    let store = ok(b.open());
    let (publisher, handle) = ok(Pipeline::start(
        Box::new(store),
        Vec::new(),
        PipelineConfig { queue_capacity: 64, max_batch: 16 },
    ));
    let rt = ok(tokio::runtime::Builder::new_current_thread().build());
    let outcomes = rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..300_i64 {
            let p = publisher.clone();
            tasks.push(tokio::spawn(async move { p.record(event(&format!("p{i:03}"), i)).await }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(ok(t.await));
        }
        out
    });
    drop(publisher);
    let stats = handle.join();
    assert!(outcomes.iter().all(|o| *o == Outcome::Durable));
    assert_eq!(stats.recorded, 300);
    assert!(stats.batches < 300, "events were grouped into batches");
    let mut reader = ok(b.open_reader());
    assert_eq!(ok(reader.count_events(&EventFilter::default())), 300);
}

pub(crate) fn hostile_strings_are_stored_verbatim<B: Backend>() {
    let b = B::new();
    let mut store = ok(b.open());
    let hostile =
        "\u{1b}[31mred\u{1b}[0m\r\n<script>alert(1)</script>\0'; DROP TABLE events; --\u{202e}";
    let mut e = sms_event("h", 0, &[hostile], hostile);
    e.http.path = hostile.into();
    e.http.headers.push((hostile.into(), hostile.into()));
    e.http.body = "\u{0}".repeat(1000) + &"é".repeat(40_000);
    ok(store.insert_batch(std::slice::from_ref(&e)));
    let read = all(&mut store, &EventFilter::default());
    assert_eq!(read, [e]);
}
