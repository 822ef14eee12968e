//! The device's web server around the persona's handler: what the firmware's server decides
//! before a request reaches the device (target, `Host`, method, directories) and after it
//! answered (validators, conditional requests, ranges), so every persona speaks HTTP like the
//! router, whatever its pages.
//!
//! No public capture names the firmware's server (`router_personas.md` §1.3: no `Server`
//! value), but its pages are nginx's: the error pages' titles ("413 Request Entity Too Large",
//! "503 Service Temporarily Unavailable") and the `/lang/log/` listing are nginx's default
//! error pages and autoindex. So these are nginx's default semantics:
//! - the target is percent-decoded, `//` merged, `.` and `..` resolved before routing; `..`
//!   above the root, `%00` or a broken escape is 400;
//! - HTTP/1.1 without `Host`, with two, or with an invalid one is 400;
//! - GET, HEAD and POST reach the device; every other method (TRACE included) is 405, without an
//!   `Allow` header, and so is POST to a static file (nginx's static module; paths under
//!   `/cgi` are programs, not files); a method with a character other than `A-Z`, `_` and `-`
//!   is 400;
//! - a directory without its slash is 301 to it (absolute `Location` from `Host` and the local
//!   port, the query kept); a directory without an index page is 403;
//! - static files (the persona's pages) carry `Last-Modified`, `ETag` (`"<mtime hex>-<size
//!   hex>"`) and `Accept-Ranges: bytes`; `If-None-Match` and `If-Modified-Since` (the exact
//!   date, nginx's `if_modified_since exact`) give 304; one byte range gives 206 with
//!   `Content-Range`, an unsatisfiable one 416 with `Content-Range: bytes */size`, several the
//!   whole file (as with `max_ranges 1`); an `If-Range` that does not match gives the whole file;
//! - status lines carry nginx's reason phrases; pages for statuses the persona has no page for
//!   are its 404 page with the status in place of "404 Not Found".
//!
//! A file's modification time is the device's boot time (the web root is unpacked to a RAM
//! disk at boot [inferred]) until its content changes (a log growing), then the time the change
//! was first served: stable per sensor and file, never per request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use hyper::header::{HOST, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};
use smishtrap_event::EventKind;

use crate::device::{Device, ErrorPage, Reply};

/// A reply with the server's own headers (after `Date`, before the persona's).
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) reply: Reply,
    pub(super) headers: Vec<(&'static str, HeaderValue)>,
    /// No `Content-Type`/`Content-Length` (304).
    pub(super) bare: bool,
}

impl Answer {
    pub(super) fn plain(reply: Reply) -> Answer {
        Answer { reply, headers: Vec::new(), bare: false }
    }
}

/// What the server needs of a request.
#[derive(Debug, Clone, Copy)]
pub(super) struct Wire<'a> {
    pub(super) method: &'a str,
    pub(super) http11: bool,
    /// The path as sent (still percent-encoded).
    pub(super) path: &'a str,
    pub(super) query: Option<&'a str>,
    pub(super) headers: &'a HeaderMap,
    pub(super) tls: bool,
    /// Local address the connection was accepted on (for redirects without `Host`).
    pub(super) local: SocketAddr,
    pub(super) now: DateTime<Utc>,
}

#[derive(Debug)]
pub(super) enum Route {
    /// Ask the device, with the resolved path.
    Device(String),
    /// The server answers itself.
    Answer(Box<Answer>),
}

/// nginx's status lines (`ngx_http_status_lines`); others keep the standard phrase.
pub(super) fn reason(status: u16) -> &'static str {
    match status {
        302 => "Moved Temporarily",
        405 => "Not Allowed",
        413 => "Request Entity Too Large",
        416 => "Requested Range Not Satisfiable",
        503 => "Service Temporarily Unavailable",
        _ => hyper::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Unknown"),
    }
}

