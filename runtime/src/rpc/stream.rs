//! Streams over `Sink(T)` capabilities (schema/polyhost.capnp).
//!
//! The callee of a method with a `Sink(T)` parameter produces items into the sink the
//! caller passed. On the Rust side the caller sees an [`ItemStream`] (a
//! `futures::Stream`), served by a local sink object whose `push` completes only when
//! the stream has taken its batch, so the producer's `-> stream` window gives
//! backpressure. A producing Rust handler gets a [`SinkWriter`]. Batches travel as an
//! `AnyList` whose elements are `T` ([`ListItem`]). Pushes into a local sink are
//! ordered by the sink itself, not queued by capnp-rpc, so a producer that ignores
//! its window is bounded by the connection's `MAX_CALLBACKS_IN_FLIGHT` (see `LocalSink`).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use capnp::private::layout::{
    PointerBuilder, PointerReader, StructBuilder, StructReader, StructSize,
};
use capnp::traits::{FromPointerBuilder, FromPointerReader};
use capnp::{data_list, struct_list, text_list};
use futures::channel::mpsc;
use futures::future::BoxFuture;
use futures::{FutureExt, SinkExt, Stream, StreamExt};

use crate::error::{CallError, ErrorKind, HandlerError};
use crate::polyhost::Failure;
use crate::polyhost::SinkMethods;
use crate::rpc::capability::{
    CallOptions, CapBridge, Capability, CapabilityHandle, Dispatch, DispatchError, Invocation,
    Method, OutgoingCall, SinkHandle,
};
use crate::rpc::codec::{FromReader, IntoBuilder, Struct};
use crate::rpc::dispatch::no_results;

/// `Sink(T)`'s interface id and methods (generated from schema/polyhost.capnp).
pub const SINK_INTERFACE_ID: u64 = SinkMethods::PUSH.interface_id;
const PUSH: u16 = SinkMethods::PUSH.method_id;
const END: u16 = SinkMethods::END.method_id;
const PUSH_METHOD: Method = SinkMethods::PUSH;
const END_METHOD: Method = SinkMethods::END;
/// Pushed batches buffered between a local sink and its [`ItemStream`] beyond the one
/// each push hands over: none, so a push returns (and the producer's window opens)
/// only once the stream has taken its batch.
const BUFFER_BATCHES: usize = 0;

/// A type that can be a stream item: a struct, Text or Data.
pub trait ListItem: Sized + Send + 'static {
    fn read_batch(
        list: capnp::any_pointer::Reader<'_>,
        caps: &dyn CapBridge,
    ) -> capnp::Result<Vec<Self>>;
    fn write_batch(
        items: &Vec<Self>,
        list: capnp::any_pointer::Builder<'_>,
        caps: &dyn CapBridge,
    ) -> capnp::Result<()>;
}

impl<T: Struct + Send + 'static> ListItem for T {
    fn read_batch(
        list: capnp::any_pointer::Reader<'_>,
        caps: &dyn CapBridge,
    ) -> capnp::Result<Vec<Self>> {
        Vec::<T>::from_reader(list.get_as::<struct_list::Reader<'_, T::Raw>>()?, caps)
    }
    fn write_batch(
        items: &Vec<Self>,
        list: capnp::any_pointer::Builder<'_>,
        caps: &dyn CapBridge,
    ) -> capnp::Result<()> {
        items.into_builder(
            list.initn_as::<struct_list::Builder<'_, T::Raw>>(items.len() as u32),
            caps,
        )
    }
}

