//! The listener: accepts connections, applies the limits, runs hyper on a tapped socket so
//! every request head is also seen by the [`Shadow`] reader, asks the [`Device`] for the answer,
//! records the event (waiting for the primary sink) and only then answers.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use smishtrap_bus::{Outcome as BusOutcome, Publisher};
use smishtrap_event::EventKind;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, mpsc, watch};

use crate::device::{Device, ErrorPage, RequestView};
use crate::record::{self, ConnInfo, RawRequest};
use crate::shadow::{Malformed, RawHead, Shadow, ShadowLimits, salvage};

mod accept;
mod http;
mod limits;
mod response;
mod secure;
mod tap;

pub use accept::bind;
use accept::{Sources, accept_loop};
use http::Answer;
pub use limits::{Budget, Limits, descriptor_limit, raise_descriptor_limit};
use response::{build_response, raw_response};
use tap::{PARK_AFTER, Tap, TappedIo};

/// One listening socket and the device it serves, over TLS when `tls` is set.
#[derive(Debug)]
pub struct Listener {
    pub socket: TcpListener,
    pub device: Arc<Device>,
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Counters of a running sensor.
#[derive(Debug, Default)]
pub struct Counters {
    pub connections: AtomicU64,
    /// Connections closed at accept by a cap (`limit:connections`, `limit:per-ip`, ...).
    pub refused_connections: AtomicU64,
    /// Of those, the ones without an event (shed events are rate-limited).
    pub refused_unrecorded: AtomicU64,
    /// Failed accepts (out of descriptors, aborted handshakes).
    pub accept_errors: AtomicU64,
    pub requests: AtomicU64,
    pub malformed: AtomicU64,
    /// Requests whose event could not be stored (answered with the busy page, or with the
    /// error page they were getting anyway).
    pub not_recorded: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    sensor: Arc<str>,
    limits: Limits,
    publisher: Publisher,
    counters: Arc<Counters>,
    boot: String,
    next_conn: AtomicU64,
    budget: Budget,
    permits: Arc<Semaphore>,
    sources: Mutex<Sources>,
    /// Rate of shed-connection events.
    shed_events: Mutex<Bucket>,
    shed_recordings: Arc<Semaphore>,
}

/// Serves every listener until `shutdown` resolves, then stops accepting, lets in-flight
/// requests finish (up to the grace period) and returns. Dropping the publisher afterwards
/// lets the pipeline flush.
pub async fn serve(
    listeners: Vec<Listener>,
    sensor: &str,
    limits: Limits,
    publisher: Publisher,
    counters: Arc<Counters>,
    shutdown: impl Future<Output = ()>,
) {
    // 64 random bits per start: event ids (`<session>-<n>`) must not repeat across restarts.
    let boot: [u8; 8] = rand::random();
    let budget = match descriptor_limit() {
        Ok(descriptors) => limits.budget(descriptors),
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the descriptor limit; using the configured caps");
            limits.budget(u64::MAX)
        }
    };
    if budget.max_connections < limits.max_connections {
        tracing::warn!(
            descriptors = budget.descriptors,
            reserved = budget.reserved,
            max_connections = budget.max_connections,
            "the descriptor limit lowers max_connections"
        );
    }
    tracing::info!(
        max_connections = budget.max_connections,
        max_connections_per_ip = budget.per_ip,
        descriptors = budget.descriptors,
        "connection caps"
    );
    response::learn_header_case().await;
    let shared = Arc::new(Shared {
        sensor: Arc::from(sensor),
        limits,
        publisher,
        counters,
        boot: hex::encode(boot),
        next_conn: AtomicU64::new(0),
        budget,
        permits: Arc::new(Semaphore::new(budget.max_connections.min(Semaphore::MAX_PERMITS))),
        sources: Mutex::new(Sources::new()),
        shed_events: Mutex::new(Bucket { tokens: accept::SHED_EVENT_BURST, last: Instant::now() }),
        shed_recordings: Arc::new(Semaphore::new(accept::MAX_SHED_RECORDINGS)),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a clone; `recv` returns None once all of them ended.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let mut accepts = Vec::new();
    for listener in listeners {
        accepts.push(tokio::spawn(accept_loop(
            listener,
            shared.clone(),
            stop_rx.clone(),
            alive_tx.clone(),
        )));
    }
    drop(alive_tx);
    shutdown.await;
    let _ = stop_tx.send(true);
    for a in accepts {
        let _ = a.await;
    }
    let grace = Duration::from_secs_f64(limits.shutdown_grace_secs);
    if tokio::time::timeout(grace + Duration::from_secs(1), alive_rx.recv()).await.is_err() {
        tracing::warn!("connections still open after the shutdown grace period; closing them");
    }
}

struct Connection {
    shared: Arc<Shared>,
    seq: Arc<AtomicU64>,
    device: Arc<Device>,
    files: Arc<http::Files>,
    conn: ConnInfo,
    /// Local address the connection was accepted on.
    local: SocketAddr,
    /// Tags of the connection (TLS, SNI) added to each of its events.
    tags: Vec<String>,
    stop: watch::Receiver<bool>,
}

/// A connection's byte stream: a TCP socket, or TLS over one.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Waits up to `limit` for a byte without reading it; false when none came. Only plain
    /// sockets are parked between requests (see `serve`).
    fn wait_byte(&self, limit: Duration) -> impl Future<Output = bool> + Send;
}

impl Stream for TcpStream {
    async fn wait_byte(&self, limit: Duration) -> bool {
        let mut first = [0u8; 1];
        // `peek`, not `readable`: readiness can be reported before any byte arrived.
        matches!(tokio::time::timeout(limit, self.peek(&mut first)).await, Ok(Ok(1..)))
    }
}

/// Per-connection request context handed to the service.
struct Ctx {
    shared: Arc<Shared>,
    device: Arc<Device>,
    files: Arc<http::Files>,
    conn: ConnInfo,
    local: SocketAddr,
    /// Tags of the connection (TLS, SNI) added to each of its events.
    conn_tags: Vec<String>,
    tap: Arc<Mutex<Tap>>,
    /// Shared with the connection so its own events (malformed, timeouts) continue the sequence.
    seq: Arc<AtomicU64>,
    bucket: Mutex<Bucket>,
}

/// Token bucket for the per-connection request rate.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self, rate: f64, burst: f64) -> bool {
        self.take_at(Instant::now(), rate, burst)
    }

    fn take_at(&mut self, now: Instant, rate: f64, burst: f64) -> bool {
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * rate).min(burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Connection {
    async fn run(mut self, stream: TcpStream, tls: Option<tokio_rustls::TlsAcceptor>) {
        let limits = self.shared.limits;
        let idle = Duration::from_secs_f64(limits.idle_timeout_secs);
        // Idle sockets cost no HTTP (or TLS) state until their first byte.
        tokio::select! {
            came = stream.wait_byte(idle) => if !came { return },
            _ = self.stop.changed() => return,
        }
        // The HTTP machinery is boxed so a waiting connection's task stays small.
        match tls {
            None => Box::pin(self.serve(stream, true)).await,
            Some(acceptor) => Box::pin(secure::serve_tls(self, stream, acceptor)).await,
        }
    }

    async fn serve<S: Stream>(mut self, stream: S, park: bool) {
        let limits = self.shared.limits;
        let idle = Duration::from_secs_f64(limits.idle_timeout_secs);
        let tap = Arc::new(Mutex::new(Tap::new(Shadow::new(ShadowLimits {
            max_head_bytes: limits.max_head_bytes,
            max_headers: limits.max_headers,
        }))));
        let bad = Arc::new(Notify::new());
        let ctx = Arc::new(Ctx {
            shared: self.shared.clone(),
            device: self.device.clone(),
            files: self.files.clone(),
            conn: self.conn.clone(),
            local: self.local,
            conn_tags: self.tags.clone(),
            tap: tap.clone(),
            seq: self.seq.clone(),
            bucket: Mutex::new(Bucket { tokens: limits.request_burst, last: Instant::now() }),
        });
        let service = hyper::service::service_fn(move |req| {
            let ctx = ctx.clone();
            async move { Ok::<_, Infallible>(ctx.handle(req).await) }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .title_case_headers(true)
            .auto_date_header(false)
            .keep_alive(true)
            // A client that closes its sending side still gets its answers, and hyper reads
            // nothing while it answers (the next head waits in the socket, the shadow's timer
            // with it).
            .half_close(true)
            // The shadow reader enforces the real limits first; these only back it up.
            .max_headers(limits.max_headers.saturating_mul(2).max(100))
            .max_buf_size((limits.max_head_bytes.saturating_mul(2)).max(16 * 1024));
        let header_timeout = Duration::from_secs_f64(limits.header_timeout_secs);
        let grace = Duration::from_secs_f64(limits.shutdown_grace_secs);
        // A connection that is never parked closes when idle instead (see `drive`).
        let park_after = if park { PARK_AFTER.min(idle) } else { idle };
        let mut stream = stream;
        // Each turn serves requests with hyper until the connection goes quiet between two
        // requests; then hyper (and its read and write buffers, ~20 KiB) is dropped and the
        // bare socket waits for its next byte, so idle keep-alive connections stay cheap.
        loop {
            let io = TappedIo { inner: stream, tap: tap.clone(), bad: bad.clone() };
            let conn = builder.serve_connection(TokioIo::new(io), service.clone());
            let Some(parked) =
                self.drive(conn, &tap, &bad, header_timeout, idle, park_after, grace).await
            else {
                return;
            };
            stream = parked;
            let quiet = tap.lock().unwrap_or_else(|e| e.into_inner()).last_activity.elapsed();
            tokio::select! {
                came = stream.wait_byte(idle.saturating_sub(quiet)) => if !came { return },
                _ = self.stop.changed() => return,
            }
        }
    }

    /// Runs one hyper connection; returns the socket when it was parked between requests.
    #[allow(clippy::too_many_arguments, reason = "the connection's timing knobs, all needed")]
    async fn drive<S: Stream, Svc>(
        &mut self,
        mut conn: hyper::server::conn::http1::Connection<TokioIo<TappedIo<S>>, Svc>,
        tap: &Arc<Mutex<Tap>>,
        bad: &Arc<Notify>,
        header_timeout: Duration,
        idle: Duration,
        park_after: Duration,
        grace: Duration,
    ) -> Option<S>
    where
        Svc: hyper::service::HttpService<Incoming, ResBody = Full<Bytes>> + Unpin,
    {
        let mut stopping: Option<Instant> = None;
        loop {
            let deadline = {
                let t = tap.lock().unwrap_or_else(|e| e.into_inner());
                match (t.head_started, t.in_flight) {
                    (Some(started), _) => started + header_timeout,
                    (None, 0) if stopping.is_none() => t.last_activity + park_after,
                    (None, 0) => t.last_activity + idle,
                    (None, _) => Instant::now() + idle,
                }
            };
            let deadline = match stopping {
                Some(s) => deadline.min(s + grace),
                None => deadline,
            };
            tokio::select! {
                res = &mut conn => {
                    if let Err(err) = res {
                        self.hyper_error(&err).await;
                    }
                    let deferred = tap.lock().unwrap_or_else(|e| e.into_inner()).deferred.take();
                    if let Some(reason) = deferred {
                        // hyper answered the requests before the refused head; now that one.
                        let parts = conn.into_parts();
                        self.malformed(parts.io.into_inner(), reason, tap).await;
                    }
                    return None;
                }
                _ = bad.notified() => {
                    let reason = tap.lock().unwrap_or_else(|e| e.into_inner()).malformed;
                    if let Some(reason) = reason {
                        let parts = conn.into_parts();
                        self.malformed(parts.io.into_inner(), reason, tap).await;
                    }
                    return None;
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    if stopping.is_some_and(|s| s.elapsed() >= grace) {
                        return None;
                    }
                    let (timed_out_head, idle_out, park, partial) = {
                        let t = tap.lock().unwrap_or_else(|e| e.into_inner());
                        let now = Instant::now();
                        let head_out = t.head_started.is_some_and(|s| now >= s + header_timeout);
                        let quiet = t.head_started.is_none() && t.in_flight == 0;
                        let idle_out = quiet && now >= t.last_activity + idle;
                        let park = quiet
                            && stopping.is_none()
                            && !t.write_blocked
                            && t.held.is_empty()
                            && t.shadow.between_requests()
                            && now >= t.last_activity + park_after;
                        (head_out, idle_out, park, if head_out { t.shadow.pending_bytes().to_vec() } else { Vec::new() })
                    };
                    if timed_out_head {
                        // Slowloris: record what was sent and close without an answer.
                        self.record_salvaged(&partial, "limit:header-timeout", 0).await;
                        return None;
                    }
                    if idle_out {
                        return None;
                    }
                    if park {
                        let parts = conn.into_parts();
                        // Bytes hyper read but did not use mean we are not between requests after all.
                        return parts.read_buf.is_empty().then(|| parts.io.into_inner().inner);
                    }
                }
                changed = self.stop.changed(), if stopping.is_none() => {
                    let _ = changed;
                    stopping = Some(Instant::now());
                    Pin::new(&mut conn).graceful_shutdown();
                }
            }
        }
    }

    /// Answers a refused head like the device (its 400 page, its headers in its order) and
    /// closes. The event holds what could be read of the head and, as the body, the bytes sent
    /// from the refused head on; a complete head refused only for its target is recorded as
    /// sent, with its body.
    async fn malformed<S: Stream>(
        &self,
        mut io: TappedIo<S>,
        reason: Malformed,
        tap: &Arc<Mutex<Tap>>,
    ) {
        let (refused, raw) = {
            let mut t = tap.lock().unwrap_or_else(|e| e.into_inner());
            let refused = t.shadow.take_refused_head();
            let from = t.shadow.head_start();
            (refused, t.held_from(from).to_vec())
        };
        if reason == Malformed::Incomplete {
            // The client stopped sending: nobody waits for an answer.
            self.record_salvaged(&raw, reason.tag(), 0).await;
            return;
        }
        let reply = self.device.error(ErrorPage::BadRequest, EventKind::HttpMalformed);
        match refused {
            Some(head) => {
                let limits = &self.shared.limits;
                let mut body = raw.get(head.head_len..).unwrap_or_default().to_vec();
                let want = content_length(&head).min(limits.max_body_bytes);
                let timeout = Duration::from_secs_f64(limits.body_timeout_secs);
                read_more(&mut io.inner, &mut body, want, timeout).await;
                let req = RawRequest {
                    method: &head.method,
                    target: &head.target,
                    version: head.version_str(),
                    headers: &head.headers,
                    body: &body,
                };
                self.record_malformed(&req, reason.tag(), reply.status).await;
            }
            None => self.record_salvaged(&raw, reason.tag(), reply.status).await,
        }
        let bytes = raw_response(&self.device, &reply);
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            let _ = io.inner.write_all(&bytes).await;
            let _ = io.inner.shutdown().await;
        })
        .await;
    }

    /// Records raw bytes that did not make a valid head: what could be read of the request
    /// line and headers, and the bytes themselves as the body.
    async fn record_salvaged(&self, raw: &[u8], tag: &str, status: u16) {
        let s = salvage(raw, record::MAX_RECORDED_HEADERS);
        let req = RawRequest {
            method: &s.method,
            target: &s.target,
            version: &s.version,
            headers: &s.headers,
            body: raw,
        };
        self.record_malformed(&req, tag, status).await;
    }

    async fn record_malformed(&self, req: &RawRequest<'_>, tag: &str, status: u16) {
        self.shared.counters.malformed.fetch_add(1, Ordering::Relaxed);
        let mut tags = vec![tag.to_owned()];
        tags.extend(self.tags.iter().cloned());
        let outcome = record::Outcome {
            response_status: status,
            kind: Some(EventKind::HttpMalformed),
            tags,
            ..Default::default()
        };
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let event = record::build_event(&self.conn, seq, Utc::now(), req, outcome);
        if self.shared.publisher.record(event).await == BusOutcome::NotRecorded {
            self.shared.counters.not_recorded.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn hyper_error(&self, err: &hyper::Error) {
        // The shadow reader holds back every head until it is valid, so hyper should never
        // refuse one; if it does, the event says so.
        if err.is_parse() || err.is_parse_too_large() {
            self.record_salvaged(b"", "malformed:hyper", 400).await;
        }
    }
}

/// The `Content-Length` of a head (0 when absent, unreadable or chunked).
fn content_length(head: &RawHead) -> usize {
    head.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(b"content-length"))
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.trim().parse().ok())
        .unwrap_or(0)
}

/// Reads until `into` holds `want` bytes, the client stops or `timeout` passes.
async fn read_more<S: AsyncRead + Unpin>(
    stream: &mut S,
    into: &mut Vec<u8>,
    want: usize,
    timeout: Duration,
) {
    let _ = tokio::time::timeout(timeout, async {
        let mut buf = [0u8; 4096];
        while into.len() < want {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => into.extend_from_slice(&buf[..n.min(want - into.len())]),
            }
        }
    })
    .await;
}

