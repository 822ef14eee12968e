//! Netgear LTE (LB1120/LB2120/LM1200/MR1100): `GET /model.json` (the whole state as JSON,
//! partly without a login, with the `session.secToken`), form posts to `/Forms/config` (login
//! with `session.password`, configuration keys) and `/Forms/smsSendMsg`
//! (router_personas.md §6, amelchio/eternalegypt).

use std::collections::VecDeque;

use serde_json::{Value, json};
use smishtrap_event::{AuthRecord, EventKind, SmsAction, SmsBox, SmsDialect};

use crate::cgi;
use crate::device::{Device, LoginVerdict, Reply, RequestView};
use crate::persona::Template;

const MAX_FIELDS: usize = 32;
const MAX_TOKENS: usize = 8;

/// The Netgear firmware as a persona describes it.
#[derive(Debug, Clone)]
pub struct Netgear {
    /// Paths answering the model JSON (`/model.json`, `/api/model.json`).
    pub model_paths: Vec<String>,
    /// The model JSON without session and messages (a template of JSON text).
    pub model: Template,
}

fn fields(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw)
        .take(MAX_FIELDS)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The web session (`sessionId` cookie) and whether it was made now.
fn session(d: &Device, req: &RequestView<'_>) -> (String, bool) {
    let mut csrf = d.csrf.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(id) = req.cookie_value("sessionId").filter(|v| !v.is_empty() && v.len() <= 128)
        && csrf.get(&format!("ng/{id}")).is_some()
    {
        return (id.to_owned(), false);
    }
    let id = d.new_token(req);
    csrf.put(format!("ng/{id}"), VecDeque::new());
    (id, true)
}

fn sec_token(d: &Device, req: &RequestView<'_>, id: &str) -> String {
    let key = format!("ng/{id}");
    let mut csrf = d.csrf.lock().unwrap_or_else(|e| e.into_inner());
    let ring = csrf.get_or_insert_mut(key, VecDeque::new);
    if let Some(t) = ring.back() {
        return t.clone();
    }
    let token = d.new_token(req);
    if ring.len() >= MAX_TOKENS {
        ring.pop_front();
    }
    ring.push_back(token.clone());
    token
}

fn token_ok(d: &Device, id: &str, sent: Option<&str>) -> bool {
    let Some(sent) = sent else { return false };
    let mut csrf = d.csrf.lock().unwrap_or_else(|e| e.into_inner());
    csrf.get(&format!("ng/{id}")).is_some_and(|r| r.iter().any(|t| t == sent))
}

fn cookie(id: &str) -> String {
    format!("sessionId={id}; path=/; HttpOnly")
}

/// A local redirect target from a form (`ok_redirect`), never another host.
fn local(target: Option<&str>, default: &str) -> String {
    match target {
        Some(t)
            if t.starts_with('/')
                && !t.starts_with("//")
                && t.len() <= 128
                && t.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            t.to_owned()
        }
        _ => default.to_owned(),
    }
}

fn redirect(to: &str, kind: EventKind) -> Reply {
    let mut r = Reply::new(302, "text/html", "", kind);
    r.headers.push(("Location", to.to_owned()));
    r
}

pub(super) fn handle(d: &Device, n: &Netgear, req: &RequestView<'_>) -> Option<Reply> {
    let model = n.model_paths.iter().any(|p| p == req.path);
    if !model && !req.path.starts_with("/Forms/") {
        return None;
    }
    let (id, fresh) = session(d, req);
    let user = d.session_user_of(&format!("ng-login/{id}"), req.now);
    let mut r = if model {
        model_json(d, n, req, &id, user.is_some())
    } else {
        form(d, req, &id, user.is_some())
    };
    if fresh {
        r.set_cookies.push(cookie(&id));
    }
    Some(r)
}

