//! TP-Link LTE routers (Archer MR200/MR400/MR600, TL-MR6400): the web UI's "act" frames
//! (router_personas.md §5; plewin/tp-link-modem-router, tplinkrouterc6u, tp-connected).
//!
//! - `POST /cgi/getParm` shows the unit's RSA public key (`ee`, `nn`) and a sequence `seq`.
//! - Encrypted firmware (Archer MR, `gdpr`): `POST /cgi/login?data=…&sign=…`, `data` the
//!   AES-128-CBC (PKCS7, Base64) of `username\npassword` under a key the client made, `sign` the
//!   raw (unpadded) RSA of `key=…&iv=…&h=…&s=…` in 64-byte chunks; every later call is
//!   `POST /cgi_gdpr` with `sign=…\r\ndata=…\r\n` (the frame AES-encrypted under that key) and
//!   answers the encrypted reply frame.
//! - Older firmware (TL-MR6400 v3): `POST /cgi/login?UserName=…&Passwd=…` with the RSA of the
//!   Base64 of each, then plain frames to `POST /cgi?2` (methods in the query).
//! - Both: `JSESSIONID` cookie from the login, the `TokenID` header from `var token="…"` in the
//!   home page a logged-in session gets, a `Referer` (else 403); a call without a live session
//!   and its token answers 500.
//! - Frames: `[OID#stack#pstack]index,count` then `count` `key=value` lines per action; the
//!   reply has `[stack]index` sections and ends with `[error]0`, its lines ended by `\n` (the
//!   clients' parsers split on `\n` and reject a trailing `\r`).

use std::collections::VecDeque;

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rsa::BigUint;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use smishtrap_event::{AuthRecord, EventKind, SmsAction, SmsBox, SmsDialect};

use crate::cgi;
use crate::device::{Device, LoginVerdict, Reply, RequestView};
use crate::persona::Template;

/// Actions read from one frame (the web UI sends at most a handful).
pub const MAX_ACTIONS: usize = 32;
/// Attribute lines read per action.
pub const MAX_ATTRS: usize = 64;
/// RSA chunks read from one `sign`/credential (a signature is two).
const MAX_RSA_CHUNKS: usize = 8;
/// Base64 read from one encrypted body (the server's body cap bounds it first).
const MAX_CIPHERTEXT: usize = 256 * 1024;
/// Messages per mailbox page, as the firmware pages them.
const PAGE: usize = 8;

/// The TP-Link firmware as a persona describes it.
#[derive(Debug, Clone)]
pub struct Tplink {
    /// Encrypted `cgi_gdpr` API (Archer MR); else plain `/cgi?N` frames (older TL-MR).
    pub gdpr: bool,
    /// Size of the login RSA key (512 on the Archer MR, 1024 on the older TL-MR).
    pub rsa_bits: usize,
    /// Content type of `getParm`, login and API answers.
    pub content_type: String,
    /// The home page of a logged-in session (shows `var token="{{tplink_token}}"`).
    pub home: Template,
    /// The firmware's 403 (no `Referer`) and 500 (no session) pages.
    pub forbidden: Template,
    pub server_error: Template,
    /// Objects answered to `GET`/`GL`/`GS` from templates of `key=value` lines.
    pub objects: Vec<Object>,
}

/// One data-model object (`IGD_DEV_INFO`, `LTE_NET_STATUS`, …) and its attributes.
#[derive(Debug, Clone)]
pub struct Object {
    pub oid: String,
    pub attrs: Template,
}

/// The unit's login key: a throwaway per sensor, derived from its identity, made on first use.
///
/// RUSTSEC-2023-0071 (Marvin: timing of `rsa` decryption) is accepted here: the key protects
/// nothing (the honeypot wants the credentials it decrypts), so leaking it costs nothing.
#[derive(Debug, Default)]
pub struct LoginKey(std::sync::OnceLock<Option<rsa::RsaPrivateKey>>);

impl LoginKey {
    fn get(&self, d: &Device, bits: usize) -> Option<&rsa::RsaPrivateKey> {
        self.0
            .get_or_init(|| {
                use rand_chacha_03::ChaCha20Rng;
                use rand_chacha_03::rand_core::SeedableRng;
                use sha2::Digest;
                let mut h = sha2::Sha256::new();
                h.update(d.identity.token_key);
                h.update(b"tplink-login/");
                h.update(d.persona.name.as_str().as_bytes());
                let mut rng = ChaCha20Rng::from_seed(h.finalize().into());
                rsa::RsaPrivateKey::new(&mut rng, bits).ok()
            })
            .as_ref()
    }
}

/// Act types of a frame (the web UI's `ACT_*`).
pub mod act {
    pub const GET: u8 = 1;
    pub const SET: u8 = 2;
    pub const ADD: u8 = 3;
    pub const DEL: u8 = 4;
    pub const GL: u8 = 5;
    pub const GS: u8 = 6;
    pub const OP: u8 = 7;
    pub const CGI: u8 = 8;
}

