//! Findings: what a check established about a target, with evidence, severity and what the
//! owner should do. Evidence holds device text only through [`crate::text::shown`].

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

/// Which check found it (stable machine names, used in JSON, CSV and the summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// No HTTP(S) answer: refused, timed out, or not HTTP.
    Unreachable,
    /// Vendor, model and firmware as the device reports them.
    Identified,
    /// `/lang/log/httpd.log` readable (CVE-2023-43261).
    LogLeak,
    /// A leaked login decrypted with the published key.
    PasswordRecovered,
    /// `/lang/log/system.log` readable.
    SystemLogExposed,
    /// Firmware older than the fix of a published advisory.
    VulnerableFirmware,
    /// An SMS API call answered without a session.
    SmsApiOpen,
    /// A mailbox was read (open API or credentials).
    MailboxRead,
    /// The outbox holds smishing: the router is being abused.
    OutboxAbused,
    /// Default credentials accepted (`--try-default-credentials`).
    DefaultCredentials,
    /// The web UI answers on a public address.
    WebUiOnWan,
    /// The web UI answers over HTTP without TLS.
    PlainHttp,
    /// HTTPS certificate expired or not yet valid.
    CertificateInvalid,
    /// A redirect to another host, scheme or port (not followed).
    RedirectElsewhere,
    /// A reply that was not what a device sends: garbage, oversized, endless or too slow.
    HostileReply,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Unreachable => "unreachable",
            Check::Identified => "identified",
            Check::LogLeak => "log-leak",
            Check::PasswordRecovered => "password-recovered",
            Check::SystemLogExposed => "system-log-exposed",
            Check::VulnerableFirmware => "vulnerable-firmware",
            Check::SmsApiOpen => "sms-api-open",
            Check::MailboxRead => "mailbox-read",
            Check::OutboxAbused => "outbox-abused",
            Check::DefaultCredentials => "default-credentials",
            Check::WebUiOnWan => "web-ui-on-wan",
            Check::PlainHttp => "plain-http",
            Check::CertificateInvalid => "certificate-invalid",
            Check::RedirectElsewhere => "redirect-elsewhere",
            Check::HostileReply => "hostile-reply",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: Check,
    pub severity: Severity,
    pub title: String,
    /// Short facts that back the finding (paths, statuses, escaped device text).
    pub evidence: Vec<String>,
    pub remediation: String,
}

impl Finding {
    pub fn new(check: Check, severity: Severity, title: impl Into<String>) -> Finding {
        Finding {
            check,
            severity,
            title: title.into(),
            evidence: Vec::new(),
            remediation: String::new(),
        }
    }

    pub fn evidence(mut self, e: impl Into<String>) -> Finding {
        self.evidence.push(e.into());
        self
    }

    pub fn fix(mut self, r: impl Into<String>) -> Finding {
        self.remediation = r.into();
        self
    }
}
