//! HTTPS connections: the TLS handshake (bounded in time, its first bytes kept for the event of
//! a failed one), plain HTTP sent to the HTTPS port, then the same HTTP serving as plain
//! connections, on the decrypted stream (the shadow reader sees plaintext).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use smishtrap_event::EventKind;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::response::raw_response;
use super::{Connection, Stream};
use crate::device::ErrorPage;

/// Bytes of a handshake kept for its event when it fails (a ClientHello fits).
const MAX_CAPTURED: usize = 4096;
/// Longest SNI recorded (a DNS name is at most 253 bytes).
const MAX_SNI: usize = 253;

/// The socket under TLS: keeps the first bytes the client sent.
pub(super) struct Capture {
    inner: TcpStream,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl AsyncRead for Capture {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        let mut seen = this.seen.lock().unwrap_or_else(|e| e.into_inner());
        let room = MAX_CAPTURED.saturating_sub(seen.len());
        if room > 0 {
            let new = &buf.filled()[before..];
            seen.extend_from_slice(&new[..new.len().min(room)]);
        }
        res
    }
}

impl AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl Stream for TlsStream<Capture> {
    async fn wait_byte(&self, _limit: Duration) -> bool {
        // TLS records cannot be peeked: these connections are never parked.
        false
    }
}

/// The SNI as an event tag: a DNS name (rustls checked its syntax), lowercase, bounded, with
/// anything else dropped.
fn sni_tag(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(MAX_SNI)
        .collect();
    format!("sni:{}", clean.to_ascii_lowercase())
}

pub(super) async fn serve_tls(mut conn: Connection, stream: TcpStream, acceptor: TlsAcceptor) {
    let limits = conn.shared.limits;
    let timeout = Duration::from_secs_f64(limits.header_timeout_secs);
    conn.tags.push("tls".to_owned());
    // A TLS connection starts with a handshake record (0x16); anything else is most likely
    // plain HTTP sent to the HTTPS port.
    let mut first = [0u8; 1];
    if matches!(stream.peek(&mut first).await, Ok(1..)) && first[0] != 0x16 {
        plain_on_tls(conn, stream, timeout).await;
        return;
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let capture = Capture { inner: stream, seen: seen.clone() };
    let handshake = tokio::select! {
        r = tokio::time::timeout(timeout, acceptor.accept(capture)) => r,
        _ = conn.stop.changed() => return,
    };
    let tag = match handshake {
        Ok(Ok(tls)) => {
            if let Some(name) = tls.get_ref().1.server_name() {
                conn.tags.push(sni_tag(name));
            }
            conn.serve(tls, false).await;
            return;
        }
        Ok(Err(_)) => "tls:handshake",
        Err(_) => "tls:handshake-timeout",
    };
    // The client got rustls' alert (or nothing, on a timeout); the event keeps what it sent.
    let raw = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    conn.record_salvaged(&raw, tag, 0).await;
}

/// Plain HTTP on the HTTPS port: recorded as sent (the head, bounded), answered with the
/// device's 400 page in plain HTTP as nginx does, then closed.
async fn plain_on_tls(conn: Connection, mut stream: TcpStream, timeout: Duration) {
    let max = conn.shared.limits.max_head_bytes;
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(timeout, async {
        let mut buf = [0u8; 2048];
        while raw.len() < max && !raw.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n.min(max - raw.len())]),
            }
        }
    })
    .await;
    let reply = conn.device.error(ErrorPage::BadRequest, EventKind::HttpMalformed);
    conn.record_salvaged(&raw, "tls:plain-http", reply.status).await;
    let bytes = raw_response(&conn.device, &reply);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = stream.write_all(&bytes).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sni_tags_are_bounded_dns_names() {
        assert_eq!(sni_tag("Router.Example.COM"), "sni:router.example.com");
        assert_eq!(sni_tag("a b<script>"), "sni:abscript");
        assert_eq!(sni_tag(&"a".repeat(1000)).len(), 4 + MAX_SNI);
    }
}
