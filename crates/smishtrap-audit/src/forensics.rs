//! Mailbox forensics: every message read from a target is analysed by the engine (verdict,
//! brand, links, recipient country) and turned into a store row, so campaigns seen through the
//! audit join those seen by sensors. An outbox with smishing makes an `outbox-abused` finding.

use std::collections::BTreeMap;

use serde::Serialize;
use smishtrap_event::SmsRecord;
use smishtrap_intel::{AnalyzeOptions, Engine, Phase, Verdict};
use smishtrap_store::NewMessage;

use crate::audit::TargetReport;
use crate::finding::{Check, Finding, Severity};
use crate::reply::Mailbox;
use crate::text::shown;

/// `origin` of stored audit messages.
pub const ORIGIN: &str = "audit";
/// Most brands, hosts or countries listed in one finding.
const MAX_LISTED: usize = 8;

/// What the outbox of one target shows.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Abuse {
    pub smishing: usize,
    pub spam: usize,
    pub ham: usize,
    /// Validation sends: the engine's validation phase, or sends the device reports failed.
    pub validation_sends: usize,
    /// Earliest device time of a smishing message (as the device renders it).
    pub first_seen: Option<String>,
    pub brands: BTreeMap<String, usize>,
    /// Link hosts of smishing messages, defanged.
    pub hosts: BTreeMap<String, usize>,
    pub recipient_countries: BTreeMap<String, usize>,
}

/// Analyses a target's messages; adds the `outbox-abused` finding when its outbox holds
/// smishing and returns the rows to store (`router` names the target, `fallback_micros` is
/// used for messages without a readable time).
pub fn analyse(
    report: &mut TargetReport,
    engine: &Engine,
    options: &AnalyzeOptions,
    fallback_micros: i64,
) -> (Option<Abuse>, Vec<NewMessage>) {
    let router = report.target.to_string();
    let mut abuse = Abuse::default();
    let mut rows = Vec::with_capacity(report.messages.len());
    for (i, m) in report.messages.iter().enumerate() {
        let outbox = m.mailbox == Mailbox::Outbox;
        let record = SmsRecord {
            id: None,
            ts: m.time.clone(),
            to: outbox.then(|| m.number.clone()),
            from: (!outbox).then(|| m.number.clone()),
            direction: Some(if outbox { "outbound" } else { "inbound" }.to_owned()),
            status: m.status.clone(),
            router: Some(router.clone()),
            router_country: None,
            source: Some(format!("audit:{}", if outbox { "outbox" } else { "inbox" })),
            src_ip: None,
            text: m.text.clone(),
        };
        let id = smishtrap_analyst::import_id(&record, i as u64 + 1);
        let analysis = engine.analyze(&record, id, options);
        if outbox {
            match analysis.verdict {
                Verdict::Smishing => abuse.smishing += 1,
                Verdict::Spam => abuse.spam += 1,
                Verdict::Ham => abuse.ham += 1,
            }
            if analysis.phase == Some(Phase::Validation) || m.status.as_deref() == Some("failed") {
                abuse.validation_sends += 1;
            }
            if analysis.verdict == Verdict::Smishing {
                if let Some(t) = &m.time
                    && abuse.first_seen.as_ref().is_none_or(|f| t < f)
                {
                    abuse.first_seen = Some(t.clone());
                }
                if let Some(b) = &analysis.brand {
                    *abuse.brands.entry(shown(b, 64)).or_default() += 1;
                }
                for u in &analysis.urls {
                    *abuse
                        .hosts
                        .entry(shown(&smishtrap_extract::defang(&u.host), 128))
                        .or_default() += 1;
                }
                if let Some(c) = analysis.recipient.as_ref().and_then(|r| r.country.as_ref()) {
                    *abuse.recipient_countries.entry(shown(c, 8)).or_default() += 1;
                }
            }
        }
        rows.push(smishtrap_analyst::message_of(&record, &analysis, ORIGIN, None, fallback_micros));
    }
    if abuse.smishing == 0 {
        return (None, rows);
    }
    let list = |m: &BTreeMap<String, usize>| {
        let mut v: Vec<(&String, &usize)> = m.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.iter().take(MAX_LISTED).map(|(k, n)| format!("{k} ({n})")).collect::<Vec<_>>().join(", ")
    };
    let mut f = Finding::new(
        Check::OutboxAbused,
        Severity::Critical,
        format!("the outbox holds {} smishing message(s): this router is sending fraud", abuse.smishing),
    )
    .evidence(format!("outbox verdicts: {} smishing, {} spam, {} ham", abuse.smishing, abuse.spam, abuse.ham))
    .fix("lock the SMS API and the web UI, change every password, keep the outbox as evidence, report the campaign to the operator and CERT");
    if let Some(t) = &abuse.first_seen {
        f = f.evidence(format!("first smishing seen {}", shown(t, 32)));
    }
    if abuse.validation_sends > 0 {
        f = f.evidence(format!("{} validation send(s)", abuse.validation_sends));
    }
    for (label, map) in [
        ("brands", &abuse.brands),
        ("link hosts", &abuse.hosts),
        ("recipient countries", &abuse.recipient_countries),
    ] {
        if !map.is_empty() {
            f = f.evidence(format!("{label}: {}", list(map)));
        }
    }
    report.findings.push(f);
    (Some(abuse), rows)
}