impl ListItem for String {
    fn read_batch(
        list: capnp::any_pointer::Reader<'_>,
        caps: &dyn CapBridge,
    ) -> capnp::Result<Vec<Self>> {
        Vec::<String>::from_reader(list.get_as::<text_list::Reader<'_>>()?, caps)
    }
    fn write_batch(
        items: &Vec<Self>,
        list: capnp::any_pointer::Builder<'_>,
        caps: &dyn CapBridge,
    ) -> capnp::Result<()> {
        items.into_builder(
            list.initn_as::<text_list::Builder<'_>>(items.len() as u32),
            caps,
        )
    }
}

impl ListItem for Vec<u8> {
    fn read_batch(
        list: capnp::any_pointer::Reader<'_>,
        caps: &dyn CapBridge,
    ) -> capnp::Result<Vec<Self>> {
        Vec::<Vec<u8>>::from_reader(list.get_as::<data_list::Reader<'_>>()?, caps)
    }
    fn write_batch(
        items: &Vec<Self>,
        list: capnp::any_pointer::Builder<'_>,
        caps: &dyn CapBridge,
    ) -> capnp::Result<()> {
        items.into_builder(
            list.initn_as::<data_list::Builder<'_>>(items.len() as u32),
            caps,
        )
    }
}

/// A params struct read at the layout level (Sink's params are generic over `T`).
struct RawIn<'a>(StructReader<'a>);

impl<'a> FromPointerReader<'a> for RawIn<'a> {
    fn get_from_pointer(
        reader: &PointerReader<'a>,
        default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(RawIn(reader.get_struct(default)?))
    }
}

/// `push (batch :AnyList)` and `end (error :Failure)`: one pointer each.
const ONE_POINTER: StructSize = StructSize {
    data: 0,
    pointers: 1,
};

struct RawOut<'a>(StructBuilder<'a>);

impl<'a> FromPointerBuilder<'a> for RawOut<'a> {
    fn init_pointer(builder: PointerBuilder<'a>, _size: u32) -> Self {
        RawOut(builder.init_struct(ONE_POINTER))
    }
    fn get_from_pointer(
        builder: PointerBuilder<'a>,
        default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(RawOut(builder.get_struct(ONE_POINTER, default)?))
    }
}

/// The local sink behind an [`ItemStream`].
///
/// `push` is not dispatched as a `-> stream` call: capnp-rpc would then queue the
/// pushes behind a running one without bound, inside the connection, when a producer
/// ignores its window. Each push and `end` is instead dispatched on arrival, so it
/// counts against the connection's `MAX_CALLBACKS_IN_FLIGHT` (beyond it: refused as
/// `overloaded`), and waits for the one before it, so items keep their order. A push
/// that was refused or cancelled breaks the stream: the consumer gets an error after
/// the items before it, never a silent gap.
struct LocalSink<T> {
    items: mpsc::Sender<Result<Vec<T>, CallError>>,
    method: &'static str,
    order: Arc<Order>,
    read: ReadBatch<T>,
}

