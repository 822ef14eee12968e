//! A clustering write that stops midway (a crash, `kill -9`, an error) leaves the
//! transactions it committed; the next pass over the same messages stores exactly what the
//! write would have: the same assignments, campaigns and aliases.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{fixture_copies, ok};
use smishtrap_analyst::{Clusterer, message_of};
use smishtrap_event::SmsRecord;
use smishtrap_intel::campaign::{self, Config};
use smishtrap_intel::{AnalyzeOptions, Engine};
use smishtrap_store::{CLUSTERED_CURSOR, NewMessage, SqliteStore, WriteChunks};

const LURE: &str = "CSAM: uw digitale identiteit verloopt vandaag. Bevestig uw gegevens via \
                    https://login.csam-be.info/verify om blokkering te voorkomen";
const OTHER: &str = "CSAM: uw account wordt morgen geblokkeerd. Log nu in op \
                     https://mijn-csam.top/x en bevestig uw rijksregisternummer";
const BRIDGE: &str = "CSAM: bevestig via https://login.csam-be.info/verify of \
                      https://mijn-csam.top/x om blokkering van uw account te voorkomen";

/// An outbound smishing text `secs` after 2025-07-22 10:00 UTC from `router`.
fn sms(id: &str, secs: i64, to: &str, router: &str, text: &str) -> SmsRecord {
    SmsRecord {
        id: Some(id.into()),
        ts: Some(campaign::format_ts(1_753_178_400 + secs)),
        to: Some(to.into()),
        direction: Some("out".into()),
        source: Some("outbox".into()),
        router: Some(router.into()),
        text: text.into(),
        ..Default::default()
    }
}

/// Two campaigns two months apart (`first`..`first + n` of the older one), and the fixture.
fn waves(first: usize, n: usize) -> Vec<SmsRecord> {
    let later = 60 * 86_400;
    let mut out: Vec<SmsRecord> = (first..first + n)
        .map(|i| sms(&format!("a{i}"), i as i64, &format!("+324701234{i:02}"), "UR-a", LURE))
        .collect();
    if first == 0 {
        out.extend((0..6).map(|i| {
            sms(&format!("b{i}"), later + i, &format!("+324809999{i:02}"), "UR-b", OTHER)
        }));
    }
    out
}

fn rows(records: &[SmsRecord]) -> Vec<NewMessage> {
    let engine = ok(Engine::builtin());
    let options = AnalyzeOptions::default();
    records
        .iter()
        .map(|r| {
            let id = r.id.clone().unwrap_or_default();
            message_of(r, &engine.analyze(r, id, &options), "import", None, 0)
        })
        .collect()
}

/// Messages clustered before (`before`) and messages stored since (`since`).
struct Scenario {
    before: Vec<NewMessage>,
    since: Vec<NewMessage>,
}

impl Scenario {
    /// An unclustered store: the first pass assigns every message.
    fn first_pass() -> Scenario {
        let mut records = fixture_copies(3);
        records.extend(waves(0, 4));
        Scenario { before: Vec::new(), since: rows(&records) }
    }

    /// A clustered store that grows: a third copy of the fixture, a campaign that grows and
    /// a message linking two campaigns (a merge: an alias).
    fn later_pass() -> Scenario {
        let mut before = fixture_copies(2);
        let mut since = fixture_copies(3).split_off(before.len());
        before.extend(waves(0, 4));
        since.extend(waves(4, 3));
        since.push(sms("bridge", 60 * 86_400 + 100, "+32470555555", "UR-c", BRIDGE));
        Scenario { before: rows(&before), since: rows(&since) }
    }

    /// The store at `path` right before the pass: the earlier messages clustered, the later
    /// ones joined to known campaigns. Its writes commit every 5 rows.
    fn prepare(&self, path: &Path) -> (SqliteStore, Clusterer) {
        let mut store = ok(SqliteStore::open(path));
        store.set_write_chunks(WriteChunks {
            rows: 5,
            hold: Duration::from_secs(60),
            gap: Duration::ZERO,
        });
        if !self.before.is_empty() {
            ok(store.insert_messages(&self.before, None));
            let mut clusterer = Clusterer::new(Config::default());
            ok(clusterer.load_new(&mut store));
            ok(clusterer.recluster(&mut store));
        }
        ok(store.insert_messages(&self.since, None));
        let clusterer = loaded(&mut store);
        (store, clusterer)
    }
}

