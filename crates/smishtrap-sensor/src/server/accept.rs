//! The accept loop: connection cap, identity of each connection, one task per connection.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::{Connection, Listener, Shared};
use crate::record::ConnInfo;

pub(super) async fn accept_loop(
    listener: Listener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    let dst_port = listener.socket.local_addr().map(|a| a.port()).unwrap_or(0);
    let mut last_error_log: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            r = listener.socket.accept() => r,
            _ = stop.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(err) => {
                // EMFILE and friends: back off instead of spinning, log at most every 10 s.
                if last_error_log.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    tracing::error!(error = %err, "accept failed");
                    last_error_log = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = shared.permits.clone().try_acquire_owned() else {
            shared.counters.refused_connections.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        shared.counters.connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let n = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        let conn = ConnInfo {
            sensor: shared.sensor.clone(),
            persona: Arc::from(listener.device.persona.name.as_str()),
            session: format!("{}{n:x}", shared.boot),
            peer,
            dst_port,
        };
        let task = Connection {
            seq: Arc::new(AtomicU64::new(0)),
            shared: shared.clone(),
            device: listener.device.clone(),
            conn,
            stop: stop.clone(),
        };
        let alive = alive.clone();
        tokio::spawn(async move {
            task.run(stream).await;
            drop(permit);
            drop(alive);
        });
    }
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
