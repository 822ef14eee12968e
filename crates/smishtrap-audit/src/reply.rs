//! Parsers of what audited devices answer (hostile input: a target may be an attacker's box).
//!
//! Pure and total: any bytes give a value or `None`, never a panic; every string and list kept
//! is bounded. serde_json bounds nesting depth itself; bodies come in already size-capped.

use serde::Serialize;
use serde_json::Value;

use crate::text::cut;

/// Longest identity field kept (model, part number, firmware).
pub const MAX_FIELD_BYTES: usize = 64;
/// Longest SMS text kept from a mailbox row.
pub const MAX_TEXT_BYTES: usize = 4096;
/// Longest phone number / time / status kept from a mailbox row.
pub const MAX_SHORT_BYTES: usize = 64;
/// Most rows read from one mailbox page.
pub const MAX_ROWS: usize = 200;
/// Most leaked logins kept from one log.
pub const MAX_LEAKS: usize = 32;
/// Longest page title kept.
pub const MAX_TITLE_BYTES: usize = 128;

/// The `/cgi` and `/islogin` JSON envelope of Milesight devices.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Envelope {
    pub model: Option<String>,
    pub pn: Option<String>,
    pub oem: Option<String>,
    pub rtver: Option<String>,
    pub status: Option<i64>,
    pub result: Value,
}

fn field(map: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    let v = match map.get(key)? {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!v.is_empty()).then(|| cut(&v, MAX_FIELD_BYTES).to_owned())
}

impl Envelope {
    /// `None` when the body is not a JSON object.
    pub fn parse(body: &[u8]) -> Option<Envelope> {
        let Value::Object(mut map) = serde_json::from_slice::<Value>(body).ok()? else {
            return None;
        };
        Some(Envelope {
            model: field(&map, "model"),
            pn: field(&map, "pn"),
            oem: field(&map, "oem"),
            rtver: field(&map, "rtver"),
            status: map.get("status").and_then(Value::as_i64),
            result: map.remove("result").unwrap_or(Value::Null),
        })
    }

    /// The device refused for want of a session (`status -2`, `[-32001, ...]`), or any other
    /// negative status with no data.
    pub fn refused(&self) -> bool {
        self.status.is_some_and(|s| s < 0)
    }

    /// `/islogin` says a session is open.
    pub fn logged_in(&self) -> bool {
        self.result.get(0).and_then(|r| r.get("login")).and_then(Value::as_str) == Some("true")
    }

    /// The `td` session token of a successful `login`.
    pub fn session_token(&self) -> Option<String> {
        if self.status != Some(0) {
            return None;
        }
        let td = self.result.get(0)?.get("td")?.as_str()?;
        let ok = !td.is_empty()
            && td.len() <= 128
            && td.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| td.to_owned())
    }

    /// Login refused with the device's `locktime` (seconds), if it says so.
    pub fn lock_seconds(&self) -> Option<u64> {
        self.result.get(0)?.get("locktime")?.as_u64().filter(|t| *t > 0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mailbox {
    Outbox,
    Inbox,
}

/// One SMS read from a device mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxRow {
    pub mailbox: Mailbox,
    /// Recipient (outbox) or sender (inbox).
    pub number: String,
    pub text: String,
    /// As the device renders it (its own zone, sometimes wrong).
    pub time: Option<String>,
    pub status: Option<String>,
}

/// One page of `query_outbox` / `query_inbox`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailboxPage {
    /// Rows in the whole mailbox, as the device counts them.
    pub count: Option<u64>,
    pub rows: Vec<MailboxRow>,
    pub timezone: Option<String>,
}

/// `result[0] = {count, timezone, get: [{value: {number, content, time, status}}]}`; `None`
/// when the result has no such shape (a refusal, an error page, garbage).
pub fn mailbox_page(result: &Value, mailbox: Mailbox) -> Option<MailboxPage> {
    let head = result.get(0)?;
    let rows = head.get("get")?.as_array()?;
    let short = |v: &Value, k: &str| {
        v.get(k).and_then(scalar).map(|s| cut(s.trim(), MAX_SHORT_BYTES).to_owned())
    };
    let rows = rows
        .iter()
        .take(MAX_ROWS)
        .filter_map(|row| {
            let v = row.get("value").filter(|v| v.is_object()).unwrap_or(row);
            let text = v.get("content").or_else(|| v.get("text")).and_then(Value::as_str)?;
            Some(MailboxRow {
                mailbox,
                number: short(v, "number").or_else(|| short(v, "phone")).unwrap_or_default(),
                text: cut(text, MAX_TEXT_BYTES).to_owned(),
                time: short(v, "time"),
                status: short(v, "status"),
            })
        })
        .collect();
    Some(MailboxPage {
        count: head.get("count").and_then(Value::as_u64),
        rows,
        timezone: head
            .get("timezone")
            .and_then(Value::as_str)
            .map(|s| cut(s, MAX_SHORT_BYTES).to_owned()),
    })
}

