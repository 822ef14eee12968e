//! The web UI's side of `/cgi`, from persona data: status and configuration reads (`get`),
//! configuration writes (`set`, `add`, `del`, `order`, `apply`) answered like the device and
//! recorded as `config.change` while changing nothing, and the configuration backup download.
//!
//! Nothing from the request is reflected to anyone else: core and base names are only echoed
//! when they are the persona's own, and the reply values come from persona data and the sensor
//! identity. The one exception is [`Written`]: a value a session `set` on a field the persona
//! has is shown back to that session alone (bounded), as a device that stored it would.

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Mutex;

use bytes::Bytes;
use lru::LruCache;
use rand::RngCore;
use sha2::{Digest, Sha256};
use smishtrap_event::EventKind;

use crate::cgi::Change;
use crate::device::{Device, Reply, RequestView};
use crate::ojson;
use crate::ordered::Json;
use crate::persona::GetItem;

/// Characters of the random part of a list row's `index` token.
const TOKEN_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Length of that random part (the device's tokens are the core name plus 8 characters).
const TOKEN_LEN: usize = 8;

/// Fields one session may have written.
const MAX_WRITTEN_FIELDS: usize = 32;
/// Longest written string kept, in bytes.
const MAX_WRITTEN_BYTES: usize = 128;

/// Values each session wrote with `set`, shown back to it by `get` so the device looks
/// consistent to the attacker who wrote them; nothing real changes and nobody else sees them.
/// Bounded: the least recently used sessions are forgotten, each keeps [`MAX_WRITTEN_FIELDS`]
/// scalar fields of at most [`MAX_WRITTEN_BYTES`].
#[derive(Debug)]
pub(crate) struct Written {
    sessions: Mutex<LruCache<Writer, Vec<Field>>>,
}

/// Who wrote: a login session, or a source address when the persona needs none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Writer {
    Session(String),
    Client(IpAddr),
}

/// One written field: base, key, value.
type Field = (String, String, Json);

impl Written {
    pub(crate) fn new(max_sessions: usize) -> Written {
        let cap = NonZeroUsize::new(max_sessions.max(1)).unwrap_or(NonZeroUsize::MIN);
        Written { sessions: Mutex::new(LruCache::new(cap)) }
    }

    fn writer(device: &Device, req: &RequestView<'_>) -> Writer {
        match crate::device::token_from(req.cookie, req.authorization) {
            Some(token) if device.session_user(req).is_some() => {
                Writer::Session(crate::cgi::bounded(token, 128))
            }
            _ => Writer::Client(req.client),
        }
    }

    /// Keeps the scalar fields of `value` that the base's own value has.
    fn store(&self, writer: Writer, base: &str, template: &Json, value: &serde_json::Value) {
        let Some(fields) = value.as_object() else { return };
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let kept = sessions.get_or_insert_mut(writer, Vec::new);
        for (key, v) in fields {
            if template.get(key).is_none() {
                continue;
            }
            let v = match v {
                serde_json::Value::String(t) => {
                    Json::String(crate::cgi::bounded(t, MAX_WRITTEN_BYTES))
                }
                serde_json::Value::Number(n) => Json::Number(n.clone()),
                serde_json::Value::Bool(b) => Json::Bool(*b),
                _ => continue,
            };
            kept.retain(|(b, k, _)| !(b == base && k == key));
            if kept.len() >= MAX_WRITTEN_FIELDS {
                kept.remove(0);
            }
            kept.push((base.to_owned(), key.clone(), v));
        }
    }

    /// `value` of `base` with what the writer wrote in place of the persona's fields.
    fn apply(&self, writer: &Writer, base: &str, value: &mut Json) {
        let Json::Object(fields) = value else { return };
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let Some(kept) = sessions.get(writer) else { return };
        for (b, key, v) in kept {
            if b == base
                && let Some((_, slot)) = fields.iter_mut().find(|(k, _)| k == key)
            {
                slot.clone_from(v);
            }
        }
    }
}