/// Reads one pushed batch (an `AnyList` of `T`) into items.
pub type ReadBatch<T> = Arc<
    dyn Fn(capnp::any_pointer::Reader<'_>, &dyn CapBridge) -> capnp::Result<Vec<T>> + Send + Sync,
>;

impl<T> LocalSink<T> {
    fn new(
        items: mpsc::Sender<Result<Vec<T>, CallError>>,
        method: &'static str,
        read: ReadBatch<T>,
    ) -> Self {
        LocalSink {
            items,
            method,
            order: Arc::default(),
            read,
        }
    }
}

/// The arrival order of a sink's calls: each takes a number at dispatch and runs when
/// every call before it has finished (delivered, failed, or dropped without running).
#[derive(Default)]
struct Order {
    state: std::sync::Mutex<OrderState>,
    advanced: tokio::sync::Notify,
}

#[derive(Default)]
struct OrderState {
    /// The number the next dispatched call gets.
    next: u64,
    /// Every call numbered below this has finished.
    done: u64,
    /// Finished calls numbered above `done`.
    early: std::collections::BTreeSet<u64>,
    /// The first call that was refused or cancelled before it delivered its items.
    first_lost: Option<u64>,
    /// Whether the consumer was told about the loss.
    reported: bool,
}

impl Order {
    fn lock(&self) -> std::sync::MutexGuard<'_, OrderState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place in line for a call being dispatched now.
    fn take_turn(self: &Arc<Self>) -> Turn {
        let mut st = self.lock();
        let n = st.next;
        st.next += 1;
        Turn {
            order: self.clone(),
            n,
            finished: false,
        }
    }
}

/// One call's place in its sink's order; dropped before [`Turn::finish`] (the call was
/// refused or cancelled), it counts as lost.
struct Turn {
    order: Arc<Order>,
    n: u64,
    finished: bool,
}

impl Turn {
    /// Waits until every call before this one has finished; true when one of them was
    /// lost and the consumer has not been told yet (the caller tells it).
    async fn wait(&self) -> Result<bool, ()> {
        loop {
            let advanced = self.order.advanced.notified();
            tokio::pin!(advanced);
            advanced.as_mut().enable();
            {
                let mut st = self.order.lock();
                if st.done == self.n {
                    return match st.first_lost {
                        Some(lost) if lost < self.n => {
                            let tell = !st.reported;
                            st.reported = true;
                            if tell {
                                Ok(true)
                            } else {
                                Err(())
                            }
                        }
                        _ => Ok(false),
                    };
                }
            }
            advanced.await;
        }
    }

    fn finish(mut self, delivered: bool) {
        self.finished = true;
        self.mark(delivered);
    }

    fn mark(&self, delivered: bool) {
        let mut st = self.order.lock();
        if !delivered {
            st.first_lost = Some(st.first_lost.map_or(self.n, |l| l.min(self.n)));
        }
        st.early.insert(self.n);
        while st.early.first() == Some(&st.done) {
            st.early.pop_first();
            st.done += 1;
        }
        drop(st);
        self.order.advanced.notify_waiters();
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if !self.finished {
            self.mark(false);
        }
    }
}

/// The error the consumer sees after the items before a lost push.
fn lost_push(method: &'static str) -> CallError {
    CallError::Remote {
        method: method.to_string(),
        kind: ErrorKind::Overloaded,
        exception_type: "StreamBroken".into(),
        message: "a push of this stream was refused (the producer had too many calls in flight) or cancelled; the items after it are dropped".into(),
        traceback: String::new(),
    }
}

fn broken_stream() -> HandlerError {
    HandlerError::new(
        "StreamBroken",
        "an earlier push of this stream was refused or cancelled",
    )
}

impl<T: Send + 'static> Dispatch for LocalSink<T> {
    fn interface_name(&self) -> &'static str {
        "Sink"
    }
    fn interface_id(&self) -> u64 {
        SINK_INTERFACE_ID
    }
    fn dispatch(
        &self,
        interface_id: u64,
        method_id: u16,
        params: capnp::any_pointer::Reader<'_>,
        caps: &dyn CapBridge,
    ) -> Result<Invocation, DispatchError> {
        let p = params.get_as::<RawIn<'_>>()?.0;
        let mut tx = self.items.clone();
        let method = self.method;
        match (interface_id, method_id) {
            (SINK_INTERFACE_ID, PUSH) => {
                let batch = crate::rpc::codec::decoding(|| {
                    (self.read)(
                        capnp::any_pointer::Reader::new(p.get_pointer_field(0)),
                        caps,
                    )
                })?;
                let turn = self.order.take_turn();
                Ok(async move {
                    match turn.wait().await {
                        Ok(false) => {}
                        Ok(true) => {
                            let _ = tx.send(Err(lost_push(method))).await;
                            turn.finish(false);
                            return Err(broken_stream());
                        }
                        Err(()) => {
                            turn.finish(false);
                            return Err(broken_stream());
                        }
                    }
                    // The batch goes whole (one hand-over, one wake-up per push, not
                    // per item). A dropped stream is not an error for the producer's
                    // push; the call that feeds it is being cancelled.
                    if !batch.is_empty() {
                        let _ = tx.send(Ok(batch)).await;
                    }
                    turn.finish(true);
                    Ok(no_results())
                }
                .boxed())
            }
            (SINK_INTERFACE_ID, END) => {
                let failure = p.get_pointer_field(0);
                // The generated owned `Failure` reads it.
                let error = if failure.is_null() {
                    None
                } else {
                    Some(<Failure as Struct>::read(
                        failure.get_struct(None)?.into(),
                        caps,
                    )?)
                };
                let turn = self.order.take_turn();
                Ok(async move {
                    if let Ok(true) = turn.wait().await {
                        let _ = tx.send(Err(lost_push(method))).await;
                    }
                    turn.finish(true);
                    if let Some(Failure {
                        r#type,
                        message,
                        traceback,
                    }) = error
                    {
                        let _ = tx
                            .send(Err(CallError::Remote {
                                method: method.to_string(),
                                kind: ErrorKind::Failed,
                                exception_type: r#type,
                                message,
                                traceback,
                            }))
                            .await;
                    }
                    tx.close_channel();
                    Ok(no_results())
                }
                .boxed())
            }
            _ => Err(DispatchError::Unimplemented {
                interface: "Sink",
                interface_id,
                method_id,
            }),
        }
    }
}

