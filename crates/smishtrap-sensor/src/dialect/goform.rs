//! ZTE MF/MC web API: `GET /goform/goform_get_cmd_process?cmd=a,b&multi_data=1` reads (flat
//! JSON) and `goform_set_cmd_process` commands (`goformId=LOGIN`, `SEND_SMS`, ...), as form
//! posts or, on some units, GET queries (router_personas.md §4).
//!
//! - Login: `password` Base64 (`password_mode = 0`) or uppercase hex SHA-256 of (uppercase hex
//!   SHA-256 of the password + `LD`) (`password_mode = 2`); `{"result":"0"}`, `"3"` when wrong.
//!   Older units bind the login to the client address, newer ones set a `stok` cookie.
//! - Newer units need `AD = md5(md5(wa_inner_version + cr_version) + RD)` on set commands.
//! - `MessageBody` is hex: UCS-2 big-endian (what the web UI sends for every encoding), or
//!   plain bytes; decoded into the event's text.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use md5::Md5;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use smishtrap_event::{AuthRecord, EventKind, SmsAction, SmsBox, SmsDialect};

use crate::cgi;
use crate::device::{Device, LoginVerdict, Reply, RequestView};
use crate::persona::Template;

/// Commands read from one `cmd=` list.
const MAX_CMDS: usize = 64;
/// Form fields read from one request.
const MAX_FIELDS: usize = 64;

/// The ZTE firmware as a persona describes it.
#[derive(Debug, Clone)]
pub struct Goform {
    /// 0: Base64 password; 2: SHA-256 with the `LD` salt.
    pub password_mode: u8,
    /// Set commands need the `AD` token.
    pub ad: bool,
    /// The login sets a `stok` cookie (else it is bound to the client address).
    pub cookie: bool,
    pub content_type: String,
    /// Values of `cmd=` reads, by name (templates).
    pub values: Vec<(String, Template)>,
}

/// The decoded text of a hex `MessageBody`: UCS-2 big-endian when `encode_type` is `UNICODE`
/// or some unit is ASCII (the web UI encodes every text so), else the bytes as UTF-8 (lossy),
/// else the raw value (scripts that send plain text).
pub fn decode_body(raw: &str, encode_type: Option<&str>) -> String {
    let raw = raw.trim();
    let is_hex = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hex && raw.len().is_multiple_of(4) {
        let units: Vec<u16> = raw
            .as_bytes()
            .chunks(4)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .filter_map(|c| u16::from_str_radix(c, 16).ok())
            .collect();
        if encode_type == Some("UNICODE") || units.iter().any(|u| *u >> 8 == 0) {
            return char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect();
        }
    }
    if is_hex
        && raw.len().is_multiple_of(2)
        && let Ok(bytes) = hex::decode(raw)
    {
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    raw.to_owned()
}

/// Text as the web UI encodes it (4 hex digits per UTF-16 unit).
pub fn encode_body(text: &str) -> String {
    text.encode_utf16().map(|u| format!("{u:04X}")).collect()
}

fn fields(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw)
        .take(MAX_FIELDS)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn reply(g: &Goform, value: &Value, kind: EventKind) -> Reply {
    let body = serde_json::to_vec(value).unwrap_or_default();
    Reply::new(200, g.content_type.clone(), body, kind)
}

fn result(g: &Goform, r: &str, kind: EventKind) -> Reply {
    reply(g, &json!({"result": r}), kind)
}

pub(super) fn handle(d: &Device, g: &Goform, req: &RequestView<'_>) -> Option<Reply> {
    match req.path {
        "/goform/goform_get_cmd_process" => Some(get(d, g, req)),
        "/goform/goform_set_cmd_process" => Some(set(d, g, req)),
        _ => None,
    }
}

/// The login session key: the `stok` cookie, or the client address on older units.
fn session_key(g: &Goform, req: &RequestView<'_>) -> Option<String> {
    if g.cookie {
        req.cookie_value("stok").map(|v| v.trim_matches('"').to_owned())
    } else {
        Some(format!("zte/{}", req.client))
    }
}

fn logged_in(d: &Device, g: &Goform, req: &RequestView<'_>) -> bool {
    session_key(g, req).is_some_and(|k| d.session_user_of(&k, req.now).is_some())
}

/// A per-client nonce (`RD`, `LD`): issued on read, checked on the next set.
fn nonce(d: &Device, req: &RequestView<'_>, name: &str, fresh: bool) -> Option<String> {
    let key = format!("zte-{name}/{}", req.client);
    let mut csrf = d.csrf.lock().unwrap_or_else(|e| e.into_inner());
    if fresh {
        let value = d.new_token(req).to_ascii_uppercase();
        csrf.put(key, std::iter::once(value.clone()).collect());
        return Some(value);
    }
    csrf.get(&key).and_then(|ring| ring.back().cloned())
}

fn value(d: &Device, g: &Goform, req: &RequestView<'_>, name: &str) -> String {
    g.values
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, t)| d.render_with(t, req.now, &[]))
        .unwrap_or_default()
}