/// The target path as the server resolves it; `None` when it refuses it (400).
pub(super) fn normalise(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    if bytes.first() != Some(&b'/') {
        return None;
    }
    // Usual case (`/cgi`, `/login.html`): nothing to decode, merge or resolve.
    if !raw.contains('%') && !raw.contains("//") && !raw.contains("/.") {
        return Some(raw.to_owned());
    }
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let digit = |k: usize| bytes.get(k).and_then(|c| char::from(*c).to_digit(16));
            let (Some(hi), Some(lo)) = (digit(i + 1), digit(i + 2)) else { return None };
            let v = u8::try_from(hi * 16 + lo).ok()?;
            if v == 0 {
                return None;
            }
            decoded.push(v);
            i += 3;
        } else {
            decoded.push(b);
            i += 1;
        }
    }
    let mut segments: Vec<&[u8]> = Vec::new();
    let mut dir = false;
    for seg in decoded.split(|b| *b == b'/') {
        dir = true;
        match seg {
            b"" | b"." => {}
            b".." => {
                segments.pop()?;
            }
            s => {
                segments.push(s);
                dir = false;
            }
        }
    }
    let mut out = Vec::with_capacity(decoded.len());
    for s in &segments {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    if dir || out.is_empty() {
        out.push(b'/');
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// nginx's `Host` check: present once on HTTP/1.1, at most once on HTTP/1.0, non-empty, no
/// `/`, `\`, `..` or control bytes.
fn host_ok(wire: &Wire<'_>) -> bool {
    let mut hosts = wire.headers.get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (None, _) => !wire.http11,
        (Some(h), None) => {
            let h = h.as_bytes();
            !h.is_empty()
                && !h.windows(2).any(|w| w == b"..")
                && !h.iter().any(|b| *b <= b' ' || *b == 0x7f || *b == b'/' || *b == b'\\')
        }
        (Some(_), Some(_)) => false,
    }
}

fn is_static(device: &Device, path: &str) -> bool {
    device.persona.pages.iter().any(|p| p.path == path)
}

/// A directory: the prefix of some page's path, up to a slash (`dir` given with or without
/// its slash).
fn is_dir(device: &Device, dir: &str) -> bool {
    let dir = dir.strip_suffix('/').unwrap_or(dir);
    device.persona.pages.iter().any(|p| {
        p.path.len() > dir.len() && p.path.starts_with(dir) && p.path.as_bytes()[dir.len()] == b'/'
    })
}

/// A page for `status` in the persona's style.
pub(super) fn status_page(device: &Device, status: u16, kind: EventKind) -> Reply {
    let mut reply = device.error(ErrorPage::NotFound, kind);
    let line = format!("{status} {}", reason(status));
    let page = String::from_utf8_lossy(&reply.body);
    let body = if page.contains("404 Not Found") {
        page.replace("404 Not Found", &line)
    } else {
        format!("<html><head><title>{line}</title></head>\n<body><h1>{line}</h1></body></html>\n")
    };
    reply.status = status;
    reply.body = Bytes::from(body);
    reply
}

fn refused(device: &Device, tag: &str) -> Route {
    let mut reply = device.error(ErrorPage::BadRequest, EventKind::HttpMalformed);
    reply.tags.push(tag.to_owned());
    Route::Answer(Box::new(Answer::plain(reply)))
}

/// What the server does with a request before the device sees it.
pub(super) fn route(wire: &Wire<'_>, device: &Device) -> Route {
    let Some(path) = normalise(wire.path) else { return refused(device, "malformed:path") };
    if !host_ok(wire) {
        return refused(device, "malformed:host");
    }
    if !wire.method.bytes().all(|b| b.is_ascii_uppercase() || b == b'_' || b == b'-') {
        return refused(device, "malformed:method");
    }
    let page = is_static(device, &path);
    let allowed = match wire.method {
        "GET" | "HEAD" => true,
        // Paths under `/cgi` are programs (they take POST), whatever the persona serves there.
        "POST" => !page || path.starts_with("/cgi"),
        _ => false,
    };
    if !allowed {
        let mut reply = status_page(device, 405, EventKind::HttpRequest);
        reply.tags.push("http:method-not-allowed".to_owned());
        return Route::Answer(Box::new(Answer::plain(reply)));
    }
    if !page && !path.ends_with('/') && is_dir(device, &path) {
        let reply = status_page(device, 301, EventKind::HttpRequest);
        let mut answer = Answer::plain(reply);
        if let Ok(v) = HeaderValue::from_str(&location(wire, &path)) {
            answer.headers.push(("Location", v));
        }
        return Route::Answer(Box::new(answer));
    }
    if !page && path.ends_with('/') && is_dir(device, &path) {
        return Route::Answer(Box::new(Answer::plain(status_page(
            device,
            403,
            EventKind::HttpRequest,
        ))));
    }
    Route::Device(path)
}

/// `scheme://host[:port]/dir/[?query]`: host from `Host` without its port (else the local
/// address), port the local one unless it is the scheme's default (`port_in_redirect on`).
fn location(wire: &Wire<'_>, path: &str) -> String {
    let scheme = if wire.tls { "https" } else { "http" };
    let host = wire
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| strip_port(h).to_owned())
        .unwrap_or_else(|| match wire.local {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        });
    let port = wire.local.port();
    let default = if wire.tls { 443 } else { 80 };
    let port = if port == default { String::new() } else { format!(":{port}") };
    let query = wire.query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{scheme}://{host}{port}{path}/{query}")
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// Modification times of the static files of one device (bounded: one entry per page).
#[derive(Debug, Default)]
pub(super) struct Files {
    seen: Mutex<HashMap<String, (u64, i64)>>,
}

impl Files {
    /// The file's modification time: `boot` while its content is the first one seen, else
    /// when the current content was first served.
    fn mtime(&self, path: &str, hash: u64, now: i64, boot: i64) -> i64 {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match seen.get_mut(path) {
            Some((h, t)) if *h == hash => *t,
            Some(entry) => {
                *entry = (hash, now.max(entry.1));
                entry.1
            }
            None => {
                seen.insert(path.to_owned(), (hash, boot));
                boot
            }
        }
    }
}

pub(super) fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn header<'a>(wire: &Wire<'a>, name: &str) -> Option<&'a str> {
    wire.headers.get(name).and_then(|v| v.to_str().ok())
}

