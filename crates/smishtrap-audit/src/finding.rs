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

impl Check {
    /// Every check, in declaration order (SARIF rules are listed in this order).
    pub const ALL: [Check; 15] = [
        Check::Unreachable,
        Check::Identified,
        Check::LogLeak,
        Check::PasswordRecovered,
        Check::SystemLogExposed,
        Check::VulnerableFirmware,
        Check::SmsApiOpen,
        Check::MailboxRead,
        Check::OutboxAbused,
        Check::DefaultCredentials,
        Check::WebUiOnWan,
        Check::PlainHttp,
        Check::CertificateInvalid,
        Check::RedirectElsewhere,
        Check::HostileReply,
    ];

    /// What the check establishes, one sentence (the SARIF rule's description).
    pub fn description(self) -> &'static str {
        match self {
            Check::Unreachable => "The target gave no answer over HTTP or HTTPS.",
            Check::Identified => "The device told its vendor, model and firmware without a login.",
            Check::LogLeak => {
                "httpd.log under /lang/log/ is readable without a login (CVE-2023-43261): it holds the admin logins."
            }
            Check::PasswordRecovered => {
                "A login in the leaked httpd.log decrypts with the AES key published in the web UI's JavaScript."
            }
            Check::SystemLogExposed => "system.log under /lang/log/ is readable without a login.",
            Check::VulnerableFirmware => {
                "The reported firmware is older than the fix of a published advisory."
            }
            Check::SmsApiOpen => {
                "A read-only SMS API call was answered without a session: anyone can read the mailboxes and send SMS through the router."
            }
            Check::MailboxRead => {
                "The SMS outbox and inbox were read (open API or allowed credentials)."
            }
            Check::OutboxAbused => "The outbox holds smishing: the router is used to send fraud.",
            Check::DefaultCredentials => "The vendor's default account logs in.",
            Check::WebUiOnWan => "The web UI answers on a public address.",
            Check::PlainHttp => "The web UI answers over HTTP without TLS.",
            Check::CertificateInvalid => {
                "The HTTPS certificate is expired, not yet valid, or does not parse."
            }
            Check::RedirectElsewhere => {
                "The web UI redirects to another host, scheme or port (not followed)."
            }
            Check::HostileReply => {
                "The reply is not one a device gives: garbage, oversized, endless or too slow."
            }
        }
    }

    /// What the owner should do, in general (each finding carries its own remediation too).
    pub fn help(self) -> &'static str {
        match self {
            Check::Unreachable => "Check the address, or audit from a network that reaches it.",
            Check::Identified => "Keep an inventory of exposed routers and their firmware.",
            Check::LogLeak | Check::SystemLogExposed => {
                "Upgrade the firmware (Milesight 35.3.0.7 or later) so /lang/log/ is not served, then change every web UI password."
            }
            Check::PasswordRecovered => {
                "Change the password now, everywhere it is reused; upgrade the firmware."
            }
            Check::VulnerableFirmware => "Upgrade to the fixed firmware named in the advisory.",
            Check::SmsApiOpen => {
                "Require a login on the SMS API (update the firmware, reset the configuration) and block the web UI from the WAN."
            }
            Check::MailboxRead => "Review the outbox for messages you did not send.",
            Check::OutboxAbused => {
                "Lock the SMS API and the web UI, change every password, keep the outbox as evidence, and report the campaign to the mobile operator and the CERT."
            }
            Check::DefaultCredentials => "Set a strong, unique password.",
            Check::WebUiOnWan => "Allow the web UI only from the LAN or a VPN.",
            Check::PlainHttp => "Serve the web UI over HTTPS only.",
            Check::CertificateInvalid => "Install a current, well-formed certificate.",
            Check::RedirectElsewhere => {
                "Audit the redirect's target separately if it belongs to you."
            }
            Check::HostileReply => "Check what listens on this address.",
        }
    }

    /// `LogLeak` style name (the SARIF rule's `name`).
    pub fn name(self) -> String {
        self.as_str()
            .split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect()
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