/// Items a callee produces into a sink the caller passed, as a `Stream`. It ends when
/// the producer ends the sink and the call has returned; a failure of either is the
/// last item. Dropping it cancels the call.
pub struct ItemStream<T> {
    items: Option<mpsc::Receiver<Result<Vec<T>, CallError>>>,
    /// What is left of the batch being read.
    batch: std::vec::IntoIter<T>,
    call: Option<BoxFuture<'static, Result<(), CallError>>>,
    call_error: Option<CallError>,
}

impl<T: ListItem> ItemStream<T> {
    /// Exports a local sink on `cap`'s connection and starts `call` with it.
    pub fn open<F, Fut>(cap: &Capability, call: F) -> Self
    where
        F: FnOnce(SinkHandle<T>) -> Fut,
        Fut: std::future::Future<Output = Result<(), CallError>> + Send + 'static,
    {
        Self::open_reading(cap, Arc::new(|list, caps| T::read_batch(list, caps)), call)
    }
}

impl<T: Send + 'static> ItemStream<T> {
    /// [`ItemStream::open`] for items read by `read` (the JSON path's, whose item type
    /// is known only at run time).
    pub(crate) fn open_reading<F, Fut>(cap: &Capability, read: ReadBatch<T>, call: F) -> Self
    where
        F: FnOnce(SinkHandle<T>) -> Fut,
        Fut: std::future::Future<Output = Result<(), CallError>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(BUFFER_BATCHES);
        let sink = LocalSink::new(tx, "Sink.push", read);
        match cap.hook().export(Arc::new(sink)) {
            Ok(local) => ItemStream {
                items: Some(rx),
                batch: Vec::new().into_iter(),
                call: Some(call(SinkHandle::from_capability(local)).boxed()),
                call_error: None,
            },
            Err(e) => ItemStream {
                items: None,
                batch: Vec::new().into_iter(),
                call: None,
                call_error: Some(e),
            },
        }
    }
}

impl<T> ItemStream<T> {
    /// A stream that yields `error` and ends.
    pub fn failed(error: CallError) -> Self {
        ItemStream {
            items: None,
            batch: Vec::new().into_iter(),
            call: None,
            call_error: Some(error),
        }
    }
}

impl<T> Unpin for ItemStream<T> {}

