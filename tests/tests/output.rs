//! Worker output reaches the host as `tracing` events whatever the worker writes: bytes
//! that are not UTF-8, and megabytes without a newline, in Python and Node workers
//! (`tests/plugins/fault_plugin.{py,mjs}`). The forwarding goes on afterwards (the
//! worker's next writes succeed), every event is bounded, and nothing is lost.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use polyhost::{CallError, ExitReason, PoolBuilder};
use polyhost::{MAX_OUTPUT_LINE as MAX_LINE, STDERR_TAIL_LINES};
use polyhost_tests::fault_pool;
use polyhost_tests::faults::FaultsClient;
use polyhost_tests::for_adapters;
use tokio::sync::Notify;
use tracing::field::{Field, Visit};

for_adapters!(
    bytes_that_are_not_utf8_do_not_stop_forwarding,
    ten_megabytes_without_newline_arrive_in_bounded_pieces,
    output_arrives_as_events_tagged_with_the_worker,
);

/// One `polyhost::worker` event: the worker's pid, its stream, the text (the first
/// 200 characters) and its length in bytes.
#[derive(Debug, Clone)]
struct Line {
    worker: u64,
    level: tracing::Level,
    pid: u64,
    stream: String,
    text: String,
    len: usize,
}

/// Every worker-output event of this test binary, and a signal for each new one.
#[derive(Default)]
struct Collected {
    lines: Mutex<Vec<Line>>,
    added: Notify,
}

fn collected() -> &'static Arc<Collected> {
    static C: OnceLock<Arc<Collected>> = OnceLock::new();
    C.get_or_init(|| {
        let c = Arc::new(Collected::default());
        tracing::subscriber::set_global_default(Collector(c.clone()))
            .expect("no other subscriber in this test binary");
        c
    })
}

/// A subscriber that keeps `polyhost::worker` events only.
struct Collector(Arc<Collected>);

