//! The floor: a raw length-prefixed echo child on a socketpair, in the same interpreter,
//! and bare interpreter start-ups; what every polyhost row is divided by.

use super::*;

/// The raw echo child and the host's end of its socketpair.
pub(crate) struct FloorEcho {
    pub(crate) child: std::process::Child,
    pub(crate) write: UnixStream,
    pub(crate) read: BufReader<UnixStream>,
}

pub(crate) const FRAME: usize = 4 + PAYLOAD.len();

pub(crate) fn frame() -> [u8; FRAME] {
    let mut f = [0u8; FRAME];
    f[..4].copy_from_slice(&(PAYLOAD.len() as u32).to_le_bytes());
    f[4..].copy_from_slice(&PAYLOAD);
    f
}

impl FloorEcho {
    /// Starts `tests/bench/<script>` with polyhost's launch machinery (socketpair, fd 3,
    /// parent-death signal, the adapter's environment).
    pub(crate) fn spawn(
        language: &Adapter,
        interpreter: &Path,
        script: &str,
    ) -> Result<FloorEcho, BoxError> {
        let spec = script_spec(
            language,
            interpreter.to_path_buf(),
            vec![bench_file(script)],
        );
        let spawned = worker::spawn(&spec, 0)?;
        let read = BufReader::with_capacity(64 * 1024, spawned.socket.try_clone()?);
        Ok(FloorEcho {
            child: spawned.child,
            write: spawned.socket,
            read,
        })
    }

    pub(crate) fn answer(&mut self) -> Result<(), BoxError> {
        let mut buf = [0u8; FRAME];
        self.read.read_exact(&mut buf)?;
        if buf != frame() {
            return Err("the floor echo answered another frame".into());
        }
        Ok(())
    }

    /// One frame at a time: write, wait for the echo.
    pub(crate) fn sequential(&mut self, n: usize) -> Result<Vec<Duration>, BoxError> {
        let f = frame();
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            self.write.write_all(&f)?;
            self.answer()?;
            samples.push(t.elapsed());
        }
        Ok(samples)
    }

    /// `IN_FLIGHT` frames outstanding: for every batch of echoes read, as many new
    /// frames go out in one write. Returns calls/s.
    pub(crate) fn pipelined(&mut self, n: usize) -> Result<f64, BoxError> {
        let batch: Vec<u8> = frame().repeat(IN_FLIGHT);
        let t = Instant::now();
        let first = IN_FLIGHT.min(n);
        self.write.write_all(&batch[..first * FRAME])?;
        let (mut sent, mut got) = (first, 0);
        while got < n {
            self.answer()?;
            got += 1;
            let mut ready = 1;
            while got < n && self.read.buffer().len() >= FRAME {
                self.answer()?;
                got += 1;
                ready += 1;
            }
            let more = ready.min(n - sent);
            if more > 0 {
                self.write.write_all(&batch[..more * FRAME])?;
                sent += more;
            }
        }
        Ok(n as f64 / t.elapsed().as_secs_f64())
    }

    pub(crate) fn stop(mut self) -> Result<(), BoxError> {
        self.write.shutdown(std::net::Shutdown::Both)?;
        let status = self.child.wait()?;
        if !status.success() {
            return Err(format!("the floor echo exited with {status}").into());
        }
        Ok(())
    }
}

/// Round trips (one at a time) and calls/s (`IN_FLIGHT` at a time), with the CPU per
/// call (host, worker or floor process) of each.
#[derive(Clone, Copy)]
pub(crate) struct Calls {
    pub(crate) rtt: Percentiles,
    pub(crate) rtt_cpu: (Duration, Duration),
    pub(crate) rate: f64,
    pub(crate) rate_cpu: (Duration, Duration),
    /// The host's CPU per call by thread kind (polyhost's I/O threads, the rest),
    /// sequential and in flight.
    pub(crate) by_thread: [(Duration, Duration); 2],
}

impl Calls {
    /// The rounds of one measurement as one: each figure the median of the rounds'.
    pub(crate) fn median_of(rounds: &[Calls]) -> Option<Calls> {
        let first = rounds.first()?;
        let of = |figure: fn(&Calls) -> Duration| median(rounds.iter().map(figure));
        let mut rates: Vec<f64> = rounds.iter().map(|c| c.rate).collect();
        rates.sort_by(f64::total_cmp);
        let mut by_thread = first.by_thread;
        for (i, kind) in by_thread.iter_mut().enumerate() {
            *kind = (
                median(rounds.iter().map(|c| c.by_thread[i].0)),
                median(rounds.iter().map(|c| c.by_thread[i].1)),
            );
        }
        Some(Calls {
            rtt: Percentiles {
                p50: of(|c| c.rtt.p50),
                p99: of(|c| c.rtt.p99),
            },
            rtt_cpu: (of(|c| c.rtt_cpu.0), of(|c| c.rtt_cpu.1)),
            rate: rates[(rates.len() - 1) / 2],
            rate_cpu: (of(|c| c.rate_cpu.0), of(|c| c.rate_cpu.1)),
            by_thread,
        })
    }
}