/// One action of a request frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub method: u8,
    pub oid: String,
    /// The instance stack (`1,0,0,0,0,0`), digits and commas only.
    pub stack: String,
    /// `key=value` lines (`key` alone: an attribute asked for).
    pub attrs: Vec<(String, Option<String>)>,
}

impl Action {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.as_deref())
    }
}

/// A request frame: `methods` from its first line (`gdpr`) or the query (`/cgi?2&1`), then
/// the actions. Total: malformed parts end the frame; every size is bounded.
pub fn parse_frame(methods: Option<&str>, body: &str) -> Vec<Action> {
    let mut lines = body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let methods: Vec<u8> = match methods {
        Some(m) => method_list(m),
        None => method_list(lines.next().unwrap_or_default()),
    };
    let mut out = Vec::new();
    let mut lines = lines.peekable();
    while out.len() < MAX_ACTIONS {
        let Some(line) = lines.next() else { break };
        let Some((oid, stack, count)) = section_head(line) else { continue };
        let mut attrs = Vec::new();
        for _ in 0..count.min(MAX_ATTRS) {
            match lines.peek() {
                Some(l) if !l.starts_with('[') && !l.is_empty() => {
                    let l = lines.next().unwrap_or_default();
                    let (k, v) = match l.split_once('=') {
                        Some((k, v)) => (k, Some(cgi::bounded(v, cgi::MAX_TEXT_BYTES))),
                        None => (l, None),
                    };
                    attrs.push((cgi::bounded(k, 64), v));
                }
                _ => break,
            }
        }
        let method = methods.get(out.len()).copied().unwrap_or(act::GET);
        out.push(Action { method, oid, stack, attrs });
    }
    out
}

fn method_list(line: &str) -> Vec<u8> {
    line.split('&').take(MAX_ACTIONS).map(|m| m.trim().parse().unwrap_or(0)).collect()
}

/// `[OID#stack#pstack]index,count` → (OID, stack, count).
fn section_head(line: &str) -> Option<(String, String, usize)> {
    let rest = line.strip_prefix('[')?;
    let (inside, after) = rest.split_once(']')?;
    let mut parts = inside.split('#');
    let oid = parts.next()?;
    let stack = parts.next().unwrap_or("0,0,0,0,0,0");
    let oid_ok = !oid.is_empty()
        && oid.len() <= 64
        && oid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'/');
    let stack_ok = stack.len() <= 32 && stack.bytes().all(|b| b.is_ascii_digit() || b == b',');
    if !oid_ok || !stack_ok {
        return None;
    }
    let count = after.split_once(',').map_or("0", |(_, c)| c).trim().parse().unwrap_or(0);
    Some((oid.to_owned(), stack.to_owned(), count))
}

/// The `sign=…` and `data=…` lines of a `cgi_gdpr` body.
pub fn gdpr_body(body: &str) -> (Option<&str>, Option<&str>) {
    let mut sign = None;
    let mut data = None;
    for line in body.split('\n').take(8) {
        let line = line.trim_end_matches('\r');
        if let Some(v) = line.strip_prefix("sign=") {
            sign = Some(v);
        } else if let Some(v) = line.strip_prefix("data=") {
            data = Some(v);
        }
    }
    (sign, data)
}

/// AES-128-CBC, PKCS7, Base64, as the web UI's `encrypt.js` does.
pub fn aes_encrypt(key: &[u8; 16], iv: &[u8; 16], plain: &[u8]) -> String {
    let cipher = cbc::Encryptor::<aes::Aes128>::new(key.into(), iv.into());
    B64.encode(cipher.encrypt_padded_vec_mut::<Pkcs7>(plain))
}

/// The inverse of [`aes_encrypt`]; `None` for anything that is not such a ciphertext.
pub fn aes_decrypt(key: &[u8; 16], iv: &[u8; 16], encoded: &str) -> Option<Vec<u8>> {
    let encoded = encoded.trim();
    if encoded.is_empty() || encoded.len() > MAX_CIPHERTEXT {
        return None;
    }
    let bytes = B64.decode(encoded).ok()?;
    if bytes.is_empty() || bytes.len() % 16 != 0 {
        return None;
    }
    let cipher = cbc::Decryptor::<aes::Aes128>::new(key.into(), iv.into());
    cipher.decrypt_padded_vec_mut::<Pkcs7>(&bytes).ok()
}

