//! Parsing of `/cgi` JSON-RPC bodies (attacker input): the envelope, then what the call means
//! (login, SMS send in either dialect, mailbox query, status get, anything else).
//!
//! Pure and total: any byte string gives a value or a [`BodyError`], never a panic, and every
//! extracted string and list is bounded. Bodies that are not UTF-8 (Latin-1, Windows-1252,
//! UTF-16 with or without a byte order mark) are decoded first; [`CgiRequest::charset`] says how.

use std::borrow::Cow;

use serde_json::{Map, Value};
use smishtrap_event::{SmsBox, SmsDialect};

/// Most recipients kept from one send.
pub const MAX_RECIPIENTS: usize = 256;
/// Longest recipient kept, in bytes.
pub const MAX_RECIPIENT_BYTES: usize = 64;
/// Longest SMS text kept, in bytes (the whole body is in the event anyway).
pub const MAX_TEXT_BYTES: usize = 16 * 1024;
/// Longest user name / password kept, in bytes.
pub const MAX_CREDENTIAL_BYTES: usize = 256;
/// Longest core / function / base name kept, in bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// Largest page a mailbox query may ask for.
pub const MAX_QUERY_LIMIT: usize = 100;

const RECIPIENT_KEYS: &[&str] = &[
    "destination",
    "phone",
    "phone_number",
    "phonenumber",
    "number",
    "numbers",
    "to",
    "mobile",
    "recipient",
    "recipients",
    "receiver",
    "msisdn",
    "tel",
];
const TEXT_KEYS: &[&str] = &["content", "text", "message", "msg", "sms", "body"];

/// The JSON-RPC envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct CgiRequest {
    /// The request `id` to echo (a string or number; anything else becomes `null`).
    pub id: Value,
    pub core: Option<String>,
    pub function: Option<String>,
    pub values: Vec<Value>,
    /// How the body was decoded when it was not plain UTF-8.
    pub charset: Option<Charset>,
}

/// The character set of a body that was not plain UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// UTF-8 behind a byte order mark.
    Utf8Bom,
    Utf16Le,
    Utf16Be,
    /// Not UTF-8, no byte in 0x80..=0x9F: ISO 8859-1 (Windows-1252 reads it the same).
    Latin1,
    /// Not UTF-8, with bytes in 0x80..=0x9F: Windows-1252 (its C1 range holds `€`, `’`, ...).
    Windows1252,
}

impl Charset {
    /// Fixed tag for events (never attacker data).
    pub fn tag(self) -> &'static str {
        match self {
            Charset::Utf8Bom => "charset:utf-8-bom",
            Charset::Utf16Le => "charset:utf-16le",
            Charset::Utf16Be => "charset:utf-16be",
            Charset::Latin1 => "charset:latin1",
            Charset::Windows1252 => "charset:windows-1252",
        }
    }
}

/// Windows-1252 characters of the bytes 0x80..=0x9F (the five undefined ones map to the C1
/// control of the same value, as browsers do).
const WINDOWS_1252_C1: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}',
    '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

/// Reads a body as text: UTF-8 as it is; a byte order mark or the zero bytes of ASCII in UTF-16
/// select UTF-16 (unpaired surrogates become U+FFFD); anything else that is not UTF-8 is read
/// as Windows-1252, which every byte string is. Total: never fails, output at most 3x input.
pub fn decode_text(bytes: &[u8]) -> (Cow<'_, str>, Option<Charset>) {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF")
        && let Ok(s) = std::str::from_utf8(rest)
    {
        return (Cow::Borrowed(s), Some(Charset::Utf8Bom));
    }
    let utf16 = if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        Some((rest, Charset::Utf16Le))
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        Some((rest, Charset::Utf16Be))
    } else {
        utf16_without_bom(bytes).map(|cs| (bytes, cs))
    };
    if let Some((rest, charset)) = utf16 {
        let units = rest.chunks_exact(2).map(|p| match charset {
            Charset::Utf16Be => u16::from_be_bytes([p[0], p[1]]),
            _ => u16::from_le_bytes([p[0], p[1]]),
        });
        let text: String =
            char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect();
        return (Cow::Owned(text), Some(charset));
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return (Cow::Borrowed(s), None);
    }
    let c1 = bytes.iter().any(|b| (0x80..=0x9f).contains(b));
    let text = bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9f => WINDOWS_1252_C1[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect();
    (Cow::Owned(text), Some(if c1 { Charset::Windows1252 } else { Charset::Latin1 }))
}

