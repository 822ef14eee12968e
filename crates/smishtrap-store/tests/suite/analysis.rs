//! The [`AnalysisStore`] part of the conformance suite: analysed messages and their search,
//! progress cursors, campaigns, aliases, heartbeats and the console's aggregates.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use smishtrap_event::{Health, SensorStatus};
use smishtrap_store::{
    AnalysisStore, AssignmentChange, AuditRow, BucketCount, BulkSink, CLUSTERED_CURSOR,
    CampaignAlias, CampaignRow, EventStore, HourCount, MessageFacet, MessageQuery, NewMessage,
};

use super::{Backend, ok, sms_event};
use crate::common::{message, seed_messages};

const H: i64 = 3_600_000_000;

fn seeded<B: Backend>() -> (B, B::Store) {
    let b = B::new();
    let mut store = ok(b.open());
    assert_eq!(ok(store.insert_messages(&seed_messages(), Some(("analysis", 42)))), 5);
    (b, store)
}

fn listed<S: AnalysisStore>(store: &mut S, query: &MessageQuery, limit: usize) -> Vec<String> {
    ok(store.messages(query, limit)).into_iter().map(|m| m.message.id).collect()
}

fn text(s: &str) -> MessageQuery {
    MessageQuery { text: Some(s.into()), ..Default::default() }
}

pub(crate) fn message_searches_find_what_they_should<B: Backend>() {
    let (_b, mut store) = seeded::<B>();
    fn check_in<S: AnalysisStore>(store: &mut S, query: MessageQuery, expect: &[&str]) {
        assert_eq!(listed(store, &query, 100), expect, "{query:?}");
        if query.before.is_none() {
            let count = ok(store.count_messages(&query, 1000));
            assert_eq!(count as usize, expect.len(), "count of {query:?}");
        }
    }
    let store = &mut store;
    macro_rules! check {
        ($query:expr, $expect:expr $(,)?) => {
            check_in(store, $query, $expect)
        };
    }
    check!(MessageQuery::default(), &["e", "d", "c", "b", "a"]);
    check!(text("csam"), &["d", "a"]);
    check!(text("CSAM-BE.INFO"), &["d", "a"]);
    check!(text("free cruise"), &["c"]);
    check!(text("déjà"), &["e"]);
    check!(text("\"quoted\""), &["e"]);
    check!(text("AND OR NOT *"), &[]);
    check!(text("vu"), &["e"]);
    check!(text("  vu  "), &["e"]);
    check!(text("nothing like this"), &[]);
    check!(text("x".repeat(300).as_str()), &[]);
    let q = |f: fn(&mut MessageQuery, String), v: &str| {
        let mut query = MessageQuery::default();
        f(&mut query, v.to_owned());
        query
    };
    check!(q(|m, v| m.domain = Some(v), "csam-be.info"), &["d", "a"]);
    check!(q(|m, v| m.domain = Some(v), "LOGIN.csam-be.info"), &["d", "a"]);
    check!(q(|m, v| m.domain = Some(v), "be.info"), &[]);
    check!(q(|m, v| m.brand = Some(v), "csam"), &["d", "a"]);
    check!(q(|m, v| m.verdict = Some(v), "spam"), &["c"]);
    check!(q(|m, v| m.country = Some(v), "BE"), &["d", "b"]);
    check!(q(|m, v| m.number = Some(v), "+32470000003"), &["c"]);
    check!(q(|m, v| m.number = Some(v), "+3247"), &["e", "d", "c", "b", "a"]);
    check!(q(|m, v| m.number = Some(v), "+3247%"), &[]);
    check!(
        MessageQuery {
            verdict: Some("smishing".into()),
            text: Some("dossier".into()),
            ..Default::default()
        },
        &["d"],
    );
    check!(
        MessageQuery { before: Some((4, i64::MAX)), ..Default::default() },
        &["d", "c", "b", "a"]
    );
    check!(MessageQuery { before: Some((4, 3)), ..Default::default() }, &["c", "b", "a"]);
    // hostile values in every filter are values, never syntax
    for hostile in ["'", "\0", "%", "_", "\\", "' OR 1=1 --", "a\0b", "\"*\" NEAR"] {
        let all = MessageQuery {
            number: Some(hostile.into()),
            domain: Some(hostile.into()),
            brand: Some(hostile.into()),
            verdict: Some(hostile.into()),
            campaign: Some(hostile.into()),
            country: Some(hostile.into()),
            ..Default::default()
        };
        check!(all, &[]);
        assert!(ok(store.campaign(hostile)).is_none());
        assert!(ok(store.message(hostile)).is_none());
        assert!(ok(store.event_messages(hostile, 10)).is_empty());
        assert!(ok(store.campaigns(Some(hostile), Some((0, hostile)), 10)).is_empty());
    }
}

