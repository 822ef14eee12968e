//! The persona engine: answers one request as the emulated device would, keeping the state an
//! attacker can observe (sessions, lockout) bounded and expiring, and the device's own state
//! (logs, the one outbox, SMS counter: [`crate::state`]) consistent across every view.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use lru::LruCache;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use smishtrap_event::{AuthRecord, EventKind, SmsAction};

use crate::cgi;
use crate::identity::Identity;
use crate::ordered::Json;
use crate::persona::{Generator, JsonTemplate, PageBody, Persona, SendOutcome, Template, Vars};
use crate::state::{
    DeviceState, LogFile, MAX_OUTBOX_TEXT, OutboxRow, Saver, SendStatus, StateCell, StateError,
};
use crate::webui;

/// Bounds on the state kept per client (source IP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateLimits {
    /// Clients remembered at once; the least recently seen is forgotten first.
    pub max_clients: usize,
    /// A client unseen for this long starts afresh.
    pub client_ttl_secs: u64,
    /// Outbox rows the device keeps (one outbox for every client; oldest dropped first).
    pub max_outbox: usize,
    /// Live login sessions kept.
    pub max_sessions: usize,
}

impl Default for StateLimits {
    fn default() -> Self {
        StateLimits {
            max_clients: 10_000,
            client_ttl_secs: 7 * 86_400,
            max_outbox: 200,
            max_sessions: 1024,
        }
    }
}

#[derive(Debug)]
struct Client {
    last_seen: DateTime<Utc>,
    failures: u32,
    locked_until: Option<DateTime<Utc>>,
    /// Messages this client sent (what the send outcome policy counts).
    sends: u64,
}

impl Client {
    fn new(now: DateTime<Utc>) -> Client {
        Client { last_seen: now, failures: 0, locked_until: None, sends: 0 }
    }
}

/// One message of this unit's inbox, its texts rendered once.
#[derive(Debug)]
pub(crate) struct InboxRow {
    pub(crate) from: String,
    pub(crate) text: String,
    pub(crate) at: DateTime<Utc>,
}

/// What a login attempt came to (the lockout is shared by every dialect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoginVerdict {
    /// The bait credentials: a session was opened with this token.
    Success { token: String },
    /// Wrong credentials; `chance` tries are left before the lockout.
    Failed { chance: u32 },
    /// Locked out for `left` more seconds.
    Locked { left: i64 },
}

impl LoginVerdict {
    pub(crate) fn success(&self) -> bool {
        matches!(self, LoginVerdict::Success { .. })
    }
}

#[derive(Debug)]
struct Session {
    username: String,
    expires: DateTime<Utc>,
}

/// One request as the engine needs it.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub cookie: Option<&'a str>,
    pub authorization: Option<&'a str>,
    pub body: &'a [u8],
    pub client: IpAddr,
    pub now: DateTime<Utc>,
    /// Every request header (dialects read their own: CSRF tokens, content types); absent in
    /// unit tests that need none.
    pub headers: Option<&'a hyper::HeaderMap>,
}

impl RequestView<'_> {
    /// A request header as text (first value; none when not ASCII).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers?.get(name)?.to_str().ok()
    }

    /// A cookie's value from the `Cookie` header.
    pub fn cookie_value(&self, name: &str) -> Option<&str> {
        self.cookie?
            .split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim())
    }
}

/// The answer plus what the recorder needs to know about it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: Cow<'static, str>,
    pub body: Bytes,
    pub set_cookies: Vec<String>,
    /// Dialect headers after the persona's own (e.g. HiLink's rotated CSRF tokens).
    pub headers: Vec<(&'static str, String)>,
    pub kind: EventKind,
    pub auth: Option<AuthRecord>,
    pub sms: Option<SmsAction>,
    pub tags: Vec<String>,
}

impl Reply {
    pub(crate) fn new(
        status: u16,
        content_type: impl Into<Cow<'static, str>>,
        body: impl Into<Bytes>,
        kind: EventKind,
    ) -> Reply {
        Reply {
            status,
            content_type: content_type.into(),
            body: body.into(),
            set_cookies: Vec::new(),
            headers: Vec::new(),
            kind,
            auth: None,
            sms: None,
            tags: Vec::new(),
        }
    }
}

/// Error answers the server itself produces (limits, malformed requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPage {
    BadRequest,
    NotFound,
    RequestTimeout,
    PayloadTooLarge,
    Unavailable,
}

impl ErrorPage {
    pub fn status(self) -> u16 {
        match self {
            ErrorPage::BadRequest => 400,
            ErrorPage::NotFound => 404,
            ErrorPage::RequestTimeout => 408,
            ErrorPage::PayloadTooLarge => 413,
            ErrorPage::Unavailable => 503,
        }
    }
}

/// The core of the mailbox calls: its rows' `index` tokens start with it, as list rows do.
pub(crate) const MAILBOX_CORE: &str = "yruo_sms";

/// One emulated device: a persona with its per-sensor identity and live state.
#[derive(Debug)]
pub struct Device {
    pub persona: Persona,
    pub identity: Identity,
    limits: StateLimits,
    clients: Mutex<LruCache<IpAddr, Client>>,
    sessions: Mutex<LruCache<String, Session>>,
    /// Anti-CSRF tokens issued per web session (HiLink `SessionID`), newest last.
    pub(crate) csrf: Mutex<LruCache<String, VecDeque<String>>>,
    state: Arc<StateCell>,
    /// Writes the state while it changes; stops (after a last save) with the device.
    saver: Option<Saver>,
    inbox: Vec<InboxRow>,
    tokens: AtomicU64,
    error_pages: [Bytes; 5],
    /// What sessions wrote with `set`, shown back to them.
    pub(crate) written: webui::Written,
    /// The TP-Link login key (made on first use, only by TP-Link personas).
    pub(crate) tplink_key: crate::dialect::tplink::LoginKey,
}