/// Raw RSA decryption of hex chunks as the web UI makes them: each chunk the size of the
/// modulus, the plaintext either zero-padded on the right ("nopadding", the Archer MR) or
/// PKCS#1 v1.5 type 2 (jsbn's default, older firmware). `None` when it is not such a text.
pub fn rsa_open(key: &rsa::RsaPrivateKey, hex_text: &str) -> Option<Vec<u8>> {
    let k = key.size();
    let hex_text = hex_text.trim();
    if hex_text.is_empty()
        || !hex_text.len().is_multiple_of(2 * k)
        || hex_text.len() > 2 * k * MAX_RSA_CHUNKS
    {
        return None;
    }
    let mut out = Vec::new();
    for chunk in hex_text.as_bytes().chunks(2 * k) {
        let bytes = hex::decode(chunk).ok()?;
        let c = BigUint::from_bytes_be(&bytes);
        if &c >= key.n() {
            return None;
        }
        let m = c.modpow(key.d(), key.n()).to_bytes_be();
        let mut block = vec![0u8; k.saturating_sub(m.len())];
        block.extend_from_slice(&m);
        if block.len() > 2 && block[0] == 0 && block[1] == 2 {
            let start = block[2..].iter().position(|b| *b == 0)? + 3;
            out.extend_from_slice(&block[start..]);
        } else {
            let end = block.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
            out.extend_from_slice(&block[..end]);
        }
    }
    Some(out)
}

/// What a login signature carries (`key=…&iv=…&h=…&s=…`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Signature {
    pub key: Option<[u8; 16]>,
    pub iv: Option<[u8; 16]>,
    pub seq: Option<u64>,
}

pub fn parse_signature(text: &[u8]) -> Signature {
    let mut s = Signature::default();
    let block = |v: &str| <[u8; 16]>::try_from(v.as_bytes()).ok();
    for (k, v) in
        String::from_utf8_lossy(text).split('&').take(8).filter_map(|kv| kv.split_once('='))
    {
        match k {
            "key" | "k" => s.key = block(v),
            "iv" | "i" => s.iv = block(v),
            "s" => s.seq = v.trim().parse().ok(),
            _ => {}
        }
    }
    s
}

// ---- the session ---------------------------------------------------------------------------

/// Per-session values kept in the device's bounded token map, in this order.
const TOKEN: usize = 0;
const KEY: usize = 1;
const IV: usize = 2;
const SEQ: usize = 3;
const SEND_RESULT: usize = 4;
const RECV_PAGE: usize = 5;
const SENT_PAGE: usize = 6;

fn ring_key(id: &str) -> String {
    format!("tp/{id}")
}

fn seq_key(req: &RequestView<'_>) -> String {
    format!("tp-seq/{}", req.client)
}

fn session_values(d: &Device, id: &str) -> Option<Vec<String>> {
    let mut csrf = d.csrf.lock().unwrap_or_else(|e| e.into_inner());
    csrf.get(&ring_key(id)).map(|r| r.iter().cloned().collect())
}

fn set_value(d: &Device, id: &str, index: usize, value: String) {
    let mut csrf = d.csrf.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = csrf.get_mut(&ring_key(id))
        && let Some(slot) = r.get_mut(index)
    {
        *slot = value;
    }
}

/// The live session of `req` (cookie and, for calls, the token), with its values.
fn live_session(d: &Device, req: &RequestView<'_>) -> Option<(String, Vec<String>)> {
    let id = req.cookie_value("JSESSIONID").filter(|v| !v.is_empty() && v.len() <= 64)?;
    d.session_user_of(id, req.now)?;
    let values = session_values(d, id)?;
    Some((id.to_owned(), values))
}

fn referer_ok(req: &RequestView<'_>) -> bool {
    let (Some(referer), Some(host)) = (req.header("referer"), req.header("host")) else {
        return false;
    };
    let rest = referer
        .strip_prefix("http://")
        .or_else(|| referer.strip_prefix("https://"))
        .unwrap_or_default();
    rest.split('/').next() == Some(host)
}

// ---- answers -------------------------------------------------------------------------------

pub(super) fn handle(d: &Device, t: &Tplink, req: &RequestView<'_>) -> Option<Reply> {
    match req.path {
        "/cgi/getParm" if req.method == "POST" || req.method == "GET" => Some(get_parm(d, t, req)),
        "/cgi/login" if req.method == "POST" || req.method == "GET" => Some(login(d, t, req)),
        "/cgi_gdpr" if t.gdpr && req.method == "POST" => Some(call(d, t, req)),
        "/cgi" if !t.gdpr && req.method == "POST" => Some(call(d, t, req)),
        "/" | "/index.html" if req.method == "GET" => home(d, t, req),
        _ => None,
    }
}

fn text(t: &Tplink, status: u16, body: impl Into<bytes::Bytes>, kind: EventKind) -> Reply {
    Reply::new(status, t.content_type.clone(), body, kind)
}

fn page(d: &Device, tpl: &Template, status: u16, req: &RequestView<'_>, kind: EventKind) -> Reply {
    Reply::new(status, "text/html", d.render_with(tpl, req.now, &[]), kind)
}

