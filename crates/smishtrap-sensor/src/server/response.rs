//! Responses in the persona's header order, through hyper or written by hand.

use std::convert::Infallible;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue};
use hyper::http::Extensions;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;

use super::http::{Answer, http_date, reason};
use crate::device::{Device, Reply};

/// The `Date` value, formatted once per second (as servers do; formatting it per response
/// cost measurable time under load).
fn date_now() -> Option<HeaderValue> {
    static CACHE: Mutex<Option<(i64, HeaderValue)>> = Mutex::new(None);
    let now = Utc::now();
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((secs, value)) = &*cache
        && *secs == now.timestamp()
    {
        return Some(value.clone());
    }
    let value = HeaderValue::from_str(&http_date(now)).ok()?;
    *cache = Some((now.timestamp(), value.clone()));
    Some(value)
}

/// Header names whose case differs from hyper's title case (`Etag`): nginx writes `ETag`.
const EXACT_CASE: &[u8] = b"ETag: x";

/// Response extensions that make hyper write [`EXACT_CASE`] names as spelled there.
static CASE_MAP: OnceLock<Option<Extensions>> = OnceLock::new();

/// Builds [`CASE_MAP`] once. hyper keeps a name's case only through its own case map, which it
/// fills (with `preserve_header_case`) when it parses a head and attaches to the request's
/// extensions; so one head naming the headers is parsed in memory and its extensions are given
/// to the responses that carry them. Without it (never seen), names stay title-cased.
pub(super) async fn learn_header_case() {
    if CASE_MAP.get().is_some() {
        return;
    }
    let (mut client, server) = tokio::io::duplex(1024);
    let (tx, rx) = tokio::sync::oneshot::channel::<Extensions>();
    let tx = Mutex::new(Some(tx));
    let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        if let Some(tx) = tx.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = tx.send(req.extensions().clone());
        }
        async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::new()))) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .preserve_header_case(true)
        .serve_connection(TokioIo::new(server), service);
    let mut head = b"GET / HTTP/1.0\r\n".to_vec();
    head.extend_from_slice(EXACT_CASE);
    head.extend_from_slice(b"\r\n\r\n");
    let learned = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = client.write_all(&head).await;
        let (_, ext) = tokio::join!(conn, rx);
        ext.ok()
    })
    .await
    .ok()
    .flatten();
    let _ = CASE_MAP.set(learned);
}

/// Response headers in the persona's order: Content-Type, Content-Length, Server, Date, the
/// server's own (validators, ranges, `Location`), persona headers, Set-Cookie.
fn response_headers(device: &Device, answer: &Answer) -> Vec<(&'static str, HeaderValue)> {
    let p = &device.persona;
    let reply = &answer.reply;
    let mut out =
        Vec::with_capacity(4 + answer.headers.len() + p.headers.len() + reply.set_cookies.len());
    if !answer.bare {
        if let Ok(v) = HeaderValue::from_str(&reply.content_type) {
            out.push(("Content-Type", v));
        }
        out.push(("Content-Length", HeaderValue::from(reply.body.len())));
    }
    if let Some(server) = &p.server
        && let Ok(v) = HeaderValue::from_str(server)
    {
        out.push(("Server", v));
    }
    if p.date_header
        && let Some(v) = date_now()
    {
        out.push(("Date", v));
    }
    out.extend(answer.headers.iter().cloned());
    // The dialect's own headers (HiLink's rotated tokens).
    for (name, value) in &reply.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.push((name, v));
        }
    }
    for cookie in &reply.set_cookies {
        if let Ok(v) = HeaderValue::from_str(cookie) {
            out.push(("Set-Cookie", v));
        }
    }
    out
}

/// A complete response written by hand (for malformed requests hyper never saw), byte for byte
/// what hyper writes for the same reply, plus `Connection: close`.
pub(super) fn raw_response(device: &Device, reply: &Reply) -> Vec<u8> {
    let answer = Answer::plain(reply.clone());
    let mut out = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status)).into_bytes();
    let fixed = response_headers(device, &answer);
    let (cookies, fixed): (Vec<_>, Vec<_>) =
        fixed.into_iter().partition(|(name, _)| *name == "Set-Cookie");
    let persona = device.persona.headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes()));
    let all = fixed
        .iter()
        .map(|(n, v)| (*n, v.as_bytes()))
        .chain(persona)
        .chain(cookies.iter().map(|(n, v)| (*n, v.as_bytes())));
    for (name, value) in all {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&reply.body);
    out
}

pub(super) fn build_response(device: &Device, answer: Answer) -> Response<Full<Bytes>> {
    let status = answer.reply.status;
    let mut builder = Response::builder().status(status);
    if let Some(headers) = builder.headers_mut() {
        let fixed = response_headers(device, &answer);
        // Server-set headers first, then persona headers, then cookies.
        let mut cookies = Vec::new();
        for (name, value) in fixed {
            if name == "Set-Cookie" {
                cookies.push(value);
            } else if let Ok(n) = HeaderName::from_bytes(name.as_bytes()) {
                headers.append(n, value);
            }
        }
        for (name, value) in &device.persona.headers {
            if let (Ok(n), Ok(v)) =
                (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value))
            {
                headers.append(n, v);
            }
        }
        for c in cookies {
            headers.append(hyper::header::SET_COOKIE, c);
        }
    }
    let etag = answer.headers.iter().any(|(name, _)| *name == "ETag");
    if let Some(ext) = builder.extensions_mut() {
        ext.insert(hyper::ext::ReasonPhrase::from_static(reason(status).as_bytes()));
        if etag && let Some(Some(case)) = CASE_MAP.get() {
            ext.extend(case.clone());
        }
    }
    builder
        .body(Full::new(answer.reply.body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
