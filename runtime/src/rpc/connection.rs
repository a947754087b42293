//! One RPC connection to a worker, over a [`Transport`].
//!
//! capnp-rpc's `RpcSystem` is `!Send`, so each connection runs as a task on one of the
//! host's shared I/O threads (`executor`), each a current-thread tokio runtime with a
//! `LocalSet`. Everything else talks to it
//! through a channel of owned commands: calls carry their encode/decode closures
//! (`OutgoingCall`), replies come back as owned values. Capabilities on the connection
//! live in a table on the I/O thread; users hold `Send` [`Capability`] handles naming a
//! table slot, and dropping the last one releases the capability remotely. Local
//! objects ([`Dispatch`]) are exported as capnp servers whose handlers run on the
//! user's runtime.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};

use capnp_rpc::{rpc_twoparty_capnp, twoparty, RpcSystem};
use futures::future::LocalBoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use tokio::sync::{mpsc, oneshot};

use crate::error::{CallError, ErrorKind};
use crate::executor;
use crate::rpc::bridge::{Bridge, Table, MAX_CALLBACKS_IN_FLIGHT};
use crate::rpc::buffered::buffered;
use crate::rpc::capability::{Capability, Dispatch, OutgoingCall};
use crate::rpc::handle::{Adopt, CapId, Command, Shared};
use crate::rpc::network::Network;
use crate::rpc::transport::Transport;
use crate::task::AbortOnDrop;

/// Limits against a broken or hostile peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Words a received message may hold and readers may visit (capnp's traversal
    /// limit); larger messages are refused and the connection is cut.
    pub max_message_words: usize,
    /// Pointer nesting depth readers follow.
    pub nesting: i32,
}

impl Default for Limits {
    fn default() -> Self {
        // 64 MiB per message, capnp's default nesting.
        Limits {
            max_message_words: 8 * 1024 * 1024,
            nesting: 64,
        }
    }
}

/// A running connection. Dropping it closes the connection.
pub struct Connection {
    shared: Arc<Shared>,
    done: tokio::sync::watch::Receiver<bool>,
}

impl Connection {
    /// Starts the connection on `transport` (as a task at `place`: a shared I/O thread,
    /// or the host's own `LocalSet`) and returns the connection and the peer's
    /// bootstrap capability. Handlers of exported objects run on `handlers`;
    /// capabilities the peer sends pass through `adopt`.
    pub fn start(
        transport: impl Transport,
        name: String,
        limits: Limits,
        place: &executor::Place,
        handlers: tokio::runtime::Handle,
        adopt: Option<Adopt>,
    ) -> std::io::Result<(Connection, Capability)> {
        let transport: Box<dyn Transport> = Box::new(transport);
        let (commands, rx) = mpsc::unbounded_channel();
        let (done_tx, done) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Shared {
            name: name.clone(),
            commands,
            next_id: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            reason: Mutex::new(None),
            done: done_tx,
            adopt,
        });
        let bootstrap_id = 0;
        let io_shared = shared.clone();
        place.run(Box::new(move || {
            Box::pin(async move {
                // Ends the connection also when the task is dropped unfinished (its
                // LocalSet dropped), so that calls and the pool learn of it.
                let ended = Ended(io_shared.clone());
                let reason =
                    io_main(transport, limits, io_shared, rx, handlers, bootstrap_id).await;
                ended.0.finish(reason);
            })
        }))?;
        let bootstrap = shared.new_handle(bootstrap_id);
        Ok((Connection { shared, done }, bootstrap))
    }

    /// Exports a local object on this connection (once it has ended, a handle whose
    /// calls fail as disconnected).
    pub fn export(&self, object: Arc<dyn Dispatch>) -> Capability {
        self.shared
            .export(object)
            .unwrap_or_else(|| Capability::broken(self.shared.disconnected("export")))
    }

    /// Why the connection ended, once it has.
    pub fn close_reason(&self) -> Option<String> {
        self.shared
            .reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Resolves when the connection has ended.
    pub async fn closed(&self) {
        let mut done = self.done.clone();
        let _ = done.wait_for(|d| *d).await;
    }

    /// Closes the connection; pending calls fail as disconnected.
    pub fn close(&self) {
        let _ = self.shared.commands.send(Command::Close);
    }
}