fn get_parm(d: &Device, t: &Tplink, req: &RequestView<'_>) -> Reply {
    if !referer_ok(req) {
        let mut r = page(d, &t.forbidden, 403, req, EventKind::ApiCall);
        r.tags.push("tplink:referer".to_owned());
        return r;
    }
    let Some(key) = d.tplink_key.get(d, t.rsa_bits) else {
        return page(d, &t.server_error, 500, req, EventKind::ApiCall);
    };
    let nn =
        format!("{:0>width$}", key.n().to_str_radix(16).to_uppercase(), width = key.size() * 2);
    let ee = format!("{:0>6}", key.e().to_str_radix(16).to_uppercase());
    // A fresh sequence per request, as the firmware's; the login is checked against it.
    let token = d.new_token(req);
    let seq = u64::from_str_radix(&token[..8], 16).unwrap_or_default() % 900_000_000 + 100_000_000;
    d.csrf
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .put(seq_key(req), VecDeque::from([seq.to_string()]));
    let body = if t.gdpr {
        format!("var ee=\"{ee}\";\nvar nn=\"{nn}\";\nvar seq=\"{seq}\";\n$.ret=0;\n")
    } else {
        format!("var ee=\"{ee}\";\nvar nn=\"{nn}\";\n$.ret=0;\n")
    };
    text(t, 200, body, EventKind::ApiCall)
}

fn query_field(req: &RequestView<'_>, name: &str) -> Option<String> {
    form_urlencoded::parse(req.query.unwrap_or_default().as_bytes())
        .take(16)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// What a login request carried once opened: credentials and the session's AES key.
struct Opened {
    username: Option<String>,
    password: Option<String>,
    key: Option<([u8; 16], [u8; 16])>,
    seq: Option<u64>,
    data_len: usize,
}

fn open_login(d: &Device, t: &Tplink, req: &RequestView<'_>) -> Opened {
    let rsa_key = d.tplink_key.get(d, t.rsa_bits);
    let mut o = Opened { username: None, password: None, key: None, seq: None, data_len: 0 };
    let Some(rsa_key) = rsa_key else { return o };
    if t.gdpr {
        let data = query_field(req, "data").unwrap_or_default();
        o.data_len = data.len();
        let sig = query_field(req, "sign")
            .and_then(|s| rsa_open(rsa_key, &s))
            .map(|s| parse_signature(&s))
            .unwrap_or_default();
        o.seq = sig.seq;
        if let (Some(k), Some(iv)) = (sig.key, sig.iv) {
            o.key = Some((k, iv));
            if let Some(plain) = aes_decrypt(&k, &iv, &data) {
                let plain = String::from_utf8_lossy(&plain);
                let (u, p) = plain.split_once('\n').unwrap_or((&plain, ""));
                o.username = Some(cgi::bounded(u, cgi::MAX_CREDENTIAL_BYTES));
                o.password = Some(cgi::bounded(p, cgi::MAX_CREDENTIAL_BYTES));
            }
        }
    } else {
        let field = |name: &str| {
            let opened = rsa_open(rsa_key, &query_field(req, name)?)?;
            let plain = B64.decode(opened.trim_ascii()).ok()?;
            Some(cgi::bounded(&String::from_utf8_lossy(&plain), cgi::MAX_CREDENTIAL_BYTES))
        };
        o.username = field("UserName");
        o.password = field("Passwd");
    }
    o
}

fn login(d: &Device, t: &Tplink, req: &RequestView<'_>) -> Reply {
    if !referer_ok(req) {
        let mut r = page(d, &t.forbidden, 403, req, EventKind::AuthLogin);
        r.tags.push("tplink:referer".to_owned());
        return r;
    }
    let o = open_login(d, t, req);
    let (Some(username), Some(password)) = (o.username, o.password) else {
        // Nothing the firmware could open: a bad request, no try counted.
        let mut r = text(t, 200, "$.ret=71234;\n", EventKind::AuthLogin);
        r.tags.push("tplink:undecryptable".to_owned());
        return r;
    };
    let i = &d.identity;
    let ok = username == i.username && password == i.password;
    let verdict = d.attempt_login(req, &username, &password, ok);
    let mut r = match &verdict {
        LoginVerdict::Success { token } => {
            d.end_session(token);
            let jsid = token[..30].to_owned();
            d.open_session(&jsid, &i.username, req.now);
            let tokenid = d.new_token(req)[..30].to_owned();
            let (k, iv) = o.key.map_or((String::new(), String::new()), |(k, iv)| {
                (
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&iv).into_owned(),
                )
            });
            let seq = {
                let mut csrf = d.csrf.lock().unwrap_or_else(|e| e.into_inner());
                csrf.get(&seq_key(req)).and_then(|r| r.front().cloned()).unwrap_or_default()
            };
            let values = [tokenid, k, iv, seq, "0".to_owned(), "1".to_owned(), "1".to_owned()];
            d.csrf.lock().unwrap_or_else(|e| e.into_inner()).put(ring_key(&jsid), values.into());
            let mut r = text(t, 200, "$.ret=0;\n", EventKind::AuthLogin);
            r.set_cookies.push(format!("JSESSIONID={jsid}; Path=/; HttpOnly"));
            r
        }
        LoginVerdict::Failed { chance } => {
            let tries = d.persona.lockout_failures.saturating_sub(*chance);
            let body = format!("var currAuthTimes={tries};\nvar currForbidTime=0;\n$.ret=71233;\n");
            text(t, 200, body, EventKind::AuthLogin)
        }
        LoginVerdict::Locked { left } => {
            let tries = d.persona.lockout_failures;
            let body =
                format!("var currAuthTimes={tries};\nvar currForbidTime={left};\n$.ret=71233;\n");
            text(t, 200, body, EventKind::AuthLogin)
        }
    };
    if t.gdpr && !sequence_ok(d, req, o.seq, o.data_len) {
        r.tags.push("tplink:sequence".to_owned());
    }
    r.auth = Some(AuthRecord {
        username,
        password,
        password_decrypted: true,
        success: verdict.success(),
    });
    r
}