/// `function:"get"` on `core` for `bases` (the core itself when none is named).
pub(crate) fn get(
    device: &Device,
    req: &RequestView<'_>,
    id: &serde_json::Value,
    core: &str,
    bases: &[String],
) -> Reply {
    let wanted: Vec<&str> =
        if bases.is_empty() { vec![core] } else { bases.iter().map(String::as_str).collect() };
    let mut items = Vec::new();
    let mut found = false;
    let writer = Written::writer(device, req);
    for base in wanted {
        let Some(g) = find(device, core, base) else { continue };
        found = true;
        let mut value = device.render_json(&g.value, req.now);
        if !g.list {
            device.written.apply(&writer, &g.base, &mut value);
        }
        match (g.list, value) {
            (true, Json::Array(rows)) => {
                for (n, row) in rows.into_iter().enumerate() {
                    let index = index_token(device, core, &g.base, n);
                    items
                        .push(ojson!({"type": g.type_name.as_str(), "index": index, "value": row}));
                }
            }
            (_, value) => {
                items.push(ojson!({"type": g.type_name.as_str(), "index": 0, "value": value}))
            }
        }
    }
    if !found {
        return device.json(id, -1, ojson!([]), EventKind::ApiCall);
    }
    device.json(id, 0, ojson!([ojson!({"get": items, "grey": 0})]), EventKind::ApiCall)
}

fn find<'a>(device: &'a Device, core: &str, base: &str) -> Option<&'a GetItem> {
    device.persona.gets.iter().find(|g| g.base == base && g.cores.iter().any(|c| c == core))
}

fn known_core<'a>(device: &'a Device, core: &str) -> Option<&'a str> {
    let webui = &device.persona.webui;
    if let Some(apply) = webui.apply.as_ref().filter(|a| a.core == core) {
        return Some(&apply.core);
    }
    device.persona.gets.iter().flat_map(|g| &g.cores).find(|c| *c == core).map(String::as_str)
}

/// The device's `index` of row `n` of a list base: the core name and 8 characters, stable for
/// one sensor and different between sensors (derived from the sensor's secret key).
pub(crate) fn index_token(device: &Device, core: &str, base: &str, n: usize) -> String {
    let mut h = Sha256::new();
    h.update(device.identity.token_key);
    h.update(b"index\0");
    h.update(core.as_bytes());
    h.update(b"\0");
    h.update(base.as_bytes());
    h.update((n as u64).to_le_bytes());
    let digest = h.finalize();
    let mut token = String::with_capacity(core.len() + TOKEN_LEN);
    token.push_str(core);
    for b in digest.iter().take(TOKEN_LEN) {
        token.push(char::from(TOKEN_CHARS[usize::from(*b) % TOKEN_CHARS.len()]));
    }
    token
}

/// A configuration write or commit: the device's answer, recorded as `config.change`.
///
/// Writes to a core the persona knows answer `status:0` and change nothing real (the device
/// also answers 0 to list writes it silently drops); a `set` of a field the base has is shown
/// back to the same session ([`Written`]); `apply` on the apply core reports whether it
/// reboots; anything else is the framework's `status:-1`, as for `set` on `yruo_apply`.
pub(crate) fn change(
    device: &Device,
    req: &RequestView<'_>,
    id: &serde_json::Value,
    core: Option<&str>,
    change: Change,
    values: &[serde_json::Value],
    bases: &[String],
) -> Reply {
    let apply = device.persona.webui.apply.as_ref();
    let known = core.and_then(|c| known_core(device, c));
    let is_apply_core = apply.is_some_and(|a| Some(a.core.as_str()) == core);
    let (status, result) = match (change, apply) {
        (Change::Apply, Some(a)) if is_apply_core => (0, ojson!([ojson!({"reboot": a.reboot})])),
        (Change::Apply, _) => (-1, ojson!([])),
        // only apply is defined on the apply core
        _ if is_apply_core => (-1, ojson!([])),
        _ if known.is_some() && !bases.is_empty() => (0, ojson!([ojson!({})])),
        _ => (-1, ojson!([])),
    };
    if status == 0
        && change == Change::Set
        && let Some(core) = known
    {
        let writer = Written::writer(device, req);
        for item in values.iter().take(16) {
            let Some(base) = item.get("base").and_then(serde_json::Value::as_str) else { continue };
            let (Some(g), Some(value)) = (find(device, core, base), item.get("value")) else {
                continue;
            };
            if !g.list {
                let current = device.render_json(&g.value, req.now);
                device.written.store(writer.clone(), &g.base, &current, value);
            }
        }
    }
    let mut reply = device.json(id, status, result, EventKind::ConfigChange);
    reply.tags.push(change.tag().to_owned());
    if let Some(core) = known {
        // a persona value checked at load (`[a-z0-9_]`), never the attacker's text
        reply.tags.push(format!("core:{core}"));
    }
    reply
}

