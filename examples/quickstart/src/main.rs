//! The polyhost quickstart: starts a pool of Python workers, a pool of one Node worker and
//! a pool of one Ruby worker for schema/greeter.capnp, calls each through the same
//! generated typed client, serves their callbacks from one Rust trait implementation, and
//! shuts down leaving no process behind.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use polyhost::{Adapter, HandlerError, Pool};

polyhost::include_bindings!();

use greeter::{CounterClient, GreeterClient, HostLogDispatch, HostLogHandler};

type Error = Box<dyn std::error::Error>;

/// The host's side of `HostLog`: workers call it.
struct Log {
    lines: AtomicUsize,
}

#[async_trait::async_trait]
impl HostLogHandler for Log {
    async fn log(&self, line: String) -> Result<bool, HandlerError> {
        self.lines.fetch_add(1, Ordering::Relaxed);
        println!("  host log <- {line}");
        Ok(true)
    }
}

/// Starts `size` workers of `adapter` ("python", "node" or "ruby") running the plugin
/// `entry`.
async fn start(adapter: &str, entry: &str, size: usize, log: &Arc<Log>) -> Result<Pool, Error> {
    let started = Instant::now();
    let pool = Pool::builder(Adapter::bundled(adapter)?, entry)
        .size(size)
        .module_path(concat!(env!("CARGO_MANIFEST_DIR"), "/plugin")) // the plugin code
        .bindings(&greeter::BINDINGS) // generated greeter_capnp.{py,mjs}, fingerprint check
        .callback(Arc::new(HostLogDispatch(log.clone())))
        .start()
        .await?;
    let stats = pool.stats();
    let forked = stats
        .template
        .map(|t| format!(" forked from template pid {t}"))
        .unwrap_or_default();
    println!(
        "started {adapter} pool: {} worker(s), pids {:?}{forked}, in {} ms",
        stats.workers,
        stats.pids,
        started.elapsed().as_millis()
    );
    Ok(pool)
}

/// The same calls, whatever language the workers behind `greeter` are written in.
async fn talk_to(greeter: &GreeterClient) -> Result<(), Error> {
    println!("greet: {}", greeter.greet("Ada".into()).await?);
    let counter: CounterClient = greeter
        .counter(41)
        .await?
        .ok_or("the worker returned no counter")?;
    println!(
        "counter: {} then {}",
        counter.next().await?,
        counter.next().await?
    );
    println!(
        "shout: {}",
        greeter.shout("capabilities both ways".into()).await?
    );
    Ok(())
}

/// Shuts `pool` down; the pids of its processes (workers, template) still running (none).
async fn shut_down(pool: Pool) -> Vec<u32> {
    let stats = pool.stats();
    let pids: Vec<u32> = stats.pids.into_iter().chain(stats.template).collect();
    pool.shutdown().await;
    pids.into_iter()
        .filter(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .init();
    let log = Arc::new(Log {
        lines: AtomicUsize::new(0),
    });

    let python = start("python", "greeter_plugin:make", 2, &log).await?;
    talk_to(&python.client()).await?;
    let node = start("node", "greeter_plugin.mjs:make", 1, &log).await?;
    talk_to(&node.client()).await?;
    let ruby = start("ruby", "greeter_plugin:make", 1, &log).await?;
    talk_to(&ruby.client()).await?;
    println!(
        "host handled {} callback(s)",
        log.lines.load(Ordering::Relaxed)
    );

    let (python_alive, node_alive, ruby_alive) = (
        shut_down(python).await,
        shut_down(node).await,
        shut_down(ruby).await,
    );
    println!(
        "shut down; worker processes still alive: python {python_alive:?}, node {node_alive:?}, ruby {ruby_alive:?}"
    );
    Ok(())
}
