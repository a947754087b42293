//! One RPC connection to a worker, on its own I/O thread.
//!
//! capnp-rpc's `RpcSystem` is `!Send`, so each connection runs on a dedicated thread
//! with a current-thread tokio runtime and a `LocalSet`. Everything else talks to it
//! through a channel of owned commands: calls carry their encode/decode closures
//! (`OutgoingCall`), replies come back as owned values. Capabilities on the connection
//! live in a table on the I/O thread; users hold `Send` [`Capability`] handles naming a
//! table slot, and dropping the last one releases the capability remotely. Local
//! objects ([`Dispatch`]) are exported as capnp servers whose handlers run on the
//! user's runtime.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use capnp::capability::{FromClientHook, Promise};
use capnp::private::capability::ClientHook;
use capnp_rpc::{rpc_twoparty_capnp, twoparty, RpcSystem};
use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::{mpsc, oneshot};
use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};

use crate::capability::{Capability, CapabilityHook, OutgoingCall};
use crate::codec::CapBridge;
use crate::dispatch::{Dispatch, DispatchError};
use crate::error::{CallError, ErrorKind, HandlerError};

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

type CapId = u64;

enum Command {
    /// `pipeline`: capabilities to register from the answer before it arrives
    /// (pointer path from the results struct, table id the caller already holds).
    Call {
        cap: CapId,
        call: OutgoingCall,
        pipeline: Vec<(Vec<u16>, CapId)>,
        reply: oneshot::Sender<Result<Box<dyn Any + Send>, CallError>>,
    },
    Export {
        id: CapId,
        object: Arc<dyn Dispatch>,
    },
    Release(CapId),
    Close,
}

/// What the I/O thread and the handles share.
struct Shared {
    name: String,
    commands: mpsc::UnboundedSender<Command>,
    next_id: AtomicU64,
    closed: AtomicBool,
    reason: Mutex<Option<String>>,
    done: tokio::sync::watch::Sender<bool>,
}

impl Shared {
    fn disconnected(&self, method: &str) -> CallError {
        let reason = self
            .reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| "connection closed".into());
        CallError::Disconnected {
            method: method.to_string(),
            worker: self.name.clone(),
            reason,
        }
    }

    /// Registers `object` in the table (on the I/O thread) and returns its handle;
    /// `None` once the connection has ended.
    fn export(self: &Arc<Self>, object: Arc<dyn Dispatch>) -> Option<Capability> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.commands.send(Command::Export { id, object }).ok()?;
        Some(self.new_handle(id))
    }

    fn new_handle(self: &Arc<Self>, id: CapId) -> Capability {
        Capability::new(Arc::new(ConnCap {
            id,
            shared: self.clone(),
            stream_window: Arc::new(tokio::sync::Semaphore::new(STREAM_WINDOW_CALLS)),
            stream_error: Arc::default(),
        }))
    }
}

/// `-> stream` calls one capability may have in flight before senders wait.
pub const STREAM_WINDOW_CALLS: usize = 32;

/// Host handlers one worker's calls may keep running at once; a call beyond that
/// fails at once with an `overloaded` exception in the worker, so a worker that floods
/// the host with callbacks grows neither its memory nor its tasks.
pub const MAX_CALLBACKS_IN_FLIGHT: usize = 256;

/// A capability held in the connection's table.
struct ConnCap {
    id: CapId,
    shared: Arc<Shared>,
    /// Flow control of `-> stream` calls: a permit per call in flight.
    stream_window: Arc<tokio::sync::Semaphore>,
    /// The first failure of a stream call, reported by the next one.
    stream_error: Arc<Mutex<Option<CallError>>>,
}

impl Drop for ConnCap {
    fn drop(&mut self) {
        let _ = self.shared.commands.send(Command::Release(self.id));
    }
}

