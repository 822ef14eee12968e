//! Bulk import through a real store: idempotent, and the features it hands the clusterer
//! (only what can cluster) give the same campaigns as reading every message back.

mod common;

use std::sync::Arc;

use common::{fixture_copies, ok};

use smishtrap_analyst::{
    Clusterer, Features, Feed, ImportConfig, ImportTotals, Parsed, import, import_id, message_of,
};
use smishtrap_event::SmsRecord;
use smishtrap_intel::campaign::{self, CampaignInput, Config};
use smishtrap_intel::{AnalyzeOptions, Engine};
use smishtrap_store::{
    AnalysisStore, BulkSink, CampaignRow, MessageQuery, NewMessage, SqliteStore,
};

/// The fixture's campaigns in three copies (other routers and numbers, days apart), plus ham
/// with links (some to the lures' domains), spam, and short outbound texts.
fn records() -> Vec<SmsRecord> {
    let mut out = fixture_copies(3);
    let ham = [
        "Your parcel from https://www.bpost.be/track was delivered, thanks",
        "see https://csam-sleutel.top/nl/info for the meeting notes tomorrow",
        "Lunch at 12? The menu is on https://example.org/menu",
        "love you, call me when you land",
    ];
    for (i, text) in ham.iter().enumerate() {
        out.push(SmsRecord {
            id: Some(format!("ham-{i}")),
            ts: Some(format!("2025-03-1{i}T08:00:00Z")),
            from: Some(format!("+3247000000{i}")),
            direction: Some("in".into()),
            text: (*text).into(),
            ..Default::default()
        });
    }
    for i in 0..5 {
        out.push(SmsRecord {
            id: Some(format!("out-{i}")),
            ts: Some(format!("2025-03-10T06:5{i}:00Z")),
            to: Some("+37060000111".into()),
            router: Some("UR35-1000001-0".into()),
            direction: Some("out".into()),
            status: Some("sent".into()),
            text: ["hi", "test 2", "WIN a FREE cruise now, reply YES", "ok", "x"][i].into(),
            ..Default::default()
        });
    }
    out
}

/// Imports `records` in pieces of 7 (so batches and pieces do not line up with anything).
fn import_all<S: BulkSink>(
    store: &mut S,
    records: &[SmsRecord],
    clusterer: Option<&mut Clusterer>,
) -> ImportTotals {
    let engine = ok(Engine::builtin());
    let source: Arc<str> = Arc::from("test.jsonl");
    let numbered: Vec<(u64, SmsRecord)> = (1..).zip(records.iter().cloned()).collect();
    let feed = numbered
        .chunks(7)
        .map(|c| Feed::Records { source: source.clone(), items: c.to_vec() })
        .collect::<Vec<_>>()
        .into_iter();
    let config = ImportConfig { jobs: 2, started_micros: 0 };
    ok(import(
        store,
        feed,
        |(line, record)| Parsed::Record { record: Box::new(record), line, warning: None },
        &engine,
        &AnalyzeOptions::default(),
        &config,
        clusterer,
        |_| {},
    ))
}

/// Every stored message's (id, campaign, phase), and the campaign rows.
type State = (Vec<(String, Option<String>, Option<String>)>, Vec<CampaignRow>);

fn state<S: AnalysisStore>(store: &mut S) -> State {
    let mut messages: Vec<_> = ok(store.messages(&MessageQuery::default(), 10_000))
        .into_iter()
        .map(|m| (m.message.id, m.campaign, m.phase))
        .collect();
    messages.sort();
    (messages, ok(store.campaigns(None, None, 10_000)))
}

#[test]
fn imports_are_idempotent_and_cluster_like_a_full_read() {
    let records = records();
    let dir = ok(tempfile::tempdir());

    // handed features (only what can cluster)
    let mut a = ok(SqliteStore::open(&dir.path().join("a.db")));
    let mut clusterer = Clusterer::new(Config::default());
    ok(clusterer.load_new(&mut a));
    let totals = import_all(&mut a, &records, Some(&mut clusterer));
    assert_eq!(
        (totals.records, totals.new, totals.bad),
        (records.len() as u64, records.len() as u64, 0)
    );
    ok(clusterer.verify_held(&mut a));
    assert_eq!(clusterer.len(), records.len());
    let pass = ok(clusterer.recluster(&mut a));
    assert!(pass.campaigns >= 2, "{pass:?}");

    // read back from the store by a fresh clusterer
    let mut b = ok(SqliteStore::open(&dir.path().join("b.db")));
    import_all(&mut b, &records, None);
    let mut fresh = Clusterer::new(Config::default());
    ok(fresh.load_new(&mut b));
    ok(fresh.recluster(&mut b));
    assert_eq!(state(&mut a), state(&mut b));

    // the clustering of every message's full features, as `campaigns FILE` does
    let engine = ok(Engine::builtin());
    let inputs: Vec<CampaignInput> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let analysis =
                engine.analyze(r, import_id(r, i as u64 + 1), &AnalyzeOptions::default());
            CampaignInput::new(i, r, &analysis)
        })
        .collect();
    let full = campaign::cluster(&inputs, &Config::default());
    let summaries: Vec<String> = ok(a.all_campaigns()).into_iter().map(|c| c.summary).collect();
    let mut expected: Vec<String> =
        full.campaigns.iter().map(|c| ok(serde_json::to_string(c))).collect();
    let mut got = summaries.clone();
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "same campaigns, samples and indicators");

    // importing again stores nothing new and changes nothing
    let before = state(&mut a);
    let again = import_all(&mut a, &records, None);
    assert_eq!((again.records, again.new), (records.len() as u64, 0));
    assert_eq!(state(&mut a), before);
}

