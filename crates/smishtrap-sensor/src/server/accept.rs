//! The accept loop: the identity of each connection, the connection caps (in all, per source,
//! new connections per source and second), shed connections recorded at a bounded rate, and a
//! pause instead of a spin when the process runs out of descriptors.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use lru::LruCache;
use smishtrap_bus::Outcome as BusOutcome;
use smishtrap_event::EventKind;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::{Bucket, Connection, Limits, Listener, Shared};
use crate::record::{self, ConnInfo, RawRequest};

/// Why a connection was closed at accept, unanswered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shed {
    /// Every connection slot is taken.
    Connections,
    /// Its source holds `max_connections_per_ip` connections already.
    PerIp,
    /// Its source opens connections faster than `connections_per_ip_per_second`.
    PerIpRate,
}

impl Shed {
    /// Fixed tag for events (never attacker data).
    pub(super) fn tag(self) -> &'static str {
        match self {
            Shed::Connections => "limit:connections",
            Shed::PerIp => "limit:per-ip",
            Shed::PerIpRate => "limit:per-ip-rate",
        }
    }
}

/// Events recorded for shed connections: a flood is recorded as a trickle, the rest counted.
const SHED_EVENTS_PER_SECOND: f64 = 20.0;
pub(super) const SHED_EVENT_BURST: f64 = 200.0;
/// Shed events waiting for the store at once (beyond that they are counted, not recorded).
pub(super) const MAX_SHED_RECORDINGS: usize = 64;
/// Sources whose new-connection rate is remembered (least recently seen forgotten first).
const MAX_RATE_SOURCES: usize = 65_536;
/// Longest pause of the accept loop when the process is out of descriptors.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// The source a connection is counted against: an IPv4 address, or the /64 of an IPv6 one
/// (one host is usually given a whole /64).
pub(super) fn source_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// Live connections and new-connection rates per source. `live` holds only sources with a
/// connection open, so it is bounded by the connection cap; `rates` is an LRU.
#[derive(Debug)]
pub(super) struct Sources {
    live: HashMap<IpAddr, usize>,
    rates: LruCache<IpAddr, Bucket>,
}

impl Sources {
    pub(super) fn new() -> Sources {
        let cap = NonZeroUsize::new(MAX_RATE_SOURCES).unwrap_or(NonZeroUsize::MIN);
        Sources { live: HashMap::new(), rates: LruCache::new(cap) }
    }

    /// Counts a new connection from `source`, or says why it must be shed.
    pub(super) fn admit(
        &mut self,
        source: IpAddr,
        limits: &Limits,
        per_ip: usize,
        now: Instant,
    ) -> Result<(), Shed> {
        if self.live.get(&source).copied().unwrap_or(0) >= per_ip {
            return Err(Shed::PerIp);
        }
        let burst = limits.connection_burst_per_ip;
        let bucket = self.rates.get_or_insert_mut(source, || Bucket { tokens: burst, last: now });
        if !bucket.take_at(now, limits.connections_per_ip_per_second, burst) {
            return Err(Shed::PerIpRate);
        }
        *self.live.entry(source).or_insert(0) += 1;
        Ok(())
    }

    /// A connection counted by [`Self::admit`] ended.
    pub(super) fn release(&mut self, source: IpAddr) {
        if let Some(n) = self.live.get_mut(&source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.live.remove(&source);
            }
        }
    }
}

/// A connection's place in its source's count, given back when the connection ends.
struct SourceSlot {
    shared: Arc<Shared>,
    source: IpAddr,
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        self.shared.sources.lock().unwrap_or_else(|e| e.into_inner()).release(self.source);
    }
}

/// Out of descriptors or kernel memory: waiting helps, retrying at once only spins.
fn is_exhaustion(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}