/// Ids of the messages of `texts` (named `m0`, `m1`, ...) a text search for `search` lists.
fn search_in<B: Backend>(texts: &[&str], search: &str) -> Vec<String> {
    let b = B::new();
    let mut store = ok(b.open());
    let messages: Vec<NewMessage> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| message(&format!("m{i}"), i as i64, t, "ham"))
        .collect();
    ok(store.insert_messages(&messages, None));
    let query = text(search);
    let found = listed(&mut store, &query, 100);
    let count = ok(store.count_messages(&query, 1000));
    assert_eq!(count as usize, found.len(), "count of {search:?}");
    found
}

pub(crate) fn text_search_takes_nul_quotes_like_and_fts_syntax<B: Backend>() {
    let texts = [
        "a\0b pay now",
        "plain a b",
        "say \"hi\" NEAR(x) col:y",
        "ÉCOLE x\0yz\0end",
        "100% off_today \\o/ it's",
    ];
    let check = |search: &str, expect: &[&str]| {
        assert_eq!(search_in::<B>(&texts, search), expect, "{search:?} in {texts:?}");
    };
    check("a\0b", &["m0"]);
    check("A\0B PAY", &["m0"]);
    check("\0", &["m3", "m0"]);
    check("x\0yz\0end", &["m3"]);
    check("x\0yz\0ends", &[]);
    check("end\0x", &[]);
    check("\"hi\"", &["m2"]);
    check("\"", &["m2"]);
    check("NEAR(x)", &["m2"]);
    check("col:y", &["m2"]);
    check("*", &[]);
    // LIKE metacharacters are characters
    check("%", &["m4"]);
    check("0%", &["m4"]);
    check("100% off", &["m4"]);
    check("1%0", &[]);
    check("_", &["m4"]);
    check("f_t", &["m4"]);
    check("f_to", &["m4"]);
    check("f%t", &[]);
    check("ff_", &["m4"]);
    check("fx_", &[]);
    check("o%f", &[]);
    check("\\o/", &["m4"]);
    check("\\", &["m4"]);
    check("it's", &["m4"]);
    check("'", &["m4"]);
    check("'; DROP TABLE messages; --", &[]);
    // one or two characters scan; ASCII letters match any case, others exactly
    check("É", &["m3"]);
    check("Éc", &["m3"]);
    check("éc", &[]);
    check("école", &["m3"]);
}

/// A message holding any substring is found by searching it, whatever its bytes.
pub(crate) fn any_substring_finds_its_message<B: Backend>() {
    let b = B::new();
    let mut store = ok(b.open());
    let strategy = (
        "(\\PC|\\x00|\"|%|_|\\\\){0,8}",
        "(\\PC|\\x00|\"|\\*|:|\\^|%|_|\\\\|'){1,12}",
        "(\\PC|\\x00|\"|%){0,8}",
    );
    let mut runner = TestRunner::deterministic();
    for i in 0..64_i64 {
        let (before, needle, after) =
            ok(strategy.new_tree(&mut runner).map_err(|e| e.to_string())).current();
        let text = format!("{before}{needle}{after}");
        let id = format!("p{i}");
        ok(store.insert_messages(&[message(&id, i, &text, "ham")], None));
        let found = listed(&mut store, &self::text(&needle), 1000);
        // (a value that trims to nothing filters nothing: then every message is listed)
        assert!(found.contains(&id), "{needle:?} in {text:?}: {found:?}");
    }
}

