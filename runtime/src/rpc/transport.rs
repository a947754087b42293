//! The byte stream a connection runs over.
//!
//! A [`Transport`] is handed to [`Connection::start`](crate::rpc::connection::Connection::start)
//! and opened on the connection's I/O thread, inside the runtime that drives it, into a
//! read half and a write half; the connection never sees what they are. A worker's
//! socketpair end ([`std::os::unix::net::UnixStream`]) is the one transport today;
//! another stream (TCP, TLS over TCP) is another impl of this trait.

use futures::io::{AsyncRead, AsyncWrite};
use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};

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
    fn open(self: Box<Self>) -> std::io::Result<(ReadHalf, WriteHalf)>;
}

/// The host's end of a worker's socketpair.
impl Transport for std::os::unix::net::UnixStream {
    fn describe(&self) -> String {
        "unix socket".into()
    }

    fn open(self: Box<Self>) -> std::io::Result<(ReadHalf, WriteHalf)> {
        self.set_nonblocking(true)?;
        let (read, write) = tokio::net::UnixStream::from_std(*self)?.into_split();
        Ok((Box::new(read.compat()), Box::new(write.compat_write())))
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