struct DeviceVars<'a> {
    device: &'a Device,
    now: DateTime<Utc>,
    extra: &'a [(&'static str, String)],
}

/// Attacker text as it may appear in a log line: JSON-escaped (no line breaks, quotes or
/// controls, so neither the log nor a `"username":"…"` extractor can be forged) and bounded.
fn log_field(raw: &str, max: usize) -> String {
    let quoted = serde_json::to_string(&cgi::bounded(raw, max)).unwrap_or_default();
    quoted.trim_start_matches('"').trim_end_matches('"').to_owned()
}

/// `Mmm dd HH:MM:SS` as syslog writes it (`%b %e %H:%M:%S`, without parsing a format string on
/// every logged send).
fn syslog_date(t: DateTime<chrono::FixedOffset>) -> String {
    use chrono::{Datelike, Timelike};
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS[t.month0() as usize % 12];
    format!("{month} {:>2} {:02}:{:02}:{:02}", t.day(), t.hour(), t.minute(), t.second())
}

/// A log file's size as a right-aligned directory listing column.
fn listing_size(log: &LogFile) -> String {
    format!("{:>20}", log.lines().map(|l| l.len() + 1).sum::<usize>())
}

impl Vars for DeviceVars<'_> {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        if let Some((_, v)) = self.extra.iter().find(|(k, _)| *k == name) {
            return Some(Cow::Borrowed(v));
        }
        let d = self.device;
        let p = &d.persona;
        let i = &d.identity;
        Some(match name {
            "vendor" => Cow::Borrowed(&p.vendor),
            "model" => Cow::Borrowed(&p.model),
            "pn" => Cow::Borrowed(&i.pn),
            "oem" => Cow::Borrowed(&p.oem),
            "rtver" => Cow::Borrowed(&p.rtver),
            "serial" => Cow::Borrowed(&i.serial),
            "mac" => Cow::Borrowed(&i.mac),
            "imei" => Cow::Borrowed(&i.imei),
            "imsi" => Cow::Borrowed(&i.imsi),
            "iccid" => Cow::Borrowed(&i.iccid),
            "modem_model" => Cow::Borrowed(&p.identity.modem_model),
            "modem_version" => Cow::Borrowed(&p.identity.modem_version),
            "operator" => Cow::Borrowed(&i.operator.name),
            "plmnid" => Cow::Borrowed(&i.plmnid),
            "lac" => Cow::Borrowed(&i.lac),
            "cellid" => Cow::Borrowed(&i.cellid),
            "signal" => Cow::Borrowed(&i.signal),
            "hostname" => Cow::Borrowed(&i.hostname),
            "username" => Cow::Borrowed(&i.username),
            "lan_ip" => Cow::Borrowed(&p.identity.lan_ip),
            "wan_ip" => Cow::Borrowed(&i.wan_ip),
            "timezone" => Cow::Borrowed(&i.zone.name),
            "password_enc" => Cow::Borrowed(&i.password_enc),
            "wan_gateway" => Cow::Borrowed(&i.wan_gateway),
            "wan_dns" => Cow::Borrowed(&i.wan_dns),
            "kernel" => Cow::Borrowed(&i.kernel),
            "pid_dnsmasq" => Cow::Owned(i.pids.dnsmasq.to_string()),
            "pid_httpd" => Cow::Owned(i.pids.httpd.to_string()),
            "pid_cell" => Cow::Owned(i.pids.cell.to_string()),
            "pid_sms" => Cow::Owned(i.pids.sms.to_string()),
            "pid_ntpd" => Cow::Owned(i.pids.ntpd.to_string()),
            "pid_dropbear" => Cow::Owned(i.pids.dropbear.to_string()),
            "local_time" | "current_time" => {
                Cow::Owned(i.zone.local(self.now).format("%Y-%m-%d %H:%M:%S").to_string())
            }
            "log_date" => Cow::Owned(syslog_date(i.zone.local(self.now))),
            // A directory listing shows modification times in UTC (nginx's default).
            "httpd_log_mtime" | "system_log_mtime" => {
                let mtime = d.state.with(false, |s| match name {
                    "httpd_log_mtime" => s.httpd_log.mtime(),
                    _ => s.system_log.mtime(),
                });
                Cow::Owned(mtime.format("%d-%b-%Y %H:%M").to_string())
            }
            "httpd_log_size" => Cow::Owned(d.state.with(false, |s| listing_size(&s.httpd_log))),
            "system_log_size" => Cow::Owned(d.state.with(false, |s| listing_size(&s.system_log))),
            "uptime" => {
                let secs = (self.now - i.boot).num_seconds().max(0);
                Cow::Owned(format!(
                    "{} days, {:02}:{:02}:{:02}",
                    secs / 86_400,
                    secs % 86_400 / 3600,
                    secs % 3600 / 60,
                    secs % 60
                ))
            }
            "uptime_secs" => Cow::Owned((self.now - i.boot).num_seconds().max(0).to_string()),
            "sim_monthly_sms" => {
                let (month, first) = d.counter_month(self.now);
                let base = if first { i.sms_counter_base } else { 0 };
                let sent = d.state.with(false, |s| s.sent_in_month(month[0], first));
                Cow::Owned((base + sent).to_string())
            }
            _ => return None,
        })
    }
}

