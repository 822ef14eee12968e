//! The checks of one target, in order: reach it (HTTP, then HTTPS), identify it, the
//! CVE-2023-43261 log leak, vulnerable firmware, the SMS API without a session, the mailboxes
//! where readable, and the exposure extras the operator asked for. Then the whole fleet, with
//! bounded concurrency.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use smishtrap_sensor::crypto::{decrypt_password, encrypt_password};

use crate::cert::{BadCert, CertInfo};
use crate::cgi::{MAX_PAGE, ReadOnlyCall, StatusPage, VendorRead};
use crate::finding::{Check, Finding, Severity};
use crate::firmware::Advisories;
use crate::probe::{FetchError, Page, Prober, Reply, RequestRecord, Session};
use crate::reply::{
    self, Envelope, FamilyIdentity, Mailbox, MailboxRow, PageHints, leaked_logins,
    looks_like_system_log, mailbox_page, page_hints,
};
use crate::target::{Host, Scheme, Target};
use crate::text::shown;

/// The default web UI account of Milesight routers (tried only with
/// `--try-default-credentials`).
pub const DEFAULT_CREDENTIALS: &[(&str, &str)] = &[("admin", "password")];

/// A user name and password; `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What the operator allowed beyond the unauthenticated checks.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Operator-supplied credentials (`--credentials FILE`), tried in order to read mailboxes.
    pub credentials: Vec<Credential>,
    /// Log in with credentials recovered from a leaked log to read mailboxes.
    pub use_leaked_credentials: bool,
    /// Try the vendor's default account (finding only; mailboxes are not read with it).
    pub try_default_credentials: bool,
    /// Web UI on a public address, HTTP without TLS.
    pub exposure: bool,
    /// Put recovered passwords into the report.
    pub show_secrets: bool,
    /// Most messages read from each mailbox.
    pub max_mailbox_rows: u32,
}

/// How a mailbox was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// The SMS API answered without a session.
    Open,
    Operator,
    Leaked,
}

/// What the device says it is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Device {
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    pub part_number: Option<String>,
    pub title: Option<String>,
}

/// Everything the audit learnt about one target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    pub target: Target,
    /// The base URL that answered.
    pub url: Option<String>,
    pub device: Device,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bad_certificate: Option<BadCert>,
    pub findings: Vec<Finding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mailbox_access: Option<Access>,
    /// Messages read from the mailboxes (device text; escape before showing).
    pub messages: Vec<MailboxRow>,
    pub requests: Vec<RequestRecord>,
    pub started: DateTime<Utc>,
    pub millis: u64,
}

impl TargetReport {
    pub fn worst(&self) -> Severity {
        self.findings.iter().map(|f| f.severity).max().unwrap_or(Severity::Info)
    }

    pub fn has(&self, check: Check) -> bool {
        self.findings.iter().any(|f| f.check == check)
    }

    fn add(&mut self, f: Finding) {
        self.findings.push(f);
    }
}

