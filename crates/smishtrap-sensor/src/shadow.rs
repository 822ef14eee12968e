//! A shadow reader of the HTTP/1 byte stream of one connection.
//!
//! hyper parses requests for the server, but it neither exposes header names as sent nor their
//! original order, and its own error answers (for garbage, oversized heads) would betray the
//! framework. So every byte read from a socket also goes through this small parser first: it
//! keeps each request head as sent (for the event), follows body framing (Content-Length or
//! chunked) to find the next head, and reports bytes that are not HTTP or exceed the limits
//! *before* hyper sees them, so the sensor can answer with the device's own error page.
//! Written by hand because it must track hyper's framing byte for byte while staying bounded.

use std::collections::VecDeque;

/// Limits on request heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShadowLimits {
    /// Largest request head (request line + headers), in bytes.
    pub max_head_bytes: usize,
    pub max_headers: usize,
}

impl Default for ShadowLimits {
    fn default() -> Self {
        ShadowLimits { max_head_bytes: 8 * 1024, max_headers: 64 }
    }
}

/// Why a stream stopped being acceptable HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("not http")]
    NotHttp,
    #[error("bad request syntax")]
    BadSyntax,
    #[error("request head too large")]
    HeadTooLarge,
    #[error("too many headers")]
    TooManyHeaders,
    #[error("bad body framing")]
    BadFraming,
    /// A request line without a version (HTTP/0.9): its client never sends a blank line.
    #[error("http/0.9 request")]
    Http09,
    /// A head httparse reads but whose target the strict URI parser refuses (`<`, `>`, a
    /// backtick, bytes above 0x7F): the head is complete, see [`Shadow::take_refused_head`].
    #[error("bad request target")]
    BadTarget,
    /// The client closed its side in the middle of a head.
    #[error("incomplete request head")]
    Incomplete,
}

impl Malformed {
    /// Fixed tag for events (never attacker data).
    pub fn tag(self) -> &'static str {
        match self {
            Malformed::NotHttp => "malformed:not-http",
            Malformed::BadSyntax => "malformed:syntax",
            Malformed::HeadTooLarge => "limit:head-size",
            Malformed::TooManyHeaders => "limit:header-count",
            Malformed::BadFraming => "malformed:framing",
            Malformed::Http09 => "malformed:http09",
            Malformed::BadTarget => "malformed:target",
            Malformed::Incomplete => "malformed:incomplete",
        }
    }
}

/// One request head as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawHead {
    pub method: Vec<u8>,
    pub target: Vec<u8>,
    /// Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// Bytes of the head including the blank line.
    pub head_len: usize,
}