enum BodyRead {
    Complete(Vec<u8>),
    TooLarge(Vec<u8>),
    TimedOut(Vec<u8>),
    Broken(Vec<u8>),
}

async fn read_body(mut body: Incoming, max: usize, timeout: Duration) -> BodyRead {
    let mut buf = Vec::new();
    let read = async {
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        if buf.len() + data.len() > max {
                            let room = max - buf.len();
                            buf.extend_from_slice(&data[..room]);
                            return Some(false);
                        }
                        buf.extend_from_slice(&data);
                    }
                }
                Err(_) => return None,
            }
        }
        Some(true)
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Some(true)) => BodyRead::Complete(buf),
        Ok(Some(false)) => BodyRead::TooLarge(buf),
        Ok(None) => BodyRead::Broken(buf),
        Err(_) => BodyRead::TimedOut(buf),
    }
}

/// A header as sent: name and value bytes.
type Header = (Vec<u8>, Vec<u8>);

struct InFlight<'a>(&'a Mutex<Tap>);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        t.in_flight = t.in_flight.saturating_sub(1);
        let now = Instant::now();
        t.last_activity = now;
        // A pipelined head read while this request was being answered waited on us, not on
        // its client: its time starts now.
        if t.head_started.is_some() {
            t.head_started = Some(now);
        }
    }
}