fn scalar(v: &Value) -> Option<&str> {
    v.as_str()
}

/// A login line found in a leaked `httpd.log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakedLogin {
    pub username: String,
    /// As logged: base64 of AES-CBC under the published key.
    pub encrypted_password: String,
}

/// The `"username":"…","password":"…"` pairs of a log (the pattern of the public exploit and
/// of the nuclei template), distinct, in order, at most [`MAX_LEAKS`].
pub fn leaked_logins(log: &str) -> Vec<LeakedLogin> {
    const USER: &str = "\"username\":\"";
    const PASS: &str = "\",\"password\":\"";
    let mut out: Vec<LeakedLogin> = Vec::new();
    let mut rest = log;
    while let Some(i) = rest.find(USER) {
        rest = &rest[i + USER.len()..];
        let Some(end) = rest.find('"') else { break };
        let username = &rest[..end];
        let after = &rest[end..];
        let Some(pass) = after.strip_prefix(PASS) else { continue };
        let Some(pend) = pass.find('"') else { break };
        let encrypted = &pass[..pend];
        let plausible = |s: &str, max: usize| !s.is_empty() && s.len() <= max;
        if plausible(username, 64)
            && plausible(encrypted, 512)
            && !username.contains(['\\', '\n'])
            && encrypted.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
        {
            let leak = LeakedLogin {
                username: username.to_owned(),
                encrypted_password: encrypted.to_owned(),
            };
            if !out.contains(&leak) {
                out.push(leak);
                if out.len() >= MAX_LEAKS {
                    break;
                }
            }
        }
        rest = &pass[pend..];
    }
    out
}

/// A `system.log` as the device writes it (syslog facility.level tags the nuclei template
/// matches), not an error page that happens to answer 200.
pub fn looks_like_system_log(text: &str) -> bool {
    ["daemon.info", "authpriv.info", "kern.", "user.notice", "syslog.info"]
        .iter()
        .any(|tag| text.contains(tag))
}

/// What a login page or header says about the device.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct PageHints {
    pub vendor: Option<&'static str>,
    /// `<title>`, trimmed and bounded.
    pub title: Option<String>,
    /// Markers that identified the vendor (for the evidence).
    pub markers: Vec<&'static str>,
}

/// Vendor markers of the router families in the persona research (login page text, headers),
/// case-insensitive; the first vendor with a marker wins.
const FAMILIES: &[(&str, &[&str])] = &[
    ("Milesight", &["rt_title", "ursalink", "milesight", "/lang/log/"]),
    ("Teltonika", &["teltonika", "luci-static/teltonika", "rutos"]),
    ("Huawei", &["huawei", "/api/webserver/", "hilink"]),
    ("ZTE", &["zte", "/goform/"]),
    ("Netgear", &["netgear", "aircard"]),
    ("Sierra Wireless", &["acemanager", "sierra wireless", "aleos"]),
    ("InHand", &["inhand", "inrouter"]),
    ("TP-Link", &["tp-link", "tplink"]),
];

/// Vendor hints from a page body and its `Server` header.
pub fn page_hints(body: &[u8], server: Option<&str>) -> PageHints {
    // the first 64 KiB are enough for a login page; lowercase once
    let head = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]).to_lowercase();
    let server = server.unwrap_or("").to_lowercase();
    let mut hints = PageHints { title: title(&head_original(body)), ..PageHints::default() };
    for (vendor, markers) in FAMILIES {
        let found: Vec<&'static str> =
            markers.iter().copied().filter(|m| head.contains(m) || server.contains(m)).collect();
        if !found.is_empty() {
            hints.vendor = Some(vendor);
            hints.markers = found;
            break;
        }
    }
    hints
}

fn head_original(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]).into_owned()
}

