//! The byte stream a connection runs over.
//!
//! A [`Transport`] is handed to [`Connection::start`](crate::rpc::connection::Connection::start)
//! and opened on the connection's I/O thread, inside the runtime that drives it, into a
//! read half and a write half; the connection never sees what they are. A worker's
//! socketpair end ([`std::os::unix::net::UnixStream`]) is the one transport today;
//! another stream (TCP, TLS over TCP) is another impl of this trait.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures::io::{AsyncRead, AsyncWrite};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// The read half of an opened transport.
pub(crate) type ReadHalf = Box<dyn AsyncRead + Unpin>;
/// The write half of an opened transport.
pub(crate) type WriteHalf = Box<dyn AsyncWrite + Unpin>;

/// A byte stream to one peer, not opened yet.
pub(crate) trait Transport: Send + 'static {
    /// What the peer is, for errors (`unix socket`, `tcp 10.0.0.2:7000`).
    fn describe(&self) -> String;

    /// Opens the stream on the thread that will drive it, inside its tokio runtime
    /// (the halves need not be `Send`).
    fn open(self: Box<Self>) -> io::Result<(ReadHalf, WriteHalf)>;
}

/// The host's end of a worker's socketpair, registered with the runtime for
/// readability only. A write is a plain non-blocking `send`; only one that would block
/// waits for room, through a registration for writability that lasts until that write
/// is done. (A socket registered for both is reported writable every time the peer
/// reads from it, and each report wakes the I/O thread for nothing.)
impl Transport for UnixStream {
    fn describe(&self) -> String {
        "unix socket".into()
    }

    fn open(self: Box<Self>) -> io::Result<(ReadHalf, WriteHalf)> {
        self.set_nonblocking(true)?;
        let socket = Rc::new(register(*self, Interest::READABLE)?);
        let write = SocketWrite {
            socket: socket.clone(),
            room: None,
        };
        Ok((Box::new(SocketRead(socket)), Box::new(write)))
    }
}

/// Registers `fd`, which it then owns, with the runtime for `interest`.
fn register<T: std::os::fd::AsRawFd>(fd: T, interest: Interest) -> io::Result<AsyncFd<T>> {
    // SAFETY: the AsyncFd owns `fd`, which is closed only after it is deregistered.
    unsafe { AsyncFd::register_with_interest(fd, interest) }.map_err(|e| e.into_parts().1)
}

struct SocketRead(Rc<AsyncFd<UnixStream>>);

impl AsyncRead for SocketRead {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut ready = std::task::ready!(self.0.poll_read_ready(cx))?;
            match rustix::io::read(self.0.get_ref(), &mut *buf) {
                // A read that did not fill the buffer took all there was: the next one
                // waits for the runtime's word rather than trying and failing.
                Ok(n) if n > 0 && n < buf.len() => {
                    ready.clear_ready();
                    return Poll::Ready(Ok(n));
                }
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(rustix::io::Errno::AGAIN) => ready.clear_ready(),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Poll::Ready(Err(e.into())),
            }
        }
    }
}

struct SocketWrite {
    socket: Rc<AsyncFd<UnixStream>>,
    /// A duplicate of the socket registered for writability, while a write waits.
    room: Option<AsyncFd<OwnedFd>>,
}

impl SocketWrite {
    fn send(&self, data: &[u8]) -> io::Result<usize> {
        Ok(rustix::net::send(
            self.socket.get_ref(),
            data,
            rustix::net::SendFlags::NOSIGNAL,
        )?)
    }
}

impl AsyncWrite for SocketWrite {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.room.is_none() {
            match self.send(data) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let copy = self.socket.get_ref().as_fd().try_clone_to_owned()?;
                    self.room = Some(register(copy, Interest::WRITABLE)?);
                }
                sent => return Poll::Ready(sent),
            }
        }
        loop {
            let Some(room) = &self.room else {
                unreachable!("registered above")
            };
            let mut ready = std::task::ready!(room.poll_write_ready(cx))?;
            match ready.try_io(|_| self.send(data)) {
                Ok(sent) => {
                    self.room = None;
                    return Poll::Ready(sent);
                }
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.socket.get_ref().shutdown(std::net::Shutdown::Write))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_socketpair_end_opens_into_halves_that_carry_bytes_both_ways() {
        let (host, peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let (mut read, mut write) = (Box::new(host) as Box<dyn Transport>).open().unwrap();
        let (mut peer_read, mut peer_write) =
            (Box::new(peer) as Box<dyn Transport>).open().unwrap();
        write.write_all(b"ping").await.unwrap();
        write.flush().await.unwrap();
        let mut got = [0u8; 4];
        peer_read.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping");
        peer_write.write_all(b"pong").await.unwrap();
        peer_write.flush().await.unwrap();
        read.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"pong");
    }
}
