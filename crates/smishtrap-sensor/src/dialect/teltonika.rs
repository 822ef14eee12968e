//! Teltonika RUT (router_personas.md §2): the legacy SMS Gateway "Post/Get" API
//! (`/cgi-bin/sms_send?username=&password=&number=&text=`, plain-text answers, its own
//! credentials, `user1`/`user_pass` by default) and the RutOS 7 REST API (`POST /api/login`
//! bearer tokens, `POST /api/messages/actions/send`, unauthenticated
//! `GET /api/unauthorized/status`).

use serde_json::{Value, json};
use smishtrap_event::{AuthRecord, EventKind, SmsAction, SmsBox, SmsDialect};

use crate::cgi;
use crate::device::{Device, LoginVerdict, Reply, RequestView};
use crate::persona::Template;

const MAX_FIELDS: usize = 32;
/// Bodies of REST calls read as JSON at most this long (the server bounds them anyway).
const MAX_JSON_BYTES: usize = 64 * 1024;

/// The Teltonika firmware as a persona describes it.
#[derive(Debug, Clone)]
pub struct Teltonika {
    /// Credentials of the enabled legacy SMS API (`None`: the firmware has none).
    pub legacy: Option<(String, String)>,
    /// The RutOS 7 REST API answers.
    pub rest: bool,
    /// `GET` reads answered from JSON templates (`/api/...`, the `data` member).
    pub api: Vec<(String, Template)>,
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

pub(super) fn handle(d: &Device, t: &Teltonika, req: &RequestView<'_>) -> Option<Reply> {
    if let Some(cmd) = req.path.strip_prefix("/cgi-bin/sms_") {
        let (user, pass) = t.legacy.as_ref()?;
        return Some(legacy(d, user, pass, cmd, req));
    }
    if t.rest && req.path.starts_with("/api/") {
        return Some(rest(d, t, req));
    }
    None
}

fn text(body: impl Into<String>, kind: EventKind) -> Reply {
    Reply::new(200, "text/plain", body.into(), kind)
}

fn legacy(d: &Device, user: &str, pass: &str, cmd: &str, req: &RequestView<'_>) -> Reply {
    let mut f = fields(req.query.unwrap_or_default().as_bytes());
    f.extend(fields(req.body));
    let kind = match cmd {
        "send" => EventKind::SmsSend,
        "list" | "read" | "total" => EventKind::SmsQuery,
        _ => EventKind::ApiCall,
    };
    let ok = field(&f, "username") == Some(user) && field(&f, "password") == Some(pass);
    let mut r = if !ok {
        // Wrong or missing Post/Get credentials [inferred: the firmware's error text].
        text("Bad username or password\n", kind)
    } else {
        match cmd {
            "send" => {
                let number = field(&f, "number").unwrap_or_default().trim();
                let body = field(&f, "text").map(|t| cgi::bounded(t, cgi::MAX_TEXT_BYTES));
                if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'+') {
                    text("WRONG_NUMBER\n", kind)
                } else {
                    let to = vec![cgi::bounded(number, cgi::MAX_RECIPIENT_BYTES)];
                    let statuses = d.record_send(req, &to, body.as_deref());
                    let status = statuses.first().map(|s| s.as_str().to_owned());
                    let mut r = text(
                        if status.as_deref() == Some("success") { "OK\n" } else { "ERROR\n" },
                        kind,
                    );
                    r.sms = Some(SmsAction {
                        to,
                        text: body,
                        dialect: SmsDialect::TeltonikaGet,
                        mailbox: None,
                        status,
                    });
                    r
                }
            }
            "list" | "read" => {
                let zone = &d.identity.zone;
                let arrived = d.inbox_arrived(req.now);
                let want = field(&f, "number").and_then(|n| n.parse::<usize>().ok());
                let blocks: Vec<String> = arrived
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| cmd == "list" || want == Some(*i + 1))
                    .map(|(i, m)| {
                        format!(
                            "Index: {}\nDate: {}\nSender: {}\nText: {}\nStatus: read\n------------------------------\n",
                            i + 1,
                            zone.local(m.at).format("%a %b %e %H:%M:%S %Y"),
                            m.from,
                            m.text
                        )
                    })
                    .collect();
                let mut r = if blocks.is_empty() {
                    text(if cmd == "list" { "NO MESSAGES\n" } else { "NO MESSAGE\n" }, kind)
                } else {
                    text(blocks.concat(), kind)
                };
                r.sms = Some(query(SmsDialect::TeltonikaGet));
                r
            }
            "total" => {
                let used = d.inbox_arrived(req.now).len();
                let mut r = text(format!("Used: {used}\nTotal: 50\n"), kind);
                r.sms = Some(query(SmsDialect::TeltonikaGet));
                r
            }
            "delete" => text("OK\n", kind),
            _ => return d.error(crate::device::ErrorPage::NotFound, EventKind::HttpRequest),
        }
    };
    if r.sms.is_none() && kind == EventKind::SmsSend {
        r.sms = Some(SmsAction {
            to: field(&f, "number")
                .map(|n| vec![cgi::bounded(n, cgi::MAX_RECIPIENT_BYTES)])
                .unwrap_or_default(),
            text: field(&f, "text").map(|t| cgi::bounded(t, cgi::MAX_TEXT_BYTES)),
            dialect: SmsDialect::TeltonikaGet,
            mailbox: None,
            status: None,
        });
    }
    r.tags.push(if ok { "teltonika:api-credentials" } else { "auth:failed" }.to_owned());
    r
}

