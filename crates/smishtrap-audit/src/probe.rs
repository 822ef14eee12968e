//! The audit's only network code: fixed read-only requests to one target at a time.
//!
//! - Pages are a closed set of paths ([`Page`], other families' reads from
//!   [`VendorRead`]), all GET but `/islogin`; `/cgi` takes only a [`ReadOnlyCall`].
//! - Redirects are followed only to the same scheme, host and port, at most
//!   [`MAX_REDIRECTS`] times; any other is reported, never followed. No proxy, no cookie jar.
//! - Every request has a deadline covering connect, head and body; bodies stop at
//!   `max_body_bytes`; a target gets at most `max_requests` requests, spaced by
//!   `min_interval`.
//! - HTTPS accepts any certificate (routers are self-signed) and keeps the first one seen.
//! - Every request, answered or not, goes into the target's [`RequestRecord`] log.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cert::{BadCert, CertInfo};
use crate::cgi::{ReadOnlyCall, VendorRead};
use crate::target::{Scheme, Target};
use crate::text::shown;

/// Same-target redirects followed for one page.
pub const MAX_REDIRECTS: usize = 3;
const USER_AGENT: &str = concat!("smishtrap-audit/", env!("CARGO_PKG_VERSION"), " (read-only)");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub connect_timeout: Duration,
    /// Connect, head and whole body of one request.
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
    /// Least time between two requests to the same target (its rate limit).
    pub min_interval: Duration,
    pub max_requests: u32,
    /// All checks of one target, after it first answered.
    pub target_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            max_body_bytes: 1 << 20,
            min_interval: Duration::from_millis(100),
            max_requests: 64,
            target_timeout: Duration::from_secs(120),
        }
    }
}

/// The fixed pages the audit reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Root,
    IsLogin,
    HttpdLog,
    SystemLog,
    /// A read of another router family, from its own allow-list.
    Vendor(VendorRead),
}

impl Page {
    pub fn path(self) -> &'static str {
        match self {
            Page::Root => "/",
            Page::IsLogin => "/islogin",
            Page::HttpdLog => "/lang/log/httpd.log",
            Page::SystemLog => "/lang/log/system.log",
            Page::Vendor(read) => read.path(),
        }
    }
}

/// One request of the audit's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    pub at: DateTime<Utc>,
    pub method: &'static str,
    pub url: String,
    /// The `/cgi` call (never its password).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    pub status: Option<u16>,
    pub bytes: u64,
    pub truncated: bool,
    pub millis: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An answer, its body cut at the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub server: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The body went on past `max_body_bytes`.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("no complete answer within {0} ms")]
    Timeout(u64),
    #[error("not an HTTP answer: {0}")]
    Protocol(String),
    #[error("redirect to {0} (another target; not followed)")]
    Redirect(String),
    #[error("request budget of the target used up")]
    Budget,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientError(String);

/// Shared by all targets: the limits, and a checked client configuration.
#[derive(Debug, Clone)]
pub struct Prober {
    client: reqwest::Client,
    limits: Limits,
}

impl Prober {
    pub fn new(limits: Limits) -> Result<Prober, ClientError> {
        let client = Prober::client(&limits)?;
        Ok(Prober { client, limits })
    }

    fn client(limits: &Limits) -> Result<reqwest::Client, ClientError> {
        reqwest::Client::builder()
            .use_rustls_tls()
            // routers present self-signed certificates; the audit reports them instead
            .danger_accept_invalid_certs(true)
            .tls_info(true)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .http1_only()
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.request_timeout)
            .pool_max_idle_per_host(1)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| ClientError(e.to_string()))
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A connection context for one target and scheme, with its own client: its pooled
    /// connections close when the session is dropped, so a fleet audit holds at most the
    /// connections of the targets in flight (not one idle socket per target audited).
    pub fn session(&self, target: &Target, scheme: Scheme) -> Session<'_> {
        Session {
            prober: self,
            // the configuration was built once in `new`; should it fail now, share that client
            client: Prober::client(&self.limits).unwrap_or_else(|_| self.client.clone()),
            base: target.base_url(scheme),
            scheme,
            token: None,
            last: None,
            sent: 0,
            log: Vec::new(),
            cert: None,
        }
    }
}

/// Requests to one target over one scheme.
#[derive(Debug)]
pub struct Session<'a> {
    prober: &'a Prober,
    client: reqwest::Client,
    base: String,
    pub scheme: Scheme,
    /// `td` session token, once logged in.
    token: Option<String>,
    last: Option<Instant>,
    sent: u32,
    pub log: Vec<RequestRecord>,
    /// The first certificate seen (HTTPS).
    pub cert: Option<Result<CertInfo, BadCert>>,
}

