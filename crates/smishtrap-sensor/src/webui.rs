//! The web UI's side of `/cgi`, from persona data: status and configuration reads (`get`),
//! configuration writes (`set`, `add`, `del`, `order`, `apply`) answered like the device and
//! recorded as `config.change` while changing nothing, and the configuration backup download.
//!
//! Nothing from the request is reflected: core and base names are only echoed when they are
//! the persona's own, and the reply values come from persona data and the sensor identity.

use bytes::Bytes;
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
    for base in wanted {
        let Some(g) = find(device, core, base) else { continue };
        found = true;
        let value = device.render_json(&g.value, req.now);
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
/// Writes to a core the persona knows answer `status:0` and store nothing (the device also
/// answers 0 to list writes it silently drops); `apply` on the apply core reports whether it
/// reboots; anything else is the framework's `status:-1`, as for `set` on `yruo_apply`.
pub(crate) fn change(
    device: &Device,
    id: &serde_json::Value,
    core: Option<&str>,
    change: Change,
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