impl RawHead {
    pub fn version_str(&self) -> &'static str {
        if self.version == 0 { "HTTP/1.0" } else { "HTTP/1.1" }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading the size line (`len` bytes of it so far).
    Size {
        size: u64,
        digits: usize,
        in_ext: bool,
        len: usize,
    },
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd {
        seen_cr: bool,
    },
    /// Trailer lines after the last chunk; `line` bytes into the current one.
    Trailer {
        line: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Body(u64),
    Chunked(Chunk),
    Failed(Malformed),
}

/// See the module docs.
#[derive(Debug)]
pub struct Shadow {
    limits: ShadowLimits,
    state: State,
    head: Vec<u8>,
    heads: VecDeque<RawHead>,
    /// Bytes of the stream consumed so far.
    fed: u64,
    /// Stream offset of the first byte of the current (or failed) head.
    head_start: u64,
    /// Heads completed so far (a new head starting in the same read restarts the head timer).
    heads_done: u64,
    /// The first line of the current head was checked.
    line_checked: bool,
    /// A complete head refused for its target ([`Malformed::BadTarget`]).
    refused: Option<RawHead>,
}

const MAX_CHUNK_LINE: usize = 1024;

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl Shadow {
    pub fn new(limits: ShadowLimits) -> Shadow {
        Shadow {
            limits,
            state: State::Head,
            head: Vec::new(),
            heads: VecDeque::new(),
            fed: 0,
            head_start: 0,
            heads_done: 0,
            line_checked: false,
            refused: None,
        }
    }

    /// Bytes at the end of the stream held back from the HTTP server: the head in progress,
    /// which it sees only once the head is complete and valid.
    pub fn pending_len(&self) -> usize {
        if self.state == State::Head { self.head.len() } else { 0 }
    }

    /// Stream offset of the first byte of the current head (or of the one that failed).
    pub fn head_start(&self) -> u64 {
        self.head_start
    }

    /// Heads completed so far.
    pub fn heads_done(&self) -> u64 {
        self.heads_done
    }

    /// The complete head refused for its target, once.
    pub fn take_refused_head(&mut self) -> Option<RawHead> {
        self.refused.take()
    }

    /// True while a request head has started but not ended (slow clients are timed on this).
    pub fn head_pending(&self) -> bool {
        self.state == State::Head && !self.head.is_empty()
    }

    /// True when every byte read so far belongs to complete requests that were all taken.
    pub fn between_requests(&self) -> bool {
        self.state == State::Head && self.head.is_empty() && self.heads.is_empty()
    }

    /// The bytes of an incomplete head (recorded when a slow client is cut off).
    pub fn pending_bytes(&self) -> &[u8] {
        &self.head
    }

    /// The oldest complete head not yet taken.
    pub fn pop_head(&mut self) -> Option<RawHead> {
        self.heads.pop_front()
    }

    /// Feeds bytes read from the socket, in order.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), Malformed> {
        let (base, total) = (self.fed, data.len());
        while !data.is_empty() {
            let at = base + (total - data.len()) as u64;
            match self.state {
                State::Failed(m) => return Err(m),
                State::Head => data = self.feed_head(data, at)?,
                State::Body(left) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(data.len());
                    data = &data[n..];
                    let left = left - n as u64;
                    self.state = if left == 0 { State::Head } else { State::Body(left) };
                }
                State::Chunked(c) => data = self.feed_chunked(c, data)?,
            }
        }
        self.fed = base + total as u64;
        Ok(())
    }

    /// Stops the stream; the offending head bytes stay readable through [`Self::pending_bytes`].
    fn fail(&mut self, m: Malformed) -> Malformed {
        self.state = State::Failed(m);
        m
    }

    fn feed_head<'d>(&mut self, data: &'d [u8], at: u64) -> Result<&'d [u8], Malformed> {
        let mut data = data;
        if self.head.is_empty() {
            // Blank lines between requests are allowed (RFC 9112 section 2.2).
            let skip = data.iter().take_while(|b| **b == b'\r' || **b == b'\n').count();
            data = &data[skip..];
            if data.is_empty() {
                return Ok(data);
            }
            self.head_start = at + skip as u64;
            self.line_checked = false;
        }
        let old = self.head.len();
        let room = self.limits.max_head_bytes.saturating_sub(old);
        let take = data.len().min(room + 4);
        self.head.extend_from_slice(&data[..take]);
        // Early rejection: the method must be a token followed by a space.
        let first_line_end =
            self.head.iter().position(|b| *b == b' ' || *b == b'\r' || *b == b'\n');
        let method_len = first_line_end.unwrap_or(self.head.len());
        if !self.head[..method_len].iter().all(|b| is_tchar(*b)) || method_len > 32 {
            return Err(self.fail(Malformed::NotHttp));
        }
        if let Some(end) = first_line_end
            && (self.head[end] != b' ' || end == 0)
        {
            return Err(self.fail(Malformed::NotHttp));
        }
        if !self.line_checked
            && let Some(line_end) = self.head.iter().position(|b| *b == b'\n')
        {
            // Decided on the request line alone: the client may be waiting for an answer.
            self.line_checked = true;
            let line = self.head[..line_end].strip_suffix(b"\r").unwrap_or(&self.head[..line_end]);
            let mut parts = line.splitn(3, |b| *b == b' ');
            let version = parts.nth(2);
            match version {
                None => return Err(self.fail(Malformed::Http09)),
                Some(v) if v.starts_with(b"HTTP/") && v != b"HTTP/1.1" && v != b"HTTP/1.0" => {
                    return Err(self.fail(Malformed::NotHttp));
                }
                // Anything else is httparse's to judge once the head is complete.
                Some(_) => {}
            }
        }
        let search_from = old.saturating_sub(3);
        let end = find_head_end(&self.head[search_from..]).map(|e| e + search_from);
        let Some(end) = end else {
            if self.head.len() > self.limits.max_head_bytes {
                return Err(self.fail(Malformed::HeadTooLarge));
            }
            return Ok(&data[take..]);
        };
        if end > self.limits.max_head_bytes {
            return Err(self.fail(Malformed::HeadTooLarge));
        }
        let consumed_from_data = end - old;
        let parsed = self.parse_head(end)?;
        if hyper::Uri::try_from(parsed.target.as_slice()).is_err() {
            self.refused = Some(parsed);
            return Err(self.fail(Malformed::BadTarget));
        }
        self.head.clear();
        let framing = self.framing(&parsed)?;
        self.heads.push_back(parsed);
        self.heads_done += 1;
        self.state = framing;
        Ok(&data[consumed_from_data..])
    }

    fn parse_head(&mut self, end: usize) -> Result<RawHead, Malformed> {
        let mut storage = vec![httparse::EMPTY_HEADER; self.limits.max_headers];
        let mut req = httparse::Request::new(&mut storage);
        let bytes = &self.head[..end];
        let error = match req.parse(bytes) {
            Ok(httparse::Status::Complete(_)) => None,
            Err(httparse::Error::TooManyHeaders) => Some(Malformed::TooManyHeaders),
            Err(httparse::Error::Version) => Some(Malformed::NotHttp),
            Ok(httparse::Status::Partial) | Err(_) => Some(Malformed::BadSyntax),
        };
        if let Some(m) = error {
            return Err(self.fail(m));
        }
        Ok(RawHead {
            method: req.method.unwrap_or_default().as_bytes().to_vec(),
            target: req.path.unwrap_or_default().as_bytes().to_vec(),
            version: req.version.unwrap_or(1),
            headers: req
                .headers
                .iter()
                .map(|h| (h.name.as_bytes().to_vec(), h.value.to_vec()))
                .collect(),
            head_len: end,
        })
    }

    fn framing(&mut self, head: &RawHead) -> Result<State, Malformed> {
        let mut chunked = false;
        let mut length: Option<u64> = None;
        for (name, value) in &head.headers {
            if name.eq_ignore_ascii_case(b"transfer-encoding") {
                // HTTP/1.0 has no chunked framing (the HTTP server refuses it too).
                if head.version == 0 {
                    return Err(self.fail(Malformed::BadFraming));
                }
                let v = String::from_utf8_lossy(value).to_ascii_lowercase();
                if v.split(',').map(str::trim).next_back() == Some("chunked") {
                    chunked = true;
                } else {
                    return Err(self.fail(Malformed::BadFraming));
                }
            } else if name.eq_ignore_ascii_case(b"content-length") {
                let parsed = std::str::from_utf8(value)
                    .ok()
                    .map(str::trim)
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse::<u64>().ok())
                    // hyper refuses lengths from `u64::MAX - 1` on (its own bare 400).
                    .filter(|n| *n < u64::MAX - 1);
                match (parsed, length) {
                    (Some(n), None) => length = Some(n),
                    (Some(n), Some(m)) if n == m => {}
                    _ => return Err(self.fail(Malformed::BadFraming)),
                }
            }
        }
        Ok(if chunked {
            State::Chunked(Chunk::Size { size: 0, digits: 0, in_ext: false, len: 0 })
        } else {
            match length {
                Some(0) | None => State::Head,
                Some(n) => State::Body(n),
            }
        })
    }

    fn feed_chunked<'d>(
        &mut self,
        mut c: Chunk,
        mut data: &'d [u8],
    ) -> Result<&'d [u8], Malformed> {
        while let Some((&b, rest)) = data.split_first() {
            match &mut c {
                Chunk::Size { size, digits, in_ext, len } => {
                    data = rest;
                    *len += 1;
                    if *len > MAX_CHUNK_LINE {
                        return Err(self.fail(Malformed::BadFraming));
                    }
                    match b {
                        b'\n' => {
                            if *digits == 0 {
                                return Err(self.fail(Malformed::BadFraming));
                            }
                            c = if *size == 0 {
                                Chunk::Trailer { line: 0 }
                            } else {
                                Chunk::Data(*size)
                            };
                        }
                        b'\r' => {}
                        b';' => *in_ext = true,
                        _ if *in_ext => {}
                        _ => match (b as char).to_digit(16) {
                            Some(d) if *digits < 16 => {
                                *size = *size << 4 | u64::from(d);
                                *digits += 1;
                            }
                            _ if b == b' ' || b == b'\t' => {}
                            _ => return Err(self.fail(Malformed::BadFraming)),
                        },
                    }
                }
                Chunk::Data(left) => {
                    let n = usize::try_from(*left).unwrap_or(usize::MAX).min(data.len());
                    data = &data[n..];
                    *left -= n as u64;
                    if *left == 0 {
                        c = Chunk::DataEnd { seen_cr: false };
                    }
                }
                Chunk::DataEnd { seen_cr } => {
                    data = rest;
                    match b {
                        b'\r' if !*seen_cr => *seen_cr = true,
                        b'\n' => c = Chunk::Size { size: 0, digits: 0, in_ext: false, len: 0 },
                        _ => return Err(self.fail(Malformed::BadFraming)),
                    }
                }
                Chunk::Trailer { line } => {
                    data = rest;
                    match b {
                        b'\n' if *line == 0 => {
                            self.state = State::Head;
                            return Ok(data);
                        }
                        b'\n' => *line = 0,
                        b'\r' => {}
                        _ => {
                            *line += 1;
                            if *line > self.limits.max_head_bytes {
                                return Err(self.fail(Malformed::BadFraming));
                            }
                        }
                    }
                }
            }
        }
        self.state = State::Chunked(c);
        Ok(data)
    }
}