#[derive(Default)]
struct Fields {
    worker: u64,
    pid: u64,
    stream: String,
    message: String,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "pid" => self.pid = value,
            "worker" => self.worker = value,
            _ => {}
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "stream" {
            self.stream = value.to_string();
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for Collector {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == "polyhost::worker"
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let line = Line {
            worker: f.worker,
            level: *event.metadata().level(),
            pid: f.pid,
            stream: f.stream,
            len: f.message.len(),
            text: f.message.chars().take(200).collect(),
        };
        self.0.lines.lock().unwrap().push(line);
        self.0.added.notify_waiters();
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Waits (up to 30 s) until the events seen so far satisfy `done`.
async fn wait_for(what: &str, done: impl Fn(&[Line]) -> bool) -> Vec<Line> {
    let c = collected();
    let wait = async {
        loop {
            let added = c.added.notified();
            tokio::pin!(added);
            added.as_mut().enable();
            {
                let lines = c.lines.lock().unwrap();
                if done(&lines) {
                    return lines.clone();
                }
            }
            added.await;
        }
    };
    match tokio::time::timeout(Duration::from_secs(30), wait).await {
        Ok(lines) => lines,
        Err(_) => panic!("{what}: not seen within 30 s"),
    }
}

fn pool(adapter: &str) -> PoolBuilder {
    collected();
    fault_pool(adapter, 1)
        .restart_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .shutdown_timeouts(Duration::from_secs(2), Duration::from_secs(1))
}

fn of(lines: &[Line], pid: u32, stream: &str) -> Vec<Line> {
    lines
        .iter()
        .filter(|l| l.pid == u64::from(pid) && l.stream == stream)
        .cloned()
        .collect()
}

async fn bytes_that_are_not_utf8_do_not_stop_forwarding(adapter: &str) {
    let pool = pool(adapter).start().await.unwrap();
    let faults: FaultsClient = pool.client();
    let pid = faults.pid().await.unwrap().pid;
    for stream in ["stdout", "stderr"] {
        faults
            .write(stream.into(), b"before \xff\xfe\n".to_vec())
            .await
            .unwrap_or_else(|e| panic!("[{adapter}] {stream}: {e}"));
        faults
            .write(stream.into(), format!("after on {stream}\n").into_bytes())
            .await
            .unwrap_or_else(|e| panic!("[{adapter}] the write after the bad bytes failed: {e}"));
        let lines = wait_for("the line after the bad bytes", |l| {
            of(l, pid, stream)
                .iter()
                .any(|l| l.text == format!("after on {stream}"))
        })
        .await;
        let texts: Vec<String> = of(&lines, pid, stream)
            .into_iter()
            .map(|l| l.text)
            .collect();
        assert!(
            texts.contains(&"before \u{fffd}\u{fffd}".to_string()),
            "[{adapter}] the bad bytes arrive replaced: {texts:?}"
        );
    }
    // The stderr tail of a crash report holds the replaced line too.
    let err = faults.exit(3).await.unwrap_err();
    match &err {
        CallError::WorkerCrashed {
            exit, stderr_tail, ..
        } => {
            assert_eq!(*exit, ExitReason::Code(3), "[{adapter}] {err}");
            assert!(
                stderr_tail.contains(&"before \u{fffd}\u{fffd}".to_string())
                    && stderr_tail.contains(&"after on stderr".to_string()),
                "[{adapter}] {stderr_tail:?}"
            );
        }
        other => panic!("[{adapter}] expected WorkerCrashed, got {other:?}"),
    }
    pool.shutdown().await;
}

async fn ten_megabytes_without_newline_arrive_in_bounded_pieces(adapter: &str) {
    const SIZE: usize = 10 * 1024 * 1024;
    let pool = pool(adapter).start().await.unwrap();
    let faults: FaultsClient = pool.client();
    let pid = faults.pid().await.unwrap().pid;
    faults
        .write("stdout".into(), vec![b'y'; SIZE])
        .await
        .unwrap();
    // No newline yet, and the worker is still running: the pieces arrive anyway.
    let lines = wait_for("10 MB of stdout", |l| {
        of(l, pid, "stdout").iter().map(|l| l.len).sum::<usize>() >= SIZE
    })
    .await;
    let stdout = of(&lines, pid, "stdout");
    assert!(
        stdout.iter().all(|l| l.len <= MAX_LINE),
        "[{adapter}] longest event: {} bytes",
        stdout.iter().map(|l| l.len).max().unwrap_or(0)
    );
    assert_eq!(
        stdout.iter().map(|l| l.len).sum::<usize>(),
        SIZE,
        "[{adapter}]"
    );

    // The same on stderr, then a crash: the tail is bounded too.
    faults
        .write("stderr".into(), vec![b'z'; SIZE])
        .await
        .unwrap();
    let err = faults.exit(4).await.unwrap_err();
    let CallError::WorkerCrashed { stderr_tail, .. } = &err else {
        panic!("[{adapter}] expected WorkerCrashed, got {err:?}");
    };
    assert!(stderr_tail.len() <= STDERR_TAIL_LINES, "[{adapter}]");
    assert!(
        !stderr_tail.is_empty() && stderr_tail.iter().all(|l| l.len() <= MAX_LINE),
        "[{adapter}] tail line lengths: {:?}",
        stderr_tail.iter().map(String::len).collect::<Vec<_>>()
    );
    pool.shutdown().await;
}

/// A worker's stdout lines are INFO events and its stderr lines WARN events of target
/// `polyhost::worker`, tagged with the worker id, its pid and the stream; the same
/// worker's lines carry the same id, and its crash report names it.
async fn output_arrives_as_events_tagged_with_the_worker(adapter: &str) {
    let pool = pool(adapter).start().await.unwrap();
    let faults: FaultsClient = pool.client();
    let pid = faults.pid().await.unwrap().pid;
    faults
        .write("stdout".into(), b"to stdout\n".to_vec())
        .await
        .unwrap();
    faults
        .write("stderr".into(), b"to stderr\n".to_vec())
        .await
        .unwrap();
    let lines = wait_for("both lines", |l| {
        of(l, pid, "stdout").iter().any(|l| l.text == "to stdout")
            && of(l, pid, "stderr").iter().any(|l| l.text == "to stderr")
    })
    .await;
    let out = of(&lines, pid, "stdout")
        .into_iter()
        .find(|l| l.text == "to stdout")
        .unwrap();
    let err = of(&lines, pid, "stderr")
        .into_iter()
        .find(|l| l.text == "to stderr")
        .unwrap();
    assert_eq!(out.level, tracing::Level::INFO, "[{adapter}]");
    assert_eq!(err.level, tracing::Level::WARN, "[{adapter}]");
    assert!(
        out.worker > 0 && out.worker == err.worker,
        "[{adapter}] {out:?} {err:?}"
    );
    let crash = faults.exit(5).await.unwrap_err();
    assert!(
        crash
            .to_string()
            .contains(&format!("worker {} (pid {pid})", out.worker)),
        "[{adapter}] {crash}"
    );
    pool.shutdown().await;
}
