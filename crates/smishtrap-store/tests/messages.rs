//! Analysed messages, campaigns, cursors and heartbeats in the SQLite store.

use smishtrap_event::SensorStatus;
use smishtrap_store::{
    AssignmentChange, CLUSTERED_CURSOR, CampaignAlias, CampaignRow, MessageFacet, MessageQuery,
    NewMessage, SqliteStore,
};

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let store = SqliteStore::open(&dir.path().join("s.db")).unwrap_or_else(|e| panic!("{e}"));
    (dir, store)
}

fn message(id: &str, ts: i64, text: &str, verdict: &str) -> NewMessage {
    NewMessage {
        id: id.into(),
        event_id: None,
        origin: "import".into(),
        ts_micros: ts,
        recipient: Some(format!("+3247000000{}", ts % 10)),
        country: Some(if ts % 2 == 0 { "BE" } else { "SE" }.into()),
        sender: None,
        router: Some("r1".into()),
        src_ip: None,
        text: text.into(),
        lang: Some("en".into()),
        verdict: verdict.into(),
        score: 0.5,
        brand: (verdict == "smishing").then(|| "CSAM".into()),
        domains: if verdict == "smishing" {
            vec!["login.csam-be.info".into(), "csam-be.info".into()]
        } else {
            Vec::new()
        },
        record: "{}".into(),
        analysis: "{}".into(),
    }
}

fn seeded() -> (tempfile::TempDir, SqliteStore) {
    let (dir, mut store) = store();
    let messages = vec![
        message("a", 1, "Your CSAM account expires, log in at csam-be.info", "smishing"),
        message("b", 2, "See you at dinner tonight", "ham"),
        message("c", 3, "WIN a free cruise! Reply YES", "spam"),
        message("d", 4, "Uw CSAM dossier: verify now at csam-be.info", "smishing"),
        message("e", 5, "Ünïcode déjà vu \"quoted\" text", "ham"),
    ];
    let n =
        store.insert_messages(&messages, Some(("analysis", 42))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n, 5);
    (dir, store)
}

/// Ids of the messages a query lists, newest first.
fn check(query: MessageQuery, expect: &[&str]) {
    let (_dir, store) = seeded();
    let got: Vec<String> = store
        .messages(&query, 100)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|m| m.message.id)
        .collect();
    assert_eq!(got, expect, "{query:?}");
    let count = store.count_messages(&query, 1000).unwrap_or_else(|e| panic!("{e}"));
    if query.before.is_none() {
        assert_eq!(count as usize, expect.len(), "count of {query:?}");
    }
}

fn text(s: &str) -> MessageQuery {
    MessageQuery { text: Some(s.into()), ..Default::default() }
}

#[test]
fn searches_find_what_they_should() {
    check(MessageQuery::default(), &["e", "d", "c", "b", "a"]);
    check(text("csam"), &["d", "a"]);
    check(text("CSAM-BE.INFO"), &["d", "a"]);
    check(text("free cruise"), &["c"]);
    check(text("déjà"), &["e"]);
    check(text("\"quoted\""), &["e"]);
    check(text("AND OR NOT *"), &[]);
    check(text("vu"), &["e"]);
    check(text("nothing like this"), &[]);
    check(MessageQuery { domain: Some("csam-be.info".into()), ..Default::default() }, &["d", "a"]);
    check(
        MessageQuery { domain: Some("LOGIN.csam-be.info".into()), ..Default::default() },
        &["d", "a"],
    );
    check(MessageQuery { domain: Some("be.info".into()), ..Default::default() }, &[]);
    check(MessageQuery { brand: Some("csam".into()), ..Default::default() }, &["d", "a"]);
    check(MessageQuery { verdict: Some("spam".into()), ..Default::default() }, &["c"]);
    check(MessageQuery { country: Some("BE".into()), ..Default::default() }, &["d", "b"]);
    check(MessageQuery { number: Some("+32470000003".into()), ..Default::default() }, &["c"]);
    check(
        MessageQuery { number: Some("+3247".into()), ..Default::default() },
        &["e", "d", "c", "b", "a"],
    );
    check(
        MessageQuery {
            verdict: Some("smishing".into()),
            text: Some("dossier".into()),
            ..Default::default()
        },
        &["d"],
    );
    check(
        MessageQuery { before: Some((4, i64::MAX)), ..Default::default() },
        &["d", "c", "b", "a"],
    );
    check(MessageQuery { text: Some("x".repeat(300)), ..Default::default() }, &[]);
}