pub(crate) fn message_inserts_are_idempotent_and_move_the_cursor_atomically<B: Backend>() {
    let (b, mut store) = seeded::<B>();
    assert_eq!(ok(store.cursor("analysis")), 42);
    assert_eq!(ok(store.cursor("other")), 0);
    let again = vec![message("a", 1, "dup", "ham"), message("f", 6, "new one", "ham")];
    assert_eq!(ok(store.insert_messages(&again, Some(("analysis", 43)))), 1);
    assert_eq!(ok(store.cursor("analysis")), 43);
    // a second store of the same location sees both
    let mut other = ok(b.open());
    assert_eq!(ok(other.cursor("analysis")), 43);
    let a = ok(other.message("a"));
    assert_eq!(a.map(|m| m.message.verdict), Some("smishing".to_owned()));
    // the duplicate's text was not indexed
    assert!(listed(&mut other, &text("dup"), 10).is_empty());
    let tail = ok(other.messages_after(4, 10));
    let ids: Vec<&str> = tail.iter().map(|m| m.message.id.as_str()).collect();
    assert_eq!(ids, ["e", "f"]);
    assert!(tail.first().map(|m| m.message.domains.is_empty()).unwrap_or(false));
    let first = ok(other.messages_after(0, 1));
    let mut domains = first.first().map(|m| m.message.domains.clone()).unwrap_or_default();
    domains.sort();
    assert_eq!(domains, ["csam-be.info", "login.csam-be.info"]);
    // row numbers only grow (a skipped duplicate may leave a gap)
    let rows = ok(other.analysed_after(3, 10));
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    assert_eq!(seqs.len(), 3);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]) && seqs[0] == 4, "{seqs:?}");
    assert_eq!(ok(other.messages_after(seqs[1], 10)).len(), 1);
    // an empty batch still moves the cursor; set_cursor moves it alone
    assert_eq!(ok(store.insert_messages(&[], Some(("analysis", 50)))), 0);
    assert_eq!(ok(other.cursor("analysis")), 50);
    ok(store.set_cursor("analysis", 51));
    assert_eq!(ok(other.cursor("analysis")), 51);
    // a write that fails moves neither rows nor cursor
    drop(other);
    if let Ok(mut reader) = b.open_reader() {
        let failed =
            reader.insert_messages(&[message("g", 7, "never", "ham")], Some(("analysis", 99)));
        assert!(failed.is_err());
        assert!(reader.set_cursor("analysis", 99).is_err());
    }
    assert_eq!(ok(store.cursor("analysis")), 51);
    assert!(ok(store.message("g")).is_none());
    // every string field round-trips, NUL in the text included
    let mut hostile = message("h\"'%_", 8, "x\0y \u{1b}[31m 'q' %_\\", "smishing");
    hostile.sender = Some("Bank'; --".into());
    hostile.event_id = Some("ev-1".into());
    ok(store.insert_messages(std::slice::from_ref(&hostile), None));
    let back = ok(store.message("h\"'%_")).map(|m| m.message);
    let mut expect = hostile;
    expect.domains.sort();
    assert_eq!(back, Some(expect));
}

/// Scores read back have three decimals, so the API shows `0.823`, not `0.8234567`.
pub(crate) fn message_scores_read_back_with_three_decimals<B: Backend>() {
    let b = B::new();
    let mut store = ok(b.open());
    let mut m = message("s1", 1, "hello", "ham");
    m.score = 0.823_456_7;
    ok(store.insert_messages(&[m], None));
    assert_eq!(ok(store.message("s1")).map(|m| m.message.score), Some(0.823));
}

