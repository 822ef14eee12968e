//! Request -> [`Event`] mapping: pure, bounded and total, so it can be fuzzed and unit-tested
//! without a socket. Identity fields come from [`ConnInfo`] (bound at accept), never from the
//! request bytes.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, Utc};
use smishtrap_event::{
    AuthRecord, BodyEncoding, Event, EventKind, HttpRecord, MAX_BODY_BYTES, SCHEMA_VERSION,
    SmsAction,
};

/// Headers kept per event; the rest are dropped and the event is tagged `headers-truncated`.
pub const MAX_RECORDED_HEADERS: usize = 64;
pub const MAX_HEADER_NAME_BYTES: usize = 128;
pub const MAX_HEADER_VALUE_BYTES: usize = 4096;
pub const MAX_METHOD_BYTES: usize = 32;
pub const MAX_PATH_BYTES: usize = 2048;
pub const MAX_QUERY_BYTES: usize = 4096;

/// Who is talking to which listener, fixed when the connection was accepted.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub sensor: Arc<str>,
    pub persona: Arc<str>,
    pub session: String,
    pub peer: SocketAddr,
    pub dst_port: u16,
}

/// A request as read from the wire, before bounding.
#[derive(Debug, Clone, Copy)]
pub struct RawRequest<'a> {
    pub method: &'a [u8],
    /// The request target (`/path?query`).
    pub target: &'a [u8],
    /// `HTTP/1.0` or `HTTP/1.1` (anything else is recorded as given, bounded).
    pub version: &'a str,
    pub headers: &'a [(Vec<u8>, Vec<u8>)],
    /// The body bytes received (at most what the sensor accepted).
    pub body: &'a [u8],
}

/// What the sensor made of the request.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub response_status: u16,
    pub kind: Option<EventKind>,
    pub auth: Option<AuthRecord>,
    pub sms: Option<SmsAction>,
    pub tags: Vec<String>,
}

fn lossy(bytes: &[u8], max: usize) -> (String, bool) {
    let cut = bytes.len() > max;
    let slice = if cut { &bytes[..max] } else { bytes };
    let mut s = String::from_utf8_lossy(slice).into_owned();
    if cut {
        // A cut in the middle of a character became U+FFFD; that is fine for a bounded field.
        s.push('…');
    }
    (s, cut)
}

/// Stored form of a body: UTF-8 text when it is (allowing a character cut by truncation),
/// else base64.
pub fn encode_body(body: &[u8]) -> (String, BodyEncoding, bool) {
    let truncated = body.len() > MAX_BODY_BYTES;
    let kept = if truncated { &body[..MAX_BODY_BYTES] } else { body };
    match std::str::from_utf8(kept) {
        Ok(s) => (s.to_owned(), BodyEncoding::Utf8, truncated),
        // Only an incomplete character at the cut: keep the valid prefix as text.
        Err(e) if truncated && e.error_len().is_none() => (
            String::from_utf8_lossy(&kept[..e.valid_up_to()]).into_owned(),
            BodyEncoding::Utf8,
            truncated,
        ),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(kept),
            BodyEncoding::Base64,
            truncated,
        ),
    }
}

/// Builds the event for one request.
pub fn build_event(
    conn: &ConnInfo,
    seq: u64,
    ts: DateTime<Utc>,
    req: &RawRequest<'_>,
    outcome: Outcome,
) -> Event {
    let mut tags = outcome.tags;
    let (method, _) = lossy(req.method, MAX_METHOD_BYTES);
    let (path_raw, query_raw) = match req.target.iter().position(|b| *b == b'?') {
        Some(i) => (&req.target[..i], Some(&req.target[i + 1..])),
        None => (req.target, None),
    };
    let (path, path_cut) = lossy(path_raw, MAX_PATH_BYTES);
    let query = query_raw.map(|q| lossy(q, MAX_QUERY_BYTES));
    if path_cut || query.as_ref().is_some_and(|q| q.1) {
        tags.push("target-truncated".to_owned());
    }
    let mut headers = Vec::with_capacity(req.headers.len().min(MAX_RECORDED_HEADERS));
    for (name, value) in req.headers.iter().take(MAX_RECORDED_HEADERS) {
        headers
            .push((lossy(name, MAX_HEADER_NAME_BYTES).0, lossy(value, MAX_HEADER_VALUE_BYTES).0));
    }
    if req.headers.len() > MAX_RECORDED_HEADERS {
        tags.push("headers-truncated".to_owned());
    }
    let (body, body_encoding, body_truncated) = encode_body(req.body);
    let version = if req.version.len() <= 16 {
        req.version.to_owned()
    } else {
        lossy(req.version.as_bytes(), 16).0
    };
    Event {
        schema: SCHEMA_VERSION,
        id: format!("{}-{seq}", conn.session),
        ts,
        sensor: conn.sensor.to_string(),
        persona: conn.persona.to_string(),
        session: conn.session.clone(),
        src_ip: conn.peer.ip().to_canonical(),
        src_port: conn.peer.port(),
        dst_port: conn.dst_port,
        kind: outcome.kind.unwrap_or(EventKind::HttpRequest),
        http: HttpRecord {
            method,
            path,
            query: query.map(|q| q.0),
            version,
            headers,
            body,
            body_encoding,
            body_len: req.body.len() as u64,
            body_truncated,
            body_sha256: smishtrap_event::body_digest(req.body),
        },
        response_status: outcome.response_status,
        auth: outcome.auth,
        sms: outcome.sms,
        tags,
    }
}