impl Ctx {
    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let head: Option<RawHead> = {
            let mut t = self.tap.lock().unwrap_or_else(|e| e.into_inner());
            t.in_flight += 1;
            t.shadow.pop_head()
        };
        let _in_flight = InFlight(&self.tap);
        let now = Utc::now();
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        self.shared.counters.requests.fetch_add(1, Ordering::Relaxed);
        let limits = &self.shared.limits;
        let allowed = self
            .bucket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(limits.requests_per_second, limits.request_burst);
        let (parts, body) = req.into_parts();
        // The head as sent when the shadow reader agrees with hyper; hyper's view otherwise.
        let head = head.filter(|h| h.method == parts.method.as_str().as_bytes());
        let fallback_headers: Vec<(Vec<u8>, Vec<u8>)>;
        let target = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let (method, target_bytes, version, headers): (&[u8], &[u8], &str, &[Header]) = match &head
        {
            Some(h) => (&h.method, &h.target, h.version_str(), &h.headers),
            None => {
                fallback_headers = parts
                    .headers
                    .iter()
                    .map(|(n, v)| (n.as_str().as_bytes().to_vec(), v.as_bytes().to_vec()))
                    .collect();
                let v =
                    if parts.version == hyper::Version::HTTP_10 { "HTTP/1.0" } else { "HTTP/1.1" };
                (parts.method.as_str().as_bytes(), target.as_bytes(), v, &fallback_headers)
            }
        };
        let plain = Answer::plain;
        let (answer, body_bytes, mut extra_tags) = if !allowed {
            (
                plain(self.device.error(ErrorPage::Unavailable, EventKind::HttpMalformed)),
                Vec::new(),
                vec!["limit:rate".to_owned()],
            )
        } else {
            match read_body(
                body,
                limits.max_body_bytes,
                Duration::from_secs_f64(limits.body_timeout_secs),
            )
            .await
            {
                BodyRead::Complete(bytes) => {
                    let wire = http::Wire {
                        method: parts.method.as_str(),
                        http11: parts.version == hyper::Version::HTTP_11,
                        path: parts.uri.path(),
                        query: parts.uri.query(),
                        headers: &parts.headers,
                        tls: !self.conn_tags.is_empty(),
                        local: self.local,
                        now,
                    };
                    // The device's web server first, then the device, then the server again.
                    let answer = match http::route(&wire, &self.device) {
                        http::Route::Answer(answer) => *answer,
                        http::Route::Device(path) => {
                            let header =
                                |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
                            let view = RequestView {
                                method: parts.method.as_str(),
                                path: &path,
                                query: parts.uri.query(),
                                cookie: header("cookie"),
                                authorization: header("authorization"),
                                body: &bytes,
                                client: self.conn.peer.ip().to_canonical(),
                                now,
                                headers: Some(&parts.headers),
                            };
                            let reply = self.device.handle(&view);
                            http::finish(&wire, &path, &self.device, &self.files, reply)
                        }
                    };
                    (answer, bytes, Vec::new())
                }
                BodyRead::TooLarge(bytes) => (
                    plain(self.device.error(ErrorPage::PayloadTooLarge, EventKind::HttpMalformed)),
                    bytes,
                    vec!["limit:body-size".to_owned()],
                ),
                BodyRead::TimedOut(bytes) => (
                    plain(self.device.error(ErrorPage::RequestTimeout, EventKind::HttpMalformed)),
                    bytes,
                    vec!["limit:body-timeout".to_owned()],
                ),
                BodyRead::Broken(bytes) => (
                    plain(self.device.error(ErrorPage::BadRequest, EventKind::HttpMalformed)),
                    bytes,
                    vec!["malformed:body".to_owned()],
                ),
            }
        };
        let mut answer = answer;
        // The event takes what only it needs (the answer keeps status, kind and body).
        let reply = &mut answer.reply;
        let mut tags = std::mem::take(&mut reply.tags);
        tags.append(&mut extra_tags);
        tags.extend(self.conn_tags.iter().cloned());
        let raw = RawRequest { method, target: target_bytes, version, headers, body: &body_bytes };
        let outcome = record::Outcome {
            response_status: reply.status,
            kind: Some(reply.kind),
            auth: reply.auth.take(),
            sms: reply.sms.take(),
            tags,
        };
        let event = record::build_event(&self.conn, seq, now, &raw, outcome);
        if reply.kind == EventKind::HttpMalformed {
            self.shared.counters.malformed.fetch_add(1, Ordering::Relaxed);
        }
        // Durability: the answer leaves only after the primary sink has the event. One that
        // could not be stored (disk full, store failing) never gets its real answer: the
        // device's busy page instead, as an overloaded router would give.
        let answer = match self.shared.publisher.record(event).await {
            BusOutcome::Durable => answer,
            BusOutcome::NotRecorded => {
                self.shared.counters.not_recorded.fetch_add(1, Ordering::Relaxed);
                plain(self.device.error(ErrorPage::Unavailable, EventKind::HttpMalformed))
            }
        };
        let close = answer.reply.kind == EventKind::HttpMalformed && answer.reply.status != 503;
        let mut response = build_response(&self.device, answer);
        if close {
            response
                .headers_mut()
                .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Identity, Seed};
    use crate::persona::PersonaSet;
    use smishtrap_bus::{Pipeline, PipelineConfig, Sink, SinkError};
    use smishtrap_event::Event;
    use tokio::io::AsyncReadExt;