fn campaign(id: &str, last_seen: i64, summary: &str) -> CampaignRow {
    CampaignRow {
        id: id.into(),
        first_seen: Some(0),
        last_seen: Some(last_seen),
        message_count: 2,
        brand: Some("CSAM".into()),
        summary: summary.into(),
    }
}

fn campaign_ids<S: AnalysisStore>(store: &mut S) -> Vec<String> {
    ok(store.campaigns(None, None, 10)).into_iter().map(|c| c.id).collect()
}

pub(crate) fn clustering_updates_assignments_and_replaces_campaigns<B: Backend>() {
    let (b, mut store) = seeded::<B>();
    let changes = vec![
        AssignmentChange { seq: 1, campaign: Some("c1".into()), phase: Some("wave".into()) },
        AssignmentChange { seq: 4, campaign: Some("c1".into()), phase: Some("validation".into()) },
    ];
    ok(store.apply_clustering(
        &changes,
        &[campaign("c1", 4, "{}"), campaign("c0", 9, "{}")],
        Some((CLUSTERED_CURSOR, 4)),
    ));
    let mut other = ok(b.open());
    assert_eq!(campaign_ids(&mut other), ["c0", "c1"]);
    let mut stored = ok(other.campaign_ids());
    stored.sort();
    assert_eq!(stored, ["c0", "c1"]);
    assert_eq!(ok(other.cursor(CLUSTERED_CURSOR)), 4);
    let in_c1 =
        ok(other.messages(&MessageQuery { campaign: Some("c1".into()), ..Default::default() }, 10));
    let phases: Vec<Option<String>> = in_c1.into_iter().map(|m| m.phase).collect();
    assert_eq!(phases, [Some("validation".to_owned()), Some("wave".to_owned())]);
    // c0 disappears (merged), c1 changes
    ok(store.apply_clustering(&[], &[campaign("c1", 5, "{\"v\":2}")], None));
    assert_eq!(campaign_ids(&mut other), ["c1"]);
    let c1 = ok(other.campaign("c1"));
    assert_eq!(c1.map(|c| (c.last_seen, c.summary)), Some((Some(5), "{\"v\":2}".to_owned())));
    assert_eq!(ok(other.count_campaigns()), 1);
    assert!(ok(other.campaigns(None, Some((5, "c1")), 10)).is_empty());
    // quick assignments move their cursor in the same transaction
    let later = [AssignmentChange { seq: 5, campaign: Some("c1".into()), phase: None }];
    ok(store.apply_assignments(&later, Some((CLUSTERED_CURSOR, 5))));
    assert_eq!(ok(other.cursor(CLUSTERED_CURSOR)), 5);
    assert_eq!(ok(other.message("e")).and_then(|m| m.campaign).as_deref(), Some("c1"));
    // a failed clustering write changes nothing
    drop(other);
    if let Ok(mut reader) = b.open_reader() {
        let failed =
            reader.apply_clustering(&[], &[campaign("c9", 9, "{}")], Some((CLUSTERED_CURSOR, 9)));
        assert!(failed.is_err());
    }
    assert_eq!(campaign_ids(&mut store), ["c1"]);
    assert_eq!(ok(store.cursor(CLUSTERED_CURSOR)), 5);
}

