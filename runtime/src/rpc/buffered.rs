//! The buffering between a connection's RPC system and its transport: what keeps the
//! number of system calls per message low.
//!
//! capnp-rpc writes every message as a segment table and segments, each a `write`, and
//! flushes after every message; it reads a message as a header and a body, each a
//! `read`. Unbuffered, a call costs the host four syscalls to send and two to receive,
//! and the peer wakes up for each piece that arrives on its own.
//!
//! - Reads go through a [`futures::io::BufReader`]: one `read` takes in every message
//!   that has arrived.
//! - Writes go through a [`CoalescingWriter`]: messages are appended to a buffer, and
//!   a flusher task on the same I/O thread writes the buffer out when it next runs,
//!   that is once the tasks already woken have run. Everything the RPC system sends in
//!   one turn of the thread (the calls of one batch of commands, the returns and
//!   finishes they cause) leaves in one `write`. A flush returns once the message is
//!   in the buffer; an error of the underlying write fails the writes after it.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures::io::{AsyncWrite, AsyncWriteExt};

use crate::rpc::transport::{ReadHalf, WriteHalf};

/// Bytes a read takes in at once.
const READ_BUFFER: usize = 64 * 1024;

/// Bytes the write buffer may hold before writers wait for the flusher.
const WRITE_HIGH_WATER: usize = 1024 * 1024;

/// Wraps the halves of an opened transport; must run inside a `LocalSet`, where the
/// writer's flusher task is spawned.
pub(crate) fn buffered(read: ReadHalf, write: WriteHalf) -> (ReadHalf, WriteHalf) {
    let read = Box::new(futures::io::BufReader::with_capacity(READ_BUFFER, read));
    (read, Box::new(CoalescingWriter::new(write)))
}

#[derive(Default)]
struct State {
    /// Bytes accepted and not yet written.
    pending: Vec<u8>,
    /// The underlying write failed: every later write and flush fails with this.
    failed: Option<(io::ErrorKind, String)>,
    /// The writer asked to close: the flusher writes what is left, then closes.
    closing: bool,
    closed: bool,
    /// The flusher, parked until there is something to write.
    flusher: Option<Waker>,
    /// A writer waiting for room (over [`WRITE_HIGH_WATER`]) or for the close.
    writer: Option<Waker>,
}

impl State {
    fn error(&self) -> Option<io::Error> {
        self.failed
            .as_ref()
            .map(|(kind, message)| io::Error::new(*kind, message.clone()))
    }

    fn wake_flusher(&mut self) {
        if let Some(w) = self.flusher.take() {
            w.wake();
        }
    }
}

/// The write half capnp-rpc is given (see the module doc).
pub(crate) struct CoalescingWriter {
    state: Rc<RefCell<State>>,
}

impl CoalescingWriter {
    fn new(inner: WriteHalf) -> CoalescingWriter {
        let state = Rc::new(RefCell::new(State::default()));
        tokio::task::spawn_local(flush_loop(inner, state.clone()));
        CoalescingWriter { state }
    }
}

/// What was accepted is still written (the last messages before a disconnect, an
/// abort among them), then the transport is closed.
impl Drop for CoalescingWriter {
    fn drop(&mut self) {
        let mut s = self.state.borrow_mut();
        s.closing = true;
        s.wake_flusher();
    }
}

