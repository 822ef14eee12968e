//! smishtrap-sensor: a high-interaction honeypot that looks like a cellular router.
//!
//! From the attacker's side it is a Milesight/Ursalink UR router with a SIM card: login page,
//! the leaky `/lang/log/` files of CVE-2023-43261, and the `/cgi` JSON-RPC API with its SMS
//! functions. From the operator's side every request becomes one [`smishtrap_event::Event`].
//!
//! - [`persona`]: personas as data files (TOML + templates), embedded or from a directory,
//!   validated at load.
//! - [`identity`]: per-sensor identifiers derived from the seed in the data directory.
//! - [`cgi`]: parser of `/cgi` bodies (attacker input; pure, fuzzed).
//! - [`dialect`]: the API dialects behind the engine (Milesight `/cgi`, Huawei HiLink XML).
//! - [`device`]: the persona engine (answers, sessions, lockout), bounded state.
//! - [`state`]: the device's own state (logs, the one outbox, counter, clock zone), persisted
//!   under the data directory.
//! - [`webui`]: the web UI's `/cgi` cores, configuration writes and backup download, from
//!   persona data; [`ordered`]: JSON in the device's key order.
//! - [`shadow`]: byte-level reader of the HTTP stream (heads as sent, malformed input, limits).
//! - [`record`]: request -> event mapping (pure, fuzzed).
//! - [`server`]: hyper on tokio, limits, timeouts, graceful shutdown; the device's web server
//!   semantics around the persona (`server/http.rs`); HTTPS (`server/secure.rs`); records every
//!   event through [`smishtrap_bus::Publisher::record`] before answering.
//! - [`tls`]: the per-sensor self-signed certificate and the rustls configuration.
//!
//! Invariant: the sensor never sends an SMS and opens no outbound connection; it only accepts.
//! Invariant: nothing here depends on storage or analysis crates; sinks come in as a publisher.

pub mod cgi;
pub mod crypto;
pub mod device;
pub mod dialect;
pub mod identity;
pub mod ordered;
pub mod persona;
pub mod record;
pub mod server;
pub mod shadow;
pub mod state;
pub mod tls;
pub mod webui;

pub use device::{Device, StateLimits};
pub use identity::{Identity, Seed};
pub use persona::{Persona, PersonaError, PersonaName, PersonaSet, SendOutcome};
pub use server::{
    Budget, Counters, Limits, Listener, bind, descriptor_limit, raise_descriptor_limit, serve,
};
pub use state::StateError;

/// Fuzz/proptest entry point for the `/cgi` body parser: parses and classifies `data` as a body
/// and, split at the first NUL, as body plus query string.
pub fn fuzz_cgi(data: &[u8]) {
    let _ = cgi::parse_body(data, None).map(|r| r.classify());
    if let Some(i) = data.iter().position(|b| *b == 0) {
        let query = String::from_utf8_lossy(&data[i + 1..]);
        let _ = cgi::parse_body(&data[..i], Some(&query)).map(|r| r.classify());
    }
}

pub use record::fuzz_record;

/// Fuzz/proptest entry point for the family dialects' body parsers: `data` as a HiLink XML
/// body (recipients, text, login fields) and as a ZTE `MessageBody`.
pub fn fuzz_dialects(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let phones = dialect::xml::texts(&text, "Phone");
    assert!(phones.len() <= dialect::xml::MAX_ELEMENTS);
    let _ = dialect::xml::text(&text, "Content");
    let _ = dialect::xml::decode(&text);
    let decoded = dialect::goform::decode_body(&text, Some("UNICODE"));
    let _ = dialect::goform::decode_body(&text, None);
    assert!(decoded.chars().count() <= text.len());
    fuzz_tplink(data);
}

/// Fuzz/proptest entry point for the TP-Link parsers: `data` as an act frame (methods in its
/// first line, and from the query), as a `cgi_gdpr` body and as a login signature.
pub fn fuzz_tplink(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for actions in [
        dialect::tplink::parse_frame(None, &text),
        dialect::tplink::parse_frame(Some("2&5"), &text),
    ] {
        assert!(actions.len() <= dialect::tplink::MAX_ACTIONS);
        assert!(
            actions
                .iter()
                .all(|a| a.attrs.len() <= dialect::tplink::MAX_ATTRS && a.oid.len() <= 64)
        );
    }
    let (sign, body) = dialect::tplink::gdpr_body(&text);
    let _ = (sign.map(str::len), body.map(str::len));
    let _ = dialect::tplink::parse_signature(data);
    let _ = dialect::tplink::aes_decrypt(b"1756987654321000", b"1756987654321999", &text);
}

/// Fuzz/proptest entry point for the shadow reader as a socket drives it: `data` cut into reads
/// of a size taken from its first byte, the bytes held back always the end of the stream, and
/// the lenient reader of refused heads on the whole.
pub fn fuzz_shadow(data: &[u8]) {
    let Some((&step, stream)) = data.split_first() else { return };
    let mut s = shadow::Shadow::new(shadow::ShadowLimits { max_head_bytes: 512, max_headers: 8 });
    let mut fed = 0u64;
    for piece in stream.chunks(usize::from(step).max(1)) {
        if s.feed(piece).is_err() {
            break;
        }
        fed += piece.len() as u64;
        let pending = s.pending_len() as u64;
        assert!(pending <= fed && (pending == 0 || s.head_start() + pending == fed));
        while s.pop_head().is_some() {}
    }
    let salvaged = shadow::salvage(stream, record::MAX_RECORDED_HEADERS);
    assert!(salvaged.headers.len() <= record::MAX_RECORDED_HEADERS && salvaged.method.len() <= 32);
}