/// `POST /cgi-bin/file-export` (`sessionid=<td>&type=backup&file=cfgbackup`): with a live
/// session, the backup as the device sends it (OpenSSL `enc` output: `Salted__`, an 8-byte salt
/// and the ciphertext; a fresh salt each time, so no two downloads are equal); otherwise the
/// device's failure text.
pub(crate) fn file_export(device: &Device, req: &RequestView<'_>) -> Reply {
    let Some(spec) = device.persona.webui.export.as_ref() else {
        return device.error(crate::device::ErrorPage::NotFound, EventKind::HttpRequest);
    };
    let form = std::str::from_utf8(req.body).unwrap_or("");
    let field = |name: &str| {
        form_urlencoded::parse(form.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v)
    };
    let session = field("sessionid").filter(|s| !s.is_empty() && s.len() <= 128);
    let cookie = session.map(|s| format!("td={s}"));
    let view = RequestView { cookie: cookie.as_deref().or(req.cookie), ..*req };
    let wants_backup = field("type").is_some_and(|t| t == "backup");
    if !wants_backup || device.session_user(&view).is_none() {
        let mut reply =
            Reply::new(200, "text/plain", Bytes::from_static(b"Export failed"), EventKind::ApiCall);
        reply.tags.push("config:export-refused".to_owned());
        return reply;
    }
    let [lo, hi] = spec.bytes;
    let seed = Sha256::digest([&device.identity.token_key[..], b"backup-size"].concat());
    let span = u64::from(hi - lo) + 1;
    let len = (u64::from(lo) + u64::from_le_bytes(seed[..8].try_into().unwrap_or_default()) % span)
        .div_ceil(16)
        * 16;
    let mut body = Vec::with_capacity(16 + len as usize);
    body.extend_from_slice(b"Salted__");
    let mut salt = [0u8; 8];
    rand::rng().fill_bytes(&mut salt);
    body.extend_from_slice(&salt);
    // Ciphertext stand-in: indistinguishable from AES output without the device's passphrase.
    let mut block = 0u64;
    while (body.len() - 16) < len as usize {
        let d =
            Sha256::digest([&device.identity.token_key[..], &salt, &block.to_le_bytes()].concat());
        body.extend_from_slice(&d);
        block += 1;
    }
    body.truncate(16 + len as usize);
    let mut reply = Reply::new(200, "application/octet-stream", body, EventKind::ApiCall);
    reply.tags.push("config:export".to_owned());
    reply
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::device::StateLimits;
    use crate::identity::{Identity, Seed};
    use crate::persona::PersonaSet;

    fn device(seed: u8) -> Device {
        let set = PersonaSet::embedded().unwrap();
        let persona = set.get("milesight-ur32l").unwrap().clone();
        let seed =
            Seed::from_bytes([seed; 32], DateTime::from_timestamp(1_750_000_000, 0).unwrap());
        let identity = Identity::derive(&seed, &persona);
        Device::new(persona, identity, StateLimits::default())
    }

    fn view<'a>(path: &'a str, body: &'a [u8], cookie: Option<&'a str>) -> RequestView<'a> {
        RequestView {
            method: "POST",
            path,
            query: None,
            cookie,
            authorization: None,
            body,
            client: "10.0.0.1".parse().unwrap(),
            now: DateTime::<Utc>::from_timestamp(1_760_000_000, 0).unwrap(),
            headers: None,
        }
    }

    /// Sends `body` to `/cgi`: the status, the start of the `result` text (keys in order) and
    /// the event's kind and tags.
    #[track_caller]
    fn check(d: &Device, body: &str, expect: (i64, &str, Option<EventKind>, &[&str])) {
        let reply = d.handle(&view("/cgi", body.as_bytes(), None));
        let text = std::str::from_utf8(&reply.body).unwrap();
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let result = &text[text.find(",\"result\":").unwrap() + 10..text.len() - 1];
        assert_eq!(v["status"].as_i64(), Some(expect.0), "{body}: {text}");
        assert!(result.starts_with(expect.1), "{body}: result {result}");
        if let Some(kind) = expect.2 {
            assert_eq!(reply.kind, kind, "{body}");
        }
        assert_eq!(reply.tags, expect.3, "{body}");
    }

    #[test]
    fn reads_and_writes_answer_like_the_device() {
        use EventKind::{ApiCall, ConfigChange};
        let d = device(7);
        let get = |core: &str, base: &str| {
            format!(r#"{{"id":1,"core":"{core}","function":"get","values":[{{"base":"{base}"}}]}}"#)
        };
        let write = |core: &str, f: &str, base: Option<&str>| {
            let values = base.map(|b| format!(r#"{{"base":"{b}","index":0,"value":{{"x":1}}}}"#));
            format!(
                r#"{{"id":2,"core":"{core}","function":"{f}","values":[{}]}}"#,
                values.unwrap_or_default()
            )
        };
        check(
            &d,
            &get("yruo_status", "summary"),
            (
                0,
                r#"[{"get":[{"type":"summary","index":0,"value":{"system":{"model":"UR32L","sn":"#,
                Some(ApiCall),
                &[],
            ),
        );
        check(
            &d,
            &get("yruo_usermanagement", "api_user_list"),
            (0, r#"[{"get":[],"grey":0}]"#, Some(ApiCall), &[]),
        );
        check(
            &d,
            &get("yruo_usermanagement", "user_list"),
            (0, r#"[{"get":[{"type":"user_list","index":"yruo_usermanagement"#, Some(ApiCall), &[]),
        );
        check(&d, &get("yruo_nope", "summary"), (-1, "[]", Some(ApiCall), &[]));
        check(
            &d,
            &write("yruo_system", "set", Some("general")),
            (0, "[{}]", Some(ConfigChange), &["config:set", "core:yruo_system"]),
        );
        check(
            &d,
            &write("yruo_firewall_port_mapping", "add", Some("port_mapping")),
            (0, "[{}]", Some(ConfigChange), &["config:add", "core:yruo_firewall_port_mapping"]),
        );
        check(
            &d,
            &write("yruo_apply", "apply", None),
            (0, r#"[{"reboot":0}]"#, Some(ConfigChange), &["config:apply", "core:yruo_apply"]),
        );
        check(
            &d,
            &write("yruo_apply", "set", Some("apply")),
            (-1, "[]", Some(ConfigChange), &["config:set", "core:yruo_apply"]),
        );
        check(
            &d,
            &write("yruo_system", "apply", None),
            (-1, "[]", Some(ConfigChange), &["config:apply", "core:yruo_system"]),
        );
        check(
            &d,
            &write("yruo_system", "set", None),
            (-1, "[]", Some(ConfigChange), &["config:set", "core:yruo_system"]),
        );
        check(
            &d,
            &write("yruo_x<b>", "del", Some("b")),
            (-1, "[]", Some(ConfigChange), &["config:del"]),
        );
        // a write changes nothing
        let before = d.handle(&view("/cgi", get("yruo_system", "general").as_bytes(), None)).body;
        d.handle(&view("/cgi", write("yruo_system", "set", Some("general")).as_bytes(), None));
        let after = d.handle(&view("/cgi", get("yruo_system", "general").as_bytes(), None)).body;
        assert_eq!(before, after);
    }

    #[test]
    fn index_tokens_are_per_sensor_and_shaped_like_the_device() {
        let (a, b) = (device(1), device(2));
        let t = index_token(&a, "yruo_firewall_port_mapping", "port_mapping", 0);
        let rest = t.strip_prefix("yruo_firewall_port_mapping").unwrap();
        assert_eq!(rest.len(), TOKEN_LEN);
        assert!(rest.bytes().all(|c| TOKEN_CHARS.contains(&c)), "{t}");
        assert_eq!(t, index_token(&a, "yruo_firewall_port_mapping", "port_mapping", 0));
        assert_ne!(t, index_token(&a, "yruo_firewall_port_mapping", "port_mapping", 1));
        assert_ne!(t, index_token(&b, "yruo_firewall_port_mapping", "port_mapping", 0));
    }

    #[test]
    fn backup_needs_a_live_session() {
        let d = device(3);
        let export = |form: &str, cookie: Option<&str>| {
            let r = d.handle(&view("/cgi-bin/file-export", form.as_bytes(), cookie));
            (r.status, r.body, r.tags)
        };
        let (status, body, tags) = export("sessionid=nope&type=backup&file=cfgbackup", None);
        assert_eq!(
            (status, &body[..], tags),
            (200, &b"Export failed"[..], vec!["config:export-refused".to_owned()])
        );
        let login = serde_json::json!({"id":"1","core":"user","function":"login","values":[{
            "username": d.identity.username,
            "password": crate::crypto::encrypt_password(&d.identity.password)}]});
        let reply = d.handle(&view("/cgi", login.to_string().as_bytes(), None));
        let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        let td = v["result"][0]["td"].as_str().unwrap().to_owned();
        let form = format!("sessionid={td}&type=backup&file=cfgbackup");
        let (status, a, tags) = export(&form, None);
        assert_eq!((status, tags), (200, vec!["config:export".to_owned()]));
        assert!(a.starts_with(b"Salted__") && (a.len() - 16) % 16 == 0, "{}", a.len());
        let (_, b, _) = export(&form, None);
        assert_eq!(a.len(), b.len());
        assert_ne!(a[8..16], b[8..16], "fresh salt");
        // the td cookie alone is a session too; another type is refused
        let cookie = format!("td={td}");
        assert!(export("type=backup", Some(&cookie)).1.starts_with(b"Salted__"));
        assert!(export("type=log", Some(&cookie)).1.starts_with(b"Export"));
    }

    proptest::proptest! {
        /// Nothing from a `/cgi` call is reflected: hostile cores, bases and values never reach
        /// the reply or the tags.
        #[test]
        fn requests_are_never_reflected(
            core in "[a-z_<>\"&']{1,20}",
            base in "[a-z_<>\"&']{1,20}",
            function in proptest::sample::select(vec!["get", "set", "add", "del", "apply", "order"]),
        ) {
            static DEVICE: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
            let d = DEVICE.get_or_init(|| device(9));
            let body = serde_json::json!({"id":1,"core":core,"function":function,"values":[{"base":base,"value":{"k":"<script>"}}]});
            let reply = d.handle(&view("/cgi", body.to_string().as_bytes(), None));
            let text = String::from_utf8_lossy(&reply.body).into_owned();
            proptest::prop_assert!(!text.contains('<') && !text.contains('&') && !text.contains('\''), "{}", text);
            for tag in &reply.tags {
                proptest::prop_assert!(tag.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b == b':' || b.is_ascii_digit()), "{}", tag);
            }
        }
    }
}
