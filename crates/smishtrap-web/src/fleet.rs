//! The Fleet page and `/api/v1/fleet`: what `smishtrap audit --data` stored about each router
//! (the latest audit of each target), as display strings: everything escaped, URLs and hosts
//! in device and finding text (titles, evidence, certificate names) defanged. The stored JSON
//! is the audit crate's; this module reads only the fields it shows, and a row it cannot read
//! is counted, never a failure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use smishtrap_store::AuditRow;

use crate::findings::{safe_id, shown, when_micros};
use crate::view::clip;

/// Most targets read for the page and the API (the rest are counted, not shown).
pub const MAX_FLEET_TARGETS: usize = 2000;
/// Longest device field, title or evidence line shown, in characters.
const MAX_FIELD_CHARS: usize = 300;
/// Most findings, evidence lines and campaigns shown per target.
const MAX_LIST: usize = 64;

const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StoredTarget {
    schema: u32,
    target: String,
    url: Option<String>,
    device: StoredDevice,
    certificate: Option<StoredCert>,
    findings: Vec<StoredFinding>,
    mailbox_access: Option<String>,
    messages_read: usize,
    campaigns: Vec<StoredCampaign>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StoredDevice {
    vendor: Option<String>,
    model: Option<String>,
    firmware: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StoredCert {
    subject: String,
    issuer: String,
    not_after: Option<String>,
    sha256: String,
    self_signed: bool,
    expired: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StoredFinding {
    check: String,
    severity: String,
    title: String,
    evidence: Vec<String>,
    remediation: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StoredCampaign {
    id: String,
    messages: usize,
}

/// A name and how many targets have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub name: String,
    pub targets: usize,
}

/// A campaign a router's mailbox messages joined.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignLink {
    pub id: String,
    pub messages: usize,
    /// Whether the id can go into a link (always, for ids the clustering makes).
    #[serde(skip)]
    pub linkable: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingView {
    pub check: String,
    pub severity: String,
    pub title: String,
    pub evidence: Vec<String>,
    pub remediation: String,
}

/// One audited target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetView {
    pub target: String,
    pub url: String,
    pub vendor: String,
    pub model: String,
    pub firmware: String,
    pub worst: String,
    /// When its audit started (UTC).
    pub audited: String,
    pub mailbox_access: String,
    pub messages_read: usize,
    /// Subject, issuer, expiry and fingerprint of its HTTPS certificate.
    pub certificate: String,
    pub findings: Vec<FindingView>,
    pub campaigns: Vec<CampaignLink>,
}

impl TargetView {
    /// Its findings but the identification, as `check,check` (worst first).
    pub fn checks(&self) -> String {
        let v: Vec<&str> = self
            .findings
            .iter()
            .filter(|f| f.check != "identified")
            .map(|f| f.check.as_str())
            .collect();
        if v.is_empty() { "-".to_owned() } else { v.join(", ") }
    }

    pub fn abused(&self) -> bool {
        self.findings.iter().any(|f| f.check == "outbox-abused")
    }
}

/// The whole fleet as stored.
#[derive(Debug, Clone, Serialize)]
pub struct FleetView {
    /// Targets with a stored audit.
    pub stored: u64,
    /// Rows that did not decode (written by a newer smishtrap).
    pub unreadable: usize,
    /// Targets with each finding, most first.
    pub by_check: Vec<Count>,
    /// Targets by their worst finding, critical first.
    pub by_severity: Vec<Count>,
    /// `vendor model firmware` of identified targets, most first.
    pub firmware: Vec<Count>,
    /// Routers whose outbox holds smishing (their targets; details in `targets`).
    pub abused: Vec<String>,
    /// Worst first, then by target; at most [`MAX_FLEET_TARGETS`].
    pub targets: Vec<TargetView>,
}

/// Device or attacker text (titles, evidence): escaped, URLs and hosts defanged.
fn field(s: Option<&str>) -> String {
    s.map(|s| clip(&shown(s), MAX_FIELD_CHARS)).unwrap_or_default()
}

/// The operator's own names (targets, device names, ids): escaped, not defanged.
fn name(s: Option<&str>) -> String {
    s.map(|s| clip(&smishtrap_extract::safe::escaped(s, 4 * MAX_FIELD_CHARS), MAX_FIELD_CHARS))
        .unwrap_or_default()
}

fn rank(severity: &str) -> usize {
    SEVERITIES.iter().position(|s| *s == severity).unwrap_or(SEVERITIES.len())
}

fn counted(map: BTreeMap<String, usize>) -> Vec<Count> {
    let mut v: Vec<Count> =
        map.into_iter().map(|(name, targets)| Count { name, targets }).collect();
    v.sort_by(|a, b| b.targets.cmp(&a.targets).then_with(|| a.name.cmp(&b.name)));
    v
}

fn target_view(row: &AuditRow, t: StoredTarget) -> TargetView {
    let mut findings: Vec<FindingView> = t
        .findings
        .into_iter()
        .take(MAX_LIST)
        .map(|f| FindingView {
            check: name(Some(&f.check)),
            severity: name(Some(&f.severity)),
            title: field(Some(&f.title)),
            evidence: f.evidence.iter().take(MAX_LIST).map(|e| field(Some(e))).collect(),
            remediation: field(Some(&f.remediation)),
        })
        .collect();
    findings.sort_by_key(|f| rank(&f.severity));
    let certificate = t.certificate.map_or_else(String::new, |c| {
        format!(
            "subject {}; issuer {}{}; valid until {}{}; sha256 {}",
            field(Some(&c.subject)),
            field(Some(&c.issuer)),
            if c.self_signed { " (self-signed)" } else { "" },
            name(c.not_after.as_deref()),
            if c.expired { " (expired)" } else { "" },
            name(Some(&c.sha256)),
        )
    });
    TargetView {
        // the row's key, not the JSON's copy, names the target
        target: name(Some(&row.target)),
        url: name(t.url.as_deref()),
        vendor: name(t.device.vendor.as_deref()),
        model: name(t.device.model.as_deref()),
        firmware: name(t.device.firmware.as_deref()),
        worst: name(Some(&row.worst)),
        audited: when_micros(row.audited),
        mailbox_access: name(t.mailbox_access.as_deref()),
        messages_read: t.messages_read,
        certificate,
        findings,
        campaigns: t
            .campaigns
            .into_iter()
            .take(MAX_LIST)
            .map(|c| CampaignLink {
                linkable: safe_id(&c.id),
                id: name(Some(&c.id)),
                messages: c.messages,
            })
            .collect(),
    }
}

impl FleetView {
    /// The view of the stored rows (`stored` targets in all, `rows` the ones read).
    pub fn of(stored: u64, rows: &[AuditRow]) -> FleetView {
        let mut unreadable = 0;
        let mut targets = Vec::with_capacity(rows.len());
        for row in rows {
            match serde_json::from_str::<StoredTarget>(&row.report) {
                Ok(t) if t.schema == 1 => targets.push(target_view(row, t)),
                _ => unreadable += 1,
            }
        }
        targets.sort_by(|a, b| {
            rank(&a.worst).cmp(&rank(&b.worst)).then_with(|| a.target.cmp(&b.target))
        });
        let mut by_check = BTreeMap::new();
        let mut by_severity = BTreeMap::new();
        let mut firmware = BTreeMap::new();
        for t in &targets {
            let mut checks: Vec<&str> = t.findings.iter().map(|f| f.check.as_str()).collect();
            checks.sort_unstable();
            checks.dedup();
            for c in checks {
                *by_check.entry(c.to_owned()).or_default() += 1;
            }
            *by_severity.entry(t.worst.clone()).or_default() += 1;
            if !t.model.is_empty() || !t.firmware.is_empty() {
                let name = [&t.vendor, &t.model, &t.firmware]
                    .iter()
                    .map(|s| if s.is_empty() { "?" } else { s.as_str() })
                    .collect::<Vec<_>>()
                    .join(" ");
                *firmware.entry(name).or_default() += 1;
            }
        }
        let mut by_severity: Vec<Count> =
            by_severity.into_iter().map(|(name, targets)| Count { name, targets }).collect();
        by_severity.sort_by_key(|c| rank(&c.name));
        FleetView {
            stored,
            unreadable,
            by_check: counted(by_check),
            by_severity,
            firmware: counted(firmware),
            abused: targets.iter().filter(|t| t.abused()).map(|t| t.target.clone()).collect(),
            targets,
        }
    }

    /// More targets are stored than were read.
    pub fn partial(&self) -> bool {
        ((self.targets.len() + self.unreadable) as u64) < self.stored
    }

    /// The abused routers, worst first, with their index in `targets`.
    pub fn abused_targets(&self) -> Vec<(usize, &TargetView)> {
        self.targets.iter().enumerate().filter(|(_, t)| t.abused()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(target: &str, worst: &str, report: serde_json::Value) -> AuditRow {
        AuditRow {
            target: target.to_owned(),
            audited: 1_700_000_000_000_000,
            worst: worst.to_owned(),
            report: report.to_string(),
        }
    }

    /// Targets in order, unreadable rows, targets by check, abused targets.
    type Expect<'a> = (&'a [&'a str], usize, &'a [(&'a str, usize)], &'a [&'a str]);

    #[track_caller]
    fn check(rows: &[AuditRow], expect: Expect<'_>) {
        let v = FleetView::of(rows.len() as u64, rows);
        let order: Vec<&str> = v.targets.iter().map(|t| t.target.as_str()).collect();
        let checks: Vec<(&str, usize)> =
            v.by_check.iter().map(|c| (c.name.as_str(), c.targets)).collect();
        let abused: Vec<&str> = v.abused.iter().map(String::as_str).collect();
        assert_eq!((order.as_slice(), v.unreadable, checks.as_slice(), abused.as_slice()), expect);
    }

    #[test]
    fn fleet_views() {
        let abused = serde_json::json!({"schema": 1, "target": "10.0.0.9",
            "device": {"vendor": "Milesight", "model": "UR32L", "firmware": "32.3.0.8-r1"},
            "findings": [
                {"check": "identified", "severity": "info", "title": "Milesight UR32L", "evidence": [], "remediation": ""},
                {"check": "outbox-abused", "severity": "critical", "title": "t",
                 "evidence": ["link hosts: https://bpost-be.parcel-fee.info/pay (3)", "\u{1b}[31m<b>"], "remediation": "r"}],
            "campaigns": [{"id": "c-1", "messages": 3}, {"id": "bad id/..", "messages": 1}]});
        let patched = serde_json::json!({"schema": 1, "findings": []});
        check(
            &[
                row("10.0.0.1", "info", patched.clone()),
                row("10.0.0.9", "critical", abused.clone()),
                row("10.0.0.5", "info", serde_json::json!({"schema": 99})),
                row("10.0.0.6", "info", serde_json::json!("not an object")),
            ],
            (
                &["10.0.0.9", "10.0.0.1"],
                2,
                &[("identified", 1), ("outbox-abused", 1)],
                &["10.0.0.9"],
            ),
        );
        check(&[], (&[], 0, &[], &[]));
        let v = FleetView::of(1, &[row("10.0.0.9", "critical", abused)]);
        let t = &v.targets[0];
        let evidence = &t.findings[0].evidence;
        assert_eq!(t.findings[0].check, "outbox-abused", "worst first");
        assert!(!evidence[0].contains("https://") && evidence[0].contains("[.]"), "{evidence:?}");
        assert!(!evidence[1].contains('\u{1b}'), "{evidence:?}");
        let links: Vec<(&str, bool)> =
            t.campaigns.iter().map(|c| (c.id.as_str(), c.linkable)).collect();
        assert_eq!(links, [("c-1", true), ("bad id/..", false)]);
        assert_eq!(v.firmware, [Count { name: "Milesight UR32L 32.3.0.8-r1".into(), targets: 1 }]);
    }
}
