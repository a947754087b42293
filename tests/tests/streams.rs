//! Streams between the host and Python workers: both directions, flow control that
//! bounds memory, errors after the items sent, and cancellation both ways.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use polyhost::{Adapter, CallError, Capability, CapabilityHandle, HandlerError, Pool, SinkWriter};
use polyhost_tests::stream_lab::{
    self, HostCounterClient, HostCounterDispatch, HostCounterHandler, HostFeedDispatch,
    HostFeedHandler, Item, StreamLabClient,
};
use polyhost_tests::{eventually, PLUGINS};

/// The host side of `HostFeed`.
#[derive(Default)]
struct Feed {
    stalls_started: AtomicU32,
    stalls_dropped: Arc<AtomicUsize>,
}

/// Counts a handler future dropped before it finished (cancelled).
struct DropFlag(Arc<AtomicUsize>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl HostFeedHandler for Feed {
    async fn feed(&self, count: u32, mut out: SinkWriter<Item>) -> Result<(), HandlerError> {
        for seq in 0..count {
            out.send(Item {
                seq,
                payload: u64::from(seq) * 2,
            })
            .await?;
        }
        out.finish().await
    }

    async fn counter(&self, start: i64) -> Result<Option<HostCounterClient>, HandlerError> {
        let counter = HostCounterDispatch(Arc::new(Counter(std::sync::Mutex::new(start))));
        Ok(Some(HostCounterClient::from_capability(Capability::local(
            Arc::new(counter),
        ))))
    }

    async fn stall(&self) -> Result<(), HandlerError> {
        self.stalls_started.fetch_add(1, Ordering::SeqCst);
        let _flag = DropFlag(self.stalls_dropped.clone());
        tokio::time::sleep(Duration::from_secs(30)).await;
        std::mem::forget(_flag);
        Ok(())
    }
}

/// A host-side object a worker gets through a callback.
struct Counter(std::sync::Mutex<i64>);

#[async_trait::async_trait]
impl HostCounterHandler for Counter {
    async fn next(&self) -> Result<i64, HandlerError> {
        let mut v = self.0.lock().unwrap();
        *v += 1;
        Ok(*v)
    }
}

async fn pool(feed: Arc<Feed>) -> Pool {
    Pool::builder(Adapter::bundled("python").unwrap(), "stream_plugin:make")
        .size(1)
        .module_path(PLUGINS)
        .bindings(&stream_lab::BINDINGS)
        .callback(Arc::new(HostFeedDispatch(feed)))
        .shutdown_timeouts(Duration::from_secs(2), Duration::from_secs(1))
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn worker_to_host_items_arrive_in_order() {
    let pool = pool(Arc::default()).await;
    let lab: StreamLabClient = pool.client();
    let items: Vec<Item> = lab.produce(10_000, 0).map(|r| r.unwrap()).collect().await;
    assert_eq!(items.len(), 10_000);
    assert!(items
        .iter()
        .enumerate()
        .all(|(i, it)| it.seq as usize == i && it.payload == 3 * i as u64));
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_error_mid_stream_arrives_after_the_items_sent() {
    let pool = pool(Arc::default()).await;
    let lab: StreamLabClient = pool.client();
    let results: Vec<Result<Item, CallError>> = lab.produce(100, 37).collect().await;
    let ok: Vec<&Item> = results
        .iter()
        .take_while(|r| r.is_ok())
        .map(|r| r.as_ref().unwrap())
        .collect();
    assert_eq!(ok.len(), 37, "the items before the failure all arrive");
    let errors: Vec<&CallError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(!errors.is_empty(), "then the failure");
    match errors[0] {
        CallError::Remote {
            exception_type,
            message,
            ..
        } => {
            assert_eq!(exception_type, "ValueError");
            assert!(message.contains("failed after 37 items"), "{message}");
        }
        other => panic!("expected the guest's ValueError, got {other:?}"),
    }
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flow_control_bounds_a_million_items_into_a_slow_consumer() {
    let pool = pool(Arc::default()).await;
    let lab: StreamLabClient = pool.client();
    let mut stream = lab.produce(1_000_000, 0);
    // Take a few items, then stop reading for a while: the producer must stall.
    for _ in 0..10 {
        stream.next().await.unwrap().unwrap();
    }
    // Stalled: the count stays the same over consecutive round trips to the worker
    // (the producer runs on the same event loop between them). Without flow control it
    // keeps growing, or stops only at 1M.
    let mut last = lab.progress().await.unwrap().produced;
    let mut same = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while same < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "the producer did not stall within 60 s: {last} items"
        );
        let now = lab.progress().await.unwrap().produced;
        same = if now == last { same + 1 } else { 0 };
        last = now;
    }
    let stalled = lab.progress().await.unwrap();
    eprintln!("stalled producer at {} items", stalled.produced);
    assert!(
        stalled.produced < 20_000,
        "a paused consumer let the producer run ahead by {} items",
        stalled.produced
    );
    let mut count = 10u32;
    while let Some(item) = stream.next().await {
        let item = item.unwrap();
        assert_eq!(item.seq, count);
        count += 1;
    }
    assert_eq!(count, 1_000_000);
    let done = lab.progress().await.unwrap();
    eprintln!("worker peak RSS {} KiB", done.peak_rss_kb);
    assert!(
        done.peak_rss_kb < 100 * 1024,
        "worker peak RSS {} KiB",
        done.peak_rss_kb
    );
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropping_the_stream_cancels_the_producer() {
    let pool = pool(Arc::default()).await;
    let lab: StreamLabClient = pool.client();
    let mut stream = lab.produce_forever();
    for _ in 0..100 {
        stream.next().await.unwrap().unwrap();
    }
    drop(stream);
    let lab2 = lab.clone();
    assert!(
        eventually(Duration::from_secs(5), || {
            let lab = lab2.clone();
            async move {
                lab.progress()
                    .await
                    .map(|p| p.cancelled == 1)
                    .unwrap_or(false)
            }
        })
        .await,
        "the producer saw its cancellation"
    );
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn host_to_worker_stream_through_a_callback() {
    let pool = pool(Arc::default()).await;
    let lab: StreamLabClient = pool.client();
    let n = 50_000u32;
    let got = lab.pull_from_host(n).await.unwrap();
    assert_eq!(got.received, n);
    assert_eq!(got.sum, (0..u64::from(n)).map(|s| s * 2).sum::<u64>());
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_cancelling_its_callback_cancels_the_rust_handler() {
    let feed = Arc::new(Feed::default());
    let pool = pool(feed.clone()).await;
    let lab: StreamLabClient = pool.client();
    lab.cancel_host_call(200).await.unwrap();
    assert_eq!(feed.stalls_started.load(Ordering::SeqCst), 1);
    let dropped = feed.stalls_dropped.clone();
    assert!(
        eventually(Duration::from_secs(5), || {
            let dropped = dropped.clone();
            async move { dropped.load(Ordering::SeqCst) == 1 }
        })
        .await,
        "the handler future was dropped when the worker cancelled"
    );
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_python_worker_pipelines_on_a_host_callback() {
    let pool = pool(Arc::default()).await;
    let lab: StreamLabClient = pool.client();
    let r = lab.pipeline_on_host(41).await.unwrap();
    assert_eq!(
        r.value, 42,
        "the call on the promised counter reached the host's counter"
    );
    assert_eq!(
        r.calls_sent_before_first_returned, 2,
        "both calls went out before the first returned"
    );
    pool.shutdown().await;
}