/// End of the head (index just past the blank line), accepting bare `\n` line ends.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

/// What could be read of a head that was refused: the request line's parts and the header
/// lines that look like headers, each as sent. Lenient, total and bounded (at most
/// `max_headers` headers); parts that are missing stay empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Salvaged {
    pub method: Vec<u8>,
    pub target: Vec<u8>,
    pub version: String,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
}

pub fn salvage(raw: &[u8], max_headers: usize) -> Salvaged {
    let mut out = Salvaged::default();
    let head = match find_head_end(raw) {
        Some(end) => &raw[..end],
        None => raw,
    };
    let mut lines = head.split(|b| *b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let Some(first) = lines.next() else { return out };
    let mut parts = first.splitn(3, |b| *b == b' ');
    let method = parts.next().unwrap_or_default();
    if method.is_empty() || method.len() > 32 || !method.iter().all(|b| is_tchar(*b)) {
        return out;
    }
    out.method = method.to_vec();
    out.target = parts.next().unwrap_or_default().to_vec();
    if let Some(v) = parts.next().filter(|v| v.starts_with(b"HTTP/") && v.len() <= 16) {
        out.version = String::from_utf8_lossy(v).into_owned();
    }
    for line in lines.take_while(|l| !l.is_empty()) {
        if out.headers.len() >= max_headers {
            break;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else { continue };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|b| is_tchar(*b)) {
            continue;
        }
        out.headers.push((name.to_vec(), line[colon + 1..].trim_ascii().to_vec()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes; returns the methods+targets seen and the error.
    fn run(input: &[u8], step: usize) -> (Vec<String>, Option<Malformed>) {
        let mut s = Shadow::new(ShadowLimits { max_head_bytes: 256, max_headers: 4 });
        let mut err = None;
        for piece in input.chunks(step.max(1)) {
            if let Err(e) = s.feed(piece) {
                err = Some(e);
                break;
            }
        }
        let mut seen = Vec::new();
        while let Some(h) = s.pop_head() {
            seen.push(format!(
                "{} {}",
                String::from_utf8_lossy(&h.method),
                String::from_utf8_lossy(&h.target)
            ));
        }
        (seen, err)
    }

    fn check(input: &str, expect_heads: &[&str], expect_err: Option<Malformed>) {
        for step in [1, 3, 7, input.len()] {
            let (heads, err) = run(input.as_bytes(), step);
            assert_eq!(
                (heads.as_slice(), err),
                (
                    expect_heads.iter().map(|s| s.to_string()).collect::<Vec<_>>().as_slice(),
                    expect_err
                ),
                "input {input:?} step {step}"
            );
        }
    }

    #[test]
    fn follows_framing_across_requests() {
        check("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &["GET /"], None);
        check(
            "POST /cgi HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /x HTTP/1.1\r\n\r\n",
            &["POST /cgi", "GET /x"],
            None,
        );
        check(
            "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\nGET /n HTTP/1.0\n\n",
            &["POST /c", "GET /n"],
            None,
        );
        check("\r\nGET / HTTP/1.1\r\n\r\n", &["GET /"], None);
    }

    #[test]
    fn rejects_non_http_and_limits() {
        check("\x16\x03\x01\x02\x00", &[], Some(Malformed::NotHttp));
        check("SSH-2.0-OpenSSH_9.0\r\n", &[], Some(Malformed::NotHttp));
        check("GET / SPDY/3\r\n\r\n", &[], Some(Malformed::NotHttp));
        check("GET /\r\n\r\n", &[], Some(Malformed::Http09));
        check("GET /index.html\r\n", &[], Some(Malformed::Http09));
        check("GET / HTTP/2.0\r\n", &[], Some(Malformed::NotHttp));
        check("GET  / HTTP/1.1\r\n\r\n", &[], Some(Malformed::BadSyntax));
        for target in ["/<script>", "/a>b", "/`id`", "/?q=<x>"] {
            check(&format!("GET {target} HTTP/1.1\r\n\r\n"), &[], Some(Malformed::BadTarget));
        }
        check(
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            &[],
            Some(Malformed::BadFraming),
        );
        check(
            &format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(300)),
            &[],
            Some(Malformed::HeadTooLarge),
        );
        check(
            "GET / HTTP/1.1\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\n\r\n",
            &[],
            Some(Malformed::TooManyHeaders),
        );
        check(
            "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            &[],
            Some(Malformed::BadFraming),
        );
        check("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &[], Some(Malformed::BadFraming));
        check(
            "POST / HTTP/1.1\r\nContent-Length: 18446744073709551614\r\n\r\n",
            &[],
            Some(Malformed::BadFraming),
        );
        check(
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            &["POST /"],
            Some(Malformed::BadFraming),
        );
    }

    #[test]
    fn refused_heads_keep_what_was_sent() {
        let mut s = Shadow::new(ShadowLimits::default());
        let sent = b"GET /ok HTTP/1.1\r\n\r\nPOST /a<b>?q=`x` HTTP/1.1\r\nX-Case: 1\r\nContent-Length: 2\r\n\r\nhi";
        assert_eq!(s.feed(sent), Err(Malformed::BadTarget));
        assert_eq!(s.pop_head().map(|h| h.target), Some(b"/ok".to_vec()));
        let refused = s.take_refused_head().unwrap();
        assert_eq!(
            (refused.method.as_slice(), refused.target.as_slice()),
            (&b"POST"[..], &b"/a<b>?q=`x`"[..])
        );
        assert_eq!(refused.headers[0], (b"X-Case".to_vec(), b"1".to_vec()));
        assert_eq!(s.head_start(), 20);
        assert_eq!(&sent[20 + refused.head_len..], b"hi");
    }

    #[test]
    fn pipelined_heads_hold_back_only_the_unfinished_one() {
        let mut s = Shadow::new(ShadowLimits::default());
        s.feed(b"GET /a HTTP/1.1\r\n\r\nGET /b HT").unwrap();
        assert_eq!((s.heads_done(), s.pending_len(), s.head_start()), (1, 9, 19));
        s.feed(b"TP/1.1\r\n\r\n\r\nPOST /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc").unwrap();
        assert_eq!((s.heads_done(), s.pending_len()), (3, 0));
        assert!(!s.head_pending());
    }

    #[track_caller]
    fn check_salvage(
        raw: &str,
        method: &str,
        target: &str,
        version: &str,
        headers: &[(&str, &str)],
    ) {
        let got = salvage(raw.as_bytes(), 4);
        let expect = Salvaged {
            method: method.into(),
            target: target.into(),
            version: version.into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect(),
        };
        assert_eq!(got, expect, "{raw:?}");
    }

    #[test]
    fn salvage_reads_what_it_can() {
        check_salvage(
            "GET /x HTTP/1.1\r\nA: 1\r\nbad line\r\nB:2\r\n\r\nbody: no",
            "GET",
            "/x",
            "HTTP/1.1",
            &[("A", "1"), ("B", "2")],
        );
        check_salvage("GET /index.html\r\n", "GET", "/index.html", "", &[]);
        check_salvage("\x16\x03\x01\x00", "", "", "", &[]);
        check_salvage("", "", "", "", &[]);
        let many: String = (0..10).map(|i| format!("H{i}: v\r\n")).collect();
        let raw = format!("GET / HTTP/1.0\r\n{many}");
        check_salvage(
            &raw,
            "GET",
            "/",
            "HTTP/1.0",
            &[("H0", "v"), ("H1", "v"), ("H2", "v"), ("H3", "v")],
        );
    }

    #[test]
    fn reports_pending_heads() {
        let mut s = Shadow::new(ShadowLimits::default());
        s.feed(b"GET / HT").unwrap();
        assert!(s.head_pending());
        assert_eq!(s.pending_bytes(), b"GET / HT");
        s.feed(b"TP/1.1\r\n\r\n").unwrap();
        assert!(!s.head_pending());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..1024), step in 1usize..64) {
            let _ = run(&data, step);
            crate::fuzz_shadow(&data);
        }

        /// However the stream is cut into reads, the bytes held back are exactly the
        /// unfinished head at its end, starting at `head_start`.
        #[test]
        fn held_back_bytes_are_the_tail_of_the_stream(
            heads in proptest::collection::vec("(GET|POST) /[a-z]{0,8} HTTP/1\\.1\r\n([A-Za-z]{1,6}: [a-z]{0,6}\r\n){0,3}\r\n", 1..6),
            cut in 1usize..200,
            step in 1usize..40,
        ) {
            let stream = heads.concat().into_bytes();
            let cut = cut.min(stream.len());
            let mut s = Shadow::new(ShadowLimits::default());
            for piece in stream[..cut].chunks(step) {
                s.feed(piece).unwrap();
            }
            let pending = s.pending_len();
            if pending > 0 {
                proptest::prop_assert_eq!(s.head_start() + pending as u64, cut as u64);
            }
            proptest::prop_assert_eq!(s.head_pending(), pending > 0);
        }
    }
}