    /// A primary sink whose disk is always full.
    struct FullDisk;

    impl Sink for FullDisk {
        fn name(&self) -> &'static str {
            "full-disk"
        }
        fn write_batch(&mut self, _: &[Event]) -> Result<(), SinkError> {
            Err(SinkError::new("full-disk", "no space left on device"))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_whose_event_cannot_be_stored_gets_the_busy_page_never_its_answer() {
        let set = PersonaSet::embedded().unwrap();
        let persona = set.get("milesight-ur32l").unwrap().clone();
        let seed = Seed::from_bytes([1; 32], Utc::now());
        let device = Arc::new(Device::new(
            persona.clone(),
            Identity::derive(&seed, &persona),
            Default::default(),
        ));
        let socket = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = socket.local_addr().unwrap();
        let (publisher, pipeline) =
            Pipeline::start(Box::new(FullDisk), Vec::new(), PipelineConfig::default()).unwrap();
        let counters = Arc::new(Counters::default());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            vec![Listener { socket, device, tls: None }],
            "t",
            Limits::default(),
            publisher,
            counters.clone(),
            async move {
                let _ = stop_rx.await;
            },
        ));
        for _ in 0..3 {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET /login.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut answer = Vec::new();
            s.read_to_end(&mut answer).await.unwrap();
            let text = String::from_utf8_lossy(&answer);
            assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
            // The persona's own busy page, not the login page it would have sent.
            assert!(text.contains("<h1>503 Service Temporarily Unavailable</h1>"), "{text}");
            assert!(!text.contains("login"), "{text}");
        }
        let _ = stop_tx.send(());
        server.await.unwrap();
        assert_eq!(counters.not_recorded.load(Ordering::Relaxed), 3);
        assert_eq!(counters.requests.load(Ordering::Relaxed), 3);
        let stats = tokio::task::spawn_blocking(move || pipeline.join()).await.unwrap();
        assert_eq!((stats.recorded, stats.not_recorded), (0, 3));
    }
}