/// The `/cgi` reply envelope, fields in the device's order.
#[derive(Serialize)]
struct Envelope<'a> {
    id: &'a Value,
    model: &'a str,
    pn: &'a str,
    oem: &'a str,
    rtver: &'a str,
    status: i32,
    result: Json,
}

impl Device {
    /// A device whose state lives in memory only (tests, benchmarks).
    pub fn new(persona: Persona, identity: Identity, limits: StateLimits) -> Device {
        let mut device = Device::blank(persona, identity, limits);
        let fresh = device.generate_state();
        device.state = Arc::new(StateCell::memory(fresh));
        device
    }

    /// The device with its state saved in `dir` (`<persona>.json`): continued where the last
    /// run stopped, or generated on first start. Changes are written in the background every
    /// second and once more when the device is dropped; [`Device::save`] writes at once.
    pub fn open(
        persona: Persona,
        identity: Identity,
        limits: StateLimits,
        dir: &Path,
    ) -> Result<Device, StateError> {
        let mut device = Device::blank(persona, identity, limits);
        let path = dir.join(format!("{}.json", device.persona.name));
        let fresh = device.generate_state();
        let cell = Arc::new(StateCell::open(&path, fresh)?);
        device.saver = Some(Saver::spawn(cell.clone()));
        device.state = cell;
        Ok(device)
    }

    /// The SIM counter's month around `t` (the persona's reset day, the device's zone) and
    /// whether the sensor was installed in it (its counter then starts from the identity's).
    fn counter_month(&self, t: DateTime<Utc>) -> ([i64; 2], bool) {
        let month = self.identity.zone.counter_month(self.persona.sms_counter_reset_day, t);
        let installed = self.identity.installed.timestamp();
        (month, month[0] <= installed && installed < month[1])
    }

    /// Writes the state now if it changed.
    pub fn save(&self) -> Result<(), StateError> {
        self.state.save(true)
    }

    fn blank(persona: Persona, identity: Identity, limits: StateLimits) -> Device {
        let cap = |n: usize| NonZeroUsize::new(n.max(1)).unwrap_or(NonZeroUsize::MIN);
        let empty = LogFile::new(Vec::new(), identity.boot);
        let placeholder = DeviceState::new("", "", empty.clone(), empty);
        let mut device = Device {
            clients: Mutex::new(LruCache::new(cap(limits.max_clients))),
            sessions: Mutex::new(LruCache::new(cap(limits.max_sessions))),
            csrf: Mutex::new(LruCache::new(cap(limits.max_sessions))),
            persona,
            identity,
            limits,
            state: Arc::new(StateCell::memory(placeholder)),
            saver: None,
            inbox: Vec::new(),
            tokens: AtomicU64::new(0),
            error_pages: Default::default(),
            written: webui::Written::new(limits.max_sessions),
            tplink_key: Default::default(),
        };
        device.inbox = device.generate_inbox();
        let now = Utc::now();
        let e = &device.persona.errors;
        let pages = [
            &e.bad_request,
            &e.not_found,
            &e.request_timeout,
            &e.payload_too_large,
            &e.unavailable,
        ]
        .map(|t| Bytes::from(device.render(t, now, &[])));
        device.error_pages = pages;
        device
    }

    /// Renders a persona JSON template, keys in the template's order.
    pub(crate) fn render_json(&self, template: &JsonTemplate, now: DateTime<Utc>) -> Json {
        template.render_ordered(&DeviceVars { device: self, now, extra: &[] })
    }

