//! The console's HTTP server: an accept loop over hyper that keeps hostile clients from
//! holding the console (slow heads, idle connections, connection floods, large bodies).
//!
//! Every connection is registered in a [`Table`] with its peer address, its requests in flight
//! (from a complete head until the response body ends, so a live stream is busy for its whole
//! life) and since when it is idle. A watchdog per connection closes it when a head takes
//! longer than [`ConsoleLimits::header_timeout`] from its first byte, or when it stays idle
//! longer than [`ConsoleLimits::idle_timeout`]. At a cap (all connections, or one IP's), a new
//! connection takes the slot of the oldest idle connection in that scope, or is closed at once
//! when every connection there is busy; so a flood of idle or half-sent connections cannot lock
//! out a new client.
//!
//! Invariant: at most `max_connections` connections are served at once, at most
//! `max_connections_per_ip` from one address, live streams included.
//! Invariant: no connection without a request in flight outlives `idle_timeout`, and no
//! request head takes longer than `header_timeout` from its first byte.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use bytes::Bytes;
use http_body_util::Limited;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::AppState;

/// The console's connection limits (part of [`crate::ConsoleConfig`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleLimits {
    /// Longest a request head may take, from its first byte to its end.
    pub header_timeout: Duration,
    /// Longest a connection may wait for its next request; a connection serving a request
    /// (a live stream for as long as it runs) is never idle.
    pub idle_timeout: Duration,
    /// Most connections served at once, live streams included.
    pub max_connections: usize,
    /// Most connections served at once from one IP address (a reverse proxy is one address).
    pub max_connections_per_ip: usize,
    /// Largest request body; a larger one gets 413 (the console reads no body today).
    pub max_body_bytes: u64,
}

impl Default for ConsoleLimits {
    /// 10 s heads, 60 s idle keep-alive, 1,024 connections (about 20 MiB of buffers when all
    /// are open), 256 per IP, 64 KiB bodies.
    fn default() -> ConsoleLimits {
        ConsoleLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_connections_per_ip: 256,
            max_body_bytes: 64 << 10,
        }
    }
}

/// How long a closing connection (idle, shed or overdue, so at most finishing the write of a
/// response that has ended) may take to close.
const CLOSE_GRACE: Duration = Duration::from_millis(100);
/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Longest timeout honoured (a year).
const LONGEST_TIMEOUT: Duration = Duration::from_secs(365 * 86_400);
/// How often the watchdog of a busy connection looks again.
const BUSY_RECHECK: Duration = Duration::from_secs(1);
/// Pause after a failed accept (out of descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// Serves `router` on `listener` with `state`'s limits until `shutdown` resolves; then stops
/// accepting, closes idle connections and waits (bounded) for the requests in flight.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.inner.limits;
    let table = Arc::new(Table::new(limits));
    let (stop, stopping) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut refused_logged: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of descriptors: free one by closing the oldest idle connection.
                table.shed_oldest_idle();
                if rate_limited(&mut refused_logged) {
                    tracing::warn!(error = %err, "console accept failed");
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Some(conn) = table.admit(peer.ip()) else {
            if rate_limited(&mut refused_logged) {
                tracing::warn!(peer = %peer.ip(), "console connection refused: every slot is busy");
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        tasks.spawn(serve_connection(
            stream,
            conn,
            table.clone(),
            router.clone(),
            stopping.clone(),
        ));
    }
    drop(listener);
    // Ends live streams (they would hold their connection open) and closes idle connections.
    state.inner.closing.send_replace(true);
    stop.send_replace(true);
    let drained =
        tokio::time::timeout(SHUTDOWN_GRACE, async { while tasks.join_next().await.is_some() {} })
            .await;
    if drained.is_err() {
        tracing::warn!(open = tasks.len(), "console shutdown left requests unfinished");
    }
    Ok(())
}

/// True at most once a second, for warnings an attacker can trigger at will.
fn rate_limited(last: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    if last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
        return false;
    }
    *last = Some(now);
    true
}

