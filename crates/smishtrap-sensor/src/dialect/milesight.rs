//! Milesight/Ursalink UR: the `/cgi` JSON-RPC API (both SMS dialects), `/islogin` and
//! `/logout`; the `{id,model,pn,oem,rtver,status,result}` envelope and the `td` session.

use serde_json::{Value, json};
use smishtrap_event::{AuthRecord, EventKind, SmsAction, SmsBox, SmsDialect};

use crate::cgi::{self, Call};
use crate::crypto::decrypt_password;
use crate::device::{Device, LoginVerdict, MAILBOX_CORE, Reply, RequestView, token_from};
use crate::ojson;
use crate::ordered::Json;
use crate::webui;

pub(super) fn handle(d: &Device, req: &RequestView<'_>) -> Option<Reply> {
    Some(match req.path {
        "/cgi" => cgi(d, req),
        "/islogin" => islogin(d, req),
        "/logout" => logout(d, req),
        _ => return None,
    })
}

fn islogin(d: &Device, req: &RequestView<'_>) -> Reply {
    let result = match d.session_user(req) {
        Some(user) => ojson!([ojson!({"login": "true", "ysrole": 4, "username": user})]),
        None => ojson!([ojson!({"login": "false"})]),
    };
    d.json(&Value::Null, 0, result, EventKind::HttpRequest)
}

fn logout(d: &Device, req: &RequestView<'_>) -> Reply {
    if let Some(token) = token_from(req.cookie, req.authorization) {
        d.end_session(token);
    }
    let mut reply = d.json(&Value::Null, 0, json!([]), EventKind::AuthLogout);
    reply.set_cookies.push("td=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT".to_owned());
    reply
}

fn cgi(d: &Device, req: &RequestView<'_>) -> Reply {
    let parsed = match cgi::parse_body(req.body, req.query) {
        Ok(p) => p,
        Err(err) => {
            let mut reply = d.json(&Value::Null, -1, json!([]), EventKind::ApiCall);
            reply.tags.push(match err {
                cgi::BodyError::Empty => "cgi:empty".to_owned(),
                cgi::BodyError::NotJson | cgi::BodyError::NotObject => {
                    "cgi:invalid-json".to_owned()
                }
            });
            return reply;
        }
    };
    let mut reply = cgi_call(d, req, &parsed);
    if let Some(charset) = parsed.charset {
        reply.tags.push(charset.tag().to_owned());
    }
    reply
}

fn cgi_call(d: &Device, req: &RequestView<'_>, parsed: &cgi::CgiRequest) -> Reply {
    let call = parsed.classify();
    let id = &parsed.id;
    if d.persona.require_auth
        && !matches!(call, Call::Login { .. })
        && d.session_user(req).is_none()
    {
        let mut reply = d.json(id, -2, json!([-32001, "Session not found"]), EventKind::ApiCall);
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
        Call::Login { username, password } => login(d, req, id, username, password),
        Call::SendSms { dialect, to, text } => send(d, req, id, dialect, to, text),
        Call::Query { dialect, mailbox, limit, start } => {
            query(d, req, id, dialect, mailbox, limit, start)
        }
        Call::Get { core, bases } => webui::get(d, req, id, &core, &bases),
        Call::Change { core, change, bases } => {
            webui::change(d, req, id, core.as_deref(), change, &parsed.values, &bases)
        }
        Call::Other { .. } => d.json(id, -1, json!([]), EventKind::ApiCall),
    }
}