/// Ids of the messages of `texts` (named `m0`, `m1`, ...) whose text search for `search`
/// lists, newest first.
fn search_in(texts: &[&str], search: &str) -> Vec<String> {
    let (_dir, mut store) = store();
    let messages: Vec<NewMessage> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| message(&format!("m{i}"), i as i64, t, "ham"))
        .collect();
    store.insert_messages(&messages, None).unwrap_or_else(|e| panic!("{e}"));
    let query = text(search);
    let found: Vec<String> = store
        .messages(&query, 100)
        .unwrap_or_else(|e| panic!("search {search:?}: {e}"))
        .into_iter()
        .map(|m| m.message.id)
        .collect();
    let count = store.count_messages(&query, 1000).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(count as usize, found.len(), "count of {search:?}");
    found
}

#[track_caller]
fn check_search(texts: &[&str], search: &str, expect: &[&str]) {
    assert_eq!(search_in(texts, search), expect, "{search:?} in {texts:?}");
}

#[test]
fn text_search_takes_nul_quotes_and_fts_syntax() {
    let texts = ["a\0b pay now", "plain a b", "say \"hi\" NEAR(x) col:y", "ÉCOLE x\0yz\0end"];
    check_search(&texts, "a\0b", &["m0"]);
    check_search(&texts, "A\0B PAY", &["m0"]);
    check_search(&texts, "\0", &["m3", "m0"]);
    check_search(&texts, "x\0yz\0end", &["m3"]);
    check_search(&texts, "x\0yz\0ends", &[]);
    // each NUL-free run must occur, and in this order with the NULs between
    check_search(&texts, "end\0x", &[]);
    check_search(&texts, "\"hi\"", &["m2"]);
    check_search(&texts, "\"", &["m2"]);
    check_search(&texts, "NEAR(x)", &["m2"]);
    check_search(&texts, "col:y", &["m2"]);
    check_search(&texts, "*", &[]);
    // one or two characters scan; ASCII letters match any case, others exactly
    check_search(&texts, "É", &["m3"]);
    check_search(&texts, "Éc", &["m3"]);
    check_search(&texts, "éc", &[]);
    check_search(&texts, "école", &["m3"]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// A message holding any substring is found by searching it, whatever its bytes.
    #[test]
    fn any_substring_finds_its_message(
        before in "(\\PC|\\x00|\"){0,8}",
        needle in "(\\PC|\\x00|\"|\\*|:|\\^){1,12}",
        after in "(\\PC|\\x00|\"){0,8}",
    ) {
        let text = format!("{before}{needle}{after}");
        let found = search_in(&[&text, "unrelated filler text"], &needle);
        // (a value that trims to nothing filters nothing)
        proptest::prop_assert!(found.contains(&"m0".to_owned()), "{needle:?} in {text:?}: {found:?}");
    }
}

#[test]
fn inserts_are_idempotent_and_move_the_cursor_atomically() {
    let (_dir, mut store) = seeded();
    assert_eq!(store.cursor("analysis").unwrap_or_else(|e| panic!("{e}")), 42);
    assert_eq!(store.cursor("other").unwrap_or_else(|e| panic!("{e}")), 0);
    let again = vec![message("a", 1, "dup", "ham"), message("f", 6, "new one", "ham")];
    let n = store.insert_messages(&again, Some(("analysis", 43))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n, 1);
    assert_eq!(store.cursor("analysis").unwrap_or_else(|e| panic!("{e}")), 43);
    let a = store.message("a").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.map(|m| m.message.verdict), Some("smishing".to_owned()));
    // the duplicate's text was not indexed either
    let dup = store.messages(&text("dup"), 10).unwrap_or_else(|e| panic!("{e}"));
    assert!(dup.is_empty());
    let tail = store.messages_after(4, 10).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = tail.iter().map(|m| m.message.id.as_str()).collect();
    assert_eq!(ids, ["e", "f"]);
    let mut domains = tail.first().map(|m| m.message.domains.clone()).unwrap_or_default();
    domains.sort();
    assert!(domains.is_empty());
    let first = store.messages_after(0, 1).unwrap_or_else(|e| panic!("{e}"));
    let mut domains = first.first().map(|m| m.message.domains.clone()).unwrap_or_default();
    domains.sort();
    assert_eq!(domains, ["csam-be.info", "login.csam-be.info"]);
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

#[test]
fn clustering_updates_assignments_and_replaces_campaigns() {
    let (_dir, mut store) = seeded();
    let changes = vec![
        AssignmentChange { seq: 1, campaign: Some("c1".into()), phase: Some("wave".into()) },
        AssignmentChange { seq: 4, campaign: Some("c1".into()), phase: Some("validation".into()) },
    ];
    store
        .apply_clustering(
            &changes,
            &[campaign("c1", 4, "{}"), campaign("c0", 9, "{}")],
            Some((CLUSTERED_CURSOR, 4)),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    check_campaigns(&store, &["c0", "c1"]);
    assert_eq!(store.cursor(CLUSTERED_CURSOR).unwrap_or_else(|e| panic!("{e}")), 4);
    let in_c1 = store
        .messages(&MessageQuery { campaign: Some("c1".into()), ..Default::default() }, 10)
        .unwrap_or_else(|e| panic!("{e}"));
    let phases: Vec<Option<String>> = in_c1.into_iter().map(|m| m.phase).collect();
    assert_eq!(phases, [Some("validation".to_owned()), Some("wave".to_owned())]);
    // c0 disappears (merged), c1 changes
    store
        .apply_clustering(&[], &[campaign("c1", 5, "{\"v\":2}")], None)
        .unwrap_or_else(|e| panic!("{e}"));
    check_campaigns(&store, &["c1"]);
    let c1 = store.campaign("c1").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c1.map(|c| (c.last_seen, c.summary)), Some((Some(5), "{\"v\":2}".to_owned())));
    assert_eq!(store.count_campaigns().unwrap_or_else(|e| panic!("{e}")), 1);
    // keyset paging: the page after c1 is empty
    let after = store.campaigns(None, Some((5, "c1")), 10).unwrap_or_else(|e| panic!("{e}"));
    assert!(after.is_empty());
}

/// A merged campaign's old id keeps resolving to the campaign that absorbed it, also after
/// that one is merged in turn.
#[test]
fn aliases_of_merged_campaigns_resolve_in_one_step() {
    let (_dir, mut store) = seeded();
    let alias = |a: &str, id: &str| CampaignAlias { alias: a.into(), id: id.into() };
    let id_of = |store: &SqliteStore, id: &str| {
        store.campaign(id).unwrap_or_else(|e| panic!("{e}")).map(|c| c.id)
    };
    store
        .apply_clustering_aliased(&[], &[campaign("c1", 4, "{}")], &[alias("c2", "c1")], None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(id_of(&store, "c2").as_deref(), Some("c1"));
    assert_eq!(id_of(&store, "c1").as_deref(), Some("c1"));
    assert_eq!(id_of(&store, "c9"), None);
    // c1 merges into c0: c2 now names c0 too
    store
        .apply_clustering_aliased(&[], &[campaign("c0", 5, "{}")], &[alias("c1", "c0")], None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(id_of(&store, "c2").as_deref(), Some("c0"));
    assert_eq!(id_of(&store, "c1").as_deref(), Some("c0"));
    let all = store.campaign_aliases().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all, [alias("c1", "c0"), alias("c2", "c0")]);
    assert_eq!(store.all_campaigns().unwrap_or_else(|e| panic!("{e}")).len(), 1);
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

fn check_campaigns(store: &SqliteStore, expect: &[&str]) {
    let got: Vec<String> = store
        .campaigns(None, None, 10)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(got, expect);
}

#[test]
fn facets_count_by_column() {
    let (_dir, store) = seeded();
    let countries =
        store.message_facet(MessageFacet::Country, None, 10).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(countries, [("SE".to_owned(), 3), ("BE".to_owned(), 2)]);
    let smishing = store
        .message_facet(MessageFacet::Country, Some("smishing"), 10)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(smishing, [("BE".to_owned(), 1), ("SE".to_owned(), 1)]);
}

#[test]
fn sensor_heartbeats_replace_each_other() {
    let (_dir, mut store) = store();
    let now = chrono::Utc::now();
    let mut status = SensorStatus {
        sensor: "s1".into(),
        listeners: vec!["milesight-ur32l@127.0.0.1:8080".into()],
        started_at: now,
        updated_at: now,
        events_recorded: 1,
        events_not_recorded: 0,
        stopped: false,
        health: smishtrap_event::Health::Ok,
        fleet: None,
    };
    store.put_sensor_status(&status).unwrap_or_else(|e| panic!("{e}"));
    status.events_recorded = 7;
    store.put_sensor_status(&status).unwrap_or_else(|e| panic!("{e}"));
    let all = store.sensor_statuses().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all, [status]);
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
