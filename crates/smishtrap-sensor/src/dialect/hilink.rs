//! Huawei HiLink: the XML API under `/api/` with a `SessionID` cookie and rotating
//! `__RequestVerificationToken`s (router_personas.md §3, the `huawei-lte-api` client).
//!
//! - Tokens come from the home page's `csrf_token` meta tags (newer firmware), from
//!   `GET /api/webserver/token`, or from `GET /api/webserver/SesTokInfo` (older firmware, where
//!   `webserver/token` answers 100002). Every POST must carry one issued to its session, else
//!   125002; a POST answer carries a fresh one, a login two (`…one`/`…two`) and a new session.
//! - Login: `password_type` 0 (Base64 of the password) or 4 (Base64 of the hex SHA-256 of
//!   username + Base64(hex SHA-256(password)) + token), as the persona's firmware does.
//! - Reads come from persona XML templates; SMS send, list and count use the device's one
//!   outbox and inbox.

use std::collections::VecDeque;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};
use smishtrap_event::{AuthRecord, EventKind, SmsAction, SmsBox, SmsDialect};

use super::xml;
use crate::cgi;
use crate::device::{Device, LoginVerdict, Reply, RequestView};
use crate::persona::Template;

/// Tokens kept per session (older ones stop being accepted).
const MAX_TOKENS: usize = 16;
/// Recipients read from one send.
const MAX_PHONES: usize = 64;

/// The HiLink firmware as a persona describes it.
#[derive(Debug, Clone)]
pub struct Hilink {
    /// `password_type` the firmware announces and checks (0 or 4).
    pub password_type: u8,
    /// `GET /api/webserver/token` answers (else only `SesTokInfo`).
    pub token_api: bool,
    /// Content type of API answers.
    pub content_type: String,
    /// Reads answered from templates.
    pub api: Vec<ApiRead>,
}

/// One `GET /api/...` read answered from a persona template.
#[derive(Debug, Clone)]
pub struct ApiRead {
    pub path: String,
    pub body: Template,
    /// Needs a login when the persona requires one.
    pub login: bool,
}

const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n";

fn response(inner: &str) -> String {
    format!("{XML_HEAD}<response>{inner}</response>\r\n")
}

fn error(code: u32) -> String {
    format!("{XML_HEAD}<error>\r\n<code>{code}</code>\r\n<message></message>\r\n</error>\r\n")
}

fn reply(h: &Hilink, body: String, kind: EventKind) -> Reply {
    Reply::new(200, h.content_type.clone(), body, kind)
}

/// The request's web session and whether it was made now (then a cookie is due).
fn session(d: &Device, req: &RequestView<'_>) -> (String, bool) {
    let mut csrf = d.csrf.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(id) = req.cookie_value("SessionID").filter(|v| !v.is_empty() && v.len() <= 128)
        && csrf.get(id).is_some()
    {
        return (id.to_owned(), false);
    }
    let id = session_id(d, req);
    csrf.put(id.clone(), VecDeque::new());
    (id, true)
}

fn session_id(d: &Device, req: &RequestView<'_>) -> String {
    // The firmware's SessionID is 128 characters of letters and digits.
    let a = d.new_token(req);
    let b = d.new_token(req);
    let c = d.new_token(req);
    let e = d.new_token(req);
    format!("{a}{b}{c}{e}")
}

fn cookie(id: &str) -> String {
    format!("SessionID={id}; path=/; HttpOnly;")
}

/// A fresh token issued to session `id`.
fn issue(d: &Device, req: &RequestView<'_>, id: &str) -> String {
    let token = format!("{}{}", d.new_token(req), d.new_token(req));
    let mut csrf = d.csrf.lock().unwrap_or_else(|e| e.into_inner());
    let ring = csrf.get_or_insert_mut(id.to_owned(), VecDeque::new);
    if ring.len() >= MAX_TOKENS {
        ring.pop_front();
    }
    ring.push_back(token.clone());
    token
}

fn token_valid(d: &Device, id: &str, token: Option<&str>) -> bool {
    let Some(token) = token else { return false };
    let mut csrf = d.csrf.lock().unwrap_or_else(|e| e.into_inner());
    csrf.get(id).is_some_and(|ring| ring.iter().any(|t| t == token))
}