/// A streamed clustering write crosses the backends' batches (more rows than one holds) and
/// is the same as one over slices: later rows of an id or a message win, the campaign table
/// becomes exactly the rows given, and a failed write changes nothing.
pub(crate) fn streamed_clustering_writes_cross_batches<B: Backend>() {
    let (b, mut store) = seeded::<B>();
    let n = 1_300;
    let mut rows = (0..n).map(|k| campaign(&format!("s{k:04}"), k, "{}")).chain([campaign(
        "s0001",
        1,
        "{\"last\":1}",
    )]);
    // messages 1..=5 change over and over; the last change of each wins
    let mut changes = (0..40_000i64).map(|k| AssignmentChange {
        seq: k % 5 + 1,
        campaign: Some(format!("s{:04}", k % 1_000)),
        phase: Some("wave".into()),
    });
    ok(store.apply_clustering_streamed(
        &mut changes,
        &mut rows,
        &[CampaignAlias { alias: "old".into(), id: "s0002".into() }],
        Some((CLUSTERED_CURSOR, 7)),
    ));
    let mut other = ok(b.open());
    assert_eq!(ok(other.count_campaigns()), n as u64);
    assert_eq!(ok(other.campaign("s0001")).map(|c| c.summary).as_deref(), Some("{\"last\":1}"));
    assert_eq!(ok(other.campaign("old")).map(|c| c.id).as_deref(), Some("s0002"));
    assert_eq!(ok(other.cursor(CLUSTERED_CURSOR)), 7);
    let assigned: Vec<Option<String>> =
        ok(other.messages_after(0, 10)).into_iter().map(|m| m.campaign).collect();
    let expect: Vec<Option<String>> =
        (0..5).map(|s| Some(format!("s{:04}", (39_995 + s) % 1_000))).collect();
    assert_eq!(assigned, expect);
    // fewer campaigns: the others go
    ok(store.apply_clustering_streamed(
        &mut std::iter::empty(),
        &mut (0..3).map(|k| campaign(&format!("s{k:04}"), k, "{}")),
        &[],
        None,
    ));
    assert_eq!(campaign_ids(&mut other), ["s0002", "s0001", "s0000"]);
    drop(other);
    if let Ok(mut reader) = b.open_reader() {
        let failed = reader.apply_clustering_streamed(
            &mut std::iter::empty(),
            &mut (0..600).map(|k| campaign(&format!("r{k}"), k, "{}")),
            &[],
            Some((CLUSTERED_CURSOR, 9)),
        );
        assert!(failed.is_err());
    }
    assert_eq!(campaign_ids(&mut store), ["s0002", "s0001", "s0000"]);
    assert_eq!(ok(store.cursor(CLUSTERED_CURSOR)), 7);
}

pub(crate) fn campaigns_page_by_recency_then_id<B: Backend>() {
    let b = B::new();
    let mut store = ok(b.open());
    let mut undated = campaign("u", 0, "{}");
    undated.last_seen = None;
    let mut rows = vec![undated];
    for (id, last) in [("b", 5), ("a", 5), ("c", 9), ("Z", 5)] {
        rows.push(campaign(id, last, "{}"));
    }
    rows[2].brand = Some("other".into());
    ok(store.apply_clustering(&[], &rows, None));
    assert_eq!(campaign_ids(&mut store), ["c", "b", "a", "Z", "u"]);
    let page: Vec<String> =
        ok(store.campaigns(None, Some((5, "b")), 2)).into_iter().map(|c| c.id).collect();
    assert_eq!(page, ["a", "Z"]);
    let page: Vec<String> =
        ok(store.campaigns(None, Some((5, "Z")), 9)).into_iter().map(|c| c.id).collect();
    assert_eq!(page, ["u"]);
    let page: Vec<String> =
        ok(store.campaigns(None, Some((i64::MIN, "u")), 9)).into_iter().map(|c| c.id).collect();
    assert!(page.is_empty());
    let csam: Vec<String> =
        ok(store.campaigns(Some("csam"), None, 9)).into_iter().map(|c| c.id).collect();
    assert_eq!(csam, ["c", "b", "Z", "u"]);
    assert_eq!(ok(store.active_campaign_ids(5, 10)), ["c", "b", "a", "Z"]);
    assert_eq!(ok(store.active_campaign_ids(6, 1)), ["c"]);
}