/// Ends the connection with its reason, or as dropped if it is dropped first.
struct Ended(Arc<Shared>);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0
            .finish("the task running the connection was dropped (its LocalSet is gone)".into());
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close();
    }
}

fn call_error(method: &str, shared: &Shared, e: capnp::Error) -> CallError {
    // capnp-rpc marks exceptions the peer sent with this prefix; any other error is
    // the connection failing here (the peer broke the protocol or sent garbage).
    let remote = e.extra.strip_prefix("remote exception: ");
    match (e.kind, remote) {
        (capnp::ErrorKind::Disconnected, _) => shared.disconnected(method),
        (_, None) => CallError::Disconnected {
            method: method.to_string(),
            worker: shared.name.clone(),
            reason: format!("the connection failed: {}", e.extra),
        },
        (kind, Some(reason)) => {
            let reason = reason.to_string();
            let (head, traceback) = match reason.split_once(TRACEBACK_MARKER) {
                Some((head, tb)) => (
                    head.trim_end().to_string(),
                    tb.trim_start_matches('\n').to_string(),
                ),
                None => (reason, String::new()),
            };
            let (exception_type, message) = match head.split_once(": ") {
                Some((t, m)) if !t.is_empty() && !t.contains(char::is_whitespace) => {
                    (t.to_string(), m.to_string())
                }
                _ => (format!("{kind:?}"), head),
            };
            CallError::Remote {
                method: method.to_string(),
                kind: ErrorKind::from(kind),
                exception_type,
                message,
                traceback,
            }
        }
    }
}

/// Separates `Type: message` from the guest's traceback in an exception's reason
/// (capnp's `trace` field does not survive every implementation); `tracebackMarker`
/// of schema/polyhost.capnp.
pub use crate::polyhost::TRACEBACK_MARKER;

async fn io_main(
    transport: Box<dyn Transport>,
    limits: Limits,
    shared: Arc<Shared>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    handlers: tokio::runtime::Handle,
    bootstrap_id: CapId,
) -> String {
    let described = transport.describe();
    let (read, write) = match transport.open() {
        Ok(halves) => halves,
        Err(e) => return format!("cannot open the {described}: {e}"),
    };
    let (read, write) = buffered(read, write);
    let options = capnp::message::ReaderOptions {
        traversal_limit_in_words: Some(limits.max_message_words),
        nesting_limit: limits.nesting,
    };
    let network = twoparty::VatNetwork::new(read, write, rpc_twoparty_capnp::Side::Client, options);
    let mut rpc = RpcSystem::new(Box::new(Network(network)), None);
    let bootstrap: capnp::capability::Client = rpc.bootstrap(rpc_twoparty_capnp::Side::Server);
    let disconnector = rpc.get_disconnector();
    let table = Rc::new(RefCell::new(Table {
        caps: HashMap::from([(bootstrap_id, bootstrap)]),
    }));
    let bridge = Rc::new(Bridge {
        table: table.clone(),
        shared: shared.clone(),
        handlers,
        callbacks: Arc::new(tokio::sync::Semaphore::new(MAX_CALLBACKS_IN_FLIGHT)),
    });
    // The thread runs other connections too: whatever this one started ends with it.
    let mut rpc_task = AbortOnDrop(tokio::task::spawn_local(rpc));
    // Calls in flight, polled by this loop rather than spawned as tasks of their own:
    // a call costs no task, and they end with the connection.
    let mut calls: Calls = FuturesUnordered::new();
    let mut batch = Vec::new();
    loop {
        // `biased`: polled in order, without drawing a random start on every wake.
        tokio::select! {
            biased;
            ended = &mut rpc_task.0 => {
                return match ended {
                    Ok(Ok(())) => "the worker closed the connection".into(),
                    Ok(Err(e)) => format!("connection failed: {e}"),
                    Err(e) => format!("connection task failed: {e}"),
                };
            }
            received = commands.recv_many(&mut batch, COMMAND_BATCH) => {
                if received == 0 {
                    let _ = disconnector.await;
                    return "closed by the host".into();
                }
                // Every command that arrived since the last wake, in one pass.
                for command in batch.drain(..) {
                    match command {
                        Command::Close => {
                            let _ = disconnector.await;
                            return "closed by the host".into();
                        }
                        Command::Release(id) => {
                            table.borrow_mut().caps.remove(&id);
                        }
                        Command::Export { id, object } => {
                            let client = bridge.server_for(object);
                            table.borrow_mut().caps.insert(id, client);
                        }
                        Command::Call { cap, call, pipeline, reply } => {
                            start_call(&bridge, &mut calls, cap, call, pipeline, reply)
                        }
                    }
                }
            }
            Some(answered) = calls.next(), if !calls.is_empty() => {
                answer(&mut calls, answered).await;
            }
        }
    }
}