impl Session<'_> {
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn set_token(&mut self, token: Option<String>) {
        self.token = token;
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// GET (or POST without body for `/islogin`, as the web UI does) of a fixed page.
    pub async fn page(&mut self, page: Page) -> Result<Reply, FetchError> {
        let method =
            if page == Page::IsLogin { reqwest::Method::POST } else { reqwest::Method::GET };
        let mut url = format!("{}{}", self.base, page.path());
        for _ in 0..=MAX_REDIRECTS {
            let reply = self.send(method.clone(), &url, None, None).await?;
            if !(300..400).contains(&reply.status) {
                return Ok(reply.reply);
            }
            let Some(location) = reply.location else { return Ok(reply.reply) };
            match self.same_target(&url, &location) {
                Some(next) => url = next,
                None => return Err(FetchError::Redirect(shown(&location, 200))),
            }
        }
        Err(FetchError::Protocol(format!("more than {MAX_REDIRECTS} redirects")))
    }

    /// POST `/cgi` with one allow-listed call (with the session token when there is one).
    pub async fn cgi(&mut self, call: &ReadOnlyCall) -> Result<Reply, FetchError> {
        let url = format!("{}/cgi", self.base);
        let body = call.body().to_string();
        let reply =
            self.send(reqwest::Method::POST, &url, Some(body), Some(call.described())).await?;
        Ok(reply.reply)
    }

    /// `location` resolved against `from`, if it stays on the same scheme, host and port.
    fn same_target(&self, from: &str, location: &str) -> Option<String> {
        let from = url::Url::parse(from).ok()?;
        let next = from.join(location).ok()?;
        let same = next.scheme() == from.scheme()
            && next.host_str() == from.host_str()
            && next.port_or_known_default() == from.port_or_known_default()
            && next.username().is_empty();
        same.then(|| next.to_string())
    }

    async fn send(
        &mut self,
        method: reqwest::Method,
        url: &str,
        body: Option<String>,
        call: Option<String>,
    ) -> Result<Fetched, FetchError> {
        let limits = &self.prober.limits;
        if self.sent >= limits.max_requests {
            return Err(FetchError::Budget);
        }
        if let Some(last) = self.last {
            let wait = limits.min_interval.saturating_sub(last.elapsed());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        self.sent += 1;
        let started = Instant::now();
        let at = Utc::now();
        let mut request = self.client.request(method.clone(), url);
        if let Some(token) = &self.token {
            request = request.header(reqwest::header::COOKIE, format!("td={token}"));
        }
        if let Some(body) = body {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        }
        let deadline = limits.request_timeout;
        let max = limits.max_body_bytes;
        let outcome = tokio::time::timeout(deadline, fetch(request, max)).await;
        self.last = Some(Instant::now());
        let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let deadline_ms = u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX);
        let result = match outcome {
            Ok(Err(FetchError::Timeout(_))) | Err(_) => Err(FetchError::Timeout(deadline_ms)),
            Ok(r) => r,
        };
        let (status, bytes, truncated, error) = match &result {
            Ok((f, _)) => (Some(f.status), f.reply.body.len() as u64, f.reply.truncated, None),
            Err(e) => (None, 0, false, Some(e.to_string())),
        };
        self.log.push(RequestRecord {
            at,
            method: method_name(&method),
            url: url.to_owned(),
            call,
            status,
            bytes,
            truncated,
            millis,
            error,
        });
        let (fetched, der) = result?;
        if self.cert.is_none()
            && let Some(der) = der
        {
            self.cert = Some(CertInfo::from_der(&der, Utc::now()));
        }
        Ok(fetched)
    }
}

fn method_name(m: &reqwest::Method) -> &'static str {
    if *m == reqwest::Method::POST { "POST" } else { "GET" }
}

struct Fetched {
    status: u16,
    location: Option<String>,
    reply: Reply,
}

async fn fetch(
    request: reqwest::RequestBuilder,
    max: usize,
) -> Result<(Fetched, Option<Vec<u8>>), FetchError> {
    let mut response = request.send().await.map_err(classify)?;
    let header = |name: reqwest::header::HeaderName| {
        response.headers().get(name).and_then(|v| v.to_str().ok()).map(|v| shown(v, 256))
    };
    let server = header(reqwest::header::SERVER);
    let content_type = header(reqwest::header::CONTENT_TYPE);
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| crate::text::cut(v, 2048).to_owned());
    let der = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|t| t.peer_certificate())
        .map(|c| c[..c.len().min(64 * 1024)].to_vec());
    let status = response.status().as_u16();
    let mut body = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        let room = max.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if chunk.len() > room {
            // the rest is never read: dropping the response closes the connection
            truncated = true;
            break;
        }
    }
    let reply = Reply { status, server, content_type, body, truncated };
    Ok((Fetched { status, location, reply }, der))
}

impl std::ops::Deref for Fetched {
    type Target = Reply;
    fn deref(&self) -> &Reply {
        &self.reply
    }
}

fn classify(e: reqwest::Error) -> FetchError {
    let mut chain = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    let chain = shown(&chain, 300);
    // a connect timeout is an unreachable host, not a slow device
    let lower = chain.to_ascii_lowercase();
    let tls = ["tls", "handshake", "certificate"].iter().any(|w| lower.contains(w));
    if e.is_connect() && !tls {
        FetchError::Connect(chain)
    } else if e.is_timeout() {
        FetchError::Timeout(0)
    } else {
        FetchError::Protocol(chain)
    }
}