/// One entity tag list matches (weak comparison, `*` matches all).
fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').map(str::trim).any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

/// A single satisfiable range `(first, last)`, `Err(())` when unsatisfiable, `Ok(None)` when the
/// header asks for no single range (absent, malformed or several: the whole file).
#[allow(clippy::result_unit_err, reason = "the only error is 'unsatisfiable'")]
pub(super) fn byte_range(spec: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(ranges) =
        spec.get(..6).filter(|p| p.eq_ignore_ascii_case("bytes=")).and_then(|_| spec.get(6..))
    else {
        return Ok(None);
    };
    if ranges.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = ranges.trim().split_once('-') else { return Ok(None) };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ok(None),
        (true, false) => match num(b) {
            None => Ok(None),
            Some(0) => Err(()),
            Some(_) if len == 0 => Err(()),
            Some(n) => Ok(Some((len.saturating_sub(n), len - 1))),
        },
        (false, _) => {
            let Some(first) = num(a) else { return Ok(None) };
            let last = if b.is_empty() {
                u64::MAX
            } else {
                match num(b) {
                    Some(l) => l,
                    None => return Ok(None),
                }
            };
            if first > last {
                return Ok(None);
            }
            if first >= len {
                return Err(());
            }
            Ok(Some((first, last.min(len - 1))))
        }
    }
}