/// Fuzz/proptest entry point: treats `data` as raw bytes off a socket (an HTTP request or
/// not), records it and checks the event survives a JSON round trip.
pub fn fuzz_record(data: &[u8]) {
    let conn = ConnInfo {
        sensor: Arc::from("fuzz"),
        persona: Arc::from("milesight-ur32l"),
        session: "s-0".to_owned(),
        peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
        dst_port: 80,
    };
    let mut shadow = crate::shadow::Shadow::new(crate::shadow::ShadowLimits::default());
    let (owned_headers, method, target, version, body) = match shadow.feed(data) {
        Ok(()) => match shadow.pop_head() {
            Some(h) => {
                let body = &data[h.head_len.min(data.len())..];
                let version = h.version_str();
                (h.headers, h.method, h.target, version, body)
            }
            None => (Vec::new(), Vec::new(), Vec::new(), "", data),
        },
        Err(_) => (Vec::new(), Vec::new(), Vec::new(), "", data),
    };
    let req =
        RawRequest { method: &method, target: &target, version, headers: &owned_headers, body };
    let event = build_event(&conn, 0, DateTime::UNIX_EPOCH, &req, Outcome::default());
    assert!(event.http.body.len() <= MAX_BODY_BYTES * 4 / 3 + 4);
    assert!(event.http.headers.len() <= MAX_RECORDED_HEADERS);
    let json = serde_json::to_string(&event).unwrap_or_default();
    let back: Result<Event, _> = serde_json::from_str(&json);
    assert_eq!(back.ok().as_ref(), Some(&event));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> ConnInfo {
        ConnInfo {
            sensor: Arc::from("s"),
            persona: Arc::from("p"),
            session: "abc-1".into(),
            peer: "[::ffff:10.0.0.9]:5555".parse().unwrap(),
            dst_port: 8080,
        }
    }

    fn check(req: RawRequest<'_>, expect: impl Fn(&Event)) {
        let e = build_event(
            &conn(),
            7,
            DateTime::UNIX_EPOCH,
            &req,
            Outcome { response_status: 200, ..Default::default() },
        );
        expect(&e);
    }

    fn req<'a>(
        target: &'a [u8],
        headers: &'a [(Vec<u8>, Vec<u8>)],
        body: &'a [u8],
    ) -> RawRequest<'a> {
        RawRequest { method: b"POST", target, version: "HTTP/1.1", headers, body }
    }

    #[test]
    fn identity_comes_from_the_connection() {
        let headers = vec![(b"X-Forwarded-For".to_vec(), b"1.2.3.4".to_vec())];
        check(req(b"/cgi?a=1", &headers, b"{}"), |e| {
            assert_eq!(e.id, "abc-1-7");
            assert_eq!(e.src_ip.to_string(), "10.0.0.9");
            assert_eq!((e.src_port, e.dst_port), (5555, 8080));
            assert_eq!(e.http.path, "/cgi");
            assert_eq!(e.http.query.as_deref(), Some("a=1"));
            assert_eq!(e.http.headers, [("X-Forwarded-For".to_owned(), "1.2.3.4".to_owned())]);
            assert_eq!(e.http.body_sha256, smishtrap_event::body_digest(b"{}"));
        });
    }

    #[test]
    fn bodies_are_capped_and_encoded() {
        let big = vec![b'a'; MAX_BODY_BYTES + 10];
        check(req(b"/", &[], &big), |e| {
            assert!(e.http.body_truncated);
            assert_eq!(e.http.body.len(), MAX_BODY_BYTES);
            assert_eq!(e.http.body_len, big.len() as u64);
            assert_eq!(e.http.body_sha256, smishtrap_event::body_digest(&big));
        });
        check(req(b"/", &[], &[0xff, 0x00, 0x10]), |e| {
            assert_eq!(e.http.body_encoding, BodyEncoding::Base64);
            assert_eq!(e.http.body, "/wAQ");
        });
        // a multi-byte character cut by the cap stays text
        let mut cut = vec![b'a'; MAX_BODY_BYTES - 1];
        cut.extend_from_slice("é".as_bytes());
        check(req(b"/", &[], &cut), |e| {
            assert_eq!(e.http.body_encoding, BodyEncoding::Utf8);
            assert!(e.http.body_truncated);
        });
    }

    #[test]
    fn headers_and_targets_are_bounded() {
        let headers: Vec<_> =
            (0..100).map(|i| (format!("h{i}").into_bytes(), vec![b'v'; 10_000])).collect();
        let target = vec![b'/'; 10_000];
        check(req(&target, &headers, b""), |e| {
            assert_eq!(e.http.headers.len(), MAX_RECORDED_HEADERS);
            assert!(e.http.headers.iter().all(|(_, v)| v.len() <= MAX_HEADER_VALUE_BYTES + 3));
            assert!(e.http.path.len() <= MAX_PATH_BYTES + 3);
            assert!(e.tags.contains(&"headers-truncated".to_owned()));
            assert!(e.tags.contains(&"target-truncated".to_owned()));
        });
    }

    proptest::proptest! {
        #[test]
        fn recorder_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            fuzz_record(&data);
        }

        #[test]
        fn recorder_never_panics_on_http_like(head in "[A-Z]{1,7} /[ -~]{0,40} HTTP/1\\.[01]\r\n([A-Za-z-]{1,12}: [ -~]{0,20}\r\n){0,8}\r\n", body in ".{0,64}") {
            fuzz_record(format!("{head}{body}").as_bytes());
        }
    }
}
