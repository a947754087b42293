//! The polyhost quickstart: starts a pool of Python workers for schema/greeter.capnp,
//! calls them through the generated typed clients, serves their callbacks from a
//! Rust trait implementation, and shuts down leaving no process behind.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use polyhost::{Adapter, HandlerError, Pool};

polyhost::include_bindings!();

use greeter::{CounterClient, GreeterClient, HostLogDispatch, HostLogHandler};

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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into())).init();

    let log = Arc::new(Log { lines: AtomicUsize::new(0) });
    let started = std::time::Instant::now();
    let pool = Pool::builder(Adapter::bundled("python")?, "greeter_plugin:make")
        .size(2)
        .module_path(concat!(env!("OUT_DIR"), "/python")) // generated greeter_capnp.py
        .module_path(concat!(env!("CARGO_MANIFEST_DIR"), "/plugin")) // the plugin code
        .bindings(greeter::SCHEMA, greeter::FINGERPRINT)
        .callback(Arc::new(HostLogDispatch(log.clone())))
        .start()
        .await?;
    let stats = pool.stats();
    println!("started {} Python workers (pids {:?}) in {:?}", stats.workers, stats.pids, started.elapsed());

    let greeter: GreeterClient = pool.client();
    println!("greet: {}", greeter.greet("Ada".into()).await?);

    let counter: CounterClient = greeter.counter(41).await?.ok_or("the worker returned no counter")?;
    println!("counter: {} then {}", counter.next().await?, counter.next().await?);

    println!("shout: {}", greeter.shout("capabilities both ways".into()).await?);
    println!("host handled {} callback(s)", log.lines.load(Ordering::Relaxed));

    let pids = pool.stats().pids;
    drop(counter);
    pool.shutdown().await;
    let alive: Vec<u32> = pids.iter().copied().filter(|p| std::path::Path::new(&format!("/proc/{p}")).exists()).collect();
    println!("shut down; worker processes still alive: {alive:?}");
    Ok(())
}