/// The signature's `s` is the `seq` shown by `getParm` plus the length of `data`.
fn sequence_ok(d: &Device, req: &RequestView<'_>, s: Option<u64>, data_len: usize) -> bool {
    let mut csrf = d.csrf.lock().unwrap_or_else(|e| e.into_inner());
    let seq = csrf.get(&seq_key(req)).and_then(|r| r.front()?.parse::<u64>().ok());
    matches!((seq, s), (Some(seq), Some(s)) if seq + data_len as u64 == s)
}

fn home(d: &Device, t: &Tplink, req: &RequestView<'_>) -> Option<Reply> {
    let (_, values) = live_session(d, req)?;
    let extra = [("tplink_token", values.get(TOKEN).cloned().unwrap_or_default())];
    let body = d.render_with(&t.home, req.now, &extra);
    Some(Reply::new(200, "text/html", body, EventKind::HttpRequest))
}

/// What one frame did, for the event.
#[derive(Default)]
struct Outcome {
    to: Vec<String>,
    text: Option<String>,
    status: Option<String>,
    mailbox: Option<SmsBox>,
    query: bool,
    logout: bool,
    config: Vec<String>,
}

impl Outcome {
    fn into_reply(self, t: &Tplink, mut r: Reply) -> Reply {
        let dialect = if t.gdpr { SmsDialect::TplinkGdpr } else { SmsDialect::TplinkCgi };
        if !self.to.is_empty() || self.text.is_some() {
            r.kind = EventKind::SmsSend;
            r.sms = Some(SmsAction {
                to: self.to,
                text: self.text,
                dialect,
                mailbox: None,
                status: self.status,
            });
        } else if self.query {
            r.kind = EventKind::SmsQuery;
            r.sms = Some(SmsAction {
                to: Vec::new(),
                text: None,
                dialect,
                mailbox: self.mailbox,
                status: None,
            });
        } else if self.logout {
            r.kind = EventKind::AuthLogout;
        } else if !self.config.is_empty() {
            r.kind = EventKind::ConfigChange;
        }
        for oid in self.config.iter().take(4) {
            r.tags.push(format!("config:{oid}"));
        }
        r
    }
}

/// The recipients and text of `LTE_SMS_SENDNEWMSG` sets in `actions`.
fn sends(actions: &[Action]) -> (Vec<String>, Option<String>) {
    let mut to = Vec::new();
    let mut text = None;
    for a in actions.iter().filter(|a| a.method == act::SET && a.oid == "LTE_SMS_SENDNEWMSG") {
        for n in a.attr("to").unwrap_or_default().split([',', ';']) {
            let n = n.trim();
            if !n.is_empty() && to.len() < cgi::MAX_RECIPIENTS {
                to.push(cgi::bounded(n, cgi::MAX_RECIPIENT_BYTES));
            }
        }
        if text.is_none() {
            // The web UI writes CR as U+0011 and LF as U+0012.
            text = a.attr("textContent").map(|t| {
                cgi::bounded(
                    &t.replace('\u{11}', "\r").replace('\u{12}', "\n"),
                    cgi::MAX_TEXT_BYTES,
                )
            });
        }
    }
    (to, text)
}

