//! The host's floor and the peer: a bare capnp-rpc client (capnp-rpc's `RpcSystem` on
//! one current-thread runtime, every call made on that same thread; no pool, no
//! handles, no spans) calling `Bench.echoBytes`, either on a polyhost worker (started
//! with `polyhost::worker::spawn`, given no callbacks at `start`) or on pycapnp, the C++
//! implementation inside Python (`tests/bench/pycapnp_echo.py`, installed on first use
//! into a virtualenv under `target/`).

use capnp::capability::FromClientHook;
use capnp_rpc::{rpc_twoparty_capnp, twoparty, RpcSystem};
use futures::stream::FuturesUnordered;
use polyhost::polyhost_capnp::worker_process;
use polyhost_tests::bench::BenchClient as TypedBench;
use polyhost_tests::bench_capnp::bench;
use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};

use super::*;

/// What the bare client's socket is connected to.
pub(crate) enum Peer {
    /// A polyhost worker: bootstrap `WorkerProcess`, `start`, then its `Bench` service.
    Worker,
    /// A server whose bootstrap capability is the `Bench` itself.
    Bootstrap,
}

/// Starts `spec`'s child, connects a bare capnp-rpc client on a thread of its own and
/// measures the same calls as the polyhost rows: p50 and calls/s at `IN_FLIGHT`.
pub(crate) fn bare_calls(spec: WorkerSpec, peer: Peer) -> Result<Calls, BoxError> {
    on_own_thread("the bare client", move |_| connect_and_measure(spec, peer))
}

/// Runs the future `start` makes on a thread of its own, in a `LocalSet` on one
/// current-thread runtime (as a host on one thread runs), and returns its calls.
pub(crate) fn on_own_thread<F, Fut>(what: &str, start: F) -> Result<Calls, BoxError>
where
    F: FnOnce(&tokio::task::LocalSet) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Calls, BoxError>> + 'static,
{
    std::thread::spawn(move || -> Result<Calls, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let local = tokio::task::LocalSet::new();
        let measured = start(&local);
        local
            .block_on(&runtime, measured)
            .map_err(|e| e.to_string())
    })
    .join()
    .map_err(|_| format!("{what}'s thread panicked"))?
    .map_err(Into::into)
}

async fn connect_and_measure(spec: WorkerSpec, peer: Peer) -> Result<Calls, BoxError> {
    let mut spawned = worker::spawn(&spec, 0)?;
    let pids = [spawned.child.id()];
    spawned.socket.set_nonblocking(true)?;
    let (read, write) = tokio::net::UnixStream::from_std(spawned.socket)?.into_split();
    let network = twoparty::VatNetwork::new(
        read.compat(),
        write.compat_write(),
        rpc_twoparty_capnp::Side::Client,
        Default::default(),
    );
    let mut rpc = RpcSystem::new(Box::new(network), None);
    let bootstrap: capnp::capability::Client = rpc.bootstrap(rpc_twoparty_capnp::Side::Server);
    tokio::task::spawn_local(rpc);
    let process: Option<worker_process::Client> = match peer {
        Peer::Worker => Some(bootstrap.clone().cast_to()),
        Peer::Bootstrap => None,
    };
    let client: bench::Client = match &process {
        Some(process) => bench_service(process).await?,
        None => bootstrap.cast_to(),
    };
    let result = measure(
        &pids,
        PIPELINED_CALLS,
        |n| sequential(&client, n),
        |n| pipelined(&client, n),
    )
    .await;
    drop(client);
    // A polyhost worker is asked to stop (so a profiled one writes its profile);
    // anything else is killed.
    match process {
        Some(process) => {
            let _ = process.shutdown_request().send().promise.await;
        }
        None => {
            let _ = spawned.child.kill();
        }
    }
    let _ = spawned.child.wait();
    result
}

/// `start` with no callbacks, then the worker's `Bench` service.
async fn bench_service(process: &worker_process::Client) -> Result<bench::Client, BoxError> {
    let mut start = process.start_request();
    start.get().init_callbacks(0);
    let started = start.send().promise.await?;
    for service in started.get()?.get_services()? {
        if service.get_interface_id() == TypedBench::INTERFACE_ID {
            return Ok(service.get_cap().get_as_capability()?);
        }
    }
    Err("the worker serves no Bench".into())
}

async fn echo(client: &bench::Client) -> Result<(), BoxError> {
    let mut request = client.echo_bytes_request();
    request.get().set_data(&PAYLOAD);
    let response = request.send().promise.await?;
    if response.get()?.get_data()? != PAYLOAD {
        return Err("echoBytes answered another payload".into());
    }
    Ok(())
}

async fn sequential(client: &bench::Client, n: usize) -> Result<Vec<Duration>, BoxError> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        echo(client).await?;
        samples.push(t.elapsed());
    }
    Ok(samples)
}

/// `n` calls, `IN_FLIGHT` at a time; calls/s.
async fn pipelined(client: &bench::Client, n: usize) -> Result<f64, BoxError> {
    let t = Instant::now();
    let mut running = FuturesUnordered::new();
    let mut sent = 0;
    while sent < n.min(IN_FLIGHT) {
        running.push(echo(client));
        sent += 1;
    }
    while let Some(done) = running.next().await {
        done?;
        if sent < n {
            running.push(echo(client));
            sent += 1;
        }
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

/// A virtualenv under `target/` with pycapnp, made on first use: its interpreter, or
/// why there is none.
pub(crate) fn pycapnp_python() -> Result<PathBuf, String> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/pycapnp-venv");
    let python = venv.join("bin/python");
    let ready = |p: &Path| {
        std::process::Command::new(p)
            .args(["-c", "import capnp"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ready(&python) {
        return Ok(python);
    }
    let run = |cmd: &mut std::process::Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{cmd:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    run(std::process::Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv))?;
    run(std::process::Command::new(venv.join("bin/pip")).args(["install", "-q", "pycapnp"]))?;
    if ready(&python) {
        Ok(python)
    } else {
        Err("pycapnp installed but `import capnp` fails".into())
    }
}

/// How to start the pycapnp echo server with `python`.
pub(crate) fn pycapnp_spec(python: &Adapter, interpreter: PathBuf) -> WorkerSpec {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    script_spec(
        python,
        interpreter,
        vec![
            bench_file("pycapnp_echo.py"),
            root.join("schema").display().to_string(),
            root.join("../schema").display().to_string(),
        ],
    )
}

/// How to start a polyhost worker of `adapter` on the bench plugin `entry` by hand: the
/// bench schema's generated modules for its language are written to a folder of their
/// own, beside `tests/plugins`.
pub(crate) fn worker_spec(adapter: &Adapter, entry: &str) -> Result<WorkerSpec, BoxError> {
    let language = &adapter.definition.language;
    let modules = polyhost_tests::bench::BINDINGS
        .modules_for(language)
        .ok_or_else(|| format!("the bench bindings carry no {language} modules"))?;
    let dir =
        std::env::temp_dir().join(format!("polyhost-bench-{}-{language}", std::process::id()));
    for (path, contents) in modules.files {
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(file, contents)?;
    }
    Ok(spec_of(
        adapter.clone(),
        entry.to_string(),
        vec![dir, PathBuf::from(PLUGINS)],
        adapter.resolve_interpreter(None)?,
    ))
}