/// What the server does with the device's answer: validators, 304, ranges.
pub(super) fn finish(
    wire: &Wire<'_>,
    path: &str,
    device: &Device,
    files: &Files,
    reply: Reply,
) -> Answer {
    let get = matches!(wire.method, "GET" | "HEAD");
    if reply.status != 200 || !get || !is_static(device, path) {
        return Answer::plain(reply);
    }
    let digest = Sha256::digest(&reply.body);
    let hash = u64::from_le_bytes(digest[..8].try_into().unwrap_or_default());
    let identity = &device.identity;
    let boot = identity.installed.timestamp() - identity.uptime_at_install;
    let mtime = files.mtime(path, hash, wire.now.timestamp(), boot);
    let modified = Utc.timestamp_opt(mtime, 0).single().unwrap_or(wire.now);
    let last_modified = http_date(modified);
    let len = reply.body.len() as u64;
    let etag = format!("\"{mtime:x}-{len:x}\"");
    let mut headers = Vec::with_capacity(4);
    if let Ok(v) = HeaderValue::from_str(&last_modified) {
        headers.push(("Last-Modified", v));
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.push(("ETag", v));
    }
    // nginx: both conditions must hold when both are sent.
    let ims = header(wire, "if-modified-since");
    let inm = header(wire, "if-none-match");
    if (ims.is_some() || inm.is_some())
        && ims.is_none_or(|d| d.trim() == last_modified)
        && inm.is_none_or(|l| etag_matches(l, &etag))
    {
        let mut reply = reply;
        reply.status = 304;
        reply.body = Bytes::new();
        return Answer { reply, headers, bare: true };
    }
    headers.push(("Accept-Ranges", HeaderValue::from_static("bytes")));
    let Some(range) = header(wire, "range") else { return Answer { reply, headers, bare: false } };
    if let Some(cond) = header(wire, "if-range") {
        let cond = cond.trim();
        if cond != etag && cond != last_modified {
            return Answer { reply, headers, bare: false };
        }
    }
    match byte_range(range, len) {
        Ok(None) => Answer { reply, headers, bare: false },
        Ok(Some((first, last))) => {
            let mut reply = reply;
            let (from, to) = (
                usize::try_from(first).unwrap_or(usize::MAX),
                usize::try_from(last).unwrap_or(usize::MAX),
            );
            reply.body =
                reply.body.slice(from.min(reply.body.len())..(to + 1).min(reply.body.len()));
            reply.status = 206;
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{len}")) {
                headers.push(("Content-Range", v));
            }
            Answer { reply, headers, bare: false }
        }
        Err(()) => {
            let mut page = status_page(device, 416, reply.kind);
            page.tags = reply.tags;
            let mut headers: Vec<_> = Vec::new();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                headers.push(("Content-Range", v));
            }
            Answer { reply: page, headers, bare: false }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_path(raw: &str, expect: Option<&str>) {
        assert_eq!(normalise(raw).as_deref(), expect, "{raw:?}");
    }

    #[test]
    fn targets_resolve_like_the_device_server() {
        check_path("/lang/log/httpd.log", Some("/lang/log/httpd.log"));
        check_path("//lang//log/httpd.log", Some("/lang/log/httpd.log"));
        check_path("/lang/log/%68ttpd.log", Some("/lang/log/httpd.log"));
        check_path("/lang/./log/../log/httpd.log", Some("/lang/log/httpd.log"));
        check_path("/lang/log/", Some("/lang/log/"));
        check_path("/lang/log/.", Some("/lang/log/"));
        check_path("/lang/log/..", Some("/lang/"));
        check_path("/%2e%2e/etc/passwd", None);
        check_path("/../etc/passwd", None);
        check_path("/a/../../b", None);
        check_path("/a%00b", None);
        check_path("/a%zzb", None);
        check_path("/a%4", None);
        check_path("*", None);
        check_path("/", Some("/"));
        check_path("/%2f", Some("/"));
        check_path("/%ff", Some("/\u{fffd}"));
    }

    #[track_caller]
    fn check_range(spec: &str, len: u64, expect: Result<Option<(u64, u64)>, ()>) {
        assert_eq!(byte_range(spec, len), expect, "{spec:?} of {len}");
    }

    #[test]
    fn ranges_follow_the_device_server() {
        check_range("bytes=0-9", 100, Ok(Some((0, 9))));
        check_range("bytes=90-", 100, Ok(Some((90, 99))));
        check_range("bytes=90-200", 100, Ok(Some((90, 99))));
        check_range("bytes=-10", 100, Ok(Some((90, 99))));
        check_range("bytes=-200", 100, Ok(Some((0, 99))));
        check_range("BYTES= 5 - 6 ", 100, Ok(Some((5, 6))));
        check_range("bytes=100-", 100, Err(()));
        check_range("bytes=-0", 100, Err(()));
        check_range("bytes=0-1,5-6", 100, Ok(None));
        check_range("bytes=9-1", 100, Ok(None));
        check_range("items=0-1", 100, Ok(None));
        check_range("bytes=a-b", 100, Ok(None));
        check_range("bytes=-", 100, Ok(None));
        check_range("bytes=0-99999999999999999999999", 100, Ok(None));
    }

    #[test]
    fn a_file_keeps_its_time_until_its_content_changes() {
        let files = Files::default();
        assert_eq!(files.mtime("/a", 1, 500, 100), 100);
        assert_eq!(files.mtime("/a", 1, 600, 100), 100);
        assert_eq!(files.mtime("/a", 2, 700, 100), 700);
        assert_eq!(files.mtime("/a", 2, 800, 100), 700);
        assert_eq!(files.mtime("/b", 9, 800, 100), 100);
    }

    #[test]
    fn entity_tags_compare_weakly() {
        assert!(etag_matches("\"1-2\"", "\"1-2\""));
        assert!(etag_matches("\"x\", W/\"1-2\"", "\"1-2\""));
        assert!(etag_matches("*", "\"1-2\""));
        assert!(!etag_matches("\"1-3\"", "\"1-2\""));
    }

    proptest::proptest! {
        /// Whatever the target, a resolved path is absolute, has no `//`, `.` or `..` segment.
        #[test]
        fn resolved_paths_stay_inside_the_root(raw in "/[a-z./%0-9A-F]{0,40}") {
            if let Some(p) = normalise(&raw) {
                proptest::prop_assert!(p.starts_with('/'));
                proptest::prop_assert!(!p.contains("//"));
                proptest::prop_assert!(!p.split('/').any(|s| s == "." || s == ".."));
            }
        }

        #[test]
        fn ranges_never_leave_the_file(spec in "bytes=[0-9]{0,4}-[0-9]{0,4}", len in 0u64..3000) {
            if let Ok(Some((a, b))) = byte_range(&spec, len) {
                proptest::prop_assert!(a <= b && b < len);
            }
        }
    }
}