fn call(d: &Device, t: &Tplink, req: &RequestView<'_>) -> Reply {
    let body = String::from_utf8_lossy(req.body);
    if !referer_ok(req) {
        let mut r = page(d, &t.forbidden, 403, req, EventKind::ApiCall);
        r.tags.push("tplink:referer".to_owned());
        return r;
    }
    let session = live_session(d, req).filter(|(_, v)| {
        req.header("tokenid").is_some_and(|tok| v.get(TOKEN).is_some_and(|s| s == tok))
    });
    let Some((id, values)) = session else {
        let mut r = page(d, &t.server_error, 500, req, EventKind::ApiCall);
        r.tags.push("auth:required".to_owned());
        if !t.gdpr {
            // A plain frame can be read without the session: what it tried to send counts.
            let (to, text) = sends(&parse_frame(req.query, &body));
            r = Outcome { to, text, ..Outcome::default() }.into_reply(t, r);
        }
        return r;
    };
    let (frame, key) = if t.gdpr {
        let (sign, data) = gdpr_body(&body);
        let key = match (values.get(KEY), values.get(IV)) {
            (Some(k), Some(iv)) => <[u8; 16]>::try_from(k.as_bytes())
                .ok()
                .zip(<[u8; 16]>::try_from(iv.as_bytes()).ok()),
            _ => None,
        };
        let plain = key.and_then(|(k, iv)| aes_decrypt(&k, &iv, data.unwrap_or_default()));
        let Some(plain) = plain else {
            let mut r = page(d, &t.server_error, 500, req, EventKind::ApiCall);
            r.tags.push("tplink:undecryptable".to_owned());
            return r;
        };
        let mut tags = Vec::new();
        let s = sign
            .zip(d.tplink_key.get(d, t.rsa_bits))
            .and_then(|(s, k)| rsa_open(k, s))
            .map(|s| parse_signature(&s).seq);
        let seq = values.get(SEQ).and_then(|s| s.parse::<u64>().ok());
        let expected = seq.map(|s| s + data.unwrap_or_default().len() as u64);
        if s.flatten().is_none() || s.flatten() != expected {
            tags.push("tplink:sequence".to_owned());
        }
        (parse_frame(None, &String::from_utf8_lossy(&plain)), key.map(|k| (k, tags)))
    } else {
        (parse_frame(req.query, &body), None)
    };
    let mut out = String::new();
    let mut outcome = Outcome::default();
    for (i, a) in frame.iter().enumerate() {
        answer(d, t, req, &id, &values, i, a, &mut out, &mut outcome);
    }
    out.push_str("[error]0\n");
    let (body, tags) = match key {
        Some(((k, iv), tags)) => (aes_encrypt(&k, &iv, out.as_bytes()), tags),
        None => (out, Vec::new()),
    };
    let mut r = text(t, 200, body, EventKind::ApiCall);
    r.tags = tags;
    outcome.into_reply(t, r)
}