impl CapabilityHook for ConnCap {
    fn call(
        &self,
        call: OutgoingCall,
    ) -> BoxFuture<'static, Result<Box<dyn Any + Send>, CallError>> {
        let method = call.method_name;
        // The caller's deadline, else the method's: calls on capabilities a worker
        // returned (or that were pipelined) have no pool around them to enforce it.
        let deadline = call.options.timeout.or(call.default_timeout);
        let (reply, rx) = oneshot::channel();
        if self.shared.closed.load(Ordering::Acquire)
            || self
                .shared
                .commands
                .send(Command::Call {
                    cap: self.id,
                    call,
                    pipeline: vec![],
                    reply,
                })
                .is_err()
        {
            return futures::future::ready(Err(self.shared.disconnected(method))).boxed();
        }
        let shared = self.shared.clone();
        async move {
            let answer = async {
                rx.await
                    .unwrap_or_else(|_| Err(shared.disconnected(method)))
            };
            match deadline {
                None => answer.await,
                // Dropping the receiver on timeout cancels the call in the worker.
                Some(after) => tokio::time::timeout(after, answer)
                    .await
                    .unwrap_or_else(|_| {
                        Err(CallError::Timeout {
                            method: method.into(),
                            after,
                        })
                    }),
            }
        }
        .boxed()
    }

    /// Resolves once the call is sent within the stream window; its return frees the
    /// window slot, and a failure is reported by the next stream call.
    fn call_stream(&self, call: OutgoingCall) -> BoxFuture<'static, Result<(), CallError>> {
        let window = self.stream_window.clone();
        let error = self.stream_error.clone();
        let shared = self.shared.clone();
        let id = self.id;
        async move {
            if let Some(e) = error.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                return Err(e);
            }
            let permit = window
                .acquire_owned()
                .await
                .map_err(|_| shared.disconnected(call.method_name))?;
            let method = call.method_name;
            let (reply, rx) = oneshot::channel();
            if shared
                .commands
                .send(Command::Call {
                    cap: id,
                    call,
                    pipeline: vec![],
                    reply,
                })
                .is_err()
            {
                return Err(shared.disconnected(method));
            }
            tokio::spawn(async move {
                let outcome = rx
                    .await
                    .unwrap_or_else(|_| Err(shared.disconnected(method)));
                if let Err(e) = outcome {
                    error
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert(e);
                }
                drop(permit);
            });
            Ok(())
        }
        .boxed()
    }

    fn call_pipelined(&self, call: OutgoingCall, paths: Vec<Vec<u16>>) -> Vec<Capability> {
        let ids: Vec<CapId> = paths
            .iter()
            .map(|_| self.shared.next_id.fetch_add(1, Ordering::Relaxed))
            .collect();
        // Nobody waits for the results; the answer stays open while the pipelined
        // capabilities live (capnp-rpc keeps the question referenced by them).
        let (reply, _) = oneshot::channel();
        let pipeline = paths.into_iter().zip(ids.iter().copied()).collect();
        let _ = self.shared.commands.send(Command::Call {
            cap: self.id,
            call,
            pipeline,
            reply,
        });
        ids.into_iter()
            .map(|id| self.shared.new_handle(id))
            .collect()
    }

    fn export(&self, object: Arc<dyn Dispatch>) -> Result<Capability, CallError> {
        self.shared
            .export(object)
            .ok_or_else(|| self.shared.disconnected("export"))
    }

    fn describe(&self) -> String {
        self.shared.name.clone()
    }
}

/// A running connection. Dropping it closes the connection.
pub struct Connection {
    shared: Arc<Shared>,
    done: tokio::sync::watch::Receiver<bool>,
}