/// UTF-16 without a byte order mark: most code units are ASCII, so one byte of most pairs is
/// zero (the high byte: second in little endian, first in big endian). UTF-8 text has no zero
/// bytes at all, so it never looks like this.
fn utf16_without_bom(bytes: &[u8]) -> Option<Charset> {
    if bytes.len() < 2 || !bytes.contains(&0) {
        return None;
    }
    let pairs = bytes.len() / 2;
    let (mut le, mut be) = (0usize, 0usize);
    for p in bytes.chunks_exact(2) {
        match (p[0], p[1]) {
            (0, 0) => {}
            (_, 0) => le += 1,
            (0, _) => be += 1,
            _ => {}
        }
    }
    if le * 2 > pairs {
        Some(Charset::Utf16Le)
    } else if be * 2 > pairs {
        Some(Charset::Utf16Be)
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("empty body")]
    Empty,
    #[error("body is not JSON")]
    NotJson,
    #[error("body is not a JSON object")]
    NotObject,
}

/// What a call asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Login {
        username: String,
        password: String,
    },
    SendSms {
        dialect: SmsDialect,
        to: Vec<String>,
        text: Option<String>,
    },
    Query {
        dialect: SmsDialect,
        mailbox: SmsBox,
        limit: usize,
        start: usize,
    },
    Get {
        core: String,
        bases: Vec<String>,
    },
    /// A configuration write or commit (`set`, `add`, `del`, `order`, `apply`).
    Change {
        core: Option<String>,
        change: Change,
        bases: Vec<String>,
    },
    Other {
        core: Option<String>,
        function: Option<String>,
    },
}

/// The configuration functions of the `/cgi` framework.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Set,
    Add,
    Delete,
    Order,
    Apply,
}

impl Change {
    fn parse(function: &str) -> Option<Change> {
        Some(match function {
            "set" => Change::Set,
            "add" => Change::Add,
            "del" | "delete" => Change::Delete,
            "order" => Change::Order,
            "apply" => Change::Apply,
            _ => return None,
        })
    }

    /// Fixed tag for events (never attacker data).
    pub fn tag(self) -> &'static str {
        match self {
            Change::Set => "config:set",
            Change::Add => "config:add",
            Change::Delete => "config:del",
            Change::Order => "config:order",
            Change::Apply => "config:apply",
        }
    }
}

/// Reads the envelope from a body sent as JSON, as a form-encoded JSON string, or (for GET
/// requests without a body) from the query string.
pub fn parse_body(body: &[u8], query: Option<&str>) -> Result<CgiRequest, BodyError> {
    // Decoded before trimming: trimming bytes could split a UTF-16 code unit.
    let (text, charset) = decode_text(body);
    let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if trimmed.is_empty() {
        return match query {
            Some(q) if !q.is_empty() => parse_body(q.as_bytes(), None),
            _ => Err(BodyError::Empty),
        };
    }
    let (value, inner) = match serde_json::from_str::<Value>(trimmed) {
        Ok(v) => (v, None),
        Err(_) => form_json(trimmed).ok_or(BodyError::NotJson)?,
    };
    let mut request = envelope(value)?;
    request.charset = charset.or(inner);
    Ok(request)
}

/// `data=%7B...%7D` or a percent-encoded JSON body (its escapes may spell any charset).
fn form_json(text: &str) -> Option<(Value, Option<Charset>)> {
    let candidates = std::iter::once(text)
        .chain(text.split('&').filter_map(|p| p.split_once('=').map(|(_, v)| v)));
    for candidate in candidates {
        let decoded = percent_decode(candidate);
        let (json, charset) = decode_text(&decoded);
        if let Ok(v) =
            serde_json::from_str::<Value>(json.trim_matches(|c: char| c.is_ascii_whitespace()))
            && v.is_object()
        {
            return Some((v, charset));
        }
    }
    None
}