/// Hands the callers the outcome of `first` and of every other call already answered.
/// When several have been, the RPC system is let to read the answers already buffered
/// first, so that a burst of answers wakes each caller's thread once, not once per
/// answer.
async fn answer(calls: &mut Calls, first: Option<Answer>) {
    let mut answers: Vec<Answer> = first.into_iter().collect();
    let mut collect = |answers: &mut Vec<Answer>| {
        while let Some(Some(answered)) = calls.next().now_or_never() {
            answers.extend(answered);
        }
    };
    collect(&mut answers);
    if answers.len() > 1 {
        tokio::task::yield_now().await;
        collect(&mut answers);
    }
    for (reply, outcome) in answers {
        let _ = reply.send(outcome);
    }
}

/// Commands taken from the channel per wake of the I/O loop.
const COMMAND_BATCH: usize = 64;

/// The calls a connection has in flight.
type Calls = FuturesUnordered<LocalBoxFuture<'static, Option<Answer>>>;

/// What a call in flight resolves to: its caller's reply channel and the outcome to
/// send on it; none when the caller gave up.
type Reply = oneshot::Sender<Result<Box<dyn Any + Send>, CallError>>;
type Answer = (Reply, Result<Box<dyn Any + Send>, CallError>);

fn start_call(
    bridge: &Rc<Bridge>,
    calls: &mut Calls,
    cap: CapId,
    call: OutgoingCall,
    pipeline: Vec<(Vec<u16>, CapId)>,
    reply: Reply,
) {
    let method = call.method.name;
    // The request holds its own reference to the capability: no clone of ours.
    let request = bridge.table.borrow().caps.get(&cap).map(|client| {
        client.new_call::<capnp::any_pointer::Owned, capnp::any_pointer::Owned>(
            call.method.interface_id,
            call.method.method_id,
            None,
        )
    });
    let Some(mut request) = request else {
        let error = capnp::Error::failed(format!("{method}: capability {cap} was released"));
        for (_, id) in pipeline {
            bridge
                .table
                .borrow_mut()
                .caps
                .insert(id, capnp_rpc::new_broken_cap(error.clone()));
        }
        let _ = reply.send(Err(CallError::Protocol {
            message: error.extra,
        }));
        return;
    };
    if let Err(e) = (call.write_params)(request.get(), &**bridge) {
        for (_, id) in pipeline {
            bridge
                .table
                .borrow_mut()
                .caps
                .insert(id, capnp_rpc::new_broken_cap(e.clone()));
        }
        let _ = reply.send(Err(CallError::Codec {
            method: method.to_string(),
            message: e.to_string(),
        }));
        return;
    }
    let bridge = bridge.clone();
    let read_results = call.read_results;
    let mut reply = reply;
    let remote = request.send();
    for (path, id) in pipeline {
        let mut target = remote.pipeline.noop();
        for index in path {
            target = target.get_pointer_field(index);
        }
        bridge
            .table
            .borrow_mut()
            .caps
            .insert(id, capnp::capability::Client::new(target.as_cap()));
    }
    calls.push(Box::pin(async move {
        let response = remote.promise;
        tokio::select! {
            biased;
            result = response => {
                let outcome = match result {
                    Ok(response) => response
                        .get()
                        .and_then(|r| read_results(r, &*bridge))
                        .map_err(|e| CallError::Codec { method: method.to_string(), message: e.to_string() }),
                    Err(e) => Err(call_error(method, &bridge.shared, e)),
                };
                Some((reply, outcome))
            }
            // The caller dropped its future: dropping the response sends Finish, which
            // cancels the call in the worker.
            _ = reply.closed() => None,
        }
    }));
}