    fn render(
        &self,
        template: &Template,
        now: DateTime<Utc>,
        extra: &[(&'static str, String)],
    ) -> String {
        template.render(&DeviceVars { device: self, now, extra })
    }

    /// The device's answer for a refused or malformed request.
    pub fn error(&self, page: ErrorPage, kind: EventKind) -> Reply {
        let body = self.error_pages[match page {
            ErrorPage::BadRequest => 0,
            ErrorPage::NotFound => 1,
            ErrorPage::RequestTimeout => 2,
            ErrorPage::PayloadTooLarge => 3,
            ErrorPage::Unavailable => 4,
        }]
        .clone();
        Reply::new(page.status(), "text/html", body, kind)
    }

    fn rng(&self, part: &str) -> ChaCha20Rng {
        let mut h = Sha256::new();
        h.update(self.identity.token_key);
        h.update(b"device/");
        h.update(part.as_bytes());
        ChaCha20Rng::from_seed(h.finalize().into())
    }

    /// The state of a device that was never started: its logs from the boot to the sensor's
    /// start (boot lines a second or so apart, then the owner's logins in both logs).
    fn generate_state(&self) -> DeviceState {
        let i = &self.identity;
        let mut rng = self.rng("logs");
        let mut at = i.boot + chrono::Duration::seconds(rng.random_range(6..15));
        let mut system = Vec::new();
        for line in &self.persona.system_boot {
            system.push(self.render(line, at, &[]));
            at += chrono::Duration::milliseconds(rng.random_range(0..2500));
        }
        // The owner logs in now and then between the boot and the sensor's start, from one or
        // two LAN addresses.
        let start = (at + chrono::Duration::hours(1)).timestamp();
        let end = (i.installed - chrono::Duration::minutes(10)).timestamp().max(start + 1);
        let mut times: Vec<i64> =
            (0..self.persona.httpd_entries).map(|_| rng.random_range(start..end)).collect();
        times.sort_unstable();
        let hosts = [rng.random_range(100..200u8), rng.random_range(100..200u8)];
        let mut httpd = Vec::new();
        let mut last = at;
        for t in times {
            let when = DateTime::from_timestamp(t, 0).unwrap_or(at);
            let host = hosts[usize::from(rng.random_bool(0.2))];
            let client =
                self.persona.identity.lan_ip.rsplit_once('.').map_or_else(
                    || format!("192.168.1.{host}"),
                    |(net, _)| format!("{net}.{host}"),
                );
            let extra = [("client_ip", client)];
            httpd.push(self.render(&self.persona.httpd_line, when, &extra));
            system.push(self.render(&self.persona.system_login, when, &extra));
            last = when;
        }
        let system_log = LogFile::new(system, last);
        let httpd_log = LogFile::new(httpd, last);
        DeviceState::new(
            self.persona.name.as_str(),
            &self.identity.fingerprint(),
            system_log,
            httpd_log,
        )
    }

    /// This unit's inbox: some messages of the persona's pool, at times picked in their
    /// windows after the boot; at least one from before the boot, so it is never empty.
    fn generate_inbox(&self) -> Vec<InboxRow> {
        let pool = &self.persona.inbox;
        if pool.is_empty() {
            return Vec::new();
        }
        let mut rng = self.rng("inbox");
        let mut order: Vec<usize> = (0..pool.len()).collect();
        for k in (1..order.len()).rev() {
            order.swap(k, rng.random_range(0..=k));
        }
        let [lo, hi] = self.persona.inbox_count;
        let n = (rng.random_range(lo..=hi) as usize).clamp(1, pool.len());
        let mut chosen: Vec<usize> = order[..n].to_vec();
        if !chosen.iter().any(|&k| pool[k].hours[1] <= 0)
            && let Some(&early) = order.iter().find(|&&k| pool[k].hours[1] <= 0)
        {
            chosen[0] = early;
        }
        let now = self.identity.installed;
        let mut rows: Vec<InboxRow> = chosen
            .into_iter()
            .map(|k| {
                let m = &pool[k];
                let secs =
                    rng.random_range(i64::from(m.hours[0]) * 3600..=i64::from(m.hours[1]) * 3600);
                InboxRow {
                    from: self.render(&m.from, now, &[]),
                    text: self.render(&m.text, now, &[]),
                    at: self.identity.boot + chrono::Duration::seconds(secs),
                }
            })
            .collect();
        rows.sort_by_key(|r| r.at);
        rows
    }

    pub fn handle(&self, req: &RequestView<'_>) -> Reply {
        if let Some(reply) = crate::dialect::handle(self, req) {
            return reply;
        }
        match req.path {
            path if self.persona.webui.export.as_ref().is_some_and(|e| e.path == path) => {
                webui::file_export(self, req)
            }
            path => match self.persona.pages.iter().find(|p| p.path == path) {
                Some(page) => {
                    let mut set_cookies = Vec::new();
                    let body = match &page.body {
                        PageBody::Template(t) if page.tokens => {
                            let (extra, cookie) = crate::dialect::page_tokens(self, req);
                            set_cookies.extend(cookie);
                            Bytes::from(self.render(t, req.now, &extra))
                        }
                        PageBody::Template(t) => Bytes::from(self.render(t, req.now, &[])),
                        PageBody::Generated(Generator::HttpdLog) => {
                            Bytes::from(self.state.with(false, |s| s.httpd_log.text()))
                        }
                        PageBody::Generated(Generator::SystemLog) => {
                            Bytes::from(self.state.with(false, |s| s.system_log.text()))
                        }
                        PageBody::Bytes(b) => b.clone(),
                    };
                    let mut reply = Reply::new(200, page.content_type.clone(), body, page.kind);
                    reply.tags.clone_from(&page.tags);
                    reply.set_cookies = set_cookies;
                    reply
                }
                None => self.error(ErrorPage::NotFound, EventKind::HttpRequest),
            },
        }
    }

    fn envelope(&self, id: &Value, status: i32, result: impl Into<Json>) -> Bytes {
        let env = Envelope {
            id,
            model: &self.persona.model,
            pn: &self.identity.pn,
            oem: &self.persona.oem,
            rtver: &self.persona.rtver,
            status,
            result: result.into(),
        };
        // Serialising these plain values cannot fail; an empty body would still be answered.
        Bytes::from(serde_json::to_vec(&env).unwrap_or_default())
    }

    /// A Milesight `/cgi` reply (the web UI's cores answer through it too).
    pub(crate) fn json(
        &self,
        id: &Value,
        status: i32,
        result: impl Into<Json>,
        kind: EventKind,
    ) -> Reply {
        Reply::new(200, "application/json", self.envelope(id, status, result), kind)
    }

    /// The user of the live Milesight session (`td` cookie or bearer) of `req`.
    pub(crate) fn session_user(&self, req: &RequestView<'_>) -> Option<String> {
        self.session_user_of(token_from(req.cookie, req.authorization)?, req.now)
    }

    /// The user of the live login session `token`, whatever dialect issued it.
    pub(crate) fn session_user_of(&self, token: &str, now: DateTime<Utc>) -> Option<String> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        match sessions.get(token) {
            Some(s) if s.expires > now => Some(s.username.clone()),
            Some(_) => {
                sessions.pop(token);
                None
            }
            None => None,
        }
    }

    /// Ends the login session `token` (logout).
    pub(crate) fn end_session(&self, token: &str) {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).pop(token);
    }