/// Form decoding (`+` is a space); invalid escapes are kept as they are.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn envelope(value: Value) -> Result<CgiRequest, BodyError> {
    let Value::Object(mut map) = value else {
        return Err(BodyError::NotObject);
    };
    let id = match map.remove("id") {
        Some(Value::String(s)) => Value::String(bounded(&s, MAX_NAME_BYTES)),
        Some(n @ Value::Number(_)) => n,
        _ => Value::Null,
    };
    let values = match map.remove("values") {
        Some(Value::Array(items)) => items,
        Some(obj @ Value::Object(_)) => vec![obj],
        _ => Vec::new(),
    };
    Ok(CgiRequest {
        id,
        core: name(map.get("core")),
        function: name(map.get("function")),
        values,
        charset: None,
    })
}

fn name(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(bounded(s.trim(), MAX_NAME_BYTES)),
        _ => None,
    }
}

/// Truncates to at most `max` bytes on a character boundary.
pub fn bounded(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

impl CgiRequest {
    fn bases(&self) -> impl Iterator<Item = &str> {
        self.values.iter().filter_map(|v| v.get("base")?.as_str())
    }

    fn has_base(&self, base: &str) -> bool {
        self.bases().any(|b| b == base)
    }

    /// What the call means.
    pub fn classify(&self) -> Call {
        let function = self.function.as_deref().unwrap_or("");
        let core = self.core.as_deref();
        match function {
            "login" => {
                let item = self.values.first().and_then(Value::as_object);
                let field = |key: &str| {
                    item.and_then(|m| lookup(m, key)).map(scalar_text).unwrap_or_default()
                };
                Call::Login {
                    username: bounded(&field("username"), MAX_CREDENTIAL_BYTES),
                    password: bounded(&field("password"), MAX_CREDENTIAL_BYTES),
                }
            }
            "send_sms" => self.send(SmsDialect::ApiSms),
            "send" if core == Some("yruo_sms") || self.has_base("send") => {
                self.send(SmsDialect::YruoSms)
            }
            _ if self.has_base("api_sms") && function.starts_with("send") => {
                self.send(SmsDialect::ApiSms)
            }
            "query_outbox" | "query_inbox" => {
                let mailbox =
                    if function == "query_inbox" { SmsBox::Inbox } else { SmsBox::Outbox };
                let dialect = if core == Some("yruo_sms") && self.has_base(function) {
                    SmsDialect::YruoSms
                } else {
                    SmsDialect::ApiSms
                };
                let item = self.values.first().and_then(Value::as_object);
                let number = |key: &str| item.and_then(|m| lookup(m, key)).and_then(as_count);
                Call::Query {
                    dialect,
                    mailbox,
                    limit: number("limit").unwrap_or(10).min(MAX_QUERY_LIMIT),
                    start: number("start").unwrap_or(0),
                }
            }
            "get" if core.is_some() => Call::Get {
                core: core.unwrap_or_default().to_owned(),
                bases: self.bases().take(16).map(|b| bounded(b, MAX_NAME_BYTES)).collect(),
            },
            _ => match Change::parse(function) {
                Some(change) => Call::Change {
                    core: self.core.clone(),
                    change,
                    bases: self.bases().take(16).map(|b| bounded(b, MAX_NAME_BYTES)).collect(),
                },
                None => Call::Other { core: self.core.clone(), function: self.function.clone() },
            },
        }
    }

    fn send(&self, dialect: SmsDialect) -> Call {
        let mut to = Vec::new();
        let mut text = None;
        for item in self.values.iter().filter_map(Value::as_object) {
            let inner = item.get("value").and_then(Value::as_object);
            for map in std::iter::once(item).chain(inner) {
                for key in RECIPIENT_KEYS {
                    if let Some(v) = map.get(*key) {
                        recipients(v, &mut to);
                    }
                }
                if text.is_none() {
                    text = TEXT_KEYS
                        .iter()
                        .filter_map(|k| map.get(*k))
                        .map(scalar_text)
                        .find(|t| !t.is_empty())
                        .map(|t| bounded(&t, MAX_TEXT_BYTES));
                }
            }
        }
        Call::SendSms { dialect, to, text }
    }
}

/// A key at the item level or inside its `value` object.
fn lookup<'a>(item: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    item.get(key).or_else(|| item.get("value")?.as_object()?.get(key))
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn as_count(v: &Value) -> Option<usize> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Adds the recipients in `v` (a string with `,`/`;`/newline separators, a number, or a list
/// of those) to `out`, bounded.
fn recipients(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            for part in s.split([',', ';', '\n']) {
                push_recipient(part, out);
            }
        }
        Value::Number(n) => push_recipient(&n.to_string(), out),
        Value::Array(items) => {
            for item in items.iter().take(MAX_RECIPIENTS) {
                if !item.is_array() {
                    recipients(item, out);
                }
            }
        }
        _ => {}
    }
}