fn get(d: &Device, g: &Goform, req: &RequestView<'_>) -> Reply {
    let q = fields(req.query.unwrap_or_default().as_bytes());
    let cmds: Vec<&str> = field(&q, "cmd")
        .unwrap_or_default()
        .split(',')
        .filter(|c| !c.is_empty())
        .take(MAX_CMDS)
        .collect();
    let multi = field(&q, "multi_data") == Some("1");
    let allowed = !d.persona.require_auth || logged_in(d, g, req);
    let mut out = Map::new();
    let mut kind = EventKind::ApiCall;
    let mut sms = None;
    for cmd in &cmds {
        match *cmd {
            "sms_data_total" | "sms_page_data" => {
                kind = EventKind::SmsQuery;
                let messages = if allowed { messages(d, req, &q) } else { Vec::new() };
                let tags = field(&q, "tags").unwrap_or("10");
                sms = Some(SmsAction {
                    to: Vec::new(),
                    text: None,
                    dialect: SmsDialect::Goform,
                    mailbox: Some(if tags == "2" { SmsBox::Outbox } else { SmsBox::Inbox }),
                    status: None,
                });
                out.insert("messages".to_owned(), Value::Array(messages));
            }
            "loginfo" => {
                let v = if logged_in(d, g, req) { "ok" } else { "" };
                out.insert((*cmd).to_owned(), Value::from(v));
            }
            "RD" => {
                out.insert("RD".to_owned(), Value::from(nonce(d, req, "rd", true)));
            }
            "LD" => {
                out.insert("LD".to_owned(), Value::from(nonce(d, req, "ld", true)));
            }
            "sms_cmd_status_info" => {
                out.insert("sms_cmd".to_owned(), Value::from("4"));
                out.insert("sms_cmd_status_result".to_owned(), Value::from("3"));
            }
            "sms_capacity_info" => {
                let used = d.with_outbox(|o| o.len()) + d.inbox_arrived(req.now).len();
                for (k, v) in [
                    ("sms_nv_total", "100".to_owned()),
                    ("sms_sim_total", "30".to_owned()),
                    ("sms_nvused_total", used.to_string()),
                    ("sms_nv_rev_total", d.inbox_arrived(req.now).len().to_string()),
                    ("sms_nv_send_total", d.with_outbox(|o| o.len()).to_string()),
                    ("sms_nv_draftbox_total", "0".to_owned()),
                ] {
                    out.insert(k.to_owned(), Value::from(v));
                }
            }
            "sms_unread_num" => {
                out.insert((*cmd).to_owned(), Value::from("0"));
            }
            name => {
                out.insert(name.to_owned(), Value::from(value(d, g, req, name)));
            }
        }
        if !multi {
            break;
        }
    }
    let mut r = reply(g, &Value::Object(out), kind);
    r.sms = sms;
    r
}

