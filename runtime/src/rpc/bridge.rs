//! The I/O thread's side of a connection: the capability table, the [`CapBridge`]
//! that maps capabilities between messages and handles, and the capnp servers that
//! serve local objects ([`Dispatch`]) to the worker, their handlers running on the
//! user's runtime.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use capnp::capability::{FromClientHook, Promise};
use capnp::private::capability::ClientHook;

use crate::error::HandlerError;
use crate::rpc::capability::{CapBridge, Capability, Dispatch, DispatchError};
use crate::rpc::handle::{CapId, ConnCap, Shared};
use crate::task::AbortOnDrop;

/// Host handlers one worker's calls may keep running at once; a call beyond that
/// fails at once with an `overloaded` exception in the worker, so a worker that floods
/// the host with callbacks grows neither its memory nor its tasks.
pub const MAX_CALLBACKS_IN_FLIGHT: usize = 256;

/// The I/O thread's state: the capability table.
pub(crate) struct Table {
    pub(crate) caps: HashMap<CapId, capnp::capability::Client>,
}

/// Maps capabilities between messages and handles, on the I/O thread.
#[derive(Clone)]
pub(crate) struct Bridge {
    pub(crate) table: Rc<RefCell<Table>>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) handlers: tokio::runtime::Handle,
    /// A permit per host handler running for this connection's peer.
    pub(crate) callbacks: Arc<tokio::sync::Semaphore>,
}

impl CapBridge for Bridge {
    fn import(&self, hook: Box<dyn ClientHook>) -> capnp::Result<Capability> {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        self.table
            .borrow_mut()
            .caps
            .insert(id, capnp::capability::Client::new(hook));
        let handle = self.shared.new_handle(id);
        Ok(match &self.shared.adopt {
            Some(adopt) => adopt(handle),
            None => handle,
        })
    }

    fn export(&self, cap: &Capability) -> capnp::Result<Box<dyn ClientHook>> {
        // A handle that adds only policy (an adopted one) travels as what it wraps.
        let mut cap = cap.clone();
        while let Some(inner) = cap.hook().forwards_to() {
            cap = inner;
        }
        let cap = &cap;
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
    pub(crate) fn server_for(&self, object: Arc<dyn Dispatch>) -> capnp::capability::Client {
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