fn push_recipient(raw: &str, out: &mut Vec<String>) {
    let trimmed = raw.trim();
    if !trimmed.is_empty() && out.len() < MAX_RECIPIENTS {
        out.push(bounded(trimmed, MAX_RECIPIENT_BYTES));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(body: &str, expect: Result<Call, BodyError>) {
        let got = parse_body(body.as_bytes(), None).map(|r| r.classify());
        assert_eq!(got, expect, "body {body}");
    }

    /// A body in another charset: the call and the charset it was read in.
    #[track_caller]
    fn check_bytes(body: &[u8], expect: Result<Call, BodyError>, charset: Option<Charset>) {
        let parsed = parse_body(body, None);
        assert_eq!(
            parsed.as_ref().map(CgiRequest::classify).map_err(|e| *e),
            expect,
            "body {body:?}"
        );
        assert_eq!(parsed.ok().and_then(|r| r.charset), charset, "body {body:?}");
    }

    fn cp1252(text: &str) -> Vec<u8> {
        text.chars()
            .map(|c| match WINDOWS_1252_C1.iter().position(|w| *w == c) {
                Some(i) => 0x80 + u8::try_from(i).unwrap(),
                None => u8::try_from(u32::from(c)).unwrap(),
            })
            .collect()
    }

    fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if bom {
            out.extend_from_slice(if big_endian { b"\xFE\xFF" } else { b"\xFF\xFE" });
        }
        for unit in text.encode_utf16() {
            out.extend_from_slice(&if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            });
        }
        out
    }

    #[test]
    fn bodies_in_other_charsets_are_decoded() {
        use Charset::*;
        use SmsDialect::ApiSms;
        let send_of = |text: &str| {
            format!(
                r#"{{"function":"send_sms","values":[{{"base":"api_sms","phone":"+33600000001","content":"{text}"}}]}}"#
            )
        };
        let fr = "Votre colis est bloqué à la douane: hxxps://colis-fr[.]example";
        let expect = || send(ApiSms, &["+33600000001"], Some(fr));
        // Latin-1: é and à are single bytes, never valid UTF-8.
        let latin1 = cp1252(&send_of(fr));
        check_bytes(&latin1, expect(), Some(Latin1));
        // Windows-1252: the euro sign and the curly quote live in 0x80..=0x9F.
        let won = "Vous avez gagn\u{e9} 100 \u{20ac}, c\u{2019}est le moment";
        check_bytes(
            &cp1252(&send_of(won)),
            send(ApiSms, &["+33600000001"], Some(won)),
            Some(Windows1252),
        );
        // UTF-16 both ways, with and without a byte order mark, beyond Latin-1 too.
        let ru = "Ваша посылка задержана";
        for (be, bom, cs) in [
            (false, true, Utf16Le),
            (true, true, Utf16Be),
            (false, false, Utf16Le),
            (true, false, Utf16Be),
        ] {
            check_bytes(
                &utf16(&send_of(ru), be, bom),
                send(ApiSms, &["+33600000001"], Some(ru)),
                Some(cs),
            );
        }
        // An odd trailing byte is dropped, not a failure.
        let mut odd = utf16(&send_of("x"), false, true);
        odd.push(b'\n');
        check_bytes(&odd, send(ApiSms, &["+33600000001"], Some("x")), Some(Utf16Le));
        // UTF-8 behind a byte order mark; plain UTF-8 has no charset.
        let bom = [b"\xEF\xBB\xBF".as_slice(), send_of(fr).as_bytes()].concat();
        check_bytes(&bom, expect(), Some(Utf8Bom));
        check_bytes(send_of(fr).as_bytes(), expect(), None);
        // Form-encoded JSON whose escapes spell Latin-1.
        let form: String = latin1.iter().map(|b| format!("%{b:02X}")).collect();
        check_bytes(format!("data={form}").as_bytes(), expect(), Some(Latin1));
        // Not JSON in any charset stays invalid.
        check_bytes(b"\xff\xfe\x00", Err(BodyError::Empty), None);
        check_bytes(b"\xff\xfe{\x00x", Err(BodyError::NotJson), None);
        check_bytes(b"caf\xe9", Err(BodyError::NotJson), None);
    }

    fn send(dialect: SmsDialect, to: &[&str], text: Option<&str>) -> Result<Call, BodyError> {
        Ok(Call::SendSms {
            dialect,
            to: to.iter().map(|s| s.to_string()).collect(),
            text: text.map(str::to_owned),
        })
    }

    #[test]
    fn envelopes() {
        check("", Err(BodyError::Empty));
        check("  ", Err(BodyError::Empty));
        check("{", Err(BodyError::NotJson));
        check("[1,2]", Err(BodyError::NotObject));
        check("\"x\"", Err(BodyError::NotObject));
        check("{}", Ok(Call::Other { core: None, function: None }));
        check(
            r#"{"core":"yruo_apply","function":"reboot","values":[]}"#,
            Ok(Call::Other { core: Some("yruo_apply".into()), function: Some("reboot".into()) }),
        );
    }

    #[test]
    fn configuration_writes() {
        let change = |core: Option<&str>, change, bases: &[&str]| {
            Ok(Call::Change {
                core: core.map(str::to_owned),
                change,
                bases: bases.iter().map(|b| b.to_string()).collect(),
            })
        };
        check(
            r#"{"execute":1,"core":"yruo_apply","function":"apply","values":[]}"#,
            change(Some("yruo_apply"), Change::Apply, &[]),
        );
        check(
            r#"{"id":9,"core":"yruo_system","function":"set","values":[{"base":"general","index":0,"value":{"hostname":"x"}}]}"#,
            change(Some("yruo_system"), Change::Set, &["general"]),
        );
        check(
            r#"{"core":"yruo_firewall_port_mapping","function":"add","values":[{"base":"port_mapping","index":"yruo_firewall_port_mappingab12cd34","value":{"index":null}}]}"#,
            change(Some("yruo_firewall_port_mapping"), Change::Add, &["port_mapping"]),
        );
        check(r#"{"function":"delete"}"#, change(None, Change::Delete, &[]));
        check(r#"{"function":"del","core":"c"}"#, change(Some("c"), Change::Delete, &[]));
        check(r#"{"function":"order","core":"c"}"#, change(Some("c"), Change::Order, &[]));
        // an SMS send keeps its meaning whatever the function looks like
        check(
            r#"{"core":"yruo_sms","function":"send","values":[{"base":"send","value":{"destination":"+1","content":"x"}}]}"#,
            send(SmsDialect::YruoSms, &["+1"], Some("x")),
        );
    }

    #[test]
    fn login_in_every_encoding() {
        let login = Ok(Call::Login { username: "admin".into(), password: "abc=".into() });
        let json = r#"{"id":"1","execute":1,"core":"user","function":"login","values":[{"username":"admin","password":"abc="}]}"#;
        check(json, login.clone());
        // form-encoded JSON string, whole or as a field
        let encoded: String = json.bytes().map(|b| format!("%{b:02X}")).collect();
        check(&encoded, login.clone());
        check(&format!("data={encoded}"), login.clone());
        // gateway style: credentials inside `value`
        check(
            r#"{"function":"login","values":[{"base":"web_login","value":{"username":"admin","password":"abc="}}]}"#,
            login.clone(),
        );
        // GET with the JSON in the query string
        let got = parse_body(b"", Some(&encoded)).map(|r| r.classify());
        assert_eq!(got, login);
    }

    #[test]
    fn dialect_a_field_names_and_separators() {
        use SmsDialect::ApiSms;
        check(
            r#"{"function":"send_sms","values":[{"base":"api_sms","phone":"+32470000001","content":"hi"}]}"#,
            send(ApiSms, &["+32470000001"], Some("hi")),
        );
        check(
            r#"{"core":"yruo_sms","function":"send_sms","values":[{"base":"api_sms","value":{"number":"+3247001,+3247002; +3247003","text":"x"}}]}"#,
            send(ApiSms, &["+3247001", "+3247002", "+3247003"], Some("x")),
        );
        check(
            r#"{"core":"yruo_anything","function":"send_sms","values":[{"recipients":["+1",2,{"x":1}],"message":"m"}]}"#,
            send(ApiSms, &["+1", "2"], Some("m")),
        );
        check(
            r#"{"function":"send_sms","values":{"base":"api_sms","to":"+1","mobile":"+2","msg":7}}"#,
            send(ApiSms, &["+1", "+2"], Some("7")),
        );
        check(r#"{"function":"send_sms","values":[]}"#, send(ApiSms, &[], None));
    }

    #[test]
    fn dialect_b() {
        check(
            r#"{"id":9,"execute":1,"core":"yruo_sms","function":"send","values":[{"base":"send","value":{"destination":"+354000","content":"hello"}}]}"#,
            send(SmsDialect::YruoSms, &["+354000"], Some("hello")),
        );
    }

    #[test]
    fn queries() {
        check(
            r#"{"core":"yruo_sms","function":"query_outbox","values":[{"base":"query_outbox","limit":5,"start":"2"}]}"#,
            Ok(Call::Query {
                dialect: SmsDialect::YruoSms,
                mailbox: SmsBox::Outbox,
                limit: 5,
                start: 2,
            }),
        );
        check(
            r#"{"function":"query_inbox","values":[{"base":"api_sms","limit":100000}]}"#,
            Ok(Call::Query {
                dialect: SmsDialect::ApiSms,
                mailbox: SmsBox::Inbox,
                limit: MAX_QUERY_LIMIT,
                start: 0,
            }),
        );
    }

    #[test]
    fn bounds_hold() {
        let many = vec!["+1"; 1000].join(",");
        let body = format!(
            r#"{{"function":"send_sms","values":[{{"to":"{many}","text":"{}"}}]}}"#,
            "é".repeat(20_000)
        );
        let Ok(Call::SendSms { to, text, .. }) =
            parse_body(body.as_bytes(), None).map(|r| r.classify())
        else {
            panic!("not a send");
        };
        assert_eq!(to.len(), MAX_RECIPIENTS);
        assert!(text.unwrap().len() <= MAX_TEXT_BYTES);
        assert_eq!(bounded("ééé", 3), "é");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512), q in ".{0,40}") {
            let _ = parse_body(&body, Some(&q)).map(|r| r.classify());
        }

        #[test]
        fn never_panics_on_json_like(body in r#"[{}\[\]":,a-z0-9 %+=&_]{0,200}"#) {
            let _ = parse_body(body.as_bytes(), None).map(|r| r.classify());
        }

        /// Decoding is total and bounded: at most three bytes of text per byte of input.
        #[test]
        fn decoding_is_total_and_bounded(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let (text, _) = decode_text(&body);
            proptest::prop_assert!(text.len() <= body.len() * 3);
        }

        /// Any text sent as Latin-1 or UTF-16 reads back as that text.
        #[test]
        fn latin1_and_utf16_round_trip(text in "[ -~][ -~\u{a0}-\u{ff}]{3,59}", cyr in "[а-я]{0,3}") {
            let latin1 = cp1252(&text);
            proptest::prop_assume!(std::str::from_utf8(&latin1).is_err());
            proptest::prop_assert_eq!(decode_text(&latin1), (Cow::Borrowed(text.as_str()), Some(Charset::Latin1)));
            let wide = format!("{{{text}{cyr}");
            for (be, cs) in [(false, Charset::Utf16Le), (true, Charset::Utf16Be)] {
                let bytes = utf16(&wide, be, false);
                proptest::prop_assert_eq!(decode_text(&bytes), (Cow::Borrowed(wide.as_str()), Some(cs)));
            }
        }
    }
}