fn login(d: &Device, req: &RequestView<'_>, id: &Value, username: String, sent: String) -> Reply {
    let decrypted = decrypt_password(&sent);
    let ok = username == d.identity.username
        && decrypted.as_deref() == Some(d.identity.password.as_str());
    let verdict = d.attempt_login(req, &username, &sent, ok);
    let mut set_cookies = Vec::new();
    let (status, result) = match &verdict {
        LoginVerdict::Success { token } => {
            let timeout = d.persona.session_timeout_secs;
            set_cookies.push(format!("loginname={username}; Path=/"));
            set_cookies.push(format!("td={token}; Path=/"));
            (
                0,
                ojson!([
                    ojson!({"ysrole": 4, "ystimeout": timeout, "ysexpires": timeout.saturating_sub(1), "username": username.as_str(), "td": token.as_str()})
                ]),
            )
        }
        LoginVerdict::Failed { chance } => {
            (-2, Json::from(json!([{"chance": chance, "locktime": 0}])))
        }
        LoginVerdict::Locked { left } => (-2, Json::from(json!([{"chance": 0, "locktime": left}]))),
    };
    let mut reply = d.json(id, status, result, EventKind::AuthLogin);
    reply.set_cookies = set_cookies;
    let password_decrypted = decrypted.is_some();
    reply.auth = Some(AuthRecord {
        username,
        password: decrypted.map_or(sent, |p| cgi::bounded(&p, cgi::MAX_CREDENTIAL_BYTES)),
        password_decrypted,
        success: verdict.success(),
    });
    reply
}

fn send(
    d: &Device,
    req: &RequestView<'_>,
    id: &Value,
    dialect: SmsDialect,
    to: Vec<String>,
    text: Option<String>,
) -> Reply {
    let statuses = d.record_send(req, &to, text.as_deref());
    let mut reply = d.json(id, 0, json!([{}]), EventKind::SmsSend);
    reply.sms = Some(SmsAction {
        to,
        text,
        dialect,
        mailbox: None,
        status: statuses.first().map(|s| s.as_str().to_owned()),
    });
    reply
}

fn query(
    d: &Device,
    req: &RequestView<'_>,
    id: &Value,
    dialect: SmsDialect,
    mailbox: SmsBox,
    limit: usize,
    start: usize,
) -> Reply {
    let offset = chrono::Duration::seconds(d.persona.mailbox_time_offset_secs);
    let (count, rows) = match mailbox {
        SmsBox::Outbox => d.with_state(|s| {
            let outbox = &s.outbox;
            let rows: Vec<Json> = outbox
                .iter()
                .enumerate()
                .rev()
                .skip(start)
                .take(limit)
                .map(|(i, r)| {
                    let at = chrono::DateTime::from_timestamp(r.at, 0).unwrap_or_default();
                    let number = usize::try_from(s.outbox_number(i)).unwrap_or(usize::MAX);
                    let index = webui::index_token(d, MAILBOX_CORE, "sms_outbox", number);
                    ojson!({"index": index, "type": "sms_outbox", "value": ojson!({
                        "number": r.to.as_str(), "content": r.text.as_str(), "time": super::fmt_time(at + offset), "status": r.status.as_str()})})
                })
                .collect();
            (outbox.len(), rows)
        }),
        SmsBox::Inbox => {
            // Messages arrive with the clock: one due after now is not there yet.
            let arrived = d.inbox_arrived(req.now);
            let rows = arrived
                .iter()
                .enumerate()
                .skip(start)
                .take(limit)
                .map(|(i, m)| {
                    let index = webui::index_token(d, MAILBOX_CORE, "sms_inbox", i);
                    ojson!({"index": index, "type": "sms_inbox", "value": ojson!({
                        "number": m.from.as_str(), "content": m.text.as_str(),
                        "time": super::fmt_time(m.at + offset), "status": "read"})})
                })
                .collect();
            (arrived.len(), rows)
        }
    };
    let result = ojson!([
        ojson!({"timezone": d.persona.timezone_label.as_str(), "count": count, "get": rows})
    ]);
    let mut reply = d.json(id, 0, result, EventKind::SmsQuery);
    reply.sms = Some(SmsAction {
        to: Vec::new(),
        text: None,
        dialect,
        mailbox: Some(mailbox),
        status: None,
    });
    reply
}