impl Connection {
    /// Starts the I/O thread on `socket` and returns the connection and the peer's
    /// bootstrap capability. Handlers of exported objects run on `handlers`.
    pub fn start(
        socket: UnixStream,
        name: String,
        limits: Limits,
        handlers: tokio::runtime::Handle,
    ) -> std::io::Result<(Connection, Capability)> {
        socket.set_nonblocking(true)?;
        let (commands, rx) = mpsc::unbounded_channel();
        let (done_tx, done) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Shared {
            name: name.clone(),
            commands,
            next_id: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            reason: Mutex::new(None),
            done: done_tx,
        });
        let bootstrap_id = 0;
        let io_shared = shared.clone();
        std::thread::Builder::new()
            .name(format!("polyhost-io-{name}"))
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        io_shared.finish(format!("cannot start the I/O runtime: {e}"));
                        return;
                    }
                };
                let local = tokio::task::LocalSet::new();
                let reason = local.block_on(
                    &runtime,
                    io_main(
                        socket,
                        limits,
                        io_shared.clone(),
                        rx,
                        handlers,
                        bootstrap_id,
                    ),
                );
                io_shared.finish(reason);
            })?;
        let bootstrap = shared.new_handle(bootstrap_id);
        Ok((Connection { shared, done }, bootstrap))
    }

    /// Exports a local object on this connection (once it has ended, a handle whose
    /// calls fail as disconnected).
    pub fn export(&self, object: Arc<dyn Dispatch>) -> Capability {
        self.shared
            .export(object)
            .unwrap_or_else(|| crate::pipeline::broken(self.shared.disconnected("export")))
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
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

impl Drop for Connection {
    fn drop(&mut self) {
        self.close();
    }
}

impl Shared {
    fn finish(&self, reason: String) {
        {
            let mut r = self.reason.lock().unwrap_or_else(|e| e.into_inner());
            if r.is_none() {
                *r = Some(reason);
            }
        }
        self.closed.store(true, Ordering::Release);
        let _ = self.done.send(true);
    }
}

/// The I/O thread's state: the capability table.
struct Table {
    caps: HashMap<CapId, capnp::capability::Client>,
}

/// Maps capabilities between messages and handles, on the I/O thread.
#[derive(Clone)]
struct Bridge {
    table: Rc<RefCell<Table>>,
    shared: Arc<Shared>,
    handlers: tokio::runtime::Handle,
    /// A permit per host handler running for this connection's peer.
    callbacks: Arc<tokio::sync::Semaphore>,
}

impl CapBridge for Bridge {
    fn import(&self, hook: Box<dyn ClientHook>) -> capnp::Result<Capability> {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        self.table
            .borrow_mut()
            .caps
            .insert(id, capnp::capability::Client::new(hook));
        Ok(self.shared.new_handle(id))
    }

    fn export(&self, cap: &Capability) -> capnp::Result<Box<dyn ClientHook>> {
        // A local object not bound to a connection yet: serve it on this one.
        if let Some(object) = cap.local_object() {
            return Ok(self.server_for(object.clone()).hook);
        }
        // A handle of this connection: the table holds its client.
        if let Some(own) = (cap.hook().as_ref() as &dyn Any).downcast_ref::<ConnCap>() {
            if Arc::ptr_eq(&own.shared, &self.shared) {
                return match self.table.borrow().caps.get(&own.id) {
                    Some(client) => Ok(client.hook.add_ref()),
                    None => Err(capnp::Error::failed(format!(
                        "capability {} was released",
                        own.id
                    ))),
                };
            }
        }
        Err(capnp::Error::failed(format!(
            "{:?} belongs to another connection; pass capabilities only to the worker they came from (or export a local object)",
            cap
        )))
    }
}

impl Bridge {
    fn server_for(&self, object: Arc<dyn Dispatch>) -> capnp::capability::Client {
        let server = DispatchServer {
            object,
            bridge: self.clone(),
        };
        capnp_rpc::new_client::<DynClient, DispatchServer>(server).0
    }
}

/// Serves a local [`Dispatch`] object as a capnp server on the I/O thread.
struct DispatchServer {
    object: Arc<dyn Dispatch>,
    bridge: Bridge,
}

#[derive(Clone)]
struct DispatchServerRc(Rc<DispatchServer>);

impl std::ops::Deref for DispatchServerRc {
    type Target = DispatchServer;
    fn deref(&self) -> &DispatchServer {
        &self.0
    }
}

impl capnp::capability::Server for DispatchServerRc {
    fn dispatch_call(
        self,
        interface_id: u64,
        method_id: u16,
        params: capnp::capability::Params<capnp::any_pointer::Owned>,
        mut results: capnp::capability::Results<capnp::any_pointer::Owned>,
    ) -> capnp::capability::DispatchCallResult {
        let this = self.0.clone();
        let streaming = this.object.is_streaming(interface_id, method_id);
        let started = params
            .get()
            .map_err(|e| DispatchError::Params(e.to_string()))
            .and_then(|p| {
                this.object
                    .dispatch(interface_id, method_id, p, &this.bridge)
            });
        let promise = match started {
            Err(DispatchError::Unimplemented { .. }) => {
                Promise::err(capnp::Error::unimplemented(format!(
                    "{} has no method {method_id} of interface {interface_id:#x}",
                    this.object.interface_name()
                )))
            }
            Err(e) => Promise::err(capnp::Error::failed(format!("ValueError: {e}"))),
            Ok(invocation) => {
                let Ok(permit) = this.bridge.callbacks.clone().try_acquire_owned() else {
                    return capnp::capability::DispatchCallResult::new(
                        Promise::err(capnp::Error::overloaded(format!(
                            "Overloaded: the host is already running {MAX_CALLBACKS_IN_FLIGHT} calls from this worker; wait for some of them to return"
                        ))),
                        streaming,
                    );
                };
                // The handler runs on the user's runtime; aborting its task when the
                // caller cancels (this future dropped) cancels the handler.
                let task = AbortOnDrop(this.bridge.handlers.spawn(async move {
                    let outcome = invocation.await;
                    drop(permit);
                    outcome
                }));
                Promise::from_future(async move {
                    let write = match task.wait().await {
                        Ok(Ok(write)) => write,
                        Ok(Err(HandlerError {
                            exception_type,
                            message,
                        })) => {
                            return Err(capnp::Error::failed(format!(
                                "{exception_type}: {message}"
                            )))
                        }
                        Err(join) => {
                            return Err(capnp::Error::failed(format!(
                                "HandlerPanic: the handler panicked: {join}"
                            )))
                        }
                    };
                    write(results.get(), &this.bridge)
                })
            }
        };
        capnp::capability::DispatchCallResult::new(promise, streaming)
    }

    fn as_ptr(&self) -> usize {
        Rc::as_ptr(&self.0) as *const () as usize
    }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    async fn wait(mut self) -> Result<T, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A client type capnp-rpc can build from a [`DispatchServer`].
struct DynClient(capnp::capability::Client);

impl FromClientHook for DynClient {
    fn new(hook: Box<dyn ClientHook>) -> Self {
        DynClient(capnp::capability::Client::new(hook))
    }
    fn into_client_hook(self) -> Box<dyn ClientHook> {
        self.0.hook
    }
    fn as_client_hook(&self) -> &dyn ClientHook {
        &*self.0.hook
    }
}

impl capnp::capability::FromServer<DispatchServer> for DynClient {
    type Dispatch = DispatchServerRc;
    fn from_server(s: Rc<DispatchServer>) -> DispatchServerRc {
        DispatchServerRc(s)
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
/// (capnp's `trace` field does not survive every implementation).
pub const TRACEBACK_MARKER: &str = "\n--- polyhost traceback ---\n";

async fn io_main(
    socket: UnixStream,
    limits: Limits,
    shared: Arc<Shared>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    handlers: tokio::runtime::Handle,
    bootstrap_id: CapId,
) -> String {
    let stream = match tokio::net::UnixStream::from_std(socket) {
        Ok(s) => s,
        Err(e) => return format!("cannot register the socket: {e}"),
    };
    let (read, write) = stream.into_split();
    let options = capnp::message::ReaderOptions {
        traversal_limit_in_words: Some(limits.max_message_words),
        nesting_limit: limits.nesting,
    };
    let network = twoparty::VatNetwork::new(
        read.compat(),
        write.compat_write(),
        rpc_twoparty_capnp::Side::Client,
        options,
    );
    let mut rpc = RpcSystem::new(Box::new(network), None);
    let bootstrap: capnp::capability::Client = rpc.bootstrap(rpc_twoparty_capnp::Side::Server);
    let disconnector = rpc.get_disconnector();
    let table = Rc::new(RefCell::new(Table {
        caps: HashMap::from([(bootstrap_id, bootstrap)]),
    }));
    let bridge = Bridge {
        table: table.clone(),
        shared: shared.clone(),
        handlers,
        callbacks: Arc::new(tokio::sync::Semaphore::new(MAX_CALLBACKS_IN_FLIGHT)),
    };
    let rpc_task = tokio::task::spawn_local(rpc);
    let mut rpc_task = std::pin::pin!(rpc_task);
    loop {
        tokio::select! {
            ended = &mut rpc_task => {
                return match ended {
                    Ok(Ok(())) => "the worker closed the connection".into(),
                    Ok(Err(e)) => format!("connection failed: {e}"),
                    Err(e) => format!("connection task failed: {e}"),
                };
            }
            command = commands.recv() => match command {
                None | Some(Command::Close) => {
                    let _ = disconnector.await;
                    return "closed by the host".into();
                }
                Some(Command::Release(id)) => {
                    table.borrow_mut().caps.remove(&id);
                }
                Some(Command::Export { id, object }) => {
                    let client = bridge.server_for(object);
                    table.borrow_mut().caps.insert(id, client);
                }
                Some(Command::Call { cap, call, pipeline, reply }) => start_call(&bridge, cap, call, pipeline, reply),
            }
        }
    }
}

fn start_call(
    bridge: &Bridge,
    cap: CapId,
    call: OutgoingCall,
    pipeline: Vec<(Vec<u16>, CapId)>,
    reply: oneshot::Sender<Result<Box<dyn Any + Send>, CallError>>,
) {
    let method = call.method_name;
    let Some(client) = bridge.table.borrow().caps.get(&cap).cloned() else {
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
    let mut request = client.new_call::<capnp::any_pointer::Owned, capnp::any_pointer::Owned>(
        call.interface_id,
        call.method_id,
        None,
    );
    if let Err(e) = (call.write_params)(request.get(), bridge) {
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
    tokio::task::spawn_local(async move {
        let response = remote.promise;
        tokio::select! {
            result = response => {
                let outcome = match result {
                    Ok(response) => response
                        .get()
                        .and_then(|r| read_results(r, &bridge))
                        .map_err(|e| CallError::Codec { method: method.to_string(), message: e.to_string() }),
                    Err(e) => Err(call_error(method, &bridge.shared, e)),
                };
                let _ = reply.send(outcome);
            }
            // The caller dropped its future: dropping the response sends Finish, which
            // cancels the call in the worker.
            _ = reply.closed() => {}
        }
    });
}