/// A merged campaign's old id keeps resolving to the campaign that absorbed it, also after
/// that one is merged in turn.
pub(crate) fn aliases_of_merged_campaigns_resolve_in_one_step<B: Backend>() {
    let (_b, mut store) = seeded::<B>();
    let alias = |a: &str, id: &str| CampaignAlias { alias: a.into(), id: id.into() };
    let id_of = |store: &mut B::Store, id: &str| ok(store.campaign(id)).map(|c| c.id);
    ok(store.apply_clustering_aliased(&[], &[campaign("c1", 4, "{}")], &[alias("c2", "c1")], None));
    assert_eq!(id_of(&mut store, "c2").as_deref(), Some("c1"));
    assert_eq!(id_of(&mut store, "c1").as_deref(), Some("c1"));
    assert_eq!(id_of(&mut store, "c9"), None);
    ok(store.apply_clustering_aliased(&[], &[campaign("c0", 5, "{}")], &[alias("c1", "c0")], None));
    assert_eq!(id_of(&mut store, "c2").as_deref(), Some("c0"));
    assert_eq!(id_of(&mut store, "c1").as_deref(), Some("c0"));
    assert_eq!(ok(store.campaign_aliases()), [alias("c1", "c0"), alias("c2", "c0")]);
}

pub(crate) fn facets_count_by_column<B: Backend>() {
    let (_b, mut store) = seeded::<B>();
    let countries = ok(store.message_facet(MessageFacet::Country, None, 10));
    assert_eq!(countries, [("SE".to_owned(), 3), ("BE".to_owned(), 2)]);
    let smishing = ok(store.message_facet(MessageFacet::Country, Some("smishing"), 10));
    assert_eq!(smishing, [("BE".to_owned(), 1), ("SE".to_owned(), 1)]);
    let verdicts = ok(store.message_facet(MessageFacet::Verdict, None, 2));
    assert_eq!(verdicts, [("ham".to_owned(), 2), ("smishing".to_owned(), 2)]);
    let brands = ok(store.message_facet(MessageFacet::Brand, None, 10));
    assert_eq!(brands, [("CSAM".to_owned(), 2)]);
    assert!(ok(store.message_facet(MessageFacet::Brand, Some("'\0%"), 10)).is_empty());
}

pub(crate) fn sensor_heartbeats_replace_each_other<B: Backend>() {
    let b = B::new();
    let mut store = ok(b.open());
    let now = chrono::Utc::now();
    let mut status = SensorStatus {
        sensor: "s1".into(),
        listeners: vec!["milesight-ur32l@127.0.0.1:8080".into()],
        started_at: now,
        updated_at: now,
        events_recorded: 1,
        events_not_recorded: 0,
        stopped: false,
        health: Health::Ok,
        fleet: None,
    };
    ok(store.put_sensor_status(&status));
    status.events_recorded = 7;
    ok(store.put_sensor_status(&status));
    let mut s0 = status.clone();
    s0.sensor = "s0".into();
    ok(store.put_sensor_status(&s0));
    assert_eq!(ok(store.sensor_statuses()), [s0, status]);
}