fn title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title")?;
    let t = html.get(open_end..close)?.split_whitespace().collect::<Vec<_>>().join(" ");
    (!t.is_empty()).then(|| cut(&t, MAX_TITLE_BYTES).to_owned())
}

/// What a non-Milesight router says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FamilyIdentity {
    pub model: Option<String>,
    pub firmware: Option<String>,
    /// The device's own name for itself (`device_name`, `DeviceName`, `deviceName`).
    pub name: Option<String>,
}

impl FamilyIdentity {
    pub fn is_empty(&self) -> bool {
        self.model.is_none() && self.firmware.is_none() && self.name.is_none()
    }
}

fn json_field(v: &Value, path: &[&str]) -> Option<String> {
    let mut at = v;
    for key in path {
        at = at.get(key)?;
    }
    let s = match at {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then(|| cut(&s, MAX_FIELD_BYTES).to_owned())
}

/// Teltonika RutOS 7 `GET /api/unauthorized/status`:
/// `{"success":true,"data":{"device_name","device_model","api_version",…}}`.
pub fn teltonika_status(body: &[u8]) -> Option<FamilyIdentity> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let data = v.get("data")?;
    let id = FamilyIdentity {
        model: json_field(data, &["device_model"]),
        firmware: json_field(data, &["firmware_version"])
            .or_else(|| json_field(data, &["firmware"])),
        name: json_field(data, &["device_name"]),
    };
    (!id.is_empty()).then_some(id)
}

/// Teltonika SMS Gateway `sms_total`: `Used: n` / `Total: n` lines (as the API answers when it
/// lets the caller in); `None` for anything else (`ERROR`, a login page).
pub fn teltonika_sms_total(body: &[u8]) -> Option<(u64, u64)> {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    let value = |key: &str| {
        text.lines().find_map(|l| l.trim().strip_prefix(key)?.trim().parse::<u64>().ok())
    };
    Some((value("Used:")?, value("Total:")?))
}

/// The text of `<tag>…</tag>` in a small XML reply (HiLink answers are flat), trimmed and
/// bounded; entities are left as sent (the value is only shown, escaped).
pub fn xml_tag(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    let v = xml[start..end].trim();
    (!v.is_empty() && !v.contains('<')).then(|| cut(v, MAX_FIELD_BYTES).to_owned())
}

/// A HiLink `<error><code>n</code>…</error>` reply's code.
pub fn huawei_error(body: &[u8]) -> Option<u64> {
    let xml = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    if !xml.contains("<error>") {
        return None;
    }
    xml_tag(&xml, "code")?.parse().ok()
}

/// HiLink `/api/device/information` (`DeviceName`, `SoftwareVersion`) or
/// `/api/device/basic_information` (`devicename`, `productfamily`): `None` for an error reply.
pub fn huawei_identity(body: &[u8]) -> Option<FamilyIdentity> {
    let xml = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    if !xml.contains("<response>") {
        return None;
    }
    let id = FamilyIdentity {
        model: xml_tag(&xml, "DeviceName").or_else(|| xml_tag(&xml, "devicename")),
        firmware: xml_tag(&xml, "SoftwareVersion"),
        name: xml_tag(&xml, "HardwareVersion").or_else(|| xml_tag(&xml, "productfamily")),
    };
    (!id.is_empty()).then_some(id)
}

/// HiLink `/api/sms/sms-count`: (inbox, outbox) when the device answers it.
pub fn huawei_sms_count(body: &[u8]) -> Option<(u64, u64)> {
    let xml = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    if !xml.contains("<response>") {
        return None;
    }
    let n = |tag: &str| xml_tag(&xml, tag).and_then(|v| v.parse::<u64>().ok());
    Some((n("LocalInbox")?, n("LocalOutbox").unwrap_or(0)))
}

/// ZTE `cmd=model_name,wa_inner_version,web_version,hardware_version` (flat JSON; empty
/// strings where the device withholds a field before login).
pub fn zte_identity(body: &[u8]) -> Option<FamilyIdentity> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let id = FamilyIdentity {
        model: json_field(&v, &["model_name"]),
        firmware: json_field(&v, &["wa_inner_version"])
            .or_else(|| json_field(&v, &["web_version"])),
        name: json_field(&v, &["hardware_version"]),
    };
    (!id.is_empty()).then_some(id)
}

