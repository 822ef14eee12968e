//! Analysed messages and campaigns written the way the analysis does: the real engine on SMS
//! records, real clustering, then `insert_messages` and `apply_clustering`. Shared by the
//! tests (`common`) and the load example (`#[path]`).

#![allow(dead_code, unreachable_pub, reason = "each user takes part of it")]

use std::path::Path;

use smishtrap_event::SmsRecord;
use smishtrap_intel::campaign::{self, Campaign, CampaignInput};
use smishtrap_intel::{Analysis, AnalyzeOptions, Engine, Verdict};
use smishtrap_store::{
    AssignmentChange, CLUSTERED_CURSOR, CampaignRow, NewMessage, SqliteStore, db_path,
};

/// What was written.
#[derive(Debug)]
pub struct Seeded {
    pub messages: Vec<NewMessage>,
    pub analyses: Vec<Analysis>,
    pub campaigns: Vec<Campaign>,
    /// Campaign and phase per message, in record order.
    pub assignments: Vec<campaign::Assignment>,
}

pub fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::Smishing => "smishing",
        Verdict::Spam => "spam",
        Verdict::Ham => "ham",
    }
}

pub fn micros(ts: Option<&str>) -> Option<i64> {
    ts.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| t.timestamp_micros())
}

/// The store row of a record and its analysis.
pub fn new_message(record: &SmsRecord, analysis: &Analysis, origin: &str) -> NewMessage {
    let mut domains: Vec<String> = Vec::new();
    for u in &analysis.urls {
        domains.push(u.host.to_ascii_lowercase());
        if let Some(d) = &u.registrable_domain {
            domains.push(d.to_ascii_lowercase());
        }
    }
    NewMessage {
        id: analysis.id.clone(),
        // Captures are `<event id>` or `<event id>#<n>` (one record per recipient).
        event_id: (origin == "sensor")
            .then(|| analysis.id.split('#').next().unwrap_or_default().to_owned()),
        origin: origin.into(),
        ts_micros: micros(record.ts.as_deref()).unwrap_or(0),
        recipient: analysis.recipient.as_ref().map(|n| n.e164.clone()),
        country: analysis.recipient.as_ref().and_then(|n| n.country.clone()),
        sender: analysis.sender.as_ref().map(|n| n.e164.clone()),
        router: record.router.clone(),
        src_ip: record.src_ip.clone(),
        text: record.text.clone(),
        lang: analysis.lang.clone(),
        verdict: verdict_str(analysis.verdict).into(),
        score: analysis.score,
        brand: analysis.brand.clone(),
        domains,
        record: serde_json::to_string(record).unwrap_or_default(),
        analysis: serde_json::to_string(analysis).unwrap_or_default(),
    }
}

pub fn campaign_row(c: &Campaign) -> CampaignRow {
    CampaignRow {
        id: c.id.clone(),
        first_seen: micros(c.first_seen.as_deref()),
        last_seen: micros(c.last_seen.as_deref()),
        message_count: c.message_count as i64,
        brand: c.brand.clone(),
        summary: serde_json::to_string(c).unwrap_or_default(),
    }
}

/// Analyses and clusters `records` (ids are the records' ids), and writes them into the
/// store of `data_dir`, which must hold no messages yet (message `seq` is the record's
/// position + 1).
pub fn seed(data_dir: &Path, records: &[SmsRecord], origin: &str) -> Seeded {
    let seeded = insert(data_dir, records, origin);
    apply(data_dir, &seeded);
    seeded
}

/// Analyses, clusters and stores the messages, without their campaigns yet (as the analysis
/// does before the clustering catches up).
pub fn insert(data_dir: &Path, records: &[SmsRecord], origin: &str) -> Seeded {
    let engine = Engine::builtin().expect("builtin engine");
    let options = AnalyzeOptions::default();
    let analyses: Vec<Analysis> = records
        .iter()
        .enumerate()
        .map(|(i, r)| engine.analyze(r, r.id.clone().unwrap_or_else(|| i.to_string()), &options))
        .collect();
    let inputs: Vec<CampaignInput> = records
        .iter()
        .zip(&analyses)
        .enumerate()
        .map(|(i, (r, a))| CampaignInput::new(i, r, a))
        .collect();
    let clustering = campaign::cluster(&inputs, &campaign::Config::default());
    let messages: Vec<NewMessage> =
        records.iter().zip(&analyses).map(|(r, a)| new_message(r, a, origin)).collect();
    let mut store = SqliteStore::open(&db_path(data_dir)).expect("open store");
    for chunk in messages.chunks(4096) {
        store.insert_messages(chunk, None).expect("insert messages");
    }
    Seeded {
        messages,
        analyses,
        campaigns: clustering.campaigns,
        assignments: clustering.assignments,
    }
}

/// Writes the campaigns and assignments of `seeded` and moves the clustering cursor past
/// its messages.
pub fn apply(data_dir: &Path, seeded: &Seeded) {
    let mut store = SqliteStore::open(&db_path(data_dir)).expect("open store");
    let changes: Vec<AssignmentChange> = seeded
        .assignments
        .iter()
        .enumerate()
        .filter(|(_, a)| a.campaign.is_some())
        .map(|(i, a)| AssignmentChange {
            seq: i as i64 + 1,
            campaign: a.campaign.clone(),
            phase: a.phase.map(|p| match p {
                smishtrap_intel::Phase::Wave => "wave".to_owned(),
                smishtrap_intel::Phase::Validation => "validation".to_owned(),
            }),
        })
        .collect();
    let rows: Vec<CampaignRow> = seeded.campaigns.iter().map(campaign_row).collect();
    store
        .apply_clustering(&changes, &rows, Some((CLUSTERED_CURSOR, seeded.messages.len() as i64)))
        .expect("apply clustering");
}

/// An SMS record as a router outbox export has it.
pub fn record(id: &str, ts: &str, to: &str, router: &str, text: &str) -> SmsRecord {
    SmsRecord {
        id: Some(id.into()),
        ts: Some(ts.into()),
        to: Some(to.into()),
        direction: Some("outbound".into()),
        status: Some("sent".into()),
        router: Some(router.into()),
        src_ip: Some("203.0.113.7".into()),
        text: text.into(),
        ..Default::default()
    }
}