/// The console's aggregates: a campaign `a` (messages at hours 10, 10, 12; the first a
/// validation send), `b` at hour 3, and an unclustered message of event e9.
pub(crate) fn overview_aggregates_count_a_campaigns_messages<B: Backend>() {
    let b = B::new();
    let mut store = ok(b.open());
    let with_event = |id: &str, event: &str, ts: i64| {
        let mut m = message(id, ts, "t", "smishing");
        m.event_id = Some(event.into());
        m.src_ip = Some("203.0.113.9".into());
        m
    };
    let messages = [
        with_event("e1", "e1", 10 * H),
        with_event("e2#0", "e2", 10 * H + 5),
        with_event("e2#1", "e2", 12 * H + 7),
        with_event("e20", "e20", 3 * H),
        with_event("e9", "e9", 12 * H),
    ];
    ok(store.insert_messages(&messages, None));
    let assign = |seq: i64, c: &str, phase: &str| AssignmentChange {
        seq,
        campaign: Some(c.into()),
        phase: Some(phase.into()),
    };
    let mut a = campaign("a", 12 * H + 7, "{}");
    a.first_seen = Some(10 * H);
    ok(store.apply_clustering(
        &[
            assign(1, "a", "validation"),
            assign(2, "a", "wave"),
            assign(3, "a", "wave"),
            assign(4, "b", "wave"),
        ],
        &[a, campaign("b", 3 * H, "{}")],
        None,
    ));
    assert_eq!(ok(store.active_campaign_ids(0, 10)), ["a", "b"]);
    assert_eq!(ok(store.active_campaign_ids(4 * H, 10)), ["a"]);
    assert!(ok(store.active_campaign_ids(13 * H, 10)).is_empty());
    assert_eq!(
        ok(store.campaign_hours("a", 0)),
        [HourCount { hour: 10, messages: 2 }, HourCount { hour: 12, messages: 1 }]
    );
    assert_eq!(ok(store.campaign_hours("a", 11 * H)).len(), 1);
    assert!(ok(store.campaign_hours("none", 0)).is_empty());
    let bucket = |bucket, validation, messages| BucketCount { bucket, validation, messages };
    let mut got = ok(store.campaign_buckets("a", 10 * H, 13 * H - 1, 3));
    got.sort_by_key(|c| (c.bucket, c.validation));
    assert_eq!(got, [bucket(0, false, 1), bucket(0, true, 1), bucket(2, false, 1)]);
    let wide = ok(store.campaign_buckets("a", i64::MIN / 2, i64::MAX / 2, 64));
    assert_eq!(wide.iter().map(|c| c.messages).sum::<u64>(), 3);
    let extreme = ok(store.campaign_buckets("a", i64::MIN, i64::MAX, 5000));
    assert_eq!(extreme.iter().map(|c| c.messages).sum::<u64>(), 3);
    let sends = ok(store.validation_sends("a", 10));
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].message_id, "e1");
    assert_eq!(sends[0].src_ip.as_deref(), Some("203.0.113.9"));
    assert!(ok(store.validation_sends("b", 10)).is_empty());
    let ids = |store: &mut B::Store, event: &str| -> Vec<String> {
        ok(store.event_messages(event, 10)).into_iter().map(|m| m.id).collect()
    };
    assert_eq!(ids(&mut store, "e2"), ["e2#0", "e2#1"]);
    assert_eq!(ids(&mut store, "e20"), ["e20"]);
    assert_eq!(ids(&mut store, "e1"), ["e1"]);
    assert!(ids(&mut store, "nothing").is_empty());
}

/// The capture tail reads `sms.send` events after a row, in insertion order, and tells
/// where it stopped whatever the kinds it scanned.
pub(crate) fn sms_send_tail_reads_each_row_once<B: Backend>() {
    let b = B::new();
    let mut store = ok(b.open());
    let mut events = vec![super::event("r0", 0)];
    events.push(sms_event("s1", 1, &["+32470000001"], "one"));
    events.push(super::event("r2", 2));
    events.push(sms_event("s3", 3, &["+32470000002"], "two"));
    ok(EventStore::insert_batch(&mut store, &events));
    let (page, last) = ok(store.sms_sends_after(0, 2));
    let ids: Vec<String> = page.into_iter().map(|e| ok(e).id).collect();
    assert_eq!((ids, last), (vec!["s1".to_owned()], 2));
    let (page, last) = ok(store.sms_sends_after(last, 100));
    let ids: Vec<String> = page.into_iter().map(|e| ok(e).id).collect();
    assert_eq!((ids, last), (vec!["s3".to_owned()], 4));
    let (page, last) = ok(store.sms_sends_after(last, 100));
    assert!(page.is_empty());
    assert_eq!(last, 4);
    assert_eq!(ok(store.event("s3")).map(|e| e.id).as_deref(), Some("s3"));
    assert!(ok(store.event("nope'\0")).is_none());
}