/// Variables of a home page with `csrf_token` meta tags: two fresh tokens, and the cookie of
/// a session made now.
pub(super) fn page_tokens(
    d: &Device,
    req: &RequestView<'_>,
) -> (Vec<(&'static str, String)>, Option<String>) {
    let (id, fresh) = session(d, req);
    let extra = vec![("csrf_token", issue(d, req, &id)), ("csrf_token2", issue(d, req, &id))];
    (extra, fresh.then(|| cookie(&id)))
}

pub(super) fn handle(d: &Device, h: &Hilink, req: &RequestView<'_>) -> Option<Reply> {
    let path = req.path;
    if !path.starts_with("/api/") {
        return None;
    }
    let (id, fresh) = session(d, req);
    let logged_in = d.session_user_of(&id, req.now).is_some();
    let mut r = if req.method == "POST" {
        post(d, h, req, &id, logged_in)
    } else {
        get(d, h, req, &id, logged_in)
    };
    if fresh {
        r.set_cookies.insert(0, cookie(&id));
    }
    Some(r)
}

fn get(d: &Device, h: &Hilink, req: &RequestView<'_>, id: &str, logged_in: bool) -> Reply {
    let needs_login = d.persona.require_auth && !logged_in;
    match req.path {
        "/api/webserver/SesTokInfo" => {
            let token = issue(d, req, id);
            let body = response(&format!(
                "\r\n<SesInfo>SessionID={id}</SesInfo>\r\n<TokInfo>{token}</TokInfo>\r\n"
            ));
            reply(h, body, EventKind::ApiCall)
        }
        "/api/webserver/token" if h.token_api => {
            let token = issue(d, req, id);
            // The newer firmware hands out 32 more characters than it checks.
            let body = response(&format!("\r\n<token>{token}{}</token>\r\n", &token[..32]));
            let mut r = reply(h, body, EventKind::ApiCall);
            r.tags.push("hilink:token".to_owned());
            r
        }
        "/api/user/state-login" => {
            let (state, user) = match d.session_user_of(id, req.now) {
                Some(u) => (0, u),
                None => (-1, String::new()),
            };
            let body = response(&format!(
                "\r\n<State>{state}</State>\r\n<Username>{}</Username>\r\n<password_type>{}</password_type>\r\n<extern_password_type>1</extern_password_type>\r\n<history_login_flag>0</history_login_flag>\r\n<firstlogin>0</firstlogin>\r\n<wifipwdsamewithwebpwd>0</wifipwdsamewithwebpwd>\r\n<rsapadingtype>1</rsapadingtype>\r\n",
                xml::escape(&user),
                h.password_type
            ));
            reply(h, body, EventKind::ApiCall)
        }
        "/api/sms/sms-count" => {
            if needs_login {
                return denied(h, EventKind::SmsQuery);
            }
            let outbox = d.with_outbox(|o| o.len());
            let inbox = d.inbox_arrived(req.now).len();
            let body = response(&format!(
                "\r\n<LocalUnread>0</LocalUnread>\r\n<LocalInbox>{inbox}</LocalInbox>\r\n<LocalOutbox>{outbox}</LocalOutbox>\r\n<LocalDraft>0</LocalDraft>\r\n<LocalDeleted>0</LocalDeleted>\r\n<SimUnread>0</SimUnread>\r\n<SimInbox>0</SimInbox>\r\n<SimOutbox>0</SimOutbox>\r\n<SimDraft>0</SimDraft>\r\n<LocalMax>500</LocalMax>\r\n<SimMax>30</SimMax>\r\n<SimUsed>0</SimUsed>\r\n<NewMsg>0</NewMsg>\r\n"
            ));
            let mut r = reply(h, body, EventKind::SmsQuery);
            r.sms = Some(query_action(None));
            r
        }
        path => match h.api.iter().find(|a| a.path == path) {
            Some(_) if needs_login => denied(h, EventKind::ApiCall),
            Some(a) => {
                let body = d.render_with(&a.body, req.now, &[]);
                let kind = if path.starts_with("/api/sms/") {
                    EventKind::SmsQuery
                } else {
                    EventKind::ApiCall
                };
                reply(h, body, kind)
            }
            // Unknown APIs answer "no support", as the firmware's dispatcher does.
            None => reply(h, error(100002), EventKind::ApiCall),
        },
    }
}

fn denied(h: &Hilink, kind: EventKind) -> Reply {
    let mut r = reply(h, error(100003), kind);
    r.tags.push("auth:required".to_owned());
    r
}

fn query_action(mailbox: Option<SmsBox>) -> SmsAction {
    SmsAction { to: Vec::new(), text: None, dialect: SmsDialect::Hilink, mailbox, status: None }
}

fn post(d: &Device, h: &Hilink, req: &RequestView<'_>, id: &str, logged_in: bool) -> Reply {
    let body = String::from_utf8_lossy(req.body);
    let kind = match req.path {
        "/api/user/login" => EventKind::AuthLogin,
        "/api/user/logout" => EventKind::AuthLogout,
        "/api/sms/send-sms" => EventKind::SmsSend,
        "/api/sms/sms-list" => EventKind::SmsQuery,
        _ => EventKind::ApiCall,
    };
    if !token_valid(d, id, req.header("__RequestVerificationToken")) {
        let mut r = reply(h, error(125002), kind);
        r.tags.push("hilink:csrf".to_owned());
        if kind == EventKind::SmsSend {
            // Refused, but what it tried to send is the intelligence.
            r.sms = Some(send_action(&body, None));
        }
        return r;
    }
    let needs_login = d.persona.require_auth && !logged_in;
    let mut r = match req.path {
        "/api/user/login" => return login(d, h, req, id, &body),
        "/api/user/logout" => {
            d.end_session(id);
            reply(h, response("OK"), kind)
        }
        "/api/sms/send-sms" if needs_login => {
            let mut r = denied(h, kind);
            r.sms = Some(send_action(&body, None));
            r
        }
        "/api/sms/send-sms" => send(d, h, req, &body),
        "/api/sms/sms-list" if needs_login => denied(h, kind),
        "/api/sms/sms-list" => list(d, h, req, &body),
        "/api/sms/set-read" | "/api/sms/delete-sms" | "/api/sms/cancel-send" => {
            reply(h, response("OK"), kind)
        }
        _ => reply(h, error(100002), kind),
    };
    r.headers.push(("__RequestVerificationToken", issue(d, req, id)));
    r
}

fn send_action(body: &str, status: Option<String>) -> SmsAction {
    let to: Vec<String> = xml::texts(body, "Phone")
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .take(MAX_PHONES)
        .map(|p| cgi::bounded(p.trim(), cgi::MAX_RECIPIENT_BYTES))
        .collect();
    let text = xml::text(body, "Content").map(|t| cgi::bounded(&t, cgi::MAX_TEXT_BYTES));
    SmsAction { to, text, dialect: SmsDialect::Hilink, mailbox: None, status }
}

fn send(d: &Device, h: &Hilink, req: &RequestView<'_>, body: &str) -> Reply {
    let mut action = send_action(body, None);
    if action.to.is_empty() {
        // The firmware refuses a send without a recipient (format error).
        let mut r = reply(h, error(125003), EventKind::SmsSend);
        r.sms = Some(action);
        return r;
    }
    let statuses = d.record_send(req, &action.to, action.text.as_deref());
    action.status = statuses.first().map(|s| s.as_str().to_owned());
    let mut r = reply(h, response("OK"), EventKind::SmsSend);
    r.sms = Some(action);
    r
}

fn number(body: &str, name: &str, default: usize, max: usize) -> usize {
    xml::text(body, name).and_then(|v| v.trim().parse().ok()).unwrap_or(default).clamp(1, max)
}

fn list(d: &Device, h: &Hilink, req: &RequestView<'_>, body: &str) -> Reply {
    let page = number(body, "PageIndex", 1, 10_000);
    let count = number(body, "ReadCount", 20, 50);
    let box_type = number(body, "BoxType", 1, 10);
    let skip = (page - 1).saturating_mul(count);
    let offset = chrono::Duration::seconds(d.persona.mailbox_time_offset_secs);
    let zone = &d.identity.zone;
    let date = |at: chrono::DateTime<chrono::Utc>| {
        zone.local(at + offset).format("%Y-%m-%d %H:%M:%S").to_string()
    };
    let row = |smstat: u8, index: usize, phone: &str, content: &str, at: String, save: u8| {
        format!(
            "<Message>\r\n<Smstat>{smstat}</Smstat>\r\n<Index>{index}</Index>\r\n<Phone>{}</Phone>\r\n<Content>{}</Content>\r\n<Date>{at}</Date>\r\n<Sca></Sca>\r\n<SaveType>{save}</SaveType>\r\n<Priority>0</Priority>\r\n<SmsType>1</SmsType>\r\n</Message>\r\n",
            xml::escape(phone),
            xml::escape(content)
        )
    };
    let (mailbox, total, rows) = if box_type == 2 {
        d.with_outbox(|o| {
            let rows: String = o
                .iter()
                .enumerate()
                .rev()
                .skip(skip)
                .take(count)
                .map(|(i, m)| {
                    let at = chrono::DateTime::from_timestamp(m.at, 0).unwrap_or_default();
                    let smstat = if m.status.as_str() == "success" { 3 } else { 4 };
                    row(smstat, 20_000 + i, &m.to, &m.text, date(at), 3)
                })
                .collect();
            (SmsBox::Outbox, o.len(), rows)
        })
    } else if box_type == 1 {
        let arrived = d.inbox_arrived(req.now);
        let rows: String = arrived
            .iter()
            .enumerate()
            .rev()
            .skip(skip)
            .take(count)
            .map(|(i, m)| row(1, 40_000 + i, &m.from, &m.text, date(m.at), 4))
            .collect();
        (SmsBox::Inbox, arrived.len(), rows)
    } else {
        (SmsBox::Inbox, 0, String::new())
    };
    let body =
        response(&format!("\r\n<Count>{total}</Count>\r\n<Messages>\r\n{rows}</Messages>\r\n"));
    let mut r = reply(h, body, EventKind::SmsQuery);
    r.sms = Some(query_action(Some(mailbox)));
    r
}

/// `password_type` 4: Base64(hex(SHA-256(username + Base64(hex(SHA-256(password))) + token))).
pub fn password_hash(username: &str, password: &str, token: &str) -> String {
    let inner = B64.encode(hex::encode(Sha256::digest(password.as_bytes())));
    let outer = Sha256::digest(format!("{username}{inner}{token}").as_bytes());
    B64.encode(hex::encode(outer))
}

fn login(d: &Device, h: &Hilink, req: &RequestView<'_>, id: &str, body: &str) -> Reply {
    let username =
        cgi::bounded(&xml::text(body, "Username").unwrap_or_default(), cgi::MAX_CREDENTIAL_BYTES);
    let sent =
        cgi::bounded(&xml::text(body, "Password").unwrap_or_default(), cgi::MAX_CREDENTIAL_BYTES);
    let sent_type: u8 =
        xml::text(body, "password_type").and_then(|t| t.trim().parse().ok()).unwrap_or(0);
    let i = &d.identity;
    let token = req.header("__RequestVerificationToken").unwrap_or_default();
    // What the attacker typed, where the encoding can be undone.
    let plain = (sent_type == 0)
        .then(|| B64.decode(sent.trim()).ok().and_then(|b| String::from_utf8(b).ok()))
        .flatten();
    let ok = username == i.username
        && match sent_type {
            4 if h.password_type == 4 => sent == password_hash(&i.username, &i.password, token),
            0 => plain.as_deref() == Some(i.password.as_str()),
            _ => false,
        };
    let verdict = d.attempt_login(req, &username, &sent, ok);
    let mut r = match &verdict {
        LoginVerdict::Success { token } => {
            // A login starts a new session with two fresh tokens.
            d.csrf.lock().unwrap_or_else(|e| e.into_inner()).pop(id);
            let mut r = reply(h, response("OK"), EventKind::AuthLogin);
            r.set_cookies.push(cookie(token));
            r.headers.push(("__RequestVerificationTokenone", issue(d, req, token)));
            r.headers.push(("__RequestVerificationTokentwo", issue(d, req, token)));
            r
        }
        // 108006: user name or password wrong; 108007: too many tries.
        LoginVerdict::Failed { .. } => {
            let mut r = reply(h, error(108006), EventKind::AuthLogin);
            r.headers.push(("__RequestVerificationToken", issue(d, req, id)));
            r
        }
        LoginVerdict::Locked { .. } => {
            let mut r = reply(h, error(108007), EventKind::AuthLogin);
            r.headers.push(("__RequestVerificationToken", issue(d, req, id)));
            r
        }
    };
    r.tags.push(format!("hilink:password-type-{sent_type}"));
    r.auth = Some(AuthRecord {
        username,
        password_decrypted: plain.is_some() || (ok && sent_type == 4),
        // A type-4 hash is one-way; a success proves it was the bait password.
        password: match (plain, ok) {
            (Some(p), _) => cgi::bounded(&p, cgi::MAX_CREDENTIAL_BYTES),
            (None, true) => i.password.clone(),
            (None, false) => sent,
        },
        success: verdict.success(),
    });
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_matches_the_client_library() {
        // huawei-lte-api's _encode_password(SHA256) for admin/admin and token "abc".
        let inner = B64.encode(hex::encode(Sha256::digest(b"admin")));
        assert_eq!(
            inner,
            "OGM2OTc2ZTViNTQxMDQxNWJkZTkwOGJkNGRlZTE1ZGZiMTY3YTljODczZmM0YmI4YTgxZjZmMmFiNDQ4YTkxOA=="
        );
        assert_eq!(password_hash("admin", "admin", "abc").len(), 88);
    }
}
