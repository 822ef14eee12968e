//! The tapped socket: hyper reads through the shadow reader.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::shadow::{Malformed, Shadow};

/// State shared by the tapped socket, the request handler and the connection watchdog.
#[derive(Debug)]
pub(super) struct Tap {
    pub(super) shadow: Shadow,
    pub(super) malformed: Option<Malformed>,
    pub(super) last_activity: Instant,
    pub(super) head_started: Option<Instant>,
    pub(super) in_flight: u32,
    /// The last write could not complete: hyper may still hold unsent bytes.
    pub(super) write_blocked: bool,
}

/// A keep-alive connection silent this long gives its HTTP buffers back (see `serve`).
pub(super) const PARK_AFTER: Duration = Duration::from_millis(250);

/// The socket as hyper sees it: every byte read is fed to the shadow reader first; once the
/// stream is malformed, hyper gets no more bytes and the watchdog answers instead.
pub(super) struct TappedIo {
    pub(super) inner: TcpStream,
    pub(super) tap: Arc<Mutex<Tap>>,
    pub(super) bad: Arc<Notify>,
}

impl AsyncRead for TappedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        {
            let tap = this.tap.lock().unwrap_or_else(|e| e.into_inner());
            if tap.malformed.is_some() {
                return Poll::Pending;
            }
        }
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                let mut tap = this.tap.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                tap.last_activity = now;
                let was_pending = tap.shadow.head_pending();
                match tap.shadow.feed(new) {
                    Ok(()) => {
                        if tap.shadow.head_pending() {
                            if !was_pending {
                                tap.head_started = Some(now);
                            }
                        } else {
                            tap.head_started = None;
                        }
                    }
                    Err(m) => {
                        tap.malformed = Some(m);
                        drop(tap);
                        this.bad.notify_one();
                        // Hide the bad bytes from hyper: it must not answer them itself.
                        buf.set_filled(before);
                        return Poll::Pending;
                    }
                }
            }
        }
        res
    }
}

impl TappedIo {
    fn note_write(&self, res: &Poll<io::Result<usize>>) {
        let mut tap = self.tap.lock().unwrap_or_else(|e| e.into_inner());
        match res {
            Poll::Pending => tap.write_blocked = true,
            Poll::Ready(Ok(n)) if *n > 0 => {
                tap.write_blocked = false;
                tap.last_activity = Instant::now();
            }
            Poll::Ready(_) => {}
        }
    }
}

impl AsyncWrite for TappedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write(cx, data);
        this.note_write(&res);
        res
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.note_write(&res);
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
