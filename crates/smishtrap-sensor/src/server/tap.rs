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
    /// Bytes read but not given to hyper yet, always the end of the stream read so far:
    /// accepted bytes hyper has no room for, then the unfinished head held back.
    pub(super) held: Vec<u8>,
    /// Bytes read from the socket so far.
    pub(super) read_total: u64,
    /// A refused head that pipelined valid requests precede: hyper gets those, then the end
    /// of the stream, answers them and finishes; then the connection answers the refused one.
    pub(super) deferred: Option<Malformed>,
}

impl Tap {
    pub(super) fn new(shadow: Shadow) -> Tap {
        Tap {
            shadow,
            malformed: None,
            last_activity: Instant::now(),
            head_started: None,
            in_flight: 0,
            write_blocked: false,
            held: Vec::new(),
            read_total: 0,
            deferred: None,
        }
    }

    /// Held bytes hyper may have: with a deferred failure, those before the refused head.
    fn ready_len(&self) -> usize {
        if self.deferred.is_some() {
            let held_start = self.read_total - self.held.len() as u64;
            let before = self.shadow.head_start().saturating_sub(held_start);
            usize::try_from(before).unwrap_or(usize::MAX).min(self.held.len())
        } else {
            self.held.len().saturating_sub(self.shadow.pending_len())
        }
    }

    /// The bytes sent from the stream offset `from` on that are still here (all held bytes
    /// when the earlier ones already went to hyper).
    pub(super) fn held_from(&self, from: u64) -> &[u8] {
        let held_start = self.read_total - self.held.len() as u64;
        let skip = usize::try_from(from.saturating_sub(held_start)).unwrap_or(usize::MAX);
        self.held.get(skip..).unwrap_or_default()
    }
}

/// A keep-alive connection silent this long gives its HTTP buffers back (see `serve`).
pub(super) const PARK_AFTER: Duration = Duration::from_millis(250);

/// The socket as hyper sees it: every byte read is fed to the shadow reader first; once the
/// stream is malformed, hyper gets no more bytes and the connection answers instead.
pub(super) struct TappedIo<S = TcpStream> {
    pub(super) inner: S,
    pub(super) tap: Arc<Mutex<Tap>>,
    pub(super) bad: Arc<Notify>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TappedIo<S> {
    /// Bytes go to hyper only once the shadow reader accepted them: a head is held back until
    /// it is complete and valid, so hyper never sees a head it would refuse (and answer with
    /// its own bare error page); bodies pass at once.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            {
                let mut tap = this.tap.lock().unwrap_or_else(|e| e.into_inner());
                if tap.malformed.is_some() {
                    return Poll::Pending;
                }
                let ready = tap.ready_len();
                if ready > 0 {
                    let n = ready.min(buf.remaining());
                    buf.put_slice(&tap.held[..n]);
                    tap.held.drain(..n);
                    return Poll::Ready(Ok(()));
                }
                if tap.deferred.is_some() {
                    // The valid requests are all hyper's: it answers them and ends.
                    return Poll::Ready(Ok(()));
                }
            }
            let before = buf.filled().len();
            match Pin::new(&mut this.inner).poll_read(cx, buf) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
            let mut tap = this.tap.lock().unwrap_or_else(|e| e.into_inner());
            let new = &buf.filled()[before..];
            if new.is_empty() {
                if tap.held.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                // End of stream inside a head: record it, never hand hyper half a head.
                tap.malformed = Some(Malformed::Incomplete);
                drop(tap);
                this.bad.notify_one();
                return Poll::Pending;
            }
            let now = Instant::now();
            tap.last_activity = now;
            tap.read_total += new.len() as u64;
            let was_pending = tap.shadow.head_pending();
            let heads_before = tap.shadow.heads_done();
            match tap.shadow.feed(new) {
                Ok(()) => {
                    if !tap.shadow.head_pending() {
                        tap.head_started = None;
                    } else if !was_pending || tap.shadow.heads_done() != heads_before {
                        // The header timeout runs per head: from the first byte of this one.
                        tap.head_started = Some(now);
                    }
                    if tap.held.is_empty() {
                        // Usual case: everything but the start of an unfinished head goes on.
                        let keep = new.len() - tap.shadow.pending_len().min(new.len());
                        let withheld = new[keep..].to_vec();
                        tap.held = withheld;
                        buf.set_filled(before + keep);
                        if keep > 0 {
                            return Poll::Ready(Ok(()));
                        }
                    } else {
                        let new = new.to_vec();
                        tap.held.extend_from_slice(&new);
                        buf.set_filled(before);
                    }
                }
                Err(m) => {
                    let new = new.to_vec();
                    tap.held.extend_from_slice(&new);
                    buf.set_filled(before);
                    tap.deferred = Some(m);
                    if tap.ready_len() == 0 {
                        tap.deferred = None;
                        tap.malformed = Some(m);
                        drop(tap);
                        this.bad.notify_one();
                        return Poll::Pending;
                    }
                }
            }
        }
    }
}

impl<S> TappedIo<S> {
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

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TappedIo<S> {
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
        let this = self.get_mut();
        if this.tap.lock().unwrap_or_else(|e| e.into_inner()).deferred.is_some() {
            // The refused head still gets its answer on this socket.
            return Pin::new(&mut this.inner).poll_flush(cx);
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}