async fn serve_connection(
    stream: TcpStream,
    conn: Arc<Conn>,
    table: Arc<Table>,
    router: Router,
    mut stopping: watch::Receiver<bool>,
) {
    let _registered = Registered { table: table.clone(), id: conn.id };
    let limits = table.limits;
    let io = TokioIo::new(Watched { stream, conn: conn.clone(), epoch: table.epoch });
    let routes = TowerToHyperService::new(router);
    let service = {
        let conn = conn.clone();
        let epoch = table.epoch;
        hyper::service::service_fn(move |request: Request<Incoming>| {
            let in_flight = InFlight::begin(conn.clone(), epoch);
            let routes = routes.clone();
            async move {
                let response = if declared_too_large(&request, limits.max_body_bytes) {
                    payload_too_large().await
                } else {
                    let request = request.map(|b| Limited::new(b, body_limit(limits)));
                    match hyper::service::Service::call(&routes, request).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    }
                };
                Ok::<_, Infallible>(response.map(|body| Tracked { body, _in_flight: in_flight }))
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // hyper's own head timer runs from the moment a connection waits for a head (idle
    // included); the watchdog below enforces both limits exactly, this is a backstop.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout.saturating_add(limits.header_timeout));
    let connection = builder.serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    loop {
        let deadline = conn.deadline(&limits, table.epoch);
        tokio::select! {
            _ = connection.as_mut() => return,
            () = conn.close.notified() => break,
            () = conn.rearm.notified() => {}
            _ = stopping.wait_for(|stop| *stop) => break,
            () = tokio::time::sleep_until(deadline.into()) => {
                if conn.deadline(&limits, table.epoch) <= Instant::now() {
                    break;
                }
            }
        }
    }
    // Lets a response being written finish, then closes (at once when idle).
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(CLOSE_GRACE.max(grace_for(&stopping)), connection).await;
}

/// Requests in flight get longer to finish at shutdown than a shed connection.
fn grace_for(stopping: &watch::Receiver<bool>) -> Duration {
    if *stopping.borrow() { SHUTDOWN_GRACE } else { CLOSE_GRACE }
}

fn body_limit(limits: ConsoleLimits) -> usize {
    usize::try_from(limits.max_body_bytes).unwrap_or(usize::MAX)
}

fn declared_too_large(request: &Request<Incoming>, max: u64) -> bool {
    request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > max)
}

async fn payload_too_large() -> Response<Body> {
    let mut response = crate::error::json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "request body too large".into(),
    );
    response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    crate::security_headers(response).await
}

/// Every open connection, by id, and how many each address holds.
#[derive(Debug)]
struct Table {
    limits: ConsoleLimits,
    /// Times are kept as milliseconds since this instant, in atomics.
    epoch: Instant,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    next_id: u64,
    conns: HashMap<u64, Arc<Conn>>,
    per_ip: HashMap<IpAddr, usize>,
}

impl Table {
    fn new(limits: ConsoleLimits) -> Table {
        // Instants overflow (and panic) far beyond any useful timeout.
        let limits = ConsoleLimits {
            header_timeout: limits.header_timeout.min(LONGEST_TIMEOUT),
            idle_timeout: limits.idle_timeout.min(LONGEST_TIMEOUT),
            ..limits
        };
        Table { limits, epoch: Instant::now(), open: Mutex::new(Open::default()) }
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a connection from `ip`, making room by shedding the oldest idle connection
    /// of a full scope; `None` when a scope is full of busy connections.
    fn admit(&self, ip: IpAddr) -> Option<Arc<Conn>> {
        let mut open = self.lock();
        if open.per_ip.get(&ip).copied().unwrap_or(0) >= self.limits.max_connections_per_ip.max(1)
            && !open.shed(|c| c.ip == ip)
        {
            return None;
        }
        if open.conns.len() >= self.limits.max_connections.max(1) && !open.shed(|_| true) {
            return None;
        }
        open.next_id += 1;
        let conn = Arc::new(Conn {
            id: open.next_id,
            ip,
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(millis_since(self.epoch)),
            head_started: AtomicU64::new(0),
            close: Notify::new(),
            rearm: Notify::new(),
        });
        open.conns.insert(conn.id, conn.clone());
        *open.per_ip.entry(ip).or_default() += 1;
        Some(conn)
    }

    fn shed_oldest_idle(&self) {
        self.lock().shed(|_| true);
    }

    fn remove(&self, id: u64) {
        self.lock().remove(id);
    }
}

impl Open {
    /// Closes the connection idle the longest among those `in_scope`; false when all are busy.
    fn shed(&mut self, in_scope: impl Fn(&Conn) -> bool) -> bool {
        let oldest = self
            .conns
            .values()
            .filter(|c| in_scope(c) && c.in_flight.load(Ordering::Acquire) == 0)
            .min_by_key(|c| c.idle_since.load(Ordering::Acquire))
            .map(|c| c.id);
        let Some(id) = oldest else { return false };
        if let Some(conn) = self.remove(id) {
            conn.close.notify_one();
        }
        true
    }

    fn remove(&mut self, id: u64) -> Option<Arc<Conn>> {
        let conn = self.conns.remove(&id)?;
        if let Some(n) = self.per_ip.get_mut(&conn.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_ip.remove(&conn.ip);
            }
        }
        Some(conn)
    }
}

/// One connection's state, shared by its task, its socket wrapper and the table.
#[derive(Debug)]
struct Conn {
    id: u64,
    ip: IpAddr,
    /// Requests whose head was read and whose response body has not ended.
    in_flight: AtomicUsize,
    /// Milliseconds (since the table's epoch) when the last request ended, or when accepted.
    idle_since: AtomicU64,
    /// Milliseconds + 1 when the first byte of the head being read arrived; 0 when none.
    head_started: AtomicU64,
    /// Told to close: its slot went to a newer connection.
    close: Notify,
    /// Told that a head started, so the watchdog moves its deadline earlier.
    rearm: Notify,
}

impl Conn {
    /// When the connection has overstayed, given what it is doing now.
    fn deadline(&self, limits: &ConsoleLimits, epoch: Instant) -> Instant {
        let at = |ms: u64, limit: Duration| epoch + Duration::from_millis(ms) + limit;
        if self.in_flight.load(Ordering::Acquire) > 0 {
            // Busy (a live stream may be busy for hours): look again later.
            return Instant::now() + limits.idle_timeout.max(BUSY_RECHECK);
        }
        match self.head_started.load(Ordering::Acquire) {
            0 => at(self.idle_since.load(Ordering::Acquire), limits.idle_timeout),
            started => at(started - 1, limits.header_timeout),
        }
    }

    /// Bytes arrived: when nothing is in flight they start a head.
    fn on_read(&self, epoch: Instant) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && self
                .head_started
                .compare_exchange(0, millis_since(epoch) + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.rearm.notify_one();
        }
    }
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
}

