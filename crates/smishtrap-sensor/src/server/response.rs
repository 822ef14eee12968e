//! Responses in the persona's header order, through hyper or written by hand.

use bytes::Bytes;
use chrono::Utc;
use http_body_util::Full;
use hyper::Response;
use hyper::header::{HeaderName, HeaderValue};

use crate::device::{Device, Reply};

/// Response headers in the persona's order: Content-Type, Content-Length, Server, persona
/// headers, Set-Cookie.
fn response_headers(device: &Device, reply: &Reply) -> Vec<(&'static str, HeaderValue)> {
    let p = &device.persona;
    let mut out = Vec::with_capacity(4 + p.headers.len() + reply.set_cookies.len());
    if let Ok(v) = HeaderValue::from_str(&reply.content_type) {
        out.push(("Content-Type", v));
    }
    out.push(("Content-Length", HeaderValue::from(reply.body.len())));
    if let Some(server) = &p.server
        && let Ok(v) = HeaderValue::from_str(server)
    {
        out.push(("Server", v));
    }
    if p.date_header {
        let date = Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        if let Ok(v) = HeaderValue::from_str(&date) {
            out.push(("Date", v));
        }
    }
    for cookie in &reply.set_cookies {
        if let Ok(v) = HeaderValue::from_str(cookie) {
            out.push(("Set-Cookie", v));
        }
    }
    out
}

fn reason_phrase(status: u16) -> &'static str {
    hyper::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Unknown")
}

/// A complete response written by hand (for malformed requests hyper never saw), byte for byte
/// what hyper writes for the same reply, plus `Connection: close`.
pub(super) fn raw_response(device: &Device, reply: &Reply) -> Vec<u8> {
    let mut out =
        format!("HTTP/1.1 {} {}\r\n", reply.status, reason_phrase(reply.status)).into_bytes();
    for (name, value) in response_headers(device, reply) {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in &device.persona.headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&reply.body);
    out
}

pub(super) fn build_response(device: &Device, reply: Reply) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(reply.status);
    if let Some(headers) = builder.headers_mut() {
        let mut fixed = response_headers(device, &reply).into_iter();
        // Content-Type, Content-Length (and Server/Date) first, then persona headers, then cookies.
        let mut cookies = Vec::new();
        for (name, value) in fixed.by_ref() {
            if name == "Set-Cookie" {
                cookies.push(value);
            } else {
                headers.append(HeaderName::from_static(lower(name)), value);
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
    builder.body(Full::new(reply.body)).unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn lower(name: &'static str) -> &'static str {
    match name {
        "Content-Type" => "content-type",
        "Content-Length" => "content-length",
        "Server" => "server",
        "Date" => "date",
        _ => "set-cookie",
    }
}