/// The floor echo of one interpreter (`tests/bench/<script>`), warmed up, then measured
/// (`pipelined_calls` for calls/s).
pub(crate) async fn floor_calls(
    language: &Adapter,
    interpreter: &Path,
    script: &str,
    pipelined_calls: usize,
) -> Result<Calls, BoxError> {
    let floor = std::cell::RefCell::new(FloorEcho::spawn(language, interpreter, script)?);
    let pids = [floor.borrow().child.id()];
    let got = measure(
        &pids,
        pipelined_calls,
        |n| std::future::ready(floor.borrow_mut().sequential(n)),
        |n| std::future::ready(floor.borrow_mut().pipelined(n)),
    )
    .await?;
    floor.into_inner().stop()?;
    Ok(got)
}

/// What every calls section measures: `WARMUP_CALLS` one at a time, then
/// `SEQUENTIAL_CALLS` timed one at a time; a quarter of `pipelined_calls` as warm-up,
/// then `pipelined_calls` at `IN_FLIGHT`; with the CPU of the host (also by thread kind)
/// and of the processes `pids` over each.
pub(crate) async fn measure<S, SF, P, PF>(
    pids: &[u32],
    pipelined_calls: usize,
    mut sequential: S,
    mut pipelined: P,
) -> Result<Calls, BoxError>
where
    S: FnMut(usize) -> SF,
    SF: std::future::Future<Output = Result<Vec<Duration>, BoxError>>,
    P: FnMut(usize) -> PF,
    PF: std::future::Future<Output = Result<f64, BoxError>>,
{
    sequential(WARMUP_CALLS).await?;
    let cpu = Cpu::now(pids);
    let threads = ThreadCpu::now();
    let rtt = Percentiles::of(sequential(SEQUENTIAL_CALLS).await?);
    let rtt_cpu = cpu.per(pids, SEQUENTIAL_CALLS);
    let rtt_threads = threads.per(SEQUENTIAL_CALLS);
    pipelined(pipelined_calls / 4).await?;
    let cpu = Cpu::now(pids);
    let threads = ThreadCpu::now();
    let rate = pipelined(pipelined_calls).await?;
    let rate_cpu = cpu.per(pids, pipelined_calls);
    let rate_threads = threads.per(pipelined_calls);
    Ok(Calls {
        rtt,
        rtt_cpu,
        rate,
        rate_cpu,
        by_thread: [rtt_threads, rate_threads],
    })
}

/// `n` fresh interpreters importing asyncio, started at once; until all have exited.
pub(crate) fn bare_interpreters(interpreter: &Path, n: usize) -> Result<Duration, BoxError> {
    let t = Instant::now();
    let children = (0..n)
        .map(|_| {
            std::process::Command::new(interpreter)
                .args(["-c", "import asyncio"])
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    for mut c in children {
        c.wait()?;
    }
    Ok(t.elapsed())
}

/// Removes a cache folder (its trees are read-only).
pub(crate) fn remove_read_only_tree(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(entries) = std::fs::read_dir(dir) {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        for entry in entries.flatten() {
            if entry.path().is_dir() {
                remove_read_only_tree(&entry.path());
            }
        }
    }
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    let _ = std::fs::remove_dir_all(dir);
}

/// How to start `language`'s interpreter by hand on a script of the bench (`args`, in
/// place of the adapter's worker command), with polyhost's launch machinery.
pub(crate) fn script_spec(
    language: &Adapter,
    interpreter: PathBuf,
    args: Vec<String>,
) -> WorkerSpec {
    let mut adapter = language.clone();
    adapter.definition.args = args;
    adapter.definition.template.clear();
    spec_of(adapter, String::new(), vec![], interpreter)
}

/// A worker spec with the default environment allowlist.
pub(crate) fn spec_of(
    adapter: Adapter,
    entry: String,
    module_paths: Vec<PathBuf>,
    interpreter: PathBuf,
) -> WorkerSpec {
    WorkerSpec {
        adapter,
        entry,
        module_paths,
        interpreter,
        env_allowlist: DEFAULT_ENV_ALLOWLIST
            .iter()
            .map(|s| s.to_string())
            .collect(),
        env: vec![],
        cwd: None,
        concurrency: IN_FLIGHT,
    }
}

pub(crate) fn bench_file(name: &str) -> String {
    format!("{}/bench/{name}", env!("CARGO_MANIFEST_DIR"))
}