impl<T> Stream for ItemStream<T> {
    type Item = Result<T, CallError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            // Items of a batch already here go first; the call is looked at only when
            // they run out (its failure comes after the items pushed before it anyway).
            if let Some(item) = self.batch.next() {
                return Poll::Ready(Some(Ok(item)));
            }
            if let Some(items) = self.items.as_mut() {
                match items.poll_next_unpin(cx) {
                    Poll::Ready(Some(Ok(batch))) => {
                        self.batch = batch.into_iter();
                        continue;
                    }
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                    Poll::Ready(None) => self.items = None,
                    Poll::Pending => {}
                }
            }
            if let Some(call) = self.call.as_mut() {
                if let Poll::Ready(result) = call.poll_unpin(cx) {
                    self.call = None;
                    if let Err(e) = result {
                        self.call_error = Some(e);
                    }
                }
            }
            if self.items.is_some() {
                if self.call_error.is_none() {
                    return Poll::Pending;
                }
                // The call failed while no batch was waiting: nothing more will come.
                self.items = None;
            }
            break;
        }
        if let Some(e) = self.call_error.take() {
            return Poll::Ready(Some(Err(e)));
        }
        if self.call.is_some() {
            return Poll::Pending;
        }
        Poll::Ready(None)
    }
}

/// Items per push, at most; also the most a writer buffers while the window is full.
pub const MAX_BATCH: usize = 4096;

/// The producing end of a `Sink(T)` a caller passed to a Rust handler.
///
/// Batching adapts to the consumer: a push goes out as soon as the stream window has
/// room; while it has none, items collect into the next batch, which doubles in size
/// (up to [`MAX_BATCH`]) each time the writer had to wait, and halves when it did not.
pub struct SinkWriter<T> {
    sink: Option<SinkHandle<T>>,
    pending: VecDeque<T>,
    batch: usize,
}

impl<T: ListItem + Sync> SinkWriter<T> {
    /// Wraps the sink from the params (a null sink makes every send fail).
    pub fn new(sink: Option<SinkHandle<T>>) -> Self {
        SinkWriter {
            sink,
            pending: VecDeque::new(),
            batch: 1,
        }
    }

    fn handle(&self) -> Result<&SinkHandle<T>, HandlerError> {
        self.sink
            .as_ref()
            .ok_or_else(|| HandlerError::new("ValueError", "the caller passed a null sink"))
    }

    /// Queues one item; pushes a batch when it is full. Returns when the stream window
    /// had room for that batch.
    pub async fn send(&mut self, item: T) -> Result<(), HandlerError> {
        self.pending.push_back(item);
        if self.pending.len() >= self.batch {
            self.flush().await?;
        }
        Ok(())
    }

    /// Pushes all queued items as one batch.
    pub async fn flush(&mut self) -> Result<(), HandlerError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch: Vec<T> = self.pending.drain(..).collect();
        let cap = self.handle()?.capability().clone();
        let call = OutgoingCall::to(PUSH_METHOD, CallOptions::default()).write_with(Arc::new(
            move |b, caps| {
                let params = b.init_as::<RawOut<'_>>().0;
                T::write_batch(
                    &batch,
                    capnp::any_pointer::Builder::new(params.get_pointer_field(0)),
                    caps,
                )
            },
        ));
        let mut sent = cap.hook().call_stream(call);
        let waited = match futures::poll!(&mut sent) {
            Poll::Ready(result) => {
                result.map_err(HandlerError::from)?;
                false
            }
            Poll::Pending => {
                sent.await.map_err(HandlerError::from)?;
                true
            }
        };
        self.batch = if waited {
            (self.batch * 2).min(MAX_BATCH)
        } else {
            (self.batch / 2).max(1)
        };
        Ok(())
    }

    /// Flushes and ends the stream.
    pub async fn finish(mut self) -> Result<(), HandlerError> {
        self.flush().await?;
        let cap = self.handle()?.capability().clone();
        let call =
            OutgoingCall::to(END_METHOD, CallOptions::default()).write_with(Arc::new(|b, _| {
                b.init_as::<RawOut<'_>>();
                Ok(())
            }));
        cap.hook()
            .call(call)
            .await
            .map(|_| ())
            .map_err(HandlerError::from)
    }
}