#[allow(clippy::too_many_arguments, reason = "one action's context, kept flat")]
fn answer(
    d: &Device,
    t: &Tplink,
    req: &RequestView<'_>,
    id: &str,
    values: &[String],
    i: usize,
    a: &Action,
    out: &mut String,
    outcome: &mut Outcome,
) {
    use std::fmt::Write;
    let empty = |out: &mut String| {
        let _ = writeln!(out, "[0,0,0,0,0,0]{i}");
    };
    match (a.method, a.oid.as_str()) {
        (act::SET, "LTE_SMS_SENDNEWMSG") => {
            let (to, text) = sends(std::slice::from_ref(a));
            if !to.is_empty() {
                let statuses = d.record_send(req, &to, text.as_deref());
                let ok = statuses.first().is_some_and(|s| s.as_str() == "success");
                outcome.status = statuses.first().map(|s| s.as_str().to_owned());
                // sendResult: 1 sent, 2 failed [I], 3 still sending.
                set_value(d, id, SEND_RESULT, if ok { "1" } else { "2" }.to_owned());
            }
            outcome.to.extend(to);
            if outcome.text.is_none() {
                outcome.text = text;
            }
            empty(out);
        }
        (act::GET, "LTE_SMS_SENDNEWMSG") => {
            let result = session_values(d, id)
                .and_then(|v| v.get(SEND_RESULT).cloned())
                .unwrap_or_else(|| "0".to_owned());
            let _ = writeln!(out, "[0,0,0,0,0,0]{i}\nsendResult={result}");
        }
        (act::SET, "LTE_SMS_RECVMSGBOX" | "LTE_SMS_SENDMSGBOX") => {
            let page = a
                .attr("PageNumber")
                .and_then(|p| p.trim().parse::<usize>().ok())
                .unwrap_or(1)
                .clamp(1, 10_000);
            let slot = if a.oid == "LTE_SMS_RECVMSGBOX" { RECV_PAGE } else { SENT_PAGE };
            set_value(d, id, slot, page.to_string());
            empty(out);
        }
        (act::GET, "LTE_SMS_RECVMSGBOX" | "LTE_SMS_SENDMSGBOX") => {
            let total = if a.oid == "LTE_SMS_RECVMSGBOX" {
                d.inbox_arrived(req.now).len()
            } else {
                d.with_outbox(|o| o.len())
            };
            let _ = writeln!(out, "[0,0,0,0,0,0]{i}\ntotalNumber={total}");
            outcome.query = true;
        }
        (act::GL, "LTE_SMS_RECVMSGENTRY" | "LTE_SMS_UNREADMSGENTRY") => {
            let page = page_of(values, RECV_PAGE, d, id);
            let zone = &d.identity.zone;
            let unread_only = a.oid == "LTE_SMS_UNREADMSGENTRY";
            let arrived = d.inbox_arrived(req.now);
            if !unread_only {
                for (n, (idx, m)) in
                    arrived.iter().enumerate().rev().skip((page - 1) * PAGE).take(PAGE).enumerate()
                {
                    let row = [
                        ("index", (idx + 1).to_string()),
                        ("from", m.from.clone()),
                        ("content", frame_value(&m.text)),
                        ("receivedTime", zone.local(m.at).format("%Y-%m-%d %H:%M:%S").to_string()),
                        ("unread", "0".to_owned()),
                    ];
                    entry(out, n + 1, i, a, &row);
                }
            }
            outcome.query = true;
            outcome.mailbox = Some(SmsBox::Inbox);
        }
        (act::GL, "LTE_SMS_SENDMSGENTRY") => {
            let page = page_of(values, SENT_PAGE, d, id);
            let zone = &d.identity.zone;
            let rows: Vec<[(&str, String); 4]> = d.with_outbox(|o| {
                o.iter()
                    .enumerate()
                    .rev()
                    .skip((page - 1) * PAGE)
                    .take(PAGE)
                    .map(|(idx, m)| {
                        let at = chrono::DateTime::from_timestamp(m.at, 0).unwrap_or_default();
                        [
                            ("index", (idx + 1).to_string()),
                            ("to", m.to.clone()),
                            ("content", frame_value(&m.text)),
                            ("sendTime", zone.local(at).format("%Y-%m-%d %H:%M:%S").to_string()),
                        ]
                    })
                    .collect()
            });
            for (n, row) in rows.iter().enumerate() {
                entry(out, n + 1, i, a, row);
            }
            outcome.query = true;
            outcome.mailbox = Some(SmsBox::Outbox);
        }
        (act::SET | act::DEL, "LTE_SMS_RECVMSGENTRY" | "LTE_SMS_SENDMSGENTRY") => empty(out),
        (act::CGI, "/cgi/logout") => {
            d.end_session(id);
            d.csrf.lock().unwrap_or_else(|e| e.into_inner()).pop(&ring_key(id));
            let _ = writeln!(out, "[cgi]{i}\n$.ret=0;");
            outcome.logout = true;
        }
        (act::GET | act::GL | act::GS, oid) => match t.objects.iter().find(|o| o.oid == oid) {
            Some(o) => {
                let text = d.render_with(&o.attrs, req.now, &[]);
                let row: Vec<(&str, String)> = text
                    .lines()
                    .filter_map(|l| l.split_once('='))
                    .map(|(k, v)| (k, v.to_owned()))
                    .collect();
                let stack = if a.method == act::GET { 0 } else { 1 };
                entry(out, stack, i, a, &row);
            }
            None => empty(out),
        },
        (act::SET | act::ADD | act::DEL, oid) => {
            // Configuration writes are answered like the device and change nothing.
            if outcome.config.len() < 8 {
                outcome.config.push(cgi::bounded(oid, 48));
            }
            empty(out);
        }
        (act::OP, oid) => {
            if outcome.config.len() < 8 {
                outcome.config.push(cgi::bounded(oid, 48));
            }
            empty(out);
        }
        _ => empty(out),
    }
}

fn page_of(values: &[String], slot: usize, d: &Device, id: &str) -> usize {
    session_values(d, id)
        .as_deref()
        .unwrap_or(values)
        .get(slot)
        .and_then(|p| p.parse().ok())
        .unwrap_or(1usize)
        .clamp(1, 10_000)
}

/// A stored text as a frame value: CR as U+0011 and LF as U+0012, as the firmware writes them.
fn frame_value(text: &str) -> String {
    text.replace('\r', "\u{11}").replace('\n', "\u{12}")
}

/// One instance section: the attributes asked for (in their order), else all of them.
fn entry(out: &mut String, instance: usize, i: usize, a: &Action, row: &[(&str, String)]) {
    use std::fmt::Write;
    let _ = writeln!(out, "[{instance},0,0,0,0,0]{i}");
    let asked: Vec<&str> = a.attrs.iter().map(|(k, _)| k.as_str()).collect();
    if asked.is_empty() {
        for (k, v) in row {
            let _ = writeln!(out, "{k}={v}");
        }
    } else {
        for k in asked {
            if let Some((_, v)) = row.iter().find(|(name, _)| *name == k) {
                let _ = writeln!(out, "{k}={v}");
            }
        }
    }
}

