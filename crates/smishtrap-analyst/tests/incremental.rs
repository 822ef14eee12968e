//! Captures become analysed messages and campaigns, incrementally, through a real store.

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use common::ok;
use smishtrap_analyst::{Clusterer, Worker, WorkerConfig, analyse_captures};
use smishtrap_event::{Event, EventKind, SmsAction, SmsDialect};
use smishtrap_intel::campaign::Config;
use smishtrap_intel::{AnalyzeOptions, Engine};
use smishtrap_store::{CLUSTERED_CURSOR, MessageQuery, SqliteStore, StoredMessage};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 7, 22, 10, 0, 0).single().unwrap_or_default()
}

/// An `sms.send` capture `secs` after [`t0`] (other events are plain requests).
fn capture(id: &str, secs: i64, to: &[&str], text: Option<&str>) -> Event {
    let mut e = Event::request(
        id,
        t0() + chrono::Duration::seconds(secs),
        "sensor-a",
        "milesight-ur32l",
        IpAddr::from([203, 0, 113, 7]),
    );
    e.http.method = "POST".into();
    e.http.path = "/cgi".into();
    if let Some(text) = text {
        e.kind = EventKind::SmsSend;
        e.sms = Some(SmsAction {
            to: to.iter().map(|s| (*s).to_owned()).collect(),
            text: Some(text.to_owned()),
            dialect: SmsDialect::ApiSms,
            mailbox: None,
            status: Some("success".into()),
        });
    }
    e
}

const LURE: &str = "CSAM: uw digitale identiteit verloopt vandaag. Bevestig uw gegevens via \
                    https://login.csam-be.info/verify om blokkering te voorkomen";

fn wave(first: usize, n: usize, secs: i64) -> Vec<Event> {
    (first..first + n)
        .map(|i| {
            let to = format!("+324701234{i:02}");
            capture(&format!("c1-{i}"), secs + i as i64, &[to.as_str()], Some(LURE))
        })
        .collect()
}

fn all(store: &SqliteStore) -> Vec<StoredMessage> {
    ok(store.messages(&MessageQuery::default(), 1000))
}

#[test]
fn captures_are_analysed_once_and_clustered_incrementally() {
    let dir = ok(tempfile::tempdir());
    let mut store = ok(SqliteStore::open(&dir.path().join("s.db")));
    let engine = ok(Engine::builtin());
    let options = AnalyzeOptions::default();
    let mut events = wave(0, 6, 0);
    events.push(capture("c1-100", 50, &[], None));
    events.push(capture("c1-101", 60, &["+32470999999"], Some("see you at dinner, love")));
    events.push(capture(
        "c1-102",
        70,
        &["+46701111111", "+46702222222"],
        Some("PostNord: ditt paket väntar, betala tullavgift på https://postnord-se.top/pay"),
    ));
    ok(store.insert_batch(&events));

    let progress = ok(analyse_captures(&mut store, &engine, &options, 1_000_000));
    assert_eq!(progress.messages, 9, "{progress:?}");
    let again = ok(analyse_captures(&mut store, &engine, &options, 1_000_000));
    assert_eq!(again.messages, 0, "analysed once");

    let messages = all(&store);
    let by_id = |id: &str| messages.iter().find(|m| m.message.id == id).cloned();
    let lure = by_id("c1-3").map(|m| m.message);
    assert_eq!(lure.as_ref().map(|m| m.verdict.as_str()), Some("smishing"));
    assert_eq!(lure.as_ref().and_then(|m| m.brand.as_deref()), Some("CSAM"));
    assert_eq!(lure.as_ref().and_then(|m| m.country.as_deref()), Some("BE"));
    assert_eq!(lure.as_ref().and_then(|m| m.event_id.as_deref()), Some("c1-3"));
    assert_eq!(by_id("c1-101").map(|m| m.message.verdict), Some("ham".to_owned()));
    assert!(by_id("c1-102#2").is_some(), "one message per recipient");

    let mut clusterer = Clusterer::new(Config::default());
    assert_eq!(ok(clusterer.load_new(&mut store)), 9);
    let pass = ok(clusterer.recluster(&mut store));
    assert!(pass.campaigns >= 1, "{pass:?}");
    let csam = by_campaign(&store, "c1-0");
    assert_eq!(csam.len(), 6, "the wave is one campaign");
    assert!(by_id("c1-101").is_some_and(|_| campaign_of(&store, "c1-101").is_none()));
    assert_eq!(ok(store.cursor(CLUSTERED_CURSOR)), ok(store.messages_after(0, 100)).len() as i64);

    // A restart reloads the features and writes nothing new.
    let mut restarted = Clusterer::new(Config::default());
    assert_eq!(ok(restarted.load_new(&mut store)), 9);
    assert_eq!(ok(restarted.recluster(&mut store)).changed, 0);

    // More of the same wave joins the same campaign without re-analysing the rest.
    ok(store.insert_batch(&wave(6, 2, 0)));
    assert_eq!(ok(analyse_captures(&mut store, &engine, &options, 1_000_000)).messages, 2);
    assert_eq!(ok(restarted.load_new(&mut store)), 2);
    // (a pass first joins them to the known campaign, then confirms it)
    ok(restarted.recluster(&mut store));
    let later = campaign_of(&store, "c1-7");
    assert!(later.is_some() && later == campaign_of(&store, "c1-0"), "{later:?}");
}