/// `sms_data_total` rows: inbox (tag 0 read) and outbox (tag 2 sent, 3 failed), newest first,
/// contents as UCS-2 hex and dates `YY,MM,DD,HH,MM,SS,+TZ`.
fn messages(d: &Device, req: &RequestView<'_>, q: &[(String, String)]) -> Vec<Value> {
    let per_page =
        field(q, "data_per_page").and_then(|v| v.parse().ok()).unwrap_or(500usize).clamp(1, 500);
    let page = field(q, "page").and_then(|v| v.parse().ok()).unwrap_or(0usize).min(10_000);
    let tags = field(q, "tags").unwrap_or("10");
    let zone = &d.identity.zone;
    let date = |at: chrono::DateTime<chrono::Utc>| {
        let local = zone.local(at);
        let tz = local.offset().local_minus_utc() / 3600;
        format!("{},{tz:+}", local.format("%y,%m,%d,%H,%M,%S"))
    };
    let mut rows: Vec<(i64, Value)> = Vec::new();
    if tags != "2" {
        for (i, m) in d.inbox_arrived(req.now).iter().enumerate() {
            rows.push((m.at.timestamp(), json!({"id": (i + 1).to_string(), "number": m.from, "content": encode_body(&m.text), "tag": "0", "date": date(m.at), "draft_group_id": ""})));
        }
    }
    if tags == "10" || tags == "2" {
        d.with_outbox(|o| {
            for (i, m) in o.iter().enumerate() {
                let at = chrono::DateTime::from_timestamp(m.at, 0).unwrap_or_default();
                let tag = if m.status.as_str() == "success" { "2" } else { "3" };
                rows.push((m.at, json!({"id": (1000 + i).to_string(), "number": m.to, "content": encode_body(&m.text), "tag": tag, "date": date(at), "draft_group_id": ""})));
            }
        });
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    rows.into_iter().skip(page.saturating_mul(per_page)).take(per_page).map(|(_, v)| v).collect()
}

fn ad_ok(d: &Device, g: &Goform, req: &RequestView<'_>, f: &[(String, String)]) -> bool {
    if !g.ad {
        return true;
    }
    let Some(rd) = nonce(d, req, "rd", false) else { return false };
    let inner = hex::encode(<Md5 as md5::Digest>::digest(
        format!("{}{}", value(d, g, req, "wa_inner_version"), value(d, g, req, "cr_version"))
            .as_bytes(),
    ));
    let ad = hex::encode(<Md5 as md5::Digest>::digest(format!("{inner}{rd}").as_bytes()));
    field(f, "AD").is_some_and(|sent| sent.eq_ignore_ascii_case(&ad))
}

fn set(d: &Device, g: &Goform, req: &RequestView<'_>) -> Reply {
    // Form posts, and the GET queries some scripts send.
    let mut f = fields(req.body);
    if let Some(q) = req.query {
        f.extend(fields(q.as_bytes()));
    }
    let id = field(&f, "goformId").unwrap_or_default().to_owned();
    let kind = match id.as_str() {
        "LOGIN" => EventKind::AuthLogin,
        "LOGOUT" => EventKind::AuthLogout,
        "SEND_SMS" => EventKind::SmsSend,
        _ => EventKind::ApiCall,
    };
    let mut r = if !ad_ok(d, g, req, &f) {
        let mut r = result(g, "failure", kind);
        r.tags.push("goform:ad".to_owned());
        r
    } else {
        match id.as_str() {
            "LOGIN" => login(d, g, req, &f),
            "LOGOUT" => {
                if let Some(k) = session_key(g, req) {
                    d.end_session(&k);
                }
                result(g, "success", kind)
            }
            "SEND_SMS" if d.persona.require_auth && !logged_in(d, g, req) => {
                let mut r = result(g, "failure", kind);
                r.tags.push("auth:required".to_owned());
                r
            }
            "SEND_SMS" => send(d, g, req, &f),
            "DELETE_SMS" | "SET_MSG_READ" | "SAVE_SMS" => result(g, "success", kind),
            _ => result(g, "failure", kind),
        }
    };
    if kind == EventKind::SmsSend && r.sms.is_none() {
        r.sms = Some(send_action(&f, None));
    }
    if !id.is_empty() {
        r.tags.push(format!("goform:{}", cgi::bounded(&id.to_ascii_lowercase(), 32)));
    }
    r
}

fn send_action(f: &[(String, String)], status: Option<String>) -> SmsAction {
    let to = field(f, "Number")
        .unwrap_or_default()
        .split([';', ','])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .take(cgi::MAX_RECIPIENTS)
        .map(|n| cgi::bounded(n, cgi::MAX_RECIPIENT_BYTES))
        .collect();
    let text = field(f, "MessageBody")
        .map(|b| decode_body(&cgi::bounded(b, cgi::MAX_TEXT_BYTES * 4), field(f, "encode_type")))
        .map(|t| cgi::bounded(&t, cgi::MAX_TEXT_BYTES));
    SmsAction { to, text, dialect: SmsDialect::Goform, mailbox: None, status }
}

fn send(d: &Device, g: &Goform, req: &RequestView<'_>, f: &[(String, String)]) -> Reply {
    let mut action = send_action(f, None);
    if action.to.is_empty() {
        let mut r = result(g, "failure", EventKind::SmsSend);
        r.sms = Some(action);
        return r;
    }
    let statuses = d.record_send(req, &action.to, action.text.as_deref());
    action.status = statuses.first().map(|s| s.as_str().to_owned());
    let mut r = result(g, "success", EventKind::SmsSend);
    r.sms = Some(action);
    r
}

/// `password_mode` 2: uppercase hex SHA-256 of (uppercase hex SHA-256 of the password + LD).
pub fn password_hash(password: &str, ld: &str) -> String {
    let inner = hex::encode_upper(Sha256::digest(password.as_bytes()));
    hex::encode_upper(Sha256::digest(format!("{inner}{ld}").as_bytes()))
}

fn login(d: &Device, g: &Goform, req: &RequestView<'_>, f: &[(String, String)]) -> Reply {
    let sent = cgi::bounded(field(f, "password").unwrap_or_default(), cgi::MAX_CREDENTIAL_BYTES);
    let username = cgi::bounded(field(f, "username").unwrap_or("admin"), cgi::MAX_CREDENTIAL_BYTES);
    let i = &d.identity;
    let plain = B64.decode(sent.trim()).ok().and_then(|b| String::from_utf8(b).ok());
    let ok = match g.password_mode {
        2 => nonce(d, req, "ld", false)
            .is_some_and(|ld| sent.eq_ignore_ascii_case(&password_hash(&i.password, &ld))),
        _ => plain.as_deref() == Some(i.password.as_str()),
    };
    let verdict = d.attempt_login(req, &username, &sent, ok);
    let mut r = match &verdict {
        LoginVerdict::Success { token } => {
            let mut r = result(g, "0", EventKind::AuthLogin);
            if g.cookie {
                d.open_session(token, &username, req.now);
                r.set_cookies.push(format!("stok=\"{token}\"; path=/; HttpOnly"));
            } else if let Some(k) = session_key(g, req) {
                d.open_session(&k, &username, req.now);
            }
            r
        }
        LoginVerdict::Failed { .. } => result(g, "3", EventKind::AuthLogin),
        // Locked out: the web UI shows "try again later" for result 1 [inferred].
        LoginVerdict::Locked { .. } => result(g, "1", EventKind::AuthLogin),
    };
    let decoded = plain.filter(|_| g.password_mode == 0);
    r.auth = Some(AuthRecord {
        username,
        password_decrypted: decoded.is_some() || ok,
        password: match (decoded, ok) {
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

    #[track_caller]
    fn check(raw: &str, expect: &str) {
        let encode_type = (raw.starts_with("04") || raw.starts_with("D8")).then_some("UNICODE");
        assert_eq!(decode_body(raw, encode_type), expect, "{raw}");
    }

    #[test]
    fn message_bodies() {
        check("00480065006C006C006F", "Hello");
        check("004B0069006A006B0020D83DDE00", "Kijk \u{1F600}");
        check("0421043F0430044104380431043E", "Спасибо");
        check("48656c6c6f21", "Hello!");
        check("plain text", "plain text");
        check("", "");
        check("D800", "\u{FFFD}");
        let text = "Paiement échoué: https://x.test";
        assert_eq!(decode_body(&encode_body(text), Some("GSM7_default")), text);
    }

    proptest::proptest! {
        #[test]
        fn bodies_never_panic_and_round_trip(s in "(?s:.){0,200}") {
            let _ = decode_body(&s, None);
            proptest::prop_assert_eq!(decode_body(&encode_body(&s), Some("UNICODE")), s);
        }
    }
}