/// A client's half of the protocol, for tests and the fuzz target: the login signature text
/// and raw RSA with the public key.
pub fn rsa_seal(n: &BigUint, e: &BigUint, plain: &[u8], k: usize) -> String {
    let mut out = String::new();
    for chunk in plain.chunks(k) {
        let mut block = chunk.to_vec();
        block.resize(k, 0);
        let c = BigUint::from_bytes_be(&block).modpow(e, n);
        out.push_str(&format!("{:0>width$}", c.to_str_radix(16), width = 2 * k));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    type Attrs<'a> = Vec<(&'a str, Option<&'a str>)>;
    type Expected<'a> = (u8, &'a str, &'a [(&'a str, Option<&'a str>)]);

    fn check(methods: Option<&str>, body: &str, expect: &[Expected<'_>]) {
        let got = parse_frame(methods, body);
        let got: Vec<(u8, &str, Attrs<'_>)> = got
            .iter()
            .map(|a| {
                (
                    a.method,
                    a.oid.as_str(),
                    a.attrs.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect(),
                )
            })
            .collect();
        let expect: Vec<(u8, &str, Attrs<'_>)> =
            expect.iter().map(|(m, o, a)| (*m, *o, a.to_vec())).collect();
        assert_eq!(got, expect, "{body:?}");
    }

    #[test]
    fn parses_the_frames_clients_send() {
        // tplinkrouterc6u / the MR100 test vector: a send.
        check(
            None,
            "2\r\n[LTE_SMS_SENDNEWMSG#0,0,0,0,0,0#0,0,0,0,0,0]0,3\r\nindex=1\r\nto=09350000000\r\ntextContent=a=b\r\n",
            &[(
                2,
                "LTE_SMS_SENDNEWMSG",
                &[("index", Some("1")), ("to", Some("09350000000")), ("textContent", Some("a=b"))],
            )],
        );
        // plewin: reset the cursor, then the list with attribute names only.
        check(
            None,
            "2&5\r\n[LTE_SMS_RECVMSGBOX#0,0,0,0,0,0#0,0,0,0,0,0]0,1\r\nPageNumber=1\r\n[LTE_SMS_RECVMSGENTRY#0,0,0,0,0,0#0,0,0,0,0,0]1,2\r\nindex\r\nfrom\r\n",
            &[
                (2, "LTE_SMS_RECVMSGBOX", &[("PageNumber", Some("1"))]),
                (5, "LTE_SMS_RECVMSGENTRY", &[("index", None), ("from", None)]),
            ],
        );
        // tp-connected: methods in the query, no header line.
        check(
            Some("2"),
            "[LTE_SMS_SENDNEWMSG#0,0,0,0,0,0#0,0,0,0,0,0]0,3\r\nindex=1\r\nto=+1\r\ntextContent=x\r\n",
            &[(
                2,
                "LTE_SMS_SENDNEWMSG",
                &[("index", Some("1")), ("to", Some("+1")), ("textContent", Some("x"))],
            )],
        );
        // A count larger than the lines, a bad head, a missing method.
        check(
            None,
            "8\r\n[/cgi/logout#0,0,0,0,0,0#0,0,0,0,0,0]0,5\r\n",
            &[(8, "/cgi/logout", &[])],
        );
        check(None, "1\r\n[bad oid!#0#0]0,0\r\n[X#1,2#0]1,0", &[(1, "X", &[])]);
        check(None, "", &[]);
    }

    #[test]
    fn rsa_round_trips_both_paddings_and_rejects_garbage() {
        use rand_chacha_03::ChaCha20Rng;
        use rand_chacha_03::rand_core::SeedableRng;
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        let key = rsa::RsaPrivateKey::new(&mut rng, 512).unwrap();
        let text = b"key=1756987654321000&iv=1756987654321999&h=0123456789abcdef0123456789abcdef&s=123456789";
        let sealed = rsa_seal(key.n(), key.e(), text, key.size());
        assert_eq!(sealed.len(), 256, "two chunks of 64 bytes");
        assert_eq!(rsa_open(&key, &sealed).as_deref(), Some(&text[..]));
        let sig = parse_signature(text);
        assert_eq!(sig.key, Some(*b"1756987654321000"));
        assert_eq!(sig.seq, Some(123_456_789));
        let pkcs =
            key.to_public_key().encrypt(&mut rng, rsa::Pkcs1v15Encrypt, b"YWRtaW4=").unwrap();
        assert_eq!(rsa_open(&key, &hex::encode(pkcs)).as_deref(), Some(&b"YWRtaW4="[..]));
        assert_eq!(rsa_open(&key, "zz"), None);
        assert_eq!(rsa_open(&key, &"f".repeat(128)), None, "not below the modulus");
        assert_eq!(rsa_open(&key, &"0".repeat(128 * 9)), None, "too many chunks");
    }

    #[test]
    fn aes_matches_an_independent_implementation() {
        // printf 'admin\nadmin' | openssl enc -aes-128-cbc -K hex(1756987654321000)
        //   -iv hex(1756987654321999) | base64
        let (k, iv) = (*b"1756987654321000", *b"1756987654321999");
        let sealed = aes_encrypt(&k, &iv, b"admin\nadmin");
        assert_eq!(sealed, "box+hWZEDMK9pcTuVQoMdw==");
        assert_eq!(aes_decrypt(&k, &iv, &sealed).as_deref(), Some(&b"admin\nadmin"[..]));
        assert_eq!(aes_decrypt(&k, &iv, "AAAA"), None);
        assert_eq!(aes_decrypt(&k, &iv, ""), None);
    }
}