/// Writes out what the writer accepted, a buffer at a time, until it closes or the
/// write fails.
async fn flush_loop(mut inner: WriteHalf, state: Rc<RefCell<State>>) {
    let mut out = Vec::new();
    loop {
        let closing = std::future::poll_fn(|cx| {
            let mut s = state.borrow_mut();
            if !s.pending.is_empty() {
                std::mem::swap(&mut s.pending, &mut out);
                if let Some(w) = s.writer.take() {
                    w.wake();
                }
                return Poll::Ready(false);
            }
            if s.closing || s.failed.is_some() {
                return Poll::Ready(true);
            }
            s.flusher = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        let written = if closing {
            inner.close().await
        } else {
            inner.write_all(&out).await
        };
        out.clear();
        if out.capacity() > WRITE_HIGH_WATER {
            // A large message passed: do not keep its buffer for the connection's life.
            out = Vec::new();
        }
        let mut s = state.borrow_mut();
        if let Err(e) = written {
            s.failed = Some((e.kind(), e.to_string()));
        }
        if closing || s.failed.is_some() {
            s.closed = true;
            s.pending = Vec::new();
            if let Some(w) = s.writer.take() {
                w.wake();
            }
            return;
        }
    }
}

impl AsyncWrite for CoalescingWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut s = self.state.borrow_mut();
        if let Some(e) = s.error() {
            return Poll::Ready(Err(e));
        }
        if s.closed || s.closing {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the connection's writer is closed",
            )));
        }
        if s.pending.len() >= WRITE_HIGH_WATER {
            s.writer = Some(cx.waker().clone());
            s.wake_flusher();
            return Poll::Pending;
        }
        s.pending.extend_from_slice(data);
        s.wake_flusher();
        Poll::Ready(Ok(data.len()))
    }

    /// Accepted bytes are the flusher's to write: a flush only reports its failure.
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.state.borrow().error() {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut s = self.state.borrow_mut();
        if s.closed {
            return Poll::Ready(s.error().map_or(Ok(()), Err));
        }
        s.closing = true;
        s.writer = Some(cx.waker().clone());
        s.wake_flusher();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::transport::Transport;
    use futures::AsyncReadExt;

    fn local<F: std::future::Future>(f: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&rt, f)
    }

    /// A buffered writer on one end of a socketpair (inside a `LocalSet`), and the
    /// other end.
    fn writer_and_peer() -> (WriteHalf, Box<dyn Transport>) {
        let (host, peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let (read, write) = (Box::new(host) as Box<dyn Transport>).open().unwrap();
        (buffered(read, write).1, Box::new(peer))
    }

    #[test]
    fn writes_of_one_turn_leave_in_one_write_and_arrive_in_order() {
        local(async {
            let (mut write, peer) = writer_and_peer();
            let (mut peer_read, _peer_write) = peer.open().unwrap();
            for i in 0..100u8 {
                write.write_all(&[i; 3]).await.unwrap();
                write.flush().await.unwrap();
            }
            let mut got = vec![0u8; 300];
            peer_read.read_exact(&mut got).await.unwrap();
            let want: Vec<u8> = (0..100u8).flat_map(|i| [i; 3]).collect();
            assert_eq!(got, want);
        });
    }

    #[test]
    fn more_than_the_high_water_mark_waits_for_the_flusher_and_all_of_it_arrives() {
        local(async {
            let (mut write, peer) = writer_and_peer();
            let (mut peer_read, _peer_write) = peer.open().unwrap();
            let chunk = vec![7u8; 256 * 1024];
            let total = 4 * WRITE_HIGH_WATER;
            let reader = tokio::task::spawn_local(async move {
                let mut got = vec![0u8; total];
                peer_read.read_exact(&mut got).await.unwrap();
                got.iter().all(|b| *b == 7)
            });
            for _ in 0..total / chunk.len() {
                write.write_all(&chunk).await.unwrap();
            }
            write.close().await.unwrap();
            assert!(reader.await.unwrap());
        });
    }

    #[test]
    fn a_failed_write_fails_the_writes_after_it() {
        local(async {
            let (mut write, peer) = writer_and_peer();
            drop(peer);
            let mut failed = None;
            // The first writes are accepted; the flusher's write then fails (EPIPE),
            // and a later write reports it.
            for _ in 0..1000 {
                if let Err(e) = write.write_all(b"x").await {
                    failed = Some(e);
                    break;
                }
                tokio::task::yield_now().await;
            }
            let e = failed.expect("a write after the peer closed fails");
            assert_eq!(e.kind(), io::ErrorKind::BrokenPipe, "{e}");
        });
    }
}