/// Audits every target, at most `concurrency` at once; `done` is called as each finishes (for
/// a progress bar). Reports come back in target order.
pub async fn audit_fleet(
    prober: &Prober,
    advisories: &Advisories,
    options: &Options,
    targets: Vec<Target>,
    concurrency: usize,
    done: impl Fn(&TargetReport),
) -> Vec<TargetReport> {
    let done = Arc::new(done);
    let mut reports: Vec<(usize, TargetReport)> =
        futures_util::stream::iter(targets.into_iter().enumerate())
            .map(|(i, t)| {
                let done = done.clone();
                async move {
                    let r = audit_target(prober, advisories, options, t).await;
                    done(&r);
                    (i, r)
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    reports.sort_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

/// All checks of one target.
pub async fn audit_target(
    prober: &Prober,
    advisories: &Advisories,
    options: &Options,
    target: Target,
) -> TargetReport {
    let started = Utc::now();
    let clock = Instant::now();
    let mut report = TargetReport {
        target: target.clone(),
        url: None,
        device: Device::default(),
        certificate: None,
        bad_certificate: None,
        findings: Vec::new(),
        mailbox_access: None,
        messages: Vec::new(),
        requests: Vec::new(),
        started,
        millis: 0,
    };
    let mut failures = Vec::new();
    let mut answered = None;
    for scheme in target.schemes() {
        let mut session = prober.session(&target, scheme);
        let root = session.page(Page::Root).await;
        match root {
            Ok(reply) => {
                answered = Some((session, Ok(reply)));
                break;
            }
            // a redirect elsewhere is an answer: the device is there, the checks go on
            Err(FetchError::Redirect(to)) => {
                answered = Some((session, Err(to)));
                break;
            }
            Err(e) => {
                failures.push((scheme, e));
                report.requests.append(&mut session.log);
            }
        }
    }
    let Some((mut session, root)) = answered else {
        unreachable_finding(&mut report, &failures);
        report.millis = elapsed(clock);
        return report;
    };
    report.url = Some(session.base().to_owned());
    let budget = prober.limits().target_timeout;
    let checks = run_checks(&mut session, &mut report, advisories, options, root);
    // what was found before the deadline stays in the report
    if tokio::time::timeout(budget, checks).await.is_err() {
        report.add(
            Finding::new(Check::HostileReply, Severity::Info, "the checks did not finish in time")
                .evidence(format!("cut after {} s", budget.as_secs_f32()))
                .fix("check what listens on this address"),
        );
    }
    match session.cert.take() {
        Some(Ok(cert)) => {
            if cert.expired {
                report.add(
                    Finding::new(
                        Check::CertificateInvalid,
                        Severity::Low,
                        "HTTPS certificate expired or not yet valid",
                    )
                    .evidence(format!(
                        "valid {} to {}",
                        fmt_time(cert.not_before),
                        fmt_time(cert.not_after)
                    ))
                    .evidence(format!("subject {}", cert.subject))
                    .fix("install a current certificate"),
                );
            }
            report.certificate = Some(cert);
        }
        Some(Err(bad)) => {
            report.add(
                Finding::new(
                    Check::CertificateInvalid,
                    Severity::Low,
                    "HTTPS certificate does not parse",
                )
                .evidence(format!("sha256 {}", bad.sha256))
                .evidence(bad.reason.clone())
                .fix("install a well-formed certificate"),
            );
            report.bad_certificate = Some(bad);
        }
        None => {}
    }
    report.requests.append(&mut session.log);
    report.millis = elapsed(clock);
    report
}

fn elapsed(clock: Instant) -> u64 {
    u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn fmt_time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "?".to_owned(), |t| t.format("%Y-%m-%d").to_string())
}

fn unreachable_finding(report: &mut TargetReport, failures: &[(Scheme, FetchError)]) {
    // connected but no sensible answer (garbage, drip, endless) is hostile, not unreachable
    let hostile =
        failures.iter().any(|(_, e)| matches!(e, FetchError::Timeout(_) | FetchError::Protocol(_)));
    let mut f = if hostile {
        Finding::new(Check::HostileReply, Severity::Info, "no HTTP answer a device would give")
            .fix("check what listens on this address")
    } else {
        Finding::new(Check::Unreachable, Severity::Info, "no answer over HTTP or HTTPS")
            .fix("check the address, or audit from a network that reaches it")
    };
    for (scheme, e) in failures {
        f = f.evidence(format!("{}: {e}", scheme.as_str()));
    }
    report.add(f);
}

async fn run_checks(
    s: &mut Session<'_>,
    report: &mut TargetReport,
    advisories: &Advisories,
    options: &Options,
    root: Result<Reply, String>,
) {
    let hints = match &root {
        Ok(reply) => {
            hostile_body(report, Page::Root.path(), reply);
            page_hints(&reply.body, reply.server.as_deref())
        }
        Err(to) => {
            report.add(
                Finding::new(
                    Check::RedirectElsewhere,
                    Severity::Info,
                    "the web UI redirects to another target",
                )
                .evidence(format!("GET / -> {to} (not followed)"))
                .fix("audit that target separately if it belongs to you"),
            );
            PageHints::default()
        }
    };
    identify(s, report, &hints).await;
    let recovered = log_leak(s, report, options).await;
    firmware(report, advisories);
    let open = sms_api(s, report).await;
    if !open {
        family_sms_api(s, report).await;
    }
    if open {
        read_mailboxes(s, report, options, Access::Open).await;
    } else {
        let mut logged_in = None;
        for c in &options.credentials {
            if login(s, c).await {
                logged_in = Some(Access::Operator);
                break;
            }
        }
        if logged_in.is_none() && options.use_leaked_credentials {
            for c in &recovered {
                if login(s, c).await {
                    logged_in = Some(Access::Leaked);
                    break;
                }
            }
        }
        if let Some(access) = logged_in {
            read_mailboxes(s, report, options, access).await;
        }
    }
    if options.try_default_credentials {
        default_credentials(s, report).await;
    }
    if options.exposure {
        exposure(s, report, root.is_ok());
    }
}

/// A reply cut at the body limit is no device page: say so once per target.
fn hostile_body(report: &mut TargetReport, path: &str, reply: &Reply) {
    if reply.truncated && !report.has(Check::HostileReply) {
        report.add(
            Finding::new(Check::HostileReply, Severity::Info, "a reply larger than the body limit")
                .evidence(format!("{path}: cut at {} bytes", reply.body.len()))
                .fix("check what listens on this address"),
        );
    }
}

async fn identify(s: &mut Session<'_>, report: &mut TargetReport, hints: &PageHints) {
    let device = &mut report.device;
    device.vendor = hints.vendor.map(str::to_owned);
    device.title = hints.title.clone();
    let mut evidence: Vec<String> =
        hints.markers.iter().map(|m| format!("login page marker {m:?}")).collect();
    let family = hints.vendor.filter(|v| *v != "Milesight");
    if let Some(vendor) = family {
        family_identity(s, report, vendor, hints, &mut evidence).await;
    }
    // /islogin and the status summary both carry the identity envelope without a session
    for fetch in [Fetch::Page(Page::IsLogin), Fetch::Cgi(ReadOnlyCall::Status(StatusPage::Summary))]
    {
        if family.is_some() || (report.device.model.is_some() && report.device.firmware.is_some()) {
            break;
        }
        let (what, reply) = match &fetch {
            Fetch::Page(p) => (p.path().to_owned(), s.page(*p).await),
            Fetch::Cgi(c) => (format!("/cgi {}", c.described()), s.cgi(c).await),
        };
        let Ok(reply) = reply else { continue };
        hostile_body(report, &what, &reply);
        let Some(env) = Envelope::parse(&reply.body) else { continue };
        let d = &mut report.device;
        if env.model.is_some() || env.rtver.is_some() {
            evidence.push(format!("{what}: model/rtver in the reply envelope"));
            d.vendor.get_or_insert_with(|| "Milesight".to_owned());
        }
        d.model = d.model.take().or(env.model.clone());
        d.firmware = d.firmware.take().or(env.rtver.clone());
        d.part_number = d.part_number.take().or(env.pn.clone());
    }
    let d = &report.device;
    if d.vendor.is_none() && d.model.is_none() {
        return;
    }
    let name =
        |v: &Option<String>| v.as_deref().map_or_else(|| "unknown".to_owned(), |s| shown(s, 64));
    let mut f = Finding::new(
        Check::Identified,
        Severity::Info,
        format!("{} {} firmware {}", name(&d.vendor), name(&d.model), name(&d.firmware)),
    );
    if let Some(t) = &d.title {
        evidence.push(format!("title {:?}", shown(t, 64)));
    }
    f.evidence = evidence;
    report.add(f.fix("keep an inventory of exposed routers and their firmware"));
}

/// A family's identity parser.
type IdentityParser = fn(&[u8]) -> Option<FamilyIdentity>;

/// Model and firmware of a Teltonika, Huawei, ZTE, Netgear or TP-Link router, from the
/// family's own unauthenticated reads ([`VendorRead`]) or its page title.
async fn family_identity(
    s: &mut Session<'_>,
    report: &mut TargetReport,
    vendor: &str,
    hints: &PageHints,
    evidence: &mut Vec<String>,
) {
    let reads: &[(VendorRead, IdentityParser)] = match vendor {
        "Teltonika" => &[(VendorRead::TeltonikaStatus, reply::teltonika_status)],
        "Huawei" => &[
            (VendorRead::HuaweiInformation, reply::huawei_identity),
            (VendorRead::HuaweiBasicInformation, reply::huawei_identity),
        ],
        "ZTE" => &[(VendorRead::ZteIdentity, reply::zte_identity)],
        "Netgear" => &[(VendorRead::NetgearModel, |b| reply::netgear_model(b).map(|(id, _)| id))],
        _ => &[],
    };
    for (read, parse) in reads {
        if report.device.model.is_some() && report.device.firmware.is_some() {
            break;
        }
        let page = Page::Vendor(*read);
        let Ok(reply) = s.page(page).await else { continue };
        hostile_body(report, page.path(), &reply);
        if reply.status != 200 {
            continue;
        }
        let Some(id) = parse(&reply.body) else {
            if let Some(code) = reply::huawei_error(&reply.body) {
                evidence.push(format!("GET {}: error {code} (login needed)", read.path()));
            }
            continue;
        };
        let mut said = format!("GET {}: model/firmware without login", read.path());
        if let Some(name) = &id.name {
            said.push_str(&format!(" (names itself {:?})", shown(name, 64)));
        }
        evidence.push(said);
        let d = &mut report.device;
        d.model = d.model.take().or(id.model);
        d.firmware = d.firmware.take().or(id.firmware);
    }
    if vendor == "TP-Link" && report.device.model.is_none() {
        report.device.model = hints.title.as_deref().and_then(tp_link_model);
    }
}

/// `Archer MR600` or `TL-MR6400` out of a TP-Link page title.
fn tp_link_model(title: &str) -> Option<String> {
    let words: Vec<&str> = title.split(|c: char| c.is_whitespace() || c == '|').collect();
    words.iter().enumerate().find_map(|(i, w)| {
        if w.eq_ignore_ascii_case("archer") {
            words.get(i + 1).filter(|m| !m.is_empty()).map(|m| shown(&format!("Archer {m}"), 32))
        } else if w.len() > 3 && w[..3].eq_ignore_ascii_case("tl-") {
            Some(shown(w, 32))
        } else {
            None
        }
    })
}

/// The SMS API of another family answered a read-only mailbox call without a login.
async fn family_sms_api(s: &mut Session<'_>, report: &mut TargetReport) {
    let vendor = report.device.vendor.clone().unwrap_or_default();
    let read = match vendor.as_str() {
        "Teltonika" => VendorRead::TeltonikaSmsTotal,
        "Huawei" => VendorRead::HuaweiSmsCount,
        "ZTE" => VendorRead::ZteSmsList,
        "Netgear" => VendorRead::NetgearModel,
        _ => return,
    };
    let page = Page::Vendor(read);
    let Ok(reply) = s.page(page).await else { return };
    hostile_body(report, page.path(), &reply);
    if reply.status != 200 {
        return;
    }
    let b = &reply.body;
    let (severity, what) = match read {
        VendorRead::TeltonikaSmsTotal => match reply::teltonika_sms_total(b) {
            Some((used, total)) => (
                Severity::Critical,
                format!(
                    "SMS Gateway API answers without credentials: {used} of {total} message slots used"
                ),
            ),
            None => return,
        },
        VendorRead::HuaweiSmsCount => match reply::huawei_sms_count(b) {
            Some((inbox, outbox)) => (
                Severity::Critical,
                format!("HiLink SMS API answers without login: inbox {inbox}, outbox {outbox}"),
            ),
            None => return,
        },
        VendorRead::ZteSmsList => match reply::zte_sms_list(b) {
            Some(n) => (
                Severity::Critical,
                format!("goform SMS list answers without login ({n} message(s) on the first page)"),
            ),
            None => return,
        },
        // model.json lists the inbox; sending still needs the web UI session
        _ => match reply::netgear_model(b).and_then(|(_, msgs)| msgs) {
            Some(n) => {
                (Severity::High, format!("model.json lists {n} SMS message(s) without login"))
            }
            None => return,
        },
    };
    report.add(
        Finding::new(Check::SmsApiOpen, severity, format!("the SMS API answers without login ({vendor})"))
            .evidence(format!("GET {}: {what}", read.path()))
            .fix("require login on the SMS API (update the firmware, set a web UI password, disable the SMS gateway API), block the web UI from the WAN"),
    );
}

enum Fetch {
    Page(Page),
    Cgi(ReadOnlyCall),
}

/// CVE-2023-43261: `httpd.log` and `system.log` readable; leaked logins decrypted with the
/// published key. Returns the recovered credentials (for `--use-leaked-credentials`).
async fn log_leak(
    s: &mut Session<'_>,
    report: &mut TargetReport,
    options: &Options,
) -> Vec<Credential> {
    let mut recovered = Vec::new();
    if let Ok(reply) = s.page(Page::HttpdLog).await
        && reply.status == 200
    {
        hostile_body(report, Page::HttpdLog.path(), &reply);
        let text = String::from_utf8_lossy(&reply.body);
        let leaks = leaked_logins(&text);
        let is_log = !leaks.is_empty() || text.contains("httpd[") || text.contains("POST /cgi");
        if is_log {
            report.add(
                Finding::new(Check::LogLeak, Severity::High, "httpd.log readable without login (CVE-2023-43261)")
                    .evidence(format!("GET {}: 200, {} bytes, {} logged logins", Page::HttpdLog.path(), reply.body.len(), leaks.len()))
                    .fix("upgrade the firmware (35.3.0.7 or later), disable the /lang/log/ listing, change every password"),
            );
        }
        for leak in leaks {
            let Some(password) = decrypt_password(&leak.encrypted_password) else { continue };
            let user = shown(&leak.username, 64);
            let mut f = Finding::new(
                Check::PasswordRecovered,
                Severity::Critical,
                format!("password of {user:?} recovered from httpd.log with the published AES key"),
            )
            .fix("change this password now, and every place it is reused");
            f = if options.show_secrets {
                f.evidence(format!("password {:?}", shown(&password, 128)))
            } else {
                f.evidence("password not shown (use --show-secrets)")
            };
            report.add(f);
            recovered.push(Credential { username: leak.username, password });
        }
    }
    if let Ok(reply) = s.page(Page::SystemLog).await
        && reply.status == 200
        && looks_like_system_log(&String::from_utf8_lossy(&reply.body))
    {
        report.add(
            Finding::new(
                Check::SystemLogExposed,
                Severity::Medium,
                "system.log readable without login",
            )
            .evidence(format!("GET {}: 200, {} bytes", Page::SystemLog.path(), reply.body.len()))
            .fix("disable the /lang/log/ listing (firmware 35.3.0.7 or later)"),
        );
    }
    recovered
}

fn firmware(report: &mut TargetReport, advisories: &Advisories) {
    let d = &report.device;
    let (Some(model), Some(rtver)) = (&d.model, &d.firmware) else { return };
    let found: Vec<Finding> = advisories
        .affecting(d.vendor.as_deref(), model, rtver)
        .into_iter()
        .map(|a| {
            let mut f = Finding::new(
                Check::VulnerableFirmware,
                a.severity,
                format!(
                    "firmware {} of {} is affected by {} (fixed in {})",
                    shown(rtver, 32),
                    shown(model, 32),
                    a.id,
                    a.fixed.as_str()
                ),
            )
            .evidence(a.summary.clone())
            .fix(a.remediation.clone());
            for src in &a.sources {
                f = f.evidence(format!("source {src}"));
            }
            f
        })
        .collect();
    report.findings.extend(found);
}

/// The SMS API answered a read-only mailbox call without a session.
async fn sms_api(s: &mut Session<'_>, report: &mut TargetReport) -> bool {
    let call = ReadOnlyCall::QueryOutbox { start: 0, limit: 1 };
    let Ok(reply) = s.cgi(&call).await else { return false };
    hostile_body(report, "/cgi", &reply);
    let Some(env) = Envelope::parse(&reply.body) else {
        if reply.status == 200 && !reply.body.is_empty() && looks_json(&reply) {
            report.add(
                Finding::new(
                    Check::HostileReply,
                    Severity::Info,
                    "the /cgi API answered with unreadable JSON",
                )
                .evidence(format!("POST /cgi {}: {} bytes", call.described(), reply.body.len()))
                .fix("check what listens on this address"),
            );
        }
        return false;
    };
    if env.refused() {
        return false;
    }
    let Some(page) = mailbox_page(&env.result, Mailbox::Outbox) else { return false };
    report.add(
        Finding::new(Check::SmsApiOpen, Severity::Critical, "the SMS API answers without login: anyone can send SMS through this router")
            .evidence(format!("POST /cgi {} without a session: status 0, outbox count {}", call.described(), page.count.map_or_else(|| "?".to_owned(), |c| c.to_string())))
            .fix("require login on the /cgi API (update the firmware, reset the configuration), block the web UI from the WAN"),
    );
    true
}

fn looks_json(reply: &Reply) -> bool {
    reply.content_type.as_deref().is_some_and(|c| c.contains("json"))
        || reply
            .body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{' || *b == b'[')
}

async fn login(s: &mut Session<'_>, c: &Credential) -> bool {
    let call = ReadOnlyCall::Login {
        username: c.username.clone(),
        encrypted_password: encrypt_password(&c.password),
    };
    let Ok(reply) = s.cgi(&call).await else { return false };
    let token = Envelope::parse(&reply.body).and_then(|e| e.session_token());
    let ok = token.is_some();
    s.set_token(token);
    ok
}

async fn read_mailboxes(
    s: &mut Session<'_>,
    report: &mut TargetReport,
    options: &Options,
    access: Access,
) {
    let mut read = Vec::new();
    for mailbox in [Mailbox::Outbox, Mailbox::Inbox] {
        let mut start = 0u32;
        let mut total = None;
        while start < options.max_mailbox_rows {
            let limit = MAX_PAGE.min(options.max_mailbox_rows - start);
            let call = match mailbox {
                Mailbox::Outbox => ReadOnlyCall::QueryOutbox { start, limit },
                Mailbox::Inbox => ReadOnlyCall::QueryInbox { start, limit },
            };
            let Ok(reply) = s.cgi(&call).await else { break };
            let Some(page) = Envelope::parse(&reply.body)
                .filter(|e| !e.refused())
                .and_then(|e| mailbox_page(&e.result, mailbox))
            else {
                break;
            };
            total = total.or(page.count);
            let n = u32::try_from(page.rows.len()).unwrap_or(u32::MAX);
            report.messages.extend(page.rows);
            start = start.saturating_add(n);
            if n == 0 || total.is_some_and(|t| u64::from(start) >= t) {
                break;
            }
        }
        let count = report.messages.iter().filter(|m| m.mailbox == mailbox).count();
        read.push(format!(
            "{}: {count} read of {}",
            mailbox_name(mailbox),
            total.map_or_else(|| "?".to_owned(), |t| t.to_string())
        ));
    }
    report.mailbox_access = Some(access);
    let how = match access {
        Access::Open => "without login",
        Access::Operator => "with the operator's credentials",
        Access::Leaked => "with credentials recovered from the leaked log",
    };
    let mut f = Finding::new(Check::MailboxRead, Severity::Info, format!("mailboxes read {how}"));
    f.evidence = read;
    report.add(f.fix("review the outbox for messages you did not send"));
    if access != Access::Open {
        s.set_token(None);
    }
}

fn mailbox_name(m: Mailbox) -> &'static str {
    match m {
        Mailbox::Outbox => "outbox",
        Mailbox::Inbox => "inbox",
    }
}

async fn default_credentials(s: &mut Session<'_>, report: &mut TargetReport) {
    for (user, password) in DEFAULT_CREDENTIALS {
        let c = Credential { username: (*user).to_owned(), password: (*password).to_owned() };
        if login(s, &c).await {
            s.set_token(None);
            report.add(
                Finding::new(
                    Check::DefaultCredentials,
                    Severity::Critical,
                    format!("the default account {user:?} logs in"),
                )
                .evidence("login with the vendor's default password succeeded")
                .fix("set a strong unique password"),
            );
            return;
        }
    }
}

fn exposure(s: &Session<'_>, report: &mut TargetReport, answered: bool) {
    if !answered {
        return;
    }
    if s.scheme == Scheme::Http {
        report.add(
            Finding::new(
                Check::PlainHttp,
                Severity::Low,
                "the web UI answers over HTTP without TLS",
            )
            .evidence(format!("{} answered", s.base()))
            .fix("serve the web UI over HTTPS only"),
        );
    }
    if let Host::Ip(ip) = report.target.host
        && is_public(ip)
    {
        report.add(
            Finding::new(
                Check::WebUiOnWan,
                Severity::Medium,
                "the web UI answers on a public address",
            )
            .evidence(format!("{ip} is a public address"))
            .fix("allow the web UI only from the LAN or a VPN"),
        );
    }
}

/// A globally routable address (not private, loopback, link-local, shared, documentation or
/// multicast).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[0] == 0
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] == 0x2001 && seg[1] == 0x0db8))
                && v6.to_ipv4_mapped().is_none_or(|v4| is_public(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(ip: &str, expect: bool) {
        let parsed: IpAddr = ip.parse().unwrap_or_else(|_| panic!("{ip}"));
        assert_eq!(is_public(parsed), expect, "{ip}");
    }

    #[test]
    fn public_addresses() {
        check("8.8.8.8", true);
        check("2a00:1450::1", true);
        for private in [
            "10.1.2.3",
            "192.168.1.1",
            "172.16.0.1",
            "127.0.0.5",
            "169.254.1.1",
            "100.64.0.1",
            "192.0.2.1",
            "0.1.2.3",
            "255.255.255.255",
            "::1",
            "fd00::1",
            "fe80::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
        ] {
            check(private, false);
        }
    }

    #[test]
    fn credentials_never_debug_their_password() {
        let c = Credential { username: "admin".into(), password: "hunter2".into() };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