/// Removes its connection from the table when the connection's task ends.
struct Registered {
    table: Arc<Table>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.table.remove(self.id);
    }
}

/// One request in flight on a connection, from its complete head until its response body is
/// dropped (ended or abandoned).
#[derive(Debug)]
struct InFlight {
    conn: Arc<Conn>,
    epoch: Instant,
}

impl InFlight {
    fn begin(conn: Arc<Conn>, epoch: Instant) -> InFlight {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        conn.head_started.store(0, Ordering::Release);
        InFlight { conn, epoch }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.conn.idle_since.store(millis_since(self.epoch), Ordering::Release);
        self.conn.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in flight until it is dropped.
#[derive(Debug)]
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The socket as hyper sees it, noting when the bytes of a head start to arrive.
#[derive(Debug)]
struct Watched {
    stream: TcpStream,
    conn: Arc<Conn>,
    epoch: Instant,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.on_read(self.epoch);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize, per_ip: usize) -> ConsoleLimits {
        ConsoleLimits { max_connections: max, max_connections_per_ip: per_ip, ..Default::default() }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    /// Admits connections from `ips` in order; `busy` marks which of them get a request in
    /// flight right away. Returns which were admitted and which of those are still open.
    #[track_caller]
    fn check(limits: ConsoleLimits, ips: &[(u8, bool)], expect_open: &[usize]) {
        let table = Table::new(limits);
        let mut admitted: Vec<(usize, Arc<Conn>)> = Vec::new();
        let mut busy = Vec::new();
        for (i, (last, is_busy)) in ips.iter().enumerate() {
            // distinct idle times, oldest first
            std::thread::sleep(Duration::from_millis(2));
            if let Some(conn) = table.admit(ip(*last)) {
                conn.idle_since.store(i as u64, Ordering::Release);
                if *is_busy {
                    busy.push(InFlight::begin(conn.clone(), table.epoch));
                }
                admitted.push((i, conn));
            }
        }
        let open = table.lock();
        let mut got: Vec<usize> = admitted
            .iter()
            .filter(|(_, c)| open.conns.contains_key(&c.id))
            .map(|(i, _)| *i)
            .collect();
        got.sort_unstable();
        assert_eq!(got, expect_open);
        let per_ip_total: usize = open.per_ip.values().sum();
        assert_eq!(per_ip_total, open.conns.len());
    }

    #[test]
    fn full_scopes_shed_their_oldest_idle_connection_or_refuse() {
        // under the caps: all stay
        check(limits(3, 3), &[(1, false), (2, false), (3, false)], &[0, 1, 2]);
        // global cap: the oldest idle goes
        check(limits(2, 9), &[(1, false), (2, false), (3, false)], &[1, 2]);
        // a busy connection is never shed: the oldest idle one goes instead
        check(limits(2, 9), &[(1, true), (2, false), (3, false)], &[0, 2]);
        // all busy: the newcomer is refused
        check(limits(2, 9), &[(1, true), (2, true), (3, false)], &[0, 1]);
        // per-IP cap: that address's oldest idle goes, others are untouched
        check(limits(9, 2), &[(1, false), (2, false), (1, false), (1, false)], &[1, 2, 3]);
        check(limits(9, 2), &[(1, true), (1, true), (1, false), (2, false)], &[0, 1, 3]);
    }

    #[test]
    fn deadlines_follow_what_the_connection_does() {
        let limits = ConsoleLimits {
            header_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(30),
            ..Default::default()
        };
        let table = Table::new(limits);
        let conn = table.admit(ip(1)).unwrap_or_else(|| panic!("admitted"));
        let idle = conn.deadline(&limits, table.epoch);
        assert!(idle > Instant::now() + Duration::from_secs(29));
        conn.on_read(table.epoch);
        let head = conn.deadline(&limits, table.epoch);
        assert!(head < Instant::now() + Duration::from_secs(3), "a head gets the short timer");
        let in_flight = InFlight::begin(conn.clone(), table.epoch);
        // reads while a request is in flight (its body, a pipelined head) start no timer
        conn.on_read(table.epoch);
        assert_eq!(conn.head_started.load(Ordering::Acquire), 0);
        drop(in_flight);
        assert!(conn.deadline(&limits, table.epoch) > Instant::now() + Duration::from_secs(29));
    }
}