pub(crate) fn the_latest_audit_of_each_target_is_kept<B: Backend>() {
    let b = B::new();
    let mut store = ok(b.open());
    let row = |target: &str, audited: i64, worst: &str| AuditRow {
        target: target.to_owned(),
        audited,
        worst: worst.to_owned(),
        report: format!("{{\"worst\":\"{worst}\",\"title\":\"<b>'\\u0000%\"}}"),
    };
    assert_eq!(ok(store.count_audit_results()), 0);
    let first = [row("10.0.0.2", 10, "high"), row("10.0.0.1", 10, "info")];
    assert_eq!(ok(store.put_audit_results(&first)), 2);
    // a newer audit replaces, an older one does not
    let again = [row("10.0.0.2", 20, "critical"), row("10.0.0.1", 5, "low")];
    assert_eq!(ok(store.put_audit_results(&again)), 1);
    let got = ok(store.audit_results(10));
    let summary: Vec<(&str, i64, &str)> =
        got.iter().map(|r| (r.target.as_str(), r.audited, r.worst.as_str())).collect();
    assert_eq!(summary, [("10.0.0.1", 10, "info"), ("10.0.0.2", 20, "critical")]);
    assert_eq!(got[1].report, again[0].report);
    assert_eq!(ok(store.audit_results(1)).len(), 1);
    assert_eq!(ok(store.count_audit_results()), 2);
}

/// A bulk batch stores the rows a plain insert would (searchable by text, NUL included,
/// and domain), numbers the new ones in batch order after every stored row, and skips ids
/// already stored, in the store or earlier in the batch.
pub(crate) fn bulk_batches_number_new_rows_and_skip_stored_ids<B: Backend>() {
    let b = B::new();
    let mut store = ok(b.open());
    ok(store.begin_bulk());
    ok(store.insert_messages(&[message("a", 1, "stored before", "ham")], None));
    let mut hostile = message("h\"'%_", 8, "x\0y 'q' %_\\ zebra", "smishing");
    hostile.event_id = Some("ev-1".into());
    hostile.domains.push("LOGIN.csam-be.info".into());
    let batch = vec![
        message("b", 2, "first new giraffe", "ham"),
        message("a", 3, "already stored", "ham"),
        message("b", 4, "same id again", "ham"),
        hostile.clone(),
        message("d", 5, "Uw CSAM dossier bij csam-be.info", "smishing"),
    ];
    let seqs = ok(store.insert_messages_bulk(&batch));
    let new: Vec<i64> = seqs.iter().flatten().copied().collect();
    assert_eq!(
        seqs.iter().map(Option::is_some).collect::<Vec<_>>(),
        [true, false, false, true, true]
    );
    assert!(new.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let before = ok(store.messages_after(0, 1)).first().map(|m| m.seq).unwrap_or_default();
    assert!(new.first().is_some_and(|s| *s > before));
    ok(store.finish_bulk());
    assert_eq!(ok(store.count_messages_between(0, new[2])), 4);
    assert_eq!(ok(store.count_messages_between(new[0], new[2])), 2);
    assert_eq!(listed(&mut store, &text("giraffe"), 10), ["b"]);
    assert!(listed(&mut store, &text("same id"), 10).is_empty());
    assert_eq!(listed(&mut store, &text("x\0y 'Q'"), 10), ["h\"'%_"]);
    assert_eq!(listed(&mut store, &text("ZEBRA"), 10), ["h\"'%_"]);
    let domain = MessageQuery { domain: Some("csam-be.info".into()), ..Default::default() };
    assert_eq!(listed(&mut store, &domain, 10), ["h\"'%_", "d"]);
    let mut expect = hostile;
    expect.domains = vec!["csam-be.info".into(), "login.csam-be.info".into()];
    let mut back = ok(store.message("h\"'%_")).map(|m| m.message);
    if let Some(m) = &mut back {
        m.domains.sort();
    }
    assert_eq!(back, Some(expect));
    // a rerun stores nothing
    let again = ok(store.insert_messages_bulk(&batch));
    assert!(again.iter().all(Option::is_none), "{again:?}");
    assert!(ok(store.insert_messages_bulk(&[])).is_empty());
    assert_eq!(ok(store.count_messages(&MessageQuery::default(), 100)), 4);
}