    fn with_client<T>(
        &self,
        ip: IpAddr,
        now: DateTime<Utc>,
        f: impl FnOnce(&mut Client) -> T,
    ) -> T {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let ttl = chrono::Duration::seconds(
            i64::try_from(self.limits.client_ttl_secs).unwrap_or(i64::MAX / 2),
        );
        let client = clients.get_or_insert_mut(ip, || Client::new(now));
        if now - client.last_seen > ttl {
            *client = Client::new(now);
        }
        client.last_seen = now;
        f(client)
    }

    /// One login attempt with the lockout every family shares ("5 tries = 10 min" by default):
    /// `ok` says whether the credentials were the bait ones. On success a session is opened
    /// (its token returned) and the login is logged like the device logs it.
    pub(crate) fn attempt_login(
        &self,
        req: &RequestView<'_>,
        username: &str,
        logged_password: &str,
        ok: bool,
    ) -> LoginVerdict {
        let p = &self.persona;
        let lockout = chrono::Duration::seconds(i64::from(p.lockout_secs));
        let verdict = self.with_client(req.client, req.now, |c| {
            if let Some(until) = c.locked_until {
                if until > req.now {
                    return LoginVerdict::Locked { left: (until - req.now).num_seconds().max(1) };
                }
                c.locked_until = None;
            }
            if ok {
                c.failures = 0;
                return LoginVerdict::Success { token: String::new() };
            }
            c.failures += 1;
            if c.failures >= p.lockout_failures {
                c.failures = 0;
                c.locked_until = Some(req.now + lockout);
                LoginVerdict::Locked { left: i64::from(p.lockout_secs) }
            } else {
                LoginVerdict::Failed { chance: p.lockout_failures - c.failures }
            }
        });
        let verdict = match verdict {
            LoginVerdict::Success { .. } => {
                let token = self.new_token(req);
                self.open_session(&token, username, req.now);
                LoginVerdict::Success { token }
            }
            other => other,
        };
        self.log_login(req, username, logged_password, verdict.success());
        verdict
    }

