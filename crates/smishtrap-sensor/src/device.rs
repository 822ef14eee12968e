//! The persona engine: answers one request as the emulated device would, keeping the state an
//! attacker can observe (sessions, lockout, outbox, SMS counter) bounded and expiring.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use lru::LruCache;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use smishtrap_event::{AuthRecord, EventKind, SmsAction, SmsBox, SmsDialect};

use crate::cgi::{self, Call};
use crate::crypto::decrypt_password;
use crate::identity::Identity;
use crate::ojson;
use crate::ordered::Json;
use crate::persona::{Generator, JsonTemplate, PageBody, Persona, Template, Vars};
use crate::webui;

/// Bounds on the state kept per client (source IP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateLimits {
    /// Clients remembered at once; the least recently seen is forgotten first.
    pub max_clients: usize,
    /// A client unseen for this long starts afresh.
    pub client_ttl_secs: u64,
    /// Outbox rows kept per client (oldest dropped first).
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
struct OutboxRow {
    to: String,
    text: String,
    at: DateTime<Utc>,
    status: &'static str,
}

#[derive(Debug)]
struct Client {
    last_seen: DateTime<Utc>,
    failures: u32,
    locked_until: Option<DateTime<Utc>>,
    sends: u64,
    outbox: VecDeque<OutboxRow>,
}

impl Client {
    fn new(now: DateTime<Utc>) -> Client {
        Client {
            last_seen: now,
            failures: 0,
            locked_until: None,
            sends: 0,
            outbox: VecDeque::new(),
        }
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
}

/// The answer plus what the recorder needs to know about it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: Cow<'static, str>,
    pub body: Bytes,
    pub set_cookies: Vec<String>,
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

/// One emulated device: a persona with its per-sensor identity and live state.
#[derive(Debug)]
pub struct Device {
    pub persona: Persona,
    pub identity: Identity,
    limits: StateLimits,
    clients: Mutex<LruCache<IpAddr, Client>>,
    sessions: Mutex<LruCache<String, Session>>,
    sent: AtomicU64,
    tokens: AtomicU64,
    error_pages: [Bytes; 5],
}

struct DeviceVars<'a> {
    device: &'a Device,
    now: DateTime<Utc>,
    extra: &'a [(&'static str, String)],
}

fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
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
            "timezone" => Cow::Borrowed(&i.operator.timezone),
            "password_enc" => Cow::Borrowed(&i.password_enc),
            "local_time" | "current_time" => Cow::Owned(fmt_time(self.now)),
            "log_date" => Cow::Owned(self.now.format("%b %e %H:%M:%S").to_string()),
            "uptime" => {
                let secs = (self.now - i.installed).num_seconds().max(0) + i.uptime_at_install;
                Cow::Owned(format!(
                    "{} days, {:02}:{:02}:{:02}",
                    secs / 86_400,
                    secs % 86_400 / 3600,
                    secs % 3600 / 60,
                    secs % 60
                ))
            }
            "sim_monthly_sms" => {
                Cow::Owned((i.sms_counter_base + d.sent.load(Ordering::Relaxed)).to_string())
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
    pub fn new(persona: Persona, identity: Identity, limits: StateLimits) -> Device {
        let cap = |n: usize| NonZeroUsize::new(n.max(1)).unwrap_or(NonZeroUsize::MIN);
        let mut device = Device {
            clients: Mutex::new(LruCache::new(cap(limits.max_clients))),
            sessions: Mutex::new(LruCache::new(cap(limits.max_sessions))),
            persona,
            identity,
            limits,
            sent: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
            error_pages: Default::default(),
        };
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

    pub fn handle(&self, req: &RequestView<'_>) -> Reply {
        match req.path {
            "/cgi" => self.cgi(req),
            "/islogin" => self.islogin(req),
            "/logout" => self.logout(req),
            path if self.persona.webui.export.as_ref().is_some_and(|e| e.path == path) => {
                webui::file_export(self, req)
            }
            path => match self.persona.pages.iter().find(|p| p.path == path) {
                Some(page) => {
                    let body = match &page.body {
                        PageBody::Template(t) => self.render(t, req.now, &[]),
                        PageBody::Generated(Generator::HttpdLog) => self.httpd_log(),
                    };
                    let mut reply = Reply::new(200, page.content_type.clone(), body, page.kind);
                    reply.tags.clone_from(&page.tags);
                    reply
                }
                None => self.error(ErrorPage::NotFound, EventKind::HttpRequest),
            },
        }
    }

    /// `httpd.log`: the bait login logged a few times before the sensor existed, stable for
    /// one seed.
    fn httpd_log(&self) -> String {
        let i = &self.identity;
        let mut out = String::new();
        let n = i64::from(self.persona.httpd_entries);
        let first = i.installed - chrono::Duration::days(n * 3);
        for k in 0..n {
            let hash = Sha256::digest([&i.token_key[..], &k.to_le_bytes()].concat());
            let at = first
                + chrono::Duration::days(k * 3)
                + chrono::Duration::seconds(i64::from(u16::from_le_bytes([hash[0], hash[1]])));
            let client = format!("192.168.1.{}", 100 + hash[2] % 100);
            let line = self.render(&self.persona.httpd_line, at, &[("client_ip", client)]);
            out.push_str(&line);
            out.push('\n');
        }
        out
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

    pub(crate) fn json(
        &self,
        id: &Value,
        status: i32,
        result: impl Into<Json>,
        kind: EventKind,
    ) -> Reply {
        Reply::new(200, "application/json", self.envelope(id, status, result), kind)
    }

    pub(crate) fn session_user(&self, req: &RequestView<'_>) -> Option<String> {
        let token = token_from(req.cookie, req.authorization)?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        match sessions.get(token) {
            Some(s) if s.expires > req.now => Some(s.username.clone()),
            Some(_) => {
                sessions.pop(token);
                None
            }
            None => None,
        }
    }

    fn islogin(&self, req: &RequestView<'_>) -> Reply {
        let result = match self.session_user(req) {
            Some(user) => ojson!([ojson!({"login": "true", "ysrole": 4, "username": user})]),
            None => ojson!([ojson!({"login": "false"})]),
        };
        self.json(&Value::Null, 0, result, EventKind::HttpRequest)
    }

    fn logout(&self, req: &RequestView<'_>) -> Reply {
        if let Some(token) = token_from(req.cookie, req.authorization) {
            self.sessions.lock().unwrap_or_else(|e| e.into_inner()).pop(token);
        }
        let mut reply = self.json(&Value::Null, 0, json!([]), EventKind::AuthLogout);
        reply.set_cookies.push("td=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT".to_owned());
        reply
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

    fn cgi(&self, req: &RequestView<'_>) -> Reply {
        let parsed = match cgi::parse_body(req.body, req.query) {
            Ok(p) => p,
            Err(err) => {
                let mut reply = self.json(&Value::Null, -1, json!([]), EventKind::ApiCall);
                reply.tags.push(match err {
                    cgi::BodyError::Empty => "cgi:empty".to_owned(),
                    cgi::BodyError::NotJson | cgi::BodyError::NotObject => {
                        "cgi:invalid-json".to_owned()
                    }
                });
                return reply;
            }
        };
        let mut reply = self.cgi_call(req, &parsed);
        if let Some(charset) = parsed.charset {
            reply.tags.push(charset.tag().to_owned());
        }
        reply
    }

    fn cgi_call(&self, req: &RequestView<'_>, parsed: &cgi::CgiRequest) -> Reply {
        let call = parsed.classify();
        let id = &parsed.id;
        if self.persona.require_auth
            && !matches!(call, Call::Login { .. })
            && self.session_user(req).is_none()
        {
            let mut reply =
                self.json(id, -2, json!([-32001, "Session not found"]), EventKind::ApiCall);
            reply.kind = match call {
                Call::SendSms { .. } => EventKind::SmsSend,
                Call::Query { .. } => EventKind::SmsQuery,
                Call::Change { .. } => EventKind::ConfigChange,
                _ => EventKind::ApiCall,
            };
            reply.tags.push("auth:required".to_owned());
            return reply;
        }
        match call {
            Call::Login { username, password } => self.login(req, id, username, password),
            Call::SendSms { dialect, to, text } => self.send(req, id, dialect, to, text),
            Call::Query { dialect, mailbox, limit, start } => {
                self.query(req, id, dialect, mailbox, limit, start)
            }
            Call::Get { core, bases } => webui::get(self, req, id, &core, &bases),
            Call::Change { core, change, bases } => {
                webui::change(self, id, core.as_deref(), change, &bases)
            }
            Call::Other { .. } => self.json(id, -1, json!([]), EventKind::ApiCall),
        }
    }

    fn login(&self, req: &RequestView<'_>, id: &Value, username: String, sent: String) -> Reply {
        let decrypted = decrypt_password(&sent);
        let ok = username == self.identity.username
            && decrypted.as_deref() == Some(self.identity.password.as_str());
        let p = &self.persona;
        let lockout = chrono::Duration::seconds(i64::from(p.lockout_secs));
        let (status, result, success) = self.with_client(req.client, req.now, |c| {
            if let Some(until) = c.locked_until {
                if until > req.now {
                    let left = (until - req.now).num_seconds().max(1);
                    return (-2, json!([{"chance": 0, "locktime": left}]), false);
                }
                c.locked_until = None;
            }
            if ok {
                c.failures = 0;
                return (0, Value::Null, true);
            }
            c.failures += 1;
            if c.failures >= p.lockout_failures {
                c.failures = 0;
                c.locked_until = Some(req.now + lockout);
                (-2, json!([{"chance": 0, "locktime": p.lockout_secs}]), false)
            } else {
                (-2, json!([{"chance": p.lockout_failures - c.failures, "locktime": 0}]), false)
            }
        });
        let mut set_cookies = Vec::new();
        let result = if success {
            let token = self.new_token(req);
            let timeout = p.session_timeout_secs;
            self.sessions.lock().unwrap_or_else(|e| e.into_inner()).put(
                token.clone(),
                Session {
                    username: username.clone(),
                    expires: req.now + chrono::Duration::seconds(i64::from(timeout)),
                },
            );
            set_cookies.push(format!("loginname={username}; Path=/"));
            set_cookies.push(format!("td={token}; Path=/"));
            ojson!([
                ojson!({"ysrole": 4, "ystimeout": timeout, "ysexpires": timeout.saturating_sub(1), "username": username.as_str(), "td": token})
            ])
        } else {
            Json::from(result)
        };
        let mut reply = self.json(id, status, result, EventKind::AuthLogin);
        reply.set_cookies = set_cookies;
        let password_decrypted = decrypted.is_some();
        reply.auth = Some(AuthRecord {
            username,
            password: decrypted.map_or(sent, |d| cgi::bounded(&d, cgi::MAX_CREDENTIAL_BYTES)),
            password_decrypted,
            success,
        });
        reply
    }

    fn new_token(&self, req: &RequestView<'_>) -> String {
        let n = self.tokens.fetch_add(1, Ordering::Relaxed);
        let mut h = Sha256::new();
        h.update(self.identity.token_key);
        h.update(n.to_le_bytes());
        h.update(req.client.to_string().as_bytes());
        h.update(req.now.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
        hex::encode(&h.finalize()[..16])
    }

    fn send(
        &self,
        req: &RequestView<'_>,
        id: &Value,
        dialect: SmsDialect,
        to: Vec<String>,
        text: Option<String>,
    ) -> Reply {
        let failed_first = u64::from(self.persona.failed_first);
        let max_outbox = self.limits.max_outbox;
        let body = text.clone().unwrap_or_default();
        let first_status = self.with_client(req.client, req.now, |c| {
            let mut first = None;
            for number in &to {
                let status = if c.sends < failed_first { "failed" } else { "success" };
                c.sends += 1;
                first.get_or_insert(status);
                if status == "success" {
                    self.sent.fetch_add(1, Ordering::Relaxed);
                }
                if c.outbox.len() >= max_outbox {
                    c.outbox.pop_front();
                }
                c.outbox.push_back(OutboxRow {
                    to: number.clone(),
                    text: body.clone(),
                    at: req.now,
                    status,
                });
            }
            first
        });
        let mut reply = self.json(id, 0, json!([{}]), EventKind::SmsSend);
        reply.sms = Some(SmsAction {
            to,
            text,
            dialect,
            mailbox: None,
            status: first_status.map(str::to_owned),
        });
        reply
    }

    fn query(
        &self,
        req: &RequestView<'_>,
        id: &Value,
        dialect: SmsDialect,
        mailbox: SmsBox,
        limit: usize,
        start: usize,
    ) -> Reply {
        let offset = chrono::Duration::seconds(self.persona.mailbox_time_offset_secs);
        let (count, rows) = match mailbox {
            SmsBox::Outbox => self.with_client(req.client, req.now, |c| {
                let rows: Vec<Json> = c
                    .outbox
                    .iter()
                    .enumerate()
                    .rev()
                    .skip(start)
                    .take(limit)
                    .map(|(i, r)| {
                        ojson!({"index": i + 1, "type": "sms_outbox", "value": ojson!({
                            "number": r.to.as_str(), "content": r.text.as_str(), "time": fmt_time(r.at + offset), "status": r.status})})
                    })
                    .collect();
                (c.outbox.len(), rows)
            }),
            SmsBox::Inbox => {
                let inbox = &self.persona.inbox;
                let rows = inbox
                    .iter()
                    .enumerate()
                    .skip(start)
                    .take(limit)
                    .map(|(i, m)| {
                        let at = req.now - chrono::Duration::hours(i64::from(m.hours_ago)) + offset;
                        ojson!({"index": i + 1, "type": "sms_inbox", "value": ojson!({
                            "number": self.render(&m.from, req.now, &[]),
                            "content": self.render(&m.text, req.now, &[]),
                            "time": fmt_time(at), "status": "read"})})
                    })
                    .collect();
                (inbox.len(), rows)
            }
        };
        let result = ojson!([
            ojson!({"timezone": self.persona.timezone_label.as_str(), "count": count, "get": rows})
        ]);
        let mut reply = self.json(id, 0, result, EventKind::SmsQuery);
        reply.sms = Some(SmsAction {
            to: Vec::new(),
            text: None,
            dialect,
            mailbox: Some(mailbox),
            status: None,
        });
        reply
    }

    /// Age of the state limits (for tests).
    pub fn client_ttl(&self) -> Duration {
        Duration::from_secs(self.limits.client_ttl_secs)
    }
}

/// The `td` token from a `Cookie` header or an `Authorization: Bearer login=<user>;<td>` header.
fn token_from<'a>(cookie: Option<&'a str>, authorization: Option<&'a str>) -> Option<&'a str> {
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

    #[test]
    fn outbox_reports_failed_then_success_per_client() {
        let d = device();
        let send = |to: &str| {
            format!(
                r#"{{"function":"send_sms","values":[{{"base":"api_sms","phone":"{to}","content":"t"}}]}}"#
            )
        };
        let statuses = |d: &Device, ip: &str| {
            let mut out = Vec::new();
            check(d, ip, 10, r#"{"function":"query_outbox","values":[{"limit":50}]}"#, |v, _| {
                out = v["result"][0]["get"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["value"]["status"].as_str().unwrap().to_owned())
                    .collect();
            });
            out
        };
        for n in ["+1", "+2", "+3"] {
            check(&d, "10.0.0.1", 1, &send(n), |v, r| {
                assert_eq!(v["result"], json!([{}]));
                assert_eq!(r.kind, EventKind::SmsSend);
            });
        }
        assert_eq!(statuses(&d, "10.0.0.1"), ["success", "failed", "failed"]);
        assert!(statuses(&d, "10.0.0.9").is_empty(), "a client sees only its own messages");
        check(&d, "10.0.0.9", 2, &send("+4"), |_, r| {
            assert_eq!(r.sms.as_ref().unwrap().status.as_deref(), Some("failed"))
        });
    }

    #[test]
    fn client_state_expires_after_its_ttl() {
        let d = device();
        let ttl = d.client_ttl().as_secs() as i64;
        check(
            &d,
            "10.0.0.1",
            0,
            r#"{"function":"send_sms","values":[{"to":"+1","text":"a"}]}"#,
            |_, _| {},
        );
        check(&d, "10.0.0.1", ttl + 10, r#"{"function":"query_outbox"}"#, |v, _| {
            assert_eq!(v["result"][0]["count"], 0)
        });
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
}