fn model_json(d: &Device, n: &Netgear, req: &RequestView<'_>, id: &str, admin: bool) -> Reply {
    let mut v: Value =
        serde_json::from_str(&d.render_with(&n.model, req.now, &[])).unwrap_or(Value::Null);
    let token = sec_token(d, req, id);
    let zone = &d.identity.zone;
    let msgs: Vec<Value> = if admin {
        d.inbox_arrived(req.now)
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"id": (i + 1).to_string(), "rxTime": zone.local(m.at).format("%d/%m/%y %I:%M:%S %p").to_string(), "text": m.text, "sender": m.from, "read": true}))
            .collect()
    } else {
        Vec::new()
    };
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "session".to_owned(),
            json!({"userRole": if admin { "Admin" } else { "Guest" }, "lang": "en", "secToken": token}),
        );
        let sms = obj.entry("sms").or_insert_with(|| json!({}));
        if let Some(sms) = sms.as_object_mut() {
            sms.insert("ready".to_owned(), Value::Bool(true));
            sms.insert("msgCount".to_owned(), Value::from(msgs.len()));
            sms.insert("sendMsg".to_owned(), json!([{"clientId": "", "status": "Idle"}]));
            sms.insert("msgs".to_owned(), Value::Array(msgs));
        }
    }
    let body = serde_json::to_vec(&v).unwrap_or_default();
    let mut r = Reply::new(200, "text/plain; charset=utf-8", body, EventKind::ApiCall);
    if admin {
        r.kind = EventKind::SmsQuery;
        r.sms = Some(SmsAction {
            to: Vec::new(),
            text: None,
            dialect: SmsDialect::NetgearForms,
            mailbox: Some(SmsBox::Inbox),
            status: None,
        });
    }
    r
}

fn form(d: &Device, req: &RequestView<'_>, id: &str, admin: bool) -> Reply {
    let f = fields(req.body);
    let token_valid = token_ok(d, id, field(&f, "token"));
    match req.path {
        "/Forms/config" if field(&f, "session.password").is_some() => {
            login(d, req, id, &f, token_valid)
        }
        "/Forms/smsSendMsg" => {
            let mut action = send_action(&f);
            let mut r = if !token_valid || !admin {
                let mut r = redirect("/error.json", EventKind::SmsSend);
                r.tags.push(if token_valid { "auth:required" } else { "netgear:token" }.to_owned());
                r
            } else if action.to.is_empty() {
                redirect("/error.json", EventKind::SmsSend)
            } else {
                let statuses = d.record_send(req, &action.to, action.text.as_deref());
                action.status = statuses.first().map(|s| s.as_str().to_owned());
                redirect(&local(field(&f, "ok_redirect"), "/success.json"), EventKind::SmsSend)
            };
            r.sms = Some(action);
            r
        }
        "/Forms/config" => {
            let ok = token_valid && admin;
            let to = if ok {
                local(field(&f, "ok_redirect"), "/success.json")
            } else {
                local(field(&f, "err_redirect"), "/error.json")
            };
            let mut r = redirect(&to, EventKind::ConfigChange);
            for (k, _) in f
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "token" | "ok_redirect" | "err_redirect"))
                .take(4)
            {
                r.tags.push(format!("config:{}", cgi::bounded(k, 48)));
            }
            r
        }
        _ => d.error(crate::device::ErrorPage::NotFound, EventKind::HttpRequest),
    }
}

fn send_action(f: &[(String, String)]) -> SmsAction {
    let to = field(f, "sms.sendMsg.receiver")
        .unwrap_or_default()
        .split([',', ';'])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .take(cgi::MAX_RECIPIENTS)
        .map(|n| cgi::bounded(n, cgi::MAX_RECIPIENT_BYTES))
        .collect();
    let text = field(f, "sms.sendMsg.text").map(|t| cgi::bounded(t, cgi::MAX_TEXT_BYTES));
    SmsAction { to, text, dialect: SmsDialect::NetgearForms, mailbox: None, status: None }
}

fn login(
    d: &Device,
    req: &RequestView<'_>,
    id: &str,
    f: &[(String, String)],
    token_valid: bool,
) -> Reply {
    let password =
        cgi::bounded(field(f, "session.password").unwrap_or_default(), cgi::MAX_CREDENTIAL_BYTES);
    let i = &d.identity;
    let ok = token_valid && password == i.password;
    let verdict = d.attempt_login(req, &i.username, &password, ok);
    let mut r = match &verdict {
        LoginVerdict::Success { .. } => {
            d.open_session(&format!("ng-login/{id}"), &i.username, req.now);
            redirect(&local(field(f, "ok_redirect"), "/index.html"), EventKind::AuthLogin)
        }
        _ => redirect(
            &local(field(f, "err_redirect"), "/index.html?loginfailed"),
            EventKind::AuthLogin,
        ),
    };
    if !token_valid {
        r.tags.push("netgear:token".to_owned());
    }
    r.auth = Some(AuthRecord {
        username: i.username.clone(),
        password,
        password_decrypted: true,
        success: verdict.success(),
    });
    r
}