#[test]
fn another_writer_between_handed_rows_is_read_back() {
    let records = records();
    let engine = ok(Engine::builtin());
    let cfg = Config::default();
    let dir = ok(tempfile::tempdir());
    let mut store = ok(SqliteStore::open(&dir.path().join("s.db")));
    let rows: Vec<_> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let analysis =
                engine.analyze(r, import_id(r, i as u64 + 1), &AnalyzeOptions::default());
            (message_of(r, &analysis, "import", None, 0), Features::new(r, &analysis, &cfg))
        })
        .collect();
    let (first, rest) = rows.split_at(rows.len() / 2);
    let (other, rest) = rest.split_at(3);
    let mut clusterer = Clusterer::new(cfg.clone());
    ok(clusterer.load_new(&mut store));
    fn hand(store: &mut SqliteStore, clusterer: &mut Clusterer, part: &[(NewMessage, Features)]) {
        let (messages, features): (Vec<NewMessage>, Vec<Features>) = part.iter().cloned().unzip();
        for (seq, f) in ok(store.insert_messages_bulk(&messages)).into_iter().zip(features) {
            if let Some(seq) = seq {
                clusterer.hold_stored(seq, f);
            }
        }
    }
    hand(&mut store, &mut clusterer, first);
    // stored by someone else, never handed
    let others: Vec<_> = other.iter().map(|(m, _)| m.clone()).collect();
    ok(store.insert_messages(&others, None));
    hand(&mut store, &mut clusterer, rest);
    ok(clusterer.verify_held(&mut store));
    assert_eq!(clusterer.len(), records.len());
    ok(clusterer.recluster(&mut store));
    let got = state(&mut store);

    let mut fresh = Clusterer::new(cfg);
    ok(fresh.load_new(&mut store));
    ok(fresh.recluster(&mut store));
    assert_eq!(state(&mut store), got, "a full read changes nothing");
}

/// `import --store postgres://…`: the same import into PostgreSQL (COPY batches) stores and
/// clusters exactly what the SQLite import does, searchable, and a rerun stores nothing.
/// Needs a server (`SMISHTRAP_TEST_POSTGRES`, default `host=127.0.0.1 user=postgres`).
#[cfg(feature = "postgres")]
#[test]
fn imports_into_postgresql_store_and_cluster_what_sqlite_does() {
    struct Schema(String, String);
    impl Drop for Schema {
        fn drop(&mut self) {
            if let Ok(mut client) = postgres::Client::connect(&self.1, postgres::NoTls) {
                let _ =
                    client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.0));
            }
        }
    }
    let conninfo = std::env::var("SMISHTRAP_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=postgres".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let schema = Schema(format!("analyst_import_{}_{nanos}", std::process::id()), conninfo.clone());
    let records = records();

    let dir = ok(tempfile::tempdir());
    let mut lite = ok(SqliteStore::open(&dir.path().join("a.db")));
    let mut clusterer = Clusterer::new(Config::default());
    ok(clusterer.load_new(&mut lite));
    import_all(&mut lite, &records, Some(&mut clusterer));
    ok(clusterer.verify_held(&mut lite));
    ok(clusterer.recluster(&mut lite));

    let mut pg = ok(smishtrap_store::PostgresStore::open(&conninfo, &schema.0));
    let mut clusterer = Clusterer::new(Config::default());
    ok(clusterer.load_new(&mut pg));
    let totals = import_all(&mut pg, &records, Some(&mut clusterer));
    assert_eq!((totals.records, totals.new), (records.len() as u64, records.len() as u64));
    ok(clusterer.verify_held(&mut pg));
    assert_eq!(clusterer.len(), records.len());
    let pass = ok(clusterer.recluster(&mut pg));
    assert!(pass.campaigns >= 2, "{pass:?}");
    assert_eq!(state(&mut pg), state(&mut lite));
    for search in ["csam", "WIN a FREE", "https://"] {
        let query = MessageQuery { text: Some(search.into()), ..Default::default() };
        let ids = |s: &mut dyn AnalysisStore| -> Vec<String> {
            ok(s.messages(&query, 1000)).into_iter().map(|m| m.message.id).collect()
        };
        let found = ids(&mut pg);
        assert!(!found.is_empty(), "{search}");
        assert_eq!(found, ids(&mut lite), "{search}");
    }
    let before = state(&mut pg);
    let again = import_all(&mut pg, &records, None);
    assert_eq!((again.records, again.new), (records.len() as u64, 0));
    assert_eq!(state(&mut pg), before);
}