/// ZTE `cmd=sms_data_total`: how many messages the page lists (`{"messages":[…]}`), when the
/// device answers it.
pub fn zte_sms_list(body: &[u8]) -> Option<usize> {
    let v: Value = serde_json::from_slice(body).ok()?;
    Some(v.get("messages")?.as_array()?.len())
}

/// Netgear LTE `model.json`: `general.{model, FWversion, deviceName}`, and how many
/// `sms.msgs` it lists when it lists them.
pub fn netgear_model(body: &[u8]) -> Option<(FamilyIdentity, Option<usize>)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let general = v.get("general")?;
    let id = FamilyIdentity {
        model: json_field(general, &["model"]),
        firmware: json_field(general, &["FWversion"]),
        name: json_field(general, &["deviceName"]),
    };
    let msgs = v.get("sms").and_then(|s| s.get("msgs")).and_then(Value::as_array).map(Vec::len);
    (!id.is_empty()).then_some((id, msgs))
}

/// Fuzz entry point (`fuzz/fuzz_targets/audit_reply.rs`, and the proptests below): every
/// reply parser on the same bytes.
pub fn fuzz_replies(data: &[u8]) {
    if let Some(env) = Envelope::parse(data) {
        let _ = (env.refused(), env.logged_in(), env.session_token(), env.lock_seconds());
        for mailbox in [Mailbox::Outbox, Mailbox::Inbox] {
            if let Some(page) = mailbox_page(&env.result, mailbox) {
                assert!(page.rows.len() <= MAX_ROWS);
                assert!(page.rows.iter().all(|r| r.text.len() <= MAX_TEXT_BYTES));
            }
        }
    }
    let text = String::from_utf8_lossy(data);
    assert!(leaked_logins(&text).len() <= MAX_LEAKS);
    let _ = looks_like_system_log(&text);
    let hints = page_hints(data, Some(&text));
    assert!(hints.title.is_none_or(|t| t.len() <= MAX_TITLE_BYTES));
    let _ = crate::cert::CertInfo::from_der(data, chrono::DateTime::UNIX_EPOCH);
    for id in [teltonika_status(data), huawei_identity(data), zte_identity(data)]
        .into_iter()
        .flatten()
        .chain(netgear_model(data).map(|(id, _)| id))
    {
        for f in [&id.model, &id.firmware, &id.name].into_iter().flatten() {
            assert!(f.len() <= MAX_FIELD_BYTES);
        }
    }
    let _ = (teltonika_sms_total(data), huawei_sms_count(data), huawei_error(data));
    let _ = zte_sms_list(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_envelope(body: &str, expect: Option<(&str, &str, Option<i64>, bool)>) {
        let got = Envelope::parse(body.as_bytes()).map(|e| {
            (
                e.model.clone().unwrap_or_default(),
                e.rtver.clone().unwrap_or_default(),
                e.status,
                e.refused(),
            )
        });
        let expect = expect.map(|(m, r, s, refused)| (m.to_owned(), r.to_owned(), s, refused));
        assert_eq!(got, expect, "body {body:?}");
    }

    #[test]
    fn envelopes() {
        check_envelope(
            r#"{"id":"1","model":"UR32L","pn":"x","oem":"0000","rtver":"32.3.0.8-r1","status":0,"result":[]}"#,
            Some(("UR32L", "32.3.0.8-r1", Some(0), false)),
        );
        check_envelope(
            r#"{"model":"UR35","rtver":35,"status":-2,"result":[-32001,"Session not found"]}"#,
            Some(("UR35", "35", Some(-2), true)),
        );
        check_envelope("[]", None);
        check_envelope("<html>", None);
        check_envelope("", None);
        let long = format!(r#"{{"model":"{}"}}"#, "M".repeat(1000));
        assert_eq!(
            Envelope::parse(long.as_bytes()).and_then(|e| e.model).map(|m| m.len()),
            Some(64)
        );
        let deep = "[".repeat(100_000);
        assert_eq!(Envelope::parse(deep.as_bytes()), None);
    }

    #[test]
    fn sessions() {
        let ok = Envelope::parse(br#"{"status":0,"result":[{"ysrole":4,"td":"abc123"}]}"#);
        assert_eq!(ok.and_then(|e| e.session_token()).as_deref(), Some("abc123"));
        let bad = Envelope::parse(br#"{"status":0,"result":[{"td":"a;b=c"}]}"#);
        assert_eq!(bad.and_then(|e| e.session_token()), None);
        let locked = Envelope::parse(br#"{"status":-2,"result":[{"chance":0,"locktime":600}]}"#);
        assert_eq!(locked.and_then(|e| e.lock_seconds()), Some(600));
    }

    /// Expected page: the device count and (number, text, status) of each row.
    type Page<'a> = (Option<u64>, Vec<(&'a str, &'a str, Option<&'a str>)>);

    #[track_caller]
    fn check_mailbox(result: &str, expect: Option<Page<'_>>) {
        let value: Value = serde_json::from_str(result).unwrap_or(Value::Null);
        let got = mailbox_page(&value, Mailbox::Outbox).map(|p| {
            (p.count, p.rows.into_iter().map(|r| (r.number, r.text, r.status)).collect::<Vec<_>>())
        });
        let expect = expect.map(|(c, rows)| {
            (
                c,
                rows.into_iter()
                    .map(|(n, t, s)| (n.to_owned(), t.to_owned(), s.map(str::to_owned)))
                    .collect::<Vec<_>>(),
            )
        });
        assert_eq!(got, expect, "result {result}");
    }

    #[test]
    fn mailboxes() {
        check_mailbox(
            r#"[{"timezone":"UTC","count":2,"get":[{"index":2,"type":"sms_outbox","value":{"number":"+32470000001","content":"Your parcel","time":"2024-01-01 10:00:00","status":"success"}},{"value":{"number":"+1","content":"x"}}]}]"#,
            Some((
                Some(2),
                vec![("+32470000001", "Your parcel", Some("success")), ("+1", "x", None)],
            )),
        );
        check_mailbox(r#"[{"count":0,"get":[]}]"#, Some((Some(0), vec![])));
        check_mailbox(r#"[-32001,"Session not found"]"#, None);
        check_mailbox(
            r#"[{"get":[{"value":{"number":5}},"junk",{"content":"bare"}]}]"#,
            Some((None, vec![("", "bare", None)])),
        );
        check_mailbox("null", None);
        let many = format!(r#"[{{"get":[{}]}}]"#, vec![r#"{"content":"x"}"#; 500].join(","));
        let value: Value = serde_json::from_str(&many).unwrap_or(Value::Null);
        assert_eq!(mailbox_page(&value, Mailbox::Inbox).map(|p| p.rows.len()), Some(MAX_ROWS));
    }

    #[track_caller]
    fn check_leaks(log: &str, expect: &[(&str, &str)]) {
        let got: Vec<(String, String)> =
            leaked_logins(log).into_iter().map(|l| (l.username, l.encrypted_password)).collect();
        let expect: Vec<(String, String)> =
            expect.iter().map(|(u, p)| ((*u).to_owned(), (*p).to_owned())).collect();
        assert_eq!(got, expect, "log {log:?}");
    }

    #[test]
    fn leaks() {
        let line = r#"2024-01-01 httpd[1]: 192.168.1.5 POST /cgi {"id":"1","core":"user","function":"login","values":[{"username":"admin","password":"sI/7ewBCeWunDs6JXXtSHg=="}]}"#;
        check_leaks(line, &[("admin", "sI/7ewBCeWunDs6JXXtSHg==")]);
        check_leaks(&format!("{line}\n{line}\n"), &[("admin", "sI/7ewBCeWunDs6JXXtSHg==")]);
        check_leaks(r#""username":"a","password":"x y""#, &[]);
        check_leaks(r#""username":"a""#, &[]);
        check_leaks(r#""username":"a","password":"#, &[]);
        check_leaks(r#""username":"","password":"QQ==""#, &[]);
        check_leaks("", &[]);
        let many: String =
            (0..100).map(|i| format!(r#""username":"u{i}","password":"QQ==""#)).collect();
        assert_eq!(leaked_logins(&many).len(), MAX_LEAKS);
    }

    #[track_caller]
    fn check_page(body: &str, server: Option<&str>, expect: (Option<&str>, Option<&str>)) {
        let hints = page_hints(body.as_bytes(), server);
        assert_eq!((hints.vendor, hints.title.as_deref()), expect, "body {body:?}");
    }

    #[test]
    fn pages() {
        check_page(
            r#"<html><head><title id="rt_title">Login</title></head><body>URSALINK</body>"#,
            None,
            (Some("Milesight"), Some("Login")),
        );
        check_page(
            "<TITLE>\n RUT955 \n</TITLE> teltonika",
            None,
            (Some("Teltonika"), Some("RUT955")),
        );
        check_page("<html>nothing</html>", Some("lighttpd"), (None, None));
        check_page("", Some("HUAWEI HiLink"), (Some("Huawei"), None));
        check_page("<title>unclosed", None, (None, None));
        assert!(looks_like_system_log("Jan  1 00:00:01 router daemon.info dnsmasq[1]: started"));
        assert!(!looks_like_system_log("<html>404</html>"));
    }

    #[track_caller]
    fn check_family(got: Option<FamilyIdentity>, expect: Option<(&str, &str, &str)>) {
        let got = got.map(|i| {
            (
                i.model.unwrap_or_default(),
                i.firmware.unwrap_or_default(),
                i.name.unwrap_or_default(),
            )
        });
        let expect = expect.map(|(m, f, n)| (m.to_owned(), f.to_owned(), n.to_owned()));
        assert_eq!(got, expect);
    }

    #[test]
    fn families() {
        check_family(
            teltonika_status(br#"{"success":true,"data":{"lang":"en","device_name":"RUT955","device_model":"RUT955","api_version":"1.2","device_identifier":"x"}}"#),
            Some(("RUT955", "", "RUT955")),
        );
        check_family(teltonika_status(br#"{"success":false,"errors":[]}"#), None);
        assert_eq!(teltonika_sms_total(b"Used: 3\nTotal: 50\n"), Some((3, 50)));
        assert_eq!(teltonika_sms_total(b"ERROR"), None);
        check_family(
            huawei_identity(b"<?xml version=\"1.0\"?><response><DeviceName>E3372h-320</DeviceName><HardwareVersion>CL2E3372HM</HardwareVersion><SoftwareVersion>22.317.01.00.00</SoftwareVersion></response>"),
            Some(("E3372h-320", "22.317.01.00.00", "CL2E3372HM")),
        );
        check_family(
            huawei_identity(b"<response><productfamily>LTE</productfamily><classify>hilink</classify><devicename>B525s-23a</devicename></response>"),
            Some(("B525s-23a", "", "LTE")),
        );
        let refused =
            b"<?xml version=\"1.0\"?><error><code>100003</code><message></message></error>";
        check_family(huawei_identity(refused), None);
        assert_eq!(huawei_error(refused), Some(100003));
        assert_eq!(huawei_sms_count(refused), None);
        assert_eq!(
            huawei_sms_count(b"<response><LocalUnread>1</LocalUnread><LocalInbox>12</LocalInbox><LocalOutbox>340</LocalOutbox></response>"),
            Some((12, 340))
        );
        assert_eq!(xml_tag("<a><b>x</b></a>", "a"), None, "nested is not a value");
        check_family(
            zte_identity(br#"{"model_name":"MF286D","wa_inner_version":"BD_MF286DV1.0.0B05","web_version":"WEB_MF286D","hardware_version":""}"#),
            Some(("MF286D", "BD_MF286DV1.0.0B05", "")),
        );
        check_family(zte_identity(br#"{"model_name":"","wa_inner_version":""}"#), None);
        assert_eq!(
            zte_sms_list(br#"{"messages":[{"id":"1","number":"+1","content":"00480069"}]}"#),
            Some(1)
        );
        assert_eq!(zte_sms_list(br#"{"result":"failure"}"#), None);
        let netgear = netgear_model(br#"{"session":{"secToken":"t"},"general":{"model":"LB2120","FWversion":"M18QW_v07.05.170721","deviceName":"LB2120"},"sms":{"msgs":[{"id":1,"text":"hi"}]}}"#);
        assert_eq!(netgear.as_ref().map(|n| n.1), Some(Some(1)));
        check_family(netgear.map(|n| n.0), Some(("LB2120", "M18QW_v07.05.170721", "LB2120")));
        assert_eq!(netgear_model(br#"{"general":{"model":"LM1200"}}"#).map(|n| n.1), Some(None));
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            fuzz_replies(&data);
        }

        #[test]
        fn json_shaped_input_never_panics(s in "[\\[\\]{}\":,a-z0-9 -]{0,400}") {
            fuzz_replies(s.as_bytes());
            let wrapped = format!(r#"{{"status":0,"result":[{{"get":[{s}]}}]}}"#);
            fuzz_replies(wrapped.as_bytes());
        }
    }
}
