//! The fixed set of threads the host's own I/O with workers runs on: their RPC
//! connections and the forwarding of their stdout and stderr.
//!
//! capnp-rpc's `RpcSystem` is `!Send`, so a connection lives on one thread, in a
//! current-thread tokio runtime with a `LocalSet`. Instead of threads per worker,
//! which would come and go with every worker (and leave glibc a malloc arena per
//! thread that ever ran, so a host whose workers restart grows), the process has up to
//! [`MAX_THREADS`] such threads, one per core, started on first use and kept; each
//! task goes to the one running the fewest.
//!
//! A host that drives a `LocalSet` on a current-thread runtime may have a pool's
//! connections run there instead ([`Place::Local`]): calls made on that thread then
//! reach their connection without crossing threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use futures::future::LocalBoxFuture;
use tokio::sync::mpsc;

/// The most I/O threads a process runs, whatever its core count.
pub(crate) const MAX_THREADS: usize = 4;

/// Builds a task's future on the thread that runs it (it need not be `Send`).
pub(crate) type Job = Box<dyn FnOnce() -> LocalBoxFuture<'static, ()> + Send>;

struct Thread {
    jobs: mpsc::UnboundedSender<Job>,
    running: Arc<AtomicUsize>,
}

fn threads() -> &'static [Thread] {
    static THREADS: OnceLock<Vec<Thread>> = OnceLock::new();
    THREADS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (0..cores.clamp(1, MAX_THREADS))
            .filter_map(|i| start_thread(i).ok())
            .collect()
    })
}

fn start_thread(index: usize) -> std::io::Result<Thread> {
    let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
    let running = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name(format!("polyhost-io-{index}"))
        .spawn(move || {
            // Without a runtime the thread ends, and starts on it fail (see `run`).
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                while let Some(job) = rx.recv().await {
                    tokio::task::spawn_local(job());
                }
            });
        })?;
    Ok(Thread { jobs, running })
}

/// Where a task of the host's I/O runs.
#[derive(Clone, Default)]
pub(crate) enum Place {
    /// On the least busy of the shared I/O threads.
    #[default]
    Shared,
    /// As a task of a `LocalSet` the host drives; a task on it spawns what is sent here.
    Local(mpsc::UnboundedSender<Job>),
}

impl Place {
    /// Tasks of `set`, spawned when `set` is next driven.
    pub(crate) fn local(set: &tokio::task::LocalSet) -> Place {
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        set.spawn_local(async move {
            while let Some(job) = rx.recv().await {
                tokio::task::spawn_local(job());
            }
        });
        Place::Local(jobs)
    }

    /// Runs the future `job` builds here, until it ends.
    pub(crate) fn run(&self, job: Job) -> std::io::Result<()> {
        match self {
            Place::Shared => run(job),
            Place::Local(jobs) => jobs.send(job).map_err(|_| {
                std::io::Error::other("the LocalSet this pool's connections run on is gone")
            }),
        }
    }
}

/// Runs the future `job` builds on the least busy I/O thread, until it ends.
pub(crate) fn run(job: Job) -> std::io::Result<()> {
    let gone = || std::io::Error::other("no I/O thread could be started");
    let thread = threads()
        .iter()
        .filter(|t| !t.jobs.is_closed())
        .min_by_key(|t| t.running.load(Ordering::Relaxed))
        .ok_or_else(gone)?;
    let running = thread.running.clone();
    running.fetch_add(1, Ordering::Relaxed);
    let counted: Job = Box::new(move || {
        let fut = job();
        Box::pin(async move {
            fut.await;
            running.fetch_sub(1, Ordering::Relaxed);
        })
    });
    thread.jobs.send(counted).map_err(|_| gone())
}