/// A clusterer of a process started now, with new messages joined to known campaigns.
fn loaded(store: &mut SqliteStore) -> Clusterer {
    let mut clusterer = Clusterer::new(Config::default());
    ok(clusterer.load_new(store));
    ok(clusterer.assign_known(store));
    clusterer
}

/// Assignments by row.
type Assigned = Vec<(i64, Option<String>, Option<String>)>;

/// Everything a clustering write decides: assignments, campaigns (id, message count, summary)
/// and aliases, by id, and the clustering cursor.
type Snapshot = (Assigned, Vec<(String, i64, String)>, Vec<(String, String)>, i64);

fn snapshot(store: &SqliteStore) -> Snapshot {
    let assigned =
        ok(store.messages_after(0, 100_000)).into_iter().map(|m| (m.seq, m.campaign, m.phase));
    let mut campaigns: Vec<(String, i64, String)> =
        ok(store.all_campaigns()).into_iter().map(|c| (c.id, c.message_count, c.summary)).collect();
    campaigns.sort();
    let aliases = ok(store.campaign_aliases()).into_iter().map(|a| (a.alias, a.id)).collect();
    (assigned.collect(), campaigns, aliases, ok(store.cursor(CLUSTERED_CURSOR)))
}

/// Makes the `k`-th `event` (a trigger's, e.g. `UPDATE OF campaign ON messages`) in the store
/// fail, counting across transactions, or forgets that when `k` is `None`.
fn stop_at(path: &Path, event: &str, k: Option<usize>) {
    let conn = ok(rusqlite::Connection::open(path));
    ok(conn.busy_timeout(Duration::from_secs(10)));
    let sql = match k {
        Some(k) => format!(
            "CREATE TABLE hits (n INTEGER NOT NULL); INSERT INTO hits VALUES (0);
             CREATE TRIGGER stop AFTER {event} BEGIN
                 UPDATE hits SET n = n + 1;
                 SELECT RAISE(ABORT, 'stopped midway') WHERE (SELECT n FROM hits) >= {k};
             END;"
        ),
        None => "DROP TRIGGER stop; DROP TABLE hits;".to_owned(),
    };
    ok(conn.execute_batch(&sql));
}

/// A write stopped at any of its steps (aliases and first assignments, later assignments,
/// campaign rows added with their messages, summaries, the last transaction) leaves a store
/// from which the next process's pass stores what one uninterrupted pass stores.
#[test]
fn an_interrupted_clustering_write_converges_on_the_next_pass() {
    for (name, scenario) in [("first", Scenario::first_pass()), ("later", Scenario::later_pass())] {
        let dir = ok(tempfile::tempdir());
        let (mut store, mut clusterer) = scenario.prepare(&dir.path().join("reference.db"));
        let before = snapshot(&store);
        let pass = ok(clusterer.recluster(&mut store));
        let reference = snapshot(&store);
        assert!(pass.changed >= 10 && pass.campaigns >= 3, "{name}: {pass:?}");
        if name == "later" {
            assert!(!reference.2.is_empty(), "the later pass merges two campaigns");
        }
        let n = pass.changed;
        let stops = [
            // the aliases are written first, before any assignment
            ("INSERT ON campaign_aliases", 1),
            ("UPDATE OF campaign ON messages", 1),
            ("UPDATE OF campaign ON messages", 7),
            ("UPDATE OF campaign ON messages", n / 2),
            ("UPDATE OF campaign ON messages", n),
            ("INSERT ON campaigns", 2),
            ("UPDATE ON campaigns", 1),
            ("DELETE ON campaigns", 1),
        ];
        let mut partial = 0;
        for (i, (event, k)) in stops.into_iter().enumerate() {
            let path = dir.path().join(format!("stopped-{i}.db"));
            let (mut store, mut clusterer) = scenario.prepare(&path);
            stop_at(&path, event, Some(k));
            let stopped = clusterer.recluster(&mut store);
            stop_at(&path, event, None);
            let midway = snapshot(&store);
            // a step the pass never reaches (no update or delete of a campaign) stops nothing
            if stopped.is_ok() {
                assert_eq!(midway, reference, "{name}: {event} {k}");
                continue;
            }
            if midway != before && midway != reference {
                partial += 1;
            }
            drop(clusterer);
            let mut next = loaded(&mut store);
            ok(next.recluster(&mut store));
            assert_eq!(snapshot(&store), reference, "{name}: stopped at {event} {k}");
        }
        assert!(partial >= 3, "{name}: only {partial} writes stopped midway");
    }
}