fn campaign_of(store: &SqliteStore, id: &str) -> Option<String> {
    ok(store.message(id)).and_then(|m| m.campaign)
}

fn by_campaign(store: &SqliteStore, member: &str) -> Vec<StoredMessage> {
    let campaign = campaign_of(store, member);
    assert!(campaign.is_some(), "{member} has a campaign");
    ok(store.messages(&MessageQuery { campaign, ..Default::default() }, 1000))
}

#[test]
fn the_worker_follows_a_live_store() {
    let dir = ok(tempfile::tempdir());
    let db = dir.path().join("s.db");
    let mut store = ok(SqliteStore::open(&db));
    let worker = ok(Worker::start(WorkerConfig::new(db.clone()), Arc::new(ok(Engine::builtin()))));
    ok(store.insert_batch(&wave(0, 4, 0)));
    // A generous deadline, not a timing assertion: the worker polls every 50 ms.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let clustered = ok(store.cursor(CLUSTERED_CURSOR));
        let done = all(&store);
        if done.len() == 4 && clustered >= 4 && done.iter().all(|m| m.campaign.is_some()) {
            break;
        }
        assert!(Instant::now() < deadline, "worker did not catch up: {done:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = worker.stats();
    worker.stop();
    assert_eq!(stats.messages_analysed.load(std::sync::atomic::Ordering::Relaxed), 4);
    assert!(stats.clustering_passes.load(std::sync::atomic::Ordering::Relaxed) >= 1);
}

#[test]
fn between_full_passes_new_messages_join_known_campaigns_at_once() {
    let dir = ok(tempfile::tempdir());
    let mut store = ok(SqliteStore::open(&dir.path().join("s.db")));
    let engine = ok(Engine::builtin());
    let options = AnalyzeOptions::default();
    ok(store.insert_batch(&wave(0, 4, 0)));
    ok(analyse_captures(&mut store, &engine, &options, 1_000_000));
    let mut clusterer = Clusterer::new(Config::default());
    ok(clusterer.load_new(&mut store));
    ok(clusterer.recluster(&mut store));
    let known = campaign_of(&store, "c1-0");
    assert!(known.is_some());

    // the same wave goes on, and an unrelated lure starts
    let mut more = wave(4, 2, 0);
    more.push(capture(
        "c1-200",
        300,
        &["+46701111111"],
        Some("PostNord: ditt paket väntar, betala tullavgift på https://postnord-se.top/pay"),
    ));
    ok(store.insert_batch(&more));
    ok(analyse_captures(&mut store, &engine, &options, 1_000_000));
    assert_eq!(ok(clusterer.load_new(&mut store)), 3);
    assert_eq!(ok(clusterer.assign_known(&mut store)), 2);
    assert_eq!(campaign_of(&store, "c1-5"), known);
    assert_eq!(campaign_of(&store, "c1-200"), None, "a new campaign waits for a full pass");
    assert_eq!(ok(store.cursor(CLUSTERED_CURSOR)), 7, "every new message is covered");
    assert_eq!(ok(clusterer.assign_known(&mut store)), 0, "nothing twice");

    // the full pass keeps the quick assignments and finds the new campaign
    ok(clusterer.recluster(&mut store));
    assert_eq!(campaign_of(&store, "c1-5"), known);
    assert!(campaign_of(&store, "c1-200").is_some_and(|c| Some(&c) != known.as_ref()));

    // after a restart, the stored assignments are known before any full pass, also for a
    // message captured while the analyst was down (stored after the clustering cursor)
    ok(store.insert_batch(&wave(6, 1, 0)));
    ok(analyse_captures(&mut store, &engine, &options, 1_000_000));
    let mut restarted = Clusterer::new(Config::default());
    assert_eq!(ok(restarted.load_new(&mut store)), 8);
    assert_eq!(ok(store.cursor(CLUSTERED_CURSOR)), 7, "the new one is not covered yet");
    assert_eq!(ok(restarted.assign_known(&mut store)), 1);
    assert_eq!(campaign_of(&store, "c1-6"), known);
    assert_eq!(ok(store.cursor(CLUSTERED_CURSOR)), 8);
    ok(store.insert_batch(&wave(7, 1, 0)));
    ok(analyse_captures(&mut store, &engine, &options, 1_000_000));
    assert_eq!(ok(restarted.load_new(&mut store)), 1);
    assert_eq!(ok(restarted.assign_known(&mut store)), 1);
    assert_eq!(campaign_of(&store, "c1-7"), known);
}

#[test]
fn messages_arriving_during_a_pass_join_known_campaigns_and_count_for_the_next() {
    let dir = ok(tempfile::tempdir());
    let mut store = ok(SqliteStore::open(&dir.path().join("s.db")));
    let engine = ok(Engine::builtin());
    let options = AnalyzeOptions::default();
    ok(store.insert_batch(&wave(0, 40, 0)));
    ok(analyse_captures(&mut store, &engine, &options, 1_000_000));
    let mut clusterer = Clusterer::new(Config::default());
    ok(clusterer.load_new(&mut store));
    ok(clusterer.recluster(&mut store));
    let known = campaign_of(&store, "c1-0");

    ok(store.insert_batch(&wave(40, 2, 0)));
    ok(analyse_captures(&mut store, &engine, &options, 1_000_000));
    // Whether the pass outlives its first poll depends on the machine: check both outcomes.
    let pass = ok(clusterer.recluster_live(&mut store, Some(Duration::from_millis(1))));
    if pass.messages == 42 {
        assert_eq!(pass.joined_during, 2, "{pass:?}");
        assert_eq!(campaign_of(&store, "c1-41"), known);
        assert_eq!(ok(store.cursor(CLUSTERED_CURSOR)), 42);
        assert!(clusterer.due() || clusterer.len() == 42, "they count for the next pass");
    } else {
        assert_eq!(pass.messages, 40, "{pass:?}");
        assert_eq!(ok(clusterer.load_new(&mut store)), 2);
        assert_eq!(ok(clusterer.assign_known(&mut store)), 2);
        assert_eq!(campaign_of(&store, "c1-41"), known);
    }
    assert_eq!(clusterer.len(), 42);
}

/// Ids survive passes through the store: a growing campaign keeps its id, and when a later
/// message ties two campaigns together the older id survives and the other resolves to it.
#[test]
fn ids_survive_passes_and_a_merge_keeps_the_older_id_as_an_alias_resolves() {
    const OTHER: &str = "CSAM: uw account wordt morgen geblokkeerd. Log nu in op \
                         https://mijn-csam.top/x en bevestig uw rijksregisternummer";
    let dir = ok(tempfile::tempdir());
    let mut store = ok(SqliteStore::open(&dir.path().join("s.db")));
    let engine = ok(Engine::builtin());
    let options = AnalyzeOptions::default();
    let later = 60 * 86_400;
    let mut events = wave(0, 4, 0);
    for i in 0..6 {
        let to = format!("+324809999{i:02}");
        events.push(capture(&format!("c2-{i}"), later + i, &[to.as_str()], Some(OTHER)));
    }
    ok(store.insert_batch(&events));
    ok(analyse_captures(&mut store, &engine, &options, 1_000_000));
    let mut clusterer = Clusterer::new(Config::default());
    ok(clusterer.load_new(&mut store));
    ok(clusterer.recluster(&mut store));
    let (older, newer) = (campaign_of(&store, "c1-0"), campaign_of(&store, "c2-0"));
    assert!(older.is_some() && newer.is_some() && older != newer, "{older:?} {newer:?}");

    // growth: more of the older wave keeps its id
    ok(store.insert_batch(&wave(4, 3, 10)));
    ok(analyse_captures(&mut store, &engine, &options, 1_000_000));
    ok(clusterer.load_new(&mut store));
    ok(clusterer.recluster(&mut store));
    assert_eq!(campaign_of(&store, "c1-0"), older);
    assert_eq!(campaign_of(&store, "c1-6"), older);

    // a message with both campaigns' links merges them (in a new process: from the store)
    let bridge = "CSAM: bevestig via https://login.csam-be.info/verify of \
                  https://mijn-csam.top/x om blokkering van uw account te voorkomen";
    ok(store.insert_batch(&[capture("c3-0", later + 100, &["+32470555555"], Some(bridge))]));
    ok(analyse_captures(&mut store, &engine, &options, 1_000_000));
    let mut restarted = Clusterer::new(Config::default());
    ok(restarted.load_new(&mut store));
    ok(restarted.recluster(&mut store));
    assert_eq!(campaign_of(&store, "c2-0"), older, "the older id survives the merge");
    assert_eq!(campaign_of(&store, "c3-0"), older);
    let newer = newer.unwrap_or_default();
    let resolved = ok(store.campaign(&newer)).map(|c| c.id);
    assert_eq!(resolved, older, "the merged id resolves to the surviving campaign");
    let aliases = ok(store.campaign_aliases());
    assert_eq!(aliases.len(), 1);
    assert_eq!(aliases[0].alias, newer);
}

/// A new wave after a quiet gap (two months) with the old template but other infrastructure
/// joins nothing between passes and becomes a campaign of its own; the old one keeps its id.
#[test]
fn a_wave_after_a_quiet_gap_joins_no_known_campaign_by_template_alone() {
    let dir = ok(tempfile::tempdir());
    let mut store = ok(SqliteStore::open(&dir.path().join("s.db")));
    let engine = ok(Engine::builtin());
    let options = AnalyzeOptions::default();
    ok(store.insert_batch(&wave(0, 4, 0)));
    ok(analyse_captures(&mut store, &engine, &options, 1_000_000));
    let mut clusterer = Clusterer::new(Config::default());
    ok(clusterer.load_new(&mut store));
    ok(clusterer.recluster(&mut store));
    let old = campaign_of(&store, "c1-0");
    assert!(old.is_some());

    let later = 60 * 86_400;
    let text = LURE.replace("login.csam-be.info", "csam-herstel.top");
    let events: Vec<Event> = (0..5)
        .map(|i| {
            let to = format!("+324805555{i:02}");
            let mut e = capture(&format!("c9-{i}"), later + i, &[to.as_str()], Some(&text));
            e.src_ip = IpAddr::from([198, 51, 100, 200]);
            e
        })
        .collect();
    ok(store.insert_batch(&events));
    ok(analyse_captures(&mut store, &engine, &options, 1_000_000));
    ok(clusterer.load_new(&mut store));
    ok(clusterer.assign_known(&mut store));
    assert_eq!(campaign_of(&store, "c9-0"), None, "no quick join across the quiet gap");
    ok(clusterer.recluster(&mut store));
    let new = campaign_of(&store, "c9-0");
    assert!(new.is_some() && new != old, "{new:?} {old:?}");
    assert_eq!(campaign_of(&store, "c1-0"), old);
}

/// The analyst streams a pass into the store (assignments as interned ids, changes and
/// summaries one at a time); what it stores is exactly what `campaign::cluster` and
/// `carry_ids` give over the same messages: assignments, summaries and aliases.
#[test]
fn a_streamed_pass_stores_what_cluster_and_carry_ids_give() {
    use smishtrap_intel::campaign::{self, CampaignInput};
    use smishtrap_store::AnalysisStore;

    // three copies of the fixture's campaigns, days apart, on other routers and numbers
    let records = common::fixture_copies(3);
    let engine = ok(Engine::builtin());
    let options = AnalyzeOptions::default();
    let analysed: Vec<_> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let analysis = engine.analyze(r, format!("m{i}"), &options);
            let row = smishtrap_analyst::message_of(r, &analysis, "import", None, 0);
            (row, CampaignInput::new(i, r, &analysis))
        })
        .collect();
    let (rows, inputs): (Vec<_>, Vec<_>) = analysed.into_iter().unzip();
    let dir = ok(tempfile::tempdir());
    let mut store = ok(SqliteStore::open(&dir.path().join("s.db")));
    // a pass over two copies, then the third arrives, joins known campaigns, and a pass
    // carries the first one's ids over
    let (first, rest) = rows.split_at(rows.len() * 2 / 3);
    ok(store.insert_messages(first, None));
    let mut clusterer = Clusterer::new(Config::default());
    ok(clusterer.load_new(&mut store));
    ok(clusterer.recluster(&mut store));
    ok(store.insert_messages(rest, None));
    ok(clusterer.load_new(&mut store));
    ok(clusterer.assign_known(&mut store));
    let stored = |store: &SqliteStore| -> Vec<(Option<String>, Option<String>)> {
        ok(store.messages_after(0, 10_000)).into_iter().map(|m| (m.campaign, m.phase)).collect()
    };
    let previous: Vec<Option<String>> = stored(&store).into_iter().map(|a| a.0).collect();
    let taken =
        ok(AnalysisStore::campaign_aliases(&mut store)).into_iter().map(|a| a.alias).collect();
    let pass = ok(clusterer.recluster(&mut store));

    let mut expected = campaign::cluster(&inputs, &Config::default());
    let aliases = campaign::carry_ids(&inputs, &mut expected, &previous, &taken);
    assert!(pass.campaigns >= 2 && pass.campaigns == expected.campaigns.len(), "{pass:?}");
    let phase = |p: Option<smishtrap_intel::Phase>| {
        p.map(|p| if p == smishtrap_intel::Phase::Wave { "wave" } else { "validation" }.to_owned())
    };
    let assignments: Vec<(Option<String>, Option<String>)> =
        expected.assignments.iter().map(|a| (a.campaign.clone(), phase(a.phase))).collect();
    assert_eq!(stored(&store), assignments);
    let mut summaries: Vec<String> =
        ok(store.all_campaigns()).into_iter().map(|c| c.summary).collect();
    let mut want: Vec<String> =
        expected.campaigns.iter().map(|c| ok(serde_json::to_string(c))).collect();
    summaries.sort();
    want.sort();
    assert_eq!(summaries, want);
    let stored_aliases: Vec<(String, String)> =
        ok(store.campaign_aliases()).into_iter().map(|a| (a.alias, a.id)).collect();
    let want_aliases: Vec<(String, String)> =
        aliases.into_iter().map(|a| (a.alias, a.id)).collect();
    assert_eq!(stored_aliases, want_aliases);
}
