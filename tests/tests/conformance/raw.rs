//! Raw access for the scenarios that need it: a guest worker spoken to by capnp-rpc
//! directly (the reference implementation, without polyhost's connection layer), with
//! every byte the host sends recorded, and a decoder that lists those messages.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use capnp_rpc::{rpc_capnp, rpc_twoparty_capnp, twoparty, RpcSystem};
use futures::io::AsyncWrite;
use polyhost::polyhost_capnp::worker_process;
use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};

/// Forwards writes and keeps a copy of every byte written.
pub struct Tee<W> {
    inner: W,
    sent: Arc<Mutex<Vec<u8>>>,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Tee<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            this.sent.lock().unwrap().extend_from_slice(&buf[..n]);
        }
        polled
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// A capnp-rpc connection to a worker socket (call from inside a `LocalSet`): the
/// worker's bootstrap `WorkerProcess`, and the bytes the host has sent so far.
pub fn connect(
    socket: std::os::unix::net::UnixStream,
) -> (worker_process::Client, Arc<Mutex<Vec<u8>>>) {
    socket.set_nonblocking(true).expect("nonblocking socket");
    let stream = tokio::net::UnixStream::from_std(socket).expect("socket registers with tokio");
    let (read, write) = stream.into_split();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let tee = Tee {
        inner: write.compat_write(),
        sent: sent.clone(),
    };
    let network = twoparty::VatNetwork::new(
        read.compat(),
        tee,
        rpc_twoparty_capnp::Side::Client,
        Default::default(),
    );
    let mut rpc = RpcSystem::new(Box::new(network), None);
    let worker: worker_process::Client = rpc.bootstrap(rpc_twoparty_capnp::Side::Server);
    tokio::task::spawn_local(rpc);
    (worker, sent)
}

/// One RPC message the host sent, as much as the scenarios look at.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    Call {
        question: u32,
        target: Target,
        interface_id: u64,
        method_id: u16,
    },
    Other(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Import(u32),
    /// A promised answer: question id and pointer path.
    Promised(u32, Vec<u16>),
}

/// Decodes the framed messages in `bytes`.
pub fn decode(bytes: &[u8]) -> Vec<Sent> {
    let mut rest = bytes;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let message = capnp::serialize::read_message_from_flat_slice(&mut rest, Default::default())
            .expect("the host sent whole messages");
        let m: rpc_capnp::message::Reader<'_> = message.get_root().expect("a Message");
        out.push(match m.which() {
            Ok(rpc_capnp::message::Call(Ok(c))) => {
                let target = match c.get_target().expect("target").which() {
                    Ok(rpc_capnp::message_target::ImportedCap(id)) => Target::Import(id),
                    Ok(rpc_capnp::message_target::PromisedAnswer(Ok(p))) => {
                        let ops = p.get_transform().expect("transform");
                        let path = ops
                            .iter()
                            .filter_map(|op| match op.which() {
                                Ok(rpc_capnp::promised_answer::op::GetPointerField(i)) => Some(i),
                                _ => None,
                            })
                            .collect();
                        Target::Promised(p.get_question_id(), path)
                    }
                    _ => panic!("unexpected call target"),
                };
                Sent::Call {
                    question: c.get_question_id(),
                    target,
                    interface_id: c.get_interface_id(),
                    method_id: c.get_method_id(),
                }
            }
            Ok(rpc_capnp::message::Bootstrap(_)) => Sent::Other("bootstrap".into()),
            Ok(rpc_capnp::message::Return(_)) => Sent::Other("return".into()),
            Ok(rpc_capnp::message::Finish(_)) => Sent::Other("finish".into()),
            Ok(rpc_capnp::message::Release(_)) => Sent::Other("release".into()),
            Ok(rpc_capnp::message::Resolve(_)) => Sent::Other("resolve".into()),
            Ok(rpc_capnp::message::Disembargo(_)) => Sent::Other("disembargo".into()),
            Ok(_) => Sent::Other("other".into()),
            Err(e) => Sent::Other(format!("unknown: {e}")),
        });
    }
    out
}