    /// Opens (or replaces) the login session `token` for `username`.
    pub(crate) fn open_session(&self, token: &str, username: &str, now: DateTime<Utc>) {
        let timeout = self.persona.session_timeout_secs;
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).put(
            token.to_owned(),
            Session {
                username: username.to_owned(),
                expires: now + chrono::Duration::seconds(i64::from(timeout)),
            },
        );
    }

    /// A login as the device logs it: the request body in `httpd.log` (the line format the
    /// CVE-2023-43261 tools read) and the outcome in `system.log`.
    fn log_login(&self, req: &RequestView<'_>, username: &str, password: &str, success: bool) {
        let extra = [
            ("client_ip", req.client.to_string()),
            ("username", log_field(username, 64)),
            ("password_enc", log_field(password, 128)),
        ];
        let httpd = self.render(&self.persona.httpd_line, req.now, &extra);
        let outcome =
            if success { &self.persona.system_login } else { &self.persona.system_login_failed };
        let system = self.render(outcome, req.now, &extra);
        self.state.with(true, |s| {
            s.httpd_log.append(&httpd, req.now);
            s.system_log.append(&system, req.now);
        });
    }

    /// A fresh unguessable token (sessions, CSRF tokens), per sensor.
    pub(crate) fn new_token(&self, req: &RequestView<'_>) -> String {
        let n = self.tokens.fetch_add(1, Ordering::Relaxed);
        let mut h = Sha256::new();
        h.update(self.identity.token_key);
        h.update(n.to_le_bytes());
        h.update(req.client.to_string().as_bytes());
        h.update(req.now.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
        hex::encode(&h.finalize()[..16])
    }

    /// A send as every family records it: the outcome policy per client, one outbox row and a
    /// `system.log` line per recipient, the SIM counter. Nothing is ever sent.
    pub(crate) fn record_send(
        &self,
        req: &RequestView<'_>,
        to: &[String],
        text: Option<&str>,
    ) -> Vec<SendStatus> {
        let outcome = self.persona.send_outcome;
        let statuses: Vec<SendStatus> = self.with_client(req.client, req.now, |c| {
            to.iter()
                .map(|_| {
                    let status = match outcome {
                        SendOutcome::Success => SendStatus::Success,
                        SendOutcome::Failed => SendStatus::Failed,
                        SendOutcome::FailFirst { failures } if c.sends < u64::from(failures) => {
                            SendStatus::Failed
                        }
                        SendOutcome::FailFirst { .. } => SendStatus::Success,
                    };
                    c.sends += 1;
                    status
                })
                .collect()
        });
        // Rendered before taking the state: a template may read the state itself.
        let lines: Vec<String> = to
            .iter()
            .zip(&statuses)
            .map(|(number, status)| {
                let extra = [
                    ("sms_number", log_field(number, cgi::MAX_RECIPIENT_BYTES)),
                    ("sms_status", status.as_str().to_owned()),
                ];
                self.render(&self.persona.system_send, req.now, &extra)
            })
            .collect();
        let body = cgi::bounded(text.unwrap_or_default(), MAX_OUTBOX_TEXT);
        let max_outbox = self.limits.max_outbox;
        self.state.with(true, |s| {
            for ((number, status), line) in to.iter().zip(&statuses).zip(&lines) {
                s.push_outbox(
                    OutboxRow {
                        to: number.clone(),
                        text: body.clone(),
                        at: req.now.timestamp(),
                        status: *status,
                    },
                    max_outbox,
                );
                if *status == SendStatus::Success {
                    s.count_sent(req.now, |t| self.counter_month(t));
                }
                s.system_log.append(line, req.now);
            }
        });
        statuses
    }

    /// Reads the device state (the one outbox with its row numbers, counters).
    pub(crate) fn with_state<T>(&self, f: impl FnOnce(&crate::state::DeviceState) -> T) -> T {
        self.state.with(false, |s| f(s))
    }

    /// Reads the one outbox (oldest first).
    pub(crate) fn with_outbox<T>(&self, f: impl FnOnce(&VecDeque<OutboxRow>) -> T) -> T {
        self.state.with(false, |s| f(&s.outbox))
    }

    /// The inbox messages that have arrived by `now` (oldest first).
    pub(crate) fn inbox_arrived(&self, now: DateTime<Utc>) -> &[InboxRow] {
        let arrived = self.inbox.iter().take_while(|m| m.at <= now).count();
        &self.inbox[..arrived]
    }

    /// Renders a template with the device's variables plus `extra`.
    pub(crate) fn render_with(
        &self,
        template: &Template,
        now: DateTime<Utc>,
        extra: &[(&'static str, String)],
    ) -> String {
        self.render(template, now, extra)
    }

    /// Age of the state limits (for tests).
    pub fn client_ttl(&self) -> Duration {
        Duration::from_secs(self.limits.client_ttl_secs)
    }
}

/// The `td` token from a `Cookie` header or an `Authorization: Bearer login=<user>;<td>` header.
pub(crate) fn token_from<'a>(
    cookie: Option<&'a str>,
    authorization: Option<&'a str>,
) -> Option<&'a str> {
    let from_cookie = cookie.and_then(|c| {
        c.split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == "td")
            .map(|(_, v)| v.trim())
    });
    from_cookie
        .or_else(|| authorization?.strip_prefix("Bearer ")?.rsplit(';').next().map(str::trim))
        .filter(|t| !t.is_empty() && t.len() <= 128)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Seed;
    use crate::persona::PersonaSet;
    use serde_json::json;

    fn device() -> Device {
        let set = PersonaSet::embedded().unwrap();
        let persona = set.get("milesight-ur32l").unwrap().clone();
        let seed = Seed::from_bytes([7; 32], DateTime::from_timestamp(1_750_000_000, 0).unwrap());
        let identity = Identity::derive(&seed, &persona);
        Device::new(persona, identity, StateLimits::default())
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_760_000_000 + secs, 0).unwrap()
    }

    /// Sends `body` to `/cgi` from `ip` at `t` and checks the JSON answer with `expect`.
    fn check(d: &Device, ip: &str, t: i64, body: &str, mut expect: impl FnMut(&Value, &Reply)) {
        let req = RequestView {
            method: "POST",
            path: "/cgi",
            query: None,
            cookie: None,
            authorization: None,
            body: body.as_bytes(),
            client: ip.parse().unwrap(),
            now: at(t),
            headers: None,
        };
        let reply = d.handle(&req);
        let v: Value = serde_json::from_slice(&reply.body).unwrap();
        expect(&v, &reply);
    }

    fn login(user: &str, pass: &str) -> String {
        json!({"id":"1","execute":1,"core":"user","function":"login","values":[{"username":user,"password":crate::crypto::encrypt_password(pass)}]}).to_string()
    }

    #[test]
    fn envelope_fields_come_first_in_device_order() {
        let d = device();
        check(&d, "10.0.0.1", 0, r#"{"id":5,"core":"nope","function":"get"}"#, |_, reply| {
            let text = std::str::from_utf8(&reply.body).unwrap();
            assert!(text.starts_with(r#"{"id":5,"model":"UR32L","pn":""#), "{text}");
            assert!(
                text.contains(r#""oem":"0000","rtver":"32.3.0.8-r1","status":-1,"result":[]}"#),
                "{text}"
            );
        });
    }

    #[test]
    fn lockout_is_per_client_and_expires() {
        let d = device();
        let (user, pass) = (d.identity.username.clone(), d.identity.password.clone());
        for (i, chance) in [4, 3, 2, 1].into_iter().enumerate() {
            check(&d, "10.0.0.1", i as i64, &login(&user, "wrong"), |v, r| {
                assert_eq!(
                    (v["status"].as_i64(), v["result"][0]["chance"].as_u64()),
                    (Some(-2), Some(chance))
                );
                assert_eq!(r.auth.as_ref().unwrap().password, "wrong");
            });
        }
        check(&d, "10.0.0.1", 5, &login(&user, "wrong"), |v, _| {
            assert_eq!(v["result"][0]["locktime"], 600)
        });
        check(&d, "10.0.0.1", 6, &login(&user, &pass), |v, r| {
            assert_eq!(v["status"], -2);
            assert_eq!(v["result"][0]["locktime"], 599);
            assert!(!r.auth.as_ref().unwrap().success);
        });
        // another client is not locked out
        check(&d, "10.0.0.2", 6, &login(&user, &pass), |v, r| {
            assert_eq!(v["status"], 0);
            assert_eq!(r.set_cookies.len(), 2);
        });
        // after ten minutes the first client may try again
        check(&d, "10.0.0.1", 606, &login(&user, &pass), |v, _| assert_eq!(v["status"], 0));
    }

    fn send(to: &str) -> String {
        format!(
            r#"{{"function":"send_sms","values":[{{"base":"api_sms","phone":"{to}","content":"t"}}]}}"#
        )
    }

    /// (number, status) of the outbox rows `ip` sees at `t`, newest first.
    fn outbox(d: &Device, ip: &str, t: i64) -> Vec<(String, String)> {
        let mut out = Vec::new();
        check(d, ip, t, r#"{"function":"query_outbox","values":[{"limit":50}]}"#, |v, _| {
            out = v["result"][0]["get"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let v = &r["value"];
                    (
                        v["number"].as_str().unwrap().to_owned(),
                        v["status"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
        });
        out
    }

    /// The SIM counter starts from the identity's count in the month of the installation and
    /// from 0 in every later month, at midnight of the reset day on the device's clock.
    #[test]
    fn sim_counter_starts_again_each_month() {
        let d = device();
        let counter = |t: DateTime<Utc>| -> u64 {
            let vars = DeviceVars { device: &d, now: t, extra: &[] };
            vars.get("sim_monthly_sms").unwrap().parse().unwrap()
        };
        let send_at = |t: DateTime<Utc>, to: &str| {
            let body = send(to);
            let req = RequestView {
                method: "POST",
                path: "/cgi",
                query: None,
                cookie: None,
                authorization: None,
                body: body.as_bytes(),
                client: "10.0.0.1".parse().unwrap(),
                now: t,
                headers: None,
            };
            d.handle(&req).sms.unwrap().status.unwrap()
        };
        let installed = d.identity.installed;
        let base = d.identity.sms_counter_base;
        let ([_, end], first) = d.counter_month(installed);
        assert!(first);
        let end = DateTime::from_timestamp(end, 0).unwrap();
        let local_end = d.identity.zone.local(end);
        assert_eq!(
            local_end.format("%d %H:%M:%S").to_string(),
            "01 00:00:00",
            "the month ends at local midnight on the 1st"
        );
        assert_eq!(counter(installed), base);
        let hour = chrono::Duration::hours(1);
        let statuses: Vec<String> =
            ["+1", "+2", "+3"].iter().map(|n| send_at(installed + hour, n)).collect();
        assert_eq!(statuses, ["failed", "failed", "success"]);
        assert_eq!(counter(installed + hour), base + 1);
        let second = chrono::Duration::seconds(1);
        assert_eq!(counter(end - second), base + 1);
        assert_eq!(counter(end), 0, "the counter carried over into the next month");
        // (the client is forgotten after its TTL: its first sends fail again)
        let statuses: Vec<String> =
            ["+4", "+5", "+6"].iter().map(|n| send_at(end + hour, n)).collect();
        assert_eq!(statuses, ["failed", "failed", "success"]);
        assert_eq!(counter(end + hour), 1);
        let ([_, next_end], first) = d.counter_month(end + hour);
        assert!(!first);
        assert_eq!(counter(DateTime::from_timestamp(next_end, 0).unwrap()), 0);
        assert_eq!(d.state.with(false, |s| s.sent), 2, "every success is still counted");
    }

    #[test]
    fn one_outbox_for_every_client_and_outcomes_per_client() {
        let d = device();
        for n in ["+1", "+2", "+3"] {
            check(&d, "10.0.0.1", 1, &send(n), |v, r| {
                assert_eq!(v["result"], json!([{}]));
                assert_eq!(r.kind, EventKind::SmsSend);
            });
        }
        check(&d, "10.0.0.9", 2, &send("+4"), |_, r| {
            assert_eq!(r.sms.as_ref().unwrap().status.as_deref(), Some("failed"))
        });
        let expect = [("+4", "failed"), ("+3", "success"), ("+2", "failed"), ("+1", "failed")]
            .map(|(a, b)| (a.to_owned(), b.to_owned()));
        assert_eq!(outbox(&d, "10.0.0.1", 10), expect);
        assert_eq!(outbox(&d, "10.0.0.9", 10), expect, "every client sees the one outbox");
        assert_eq!(d.state.with(false, |s| s.sent), 1, "the counter counts the successes");
    }

    #[test]
    fn send_outcome_policies() {
        let statuses = |outcome: SendOutcome| {
            let mut d = device();
            d.persona.send_outcome = outcome;
            for n in ["+1", "+2", "+3"] {
                check(&d, "10.0.0.1", 1, &send(n), |_, _| {});
            }
            outcome_statuses(&outbox(&d, "10.0.0.1", 2))
        };
        fn outcome_statuses(rows: &[(String, String)]) -> Vec<String> {
            rows.iter().rev().map(|(_, s)| s.clone()).collect()
        }
        assert_eq!(statuses(SendOutcome::Success), ["success"; 3]);
        assert_eq!(statuses(SendOutcome::Failed), ["failed"; 3]);
        assert_eq!(
            statuses(SendOutcome::FailFirst { failures: 1 }),
            ["failed", "success", "success"]
        );
    }

    #[test]
    fn client_state_expires_after_its_ttl() {
        let d = device();
        let ttl = d.client_ttl().as_secs() as i64;
        for n in ["+1", "+2", "+3"] {
            check(&d, "10.0.0.1", 0, &send(n), |_, _| {});
        }
        // Forgotten: its next send counts as a first one again; the outbox keeps every row.
        check(&d, "10.0.0.1", ttl + 10, &send("+4"), |_, r| {
            assert_eq!(r.sms.as_ref().unwrap().status.as_deref(), Some("failed"))
        });
        assert_eq!(outbox(&d, "10.0.0.1", ttl + 11).len(), 4);
    }

    #[test]
    fn logs_record_logins_and_sends_escaped() {
        let d = device();
        let get = |path: &str| {
            let r = d.handle(&RequestView {
                method: "GET",
                path,
                query: None,
                cookie: None,
                authorization: None,
                body: b"",
                client: "10.0.0.1".parse().unwrap(),
                now: at(100),
                headers: None,
            });
            String::from_utf8(r.body.to_vec()).unwrap()
        };
        let (system, httpd) = (get("/lang/log/system.log"), get("/lang/log/httpd.log"));
        check(&d, "10.0.0.7", 50, &login("ad\"min\nforged", "pw"), |_, _| {});
        check(&d, "10.0.0.7", 51, &send("+32470000001"), |_, _| {});
        let system2 = get("/lang/log/system.log");
        let httpd2 = get("/lang/log/httpd.log");
        assert!(
            system2.starts_with(&system) && httpd2.starts_with(&httpd),
            "appended, not rewritten"
        );
        let added: Vec<&str> = system2[system.len()..].lines().collect();
        assert_eq!(added.len(), 2, "{added:?}");
        assert!(
            added[0].contains(r#"user ad\"min\nforged login failed from 10.0.0.7"#),
            "{}",
            added[0]
        );
        assert!(added[1].contains("send sms to +32470000001: failed"), "{}", added[1]);
        let host = format!(" {} ", d.identity.hostname);
        assert!(system2.lines().chain(httpd2.lines()).all(|l| l.contains(&host)));
        let leaked = &httpd2[httpd.len()..];
        assert!(
            leaked.contains(r#"10.0.0.7 POST /cgi"#)
                && leaked.contains(r#""username":"ad\"min\nforged""#),
            "{leaked}"
        );
        assert_eq!(leaked.lines().count(), 1);
    }

    #[test]
    fn syslog_dates_match_strftime() {
        for secs in [0, 86_400 * 40 + 3_723, 86_400 * 200 + 45_296, 1_000_000_000] {
            let t = at(secs).fixed_offset();
            assert_eq!(syslog_date(t), t.format("%b %e %H:%M:%S").to_string());
        }
    }

    #[test]
    fn generated_logs_start_at_the_boot_in_local_time() {
        let d = device();
        let boot_local = d.identity.zone.local(d.identity.boot);
        let first = d.state.with(false, |s| s.system_log.lines().next().unwrap().to_owned());
        let day = boot_local.format("%b %e").to_string();
        assert!(first.starts_with(&day), "{first} vs boot {boot_local}");
        let kernel = d.state.with(false, |s| s.system_log.text());
        assert!(
            kernel.contains(&d.identity.kernel)
                && kernel.contains(&format!("dnsmasq[{}]", d.identity.pids.dnsmasq))
        );
    }

    #[test]
    fn pages_and_errors() {
        let d = device();
        let get = |path: &str| {
            d.handle(&RequestView {
                method: "GET",
                path,
                query: None,
                cookie: None,
                authorization: None,
                body: b"",
                client: "10.0.0.1".parse().unwrap(),
                now: at(0),
                headers: None,
            })
        };
        let log = get("/lang/log/httpd.log");
        assert_eq!((log.status, log.kind), (200, EventKind::LogRead));
        assert_eq!(log.tags, ["cve-2023-43261"]);
        let text = String::from_utf8(log.body.to_vec()).unwrap();
        assert_eq!(
            text,
            String::from_utf8(get("/lang/log/httpd.log").body.to_vec()).unwrap(),
            "stable log"
        );
        assert!(text.contains(&format!(
            r#""username":"{}","password":"{}""#,
            d.identity.username, d.identity.password_enc
        )));
        assert_eq!(get("/etc/passwd").status, 404);
        assert_eq!(get("/../lang/log/httpd.log").status, 404);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever an attacker logs in or sends with, each log grows by exactly its lines, with
        /// nothing that could forge a line or a `"username":"…"` pair, and stays bounded.
        #[test]
        fn attacker_strings_never_forge_log_lines(user in "(?s:.){0,300}", number in "(?s:.){0,80}") {
            let d = device();
            let lines = |d: &Device| d.state.with(false, |s| (s.system_log.text(), s.httpd_log.text()));
            let (system, httpd) = lines(&d);
            check(&d, "10.0.0.1", 1, &login(&user, "pw"), |_, _| {});
            let body = json!({"function":"send_sms","values":[{"base":"api_sms","phone":number,"content":"t"}]});
            let mut sent = 0;
            check(&d, "10.0.0.1", 2, &body.to_string(), |_, r| sent = r.sms.as_ref().map_or(0, |s| s.to.len()));
            let (system2, httpd2) = lines(&d);
            proptest::prop_assert!(system2.starts_with(&system) && httpd2.starts_with(&httpd));
            proptest::prop_assert_eq!(system2[system.len()..].lines().count(), 1 + sent);
            let added = &httpd2[httpd.len()..];
            proptest::prop_assert_eq!(added.lines().count(), 1);
            proptest::prop_assert_eq!(added.matches("\"username\":\"").count(), 1);
            proptest::prop_assert!(added.len() <= crate::state::MAX_LINE_BYTES + 1);
        }
    }
}