fn query(dialect: SmsDialect) -> SmsAction {
    SmsAction { to: Vec::new(), text: None, dialect, mailbox: Some(SmsBox::Inbox), status: None }
}

fn json_reply(status: u16, v: &Value, kind: EventKind) -> Reply {
    Reply::new(status, "application/json", serde_json::to_vec(v).unwrap_or_default(), kind)
}

fn unauthorized(reason: &str, kind: EventKind) -> Reply {
    let mut r = json_reply(
        401,
        &json!({"success": false, "errors": [{"code": 120, "error": reason, "source": "Authorization", "section": null}]}),
        kind,
    );
    r.tags.push("auth:required".to_owned());
    r
}

fn bearer<'a>(req: &RequestView<'a>) -> Option<&'a str> {
    req.authorization?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 256)
}

fn body_json(req: &RequestView<'_>) -> Value {
    if req.body.len() > MAX_JSON_BYTES {
        return Value::Null;
    }
    serde_json::from_slice(req.body).unwrap_or(Value::Null)
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn rest(d: &Device, t: &Teltonika, req: &RequestView<'_>) -> Reply {
    let kind = match req.path {
        "/api/login" => EventKind::AuthLogin,
        "/api/messages/actions/send" => EventKind::SmsSend,
        "/api/messages/status" => EventKind::SmsQuery,
        _ => EventKind::ApiCall,
    };
    match (req.method, req.path) {
        ("POST", "/api/login") => return login(d, req),
        ("GET", "/api/unauthorized/status") => {
            let data = api_data(d, t, req, "/api/unauthorized/status").unwrap_or(Value::Null);
            return json_reply(200, &json!({"success": true, "data": data}), kind);
        }
        _ => {}
    }
    let Some(token) = bearer(req) else {
        let mut r = unauthorized("Missing bearer token", kind);
        if kind == EventKind::SmsSend {
            r.sms = Some(send_action(&body_json(req), None));
        }
        return r;
    };
    if d.session_user_of(token, req.now).is_none() {
        let mut r = unauthorized("Invalid bearer token", kind);
        if kind == EventKind::SmsSend {
            r.sms = Some(send_action(&body_json(req), None));
        }
        return r;
    }
    match (req.method, req.path) {
        ("POST", "/api/messages/actions/send") => {
            let mut action = send_action(&body_json(req), None);
            if action.to.is_empty() {
                let mut r = json_reply(
                    422,
                    &json!({"success": false, "errors": [{"code": 121, "error": "Field is required", "source": "number", "section": "data"}]}),
                    kind,
                );
                r.sms = Some(action);
                return r;
            }
            let statuses = d.record_send(req, &action.to, action.text.as_deref());
            action.status = statuses.first().map(|s| s.as_str().to_owned());
            let mut r = json_reply(200, &json!({"success": true, "data": {"sms_used": 1}}), kind);
            r.sms = Some(action);
            r
        }
        ("GET", "/api/messages/status") => {
            let zone = &d.identity.zone;
            let mut rows: Vec<Value> = d
                .inbox_arrived(req.now)
                .iter()
                .enumerate()
                .map(|(i, m)| json!({"id": (i + 1).to_string(), "modem_id": "1-1", "sender": m.from, "message": m.text, "date": zone.local(m.at).format("%a %b %e %H:%M:%S %Y").to_string(), "status": "read"}))
                .collect();
            rows.reverse();
            let mut r = json_reply(200, &json!({"success": true, "data": rows}), kind);
            r.sms = Some(query(SmsDialect::TeltonikaRest));
            r
        }
        ("POST", "/api/logout") => {
            d.end_session(token);
            json_reply(200, &json!({"success": true}), EventKind::AuthLogout)
        }
        ("GET", path) => match api_data(d, t, req, path) {
            Some(data) => json_reply(200, &json!({"success": true, "data": data}), kind),
            None => not_found(kind),
        },
        _ => not_found(kind),
    }
}

fn not_found(kind: EventKind) -> Reply {
    json_reply(
        404,
        &json!({"success": false, "errors": [{"code": 122, "error": "Endpoint not found", "source": "", "section": null}]}),
        kind,
    )
}

fn api_data(d: &Device, t: &Teltonika, req: &RequestView<'_>, path: &str) -> Option<Value> {
    let (_, tpl) = t.api.iter().find(|(p, _)| p == path)?;
    serde_json::from_str(&d.render_with(tpl, req.now, &[])).ok()
}

fn send_action(v: &Value, status: Option<String>) -> SmsAction {
    let data = v.get("data").unwrap_or(v);
    let to = str_of(data, "number")
        .map(|n| {
            n.split([',', ';'])
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .take(cgi::MAX_RECIPIENTS)
                .map(|n| cgi::bounded(n, cgi::MAX_RECIPIENT_BYTES))
                .collect()
        })
        .unwrap_or_default();
    let text = str_of(data, "message").map(|t| cgi::bounded(&t, cgi::MAX_TEXT_BYTES));
    SmsAction { to, text, dialect: SmsDialect::TeltonikaRest, mailbox: None, status }
}

fn login(d: &Device, req: &RequestView<'_>) -> Reply {
    let v = body_json(req);
    let username =
        cgi::bounded(&str_of(&v, "username").unwrap_or_default(), cgi::MAX_CREDENTIAL_BYTES);
    let password =
        cgi::bounded(&str_of(&v, "password").unwrap_or_default(), cgi::MAX_CREDENTIAL_BYTES);
    let i = &d.identity;
    let ok = username == i.username && password == i.password;
    let verdict = d.attempt_login(req, &username, &password, ok);
    let mut r = match &verdict {
        LoginVerdict::Success { token } => json_reply(
            200,
            &json!({"success": true, "data": {"username": username, "token": token, "expires": 299}}),
            EventKind::AuthLogin,
        ),
        LoginVerdict::Failed { .. } => unauthorized("Login failed", EventKind::AuthLogin),
        LoginVerdict::Locked { .. } => {
            unauthorized("Too many failed login attempts", EventKind::AuthLogin)
        }
    };
    r.tags.retain(|t| t != "auth:required");
    r.auth = Some(AuthRecord {
        username,
        password,
        password_decrypted: true,
        success: verdict.success(),
    });
    r
}
