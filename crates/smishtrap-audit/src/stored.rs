//! What `--data` keeps of each target's report for the console's Fleet page: the device,
//! certificate and findings, with the campaigns its mailbox messages joined. No messages (they
//! are stored as messages), no request log, and never a secret: a recovered password's
//! evidence is replaced whatever `--show-secrets` says.

use serde::Serialize;
use smishtrap_store::AuditRow;

use crate::audit::{Access, Device, TargetReport};
use crate::cert::CertInfo;
use crate::finding::{Check, Finding, Severity};

/// Version of the stored JSON (readers skip versions they do not know).
pub const STORED_SCHEMA: u32 = 1;
/// Evidence of a recovered password, as stored.
pub const REDACTED: &str = "password not stored";

/// A campaign the target's mailbox messages were clustered into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignCount {
    pub id: String,
    pub messages: usize,
}

#[derive(Debug, Serialize)]
struct Stored<'a> {
    schema: u32,
    target: String,
    url: Option<&'a str>,
    device: &'a Device,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate: Option<&'a CertInfo>,
    worst: Severity,
    findings: Vec<Finding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mailbox_access: Option<Access>,
    messages_read: usize,
    campaigns: &'a [CampaignCount],
    started: chrono::DateTime<chrono::Utc>,
    millis: u64,
}

/// The store row of one target's report; `campaigns` are those its messages joined.
pub fn row(report: &TargetReport, campaigns: &[CampaignCount]) -> AuditRow {
    let findings = report
        .findings
        .iter()
        .map(|f| {
            let mut f = f.clone();
            if f.check == Check::PasswordRecovered {
                f.evidence = vec![REDACTED.to_owned()];
            }
            f
        })
        .collect();
    let stored = Stored {
        schema: STORED_SCHEMA,
        target: report.target.to_string(),
        url: report.url.as_deref(),
        device: &report.device,
        certificate: report.certificate.as_ref(),
        worst: report.worst(),
        findings,
        mailbox_access: report.mailbox_access,
        messages_read: report.messages.len(),
        campaigns,
        started: report.started,
        millis: report.millis,
    };
    AuditRow {
        target: report.target.to_string(),
        audited: report.started.timestamp_micros(),
        worst: report.worst().as_str().to_owned(),
        // a struct of strings, numbers and maps with string keys always serialises
        report: serde_json::to_string(&stored).unwrap_or_else(|_| "{}".to_owned()),
    }
}