pub(super) async fn accept_loop(
    listener: Listener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    let listen_addr = listener.socket.local_addr().ok();
    let dst_port = listen_addr.map_or(0, |a| a.port());
    let files = Arc::new(super::http::Files::default());
    let acceptor = listener.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let persona: Arc<str> = Arc::from(listener.device.persona.name.as_str());
    let mut last_error_log: Option<Instant> = None;
    let mut backoff = Duration::ZERO;
    loop {
        let accepted = tokio::select! {
            r = listener.socket.accept() => r,
            _ = stop.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(err) => {
                shared.counters.accept_errors.fetch_add(1, Ordering::Relaxed);
                if last_error_log.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    tracing::error!(error = %err, "accept failed");
                    last_error_log = Some(Instant::now());
                }
                if is_exhaustion(&err) {
                    // Pending connections wait in the backlog until descriptors are free again.
                    backoff = (backoff * 2).clamp(Duration::from_millis(10), MAX_ACCEPT_BACKOFF);
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => return,
                    }
                }
                continue;
            }
        };
        backoff = Duration::ZERO;
        let n = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        let conn = ConnInfo {
            sensor: shared.sensor.clone(),
            persona: persona.clone(),
            session: format!("{}{n:x}", shared.boot),
            peer,
            dst_port,
        };
        let source = source_of(peer.ip());
        let admitted = shared.sources.lock().unwrap_or_else(|e| e.into_inner()).admit(
            source,
            &shared.limits,
            shared.budget.per_ip,
            Instant::now(),
        );
        if let Err(reason) = admitted {
            drop(stream);
            shed(&shared, conn, reason);
            continue;
        }
        let slot = SourceSlot { shared: shared.clone(), source };
        let Ok(permit) = shared.permits.clone().try_acquire_owned() else {
            drop(stream);
            drop(slot);
            shed(&shared, conn, Shed::Connections);
            continue;
        };
        shared.counters.connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let Some(local) = stream.local_addr().ok().or(listen_addr) else { continue };
        let task = Connection {
            seq: Arc::new(AtomicU64::new(0)),
            shared: shared.clone(),
            device: listener.device.clone(),
            files: files.clone(),
            conn,
            local,
            tags: Vec::new(),
            stop: stop.clone(),
        };
        let alive = alive.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            task.run(stream, acceptor).await;
            drop(permit);
            drop(slot);
            drop(alive);
        });
    }
}

/// Counts a connection closed at accept and records it, unless shed events are coming faster
/// than [`SHED_EVENTS_PER_SECOND`] or too many already wait for the store (then only counted).
fn shed(shared: &Arc<Shared>, conn: ConnInfo, reason: Shed) {
    shared.counters.refused_connections.fetch_add(1, Ordering::Relaxed);
    let allowed = shared.shed_events.lock().unwrap_or_else(|e| e.into_inner()).take_at(
        Instant::now(),
        SHED_EVENTS_PER_SECOND,
        SHED_EVENT_BURST,
    );
    let permit =
        if allowed { shared.shed_recordings.clone().try_acquire_owned().ok() } else { None };
    let Some(permit) = permit else {
        shared.counters.refused_unrecorded.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let req = RawRequest { method: b"", target: b"", version: "", headers: &[], body: b"" };
    let outcome = record::Outcome {
        response_status: 0,
        kind: Some(EventKind::HttpMalformed),
        tags: vec![reason.tag().to_owned()],
        ..Default::default()
    };
    let event = record::build_event(&conn, 0, Utc::now(), &req, outcome);
    let shared = shared.clone();
    tokio::spawn(async move {
        if shared.publisher.record(event).await == BusOutcome::NotRecorded {
            shared.counters.not_recorded.fetch_add(1, Ordering::Relaxed);
        }
        drop(permit);
    });
}

/// Binds a listener (for the CLI and tests).
pub async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_capped_per_address_and_per_rate() {
        let limits = Limits {
            connections_per_ip_per_second: 1.0,
            connection_burst_per_ip: 4.0,
            ..Limits::default()
        };
        let mut s = Sources::new();
        let t0 = Instant::now();
        let a = source_of("10.0.0.1".parse().unwrap());
        let b = source_of("::ffff:10.0.0.2".parse().unwrap());
        assert_eq!(b, "10.0.0.2".parse::<IpAddr>().unwrap(), "mapped IPv4 is IPv4");
        let got: Vec<_> = (0..4).map(|_| s.admit(a, &limits, 3, t0)).collect();
        assert_eq!(got, [Ok(()), Ok(()), Ok(()), Err(Shed::PerIp)]);
        // another source is not affected
        assert_eq!(s.admit(b, &limits, 3, t0), Ok(()));
        // a freed slot is usable, until the burst is spent
        s.release(a);
        assert_eq!(s.admit(a, &limits, 3, t0), Ok(()));
        s.release(a);
        assert_eq!(s.admit(a, &limits, 3, t0), Err(Shed::PerIpRate));
        assert_eq!(s.admit(a, &limits, 3, t0 + Duration::from_millis(1100)), Ok(()));
        // every release empties the table again
        for _ in 0..3 {
            s.release(a);
        }
        s.release(b);
        assert!(s.live.is_empty());
        // one IPv6 host is its /64
        let v6 = |x: &str| source_of(x.parse().unwrap());
        assert_eq!(v6("2001:db8:1:2::1"), v6("2001:db8:1:2:ffff::9"));
        assert_ne!(v6("2001:db8:1:2::1"), v6("2001:db8:1:3::1"));
    }

    #[test]
    fn only_exhaustion_pauses_the_accept_loop() {
        for (errno, pause) in [
            (libc::EMFILE, true),
            (libc::ENFILE, true),
            (libc::ENOBUFS, true),
            (libc::ECONNABORTED, false),
            (libc::EPERM, false),
        ] {
            assert_eq!(is_exhaustion(&io::Error::from_raw_os_error(errno)), pause, "errno {errno}");
        }
    }
}
