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
        let mut adapter = language.clone();
        adapter.definition.args = vec![bench_file(script)];
        let spec = WorkerSpec {
            adapter,
            entry: String::new(),
            module_paths: vec![],
            interpreter: interpreter.to_path_buf(),
            env_allowlist: DEFAULT_ENV_ALLOWLIST
                .iter()
                .map(|s| s.to_string())
                .collect(),
            env: vec![],
            cwd: None,
            concurrency: 1,
        };
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
pub(crate) struct Calls {
    pub(crate) rtt: Percentiles,
    pub(crate) rtt_cpu: (Duration, Duration),
    pub(crate) rate: f64,
    pub(crate) rate_cpu: (Duration, Duration),
    /// The host's CPU per call by thread kind (I/O threads, the rest), sequential and
    /// in flight; for polyhost's rows.
    pub(crate) by_thread: Option<[(Duration, Duration); 2]>,
}

/// The floor echo of one interpreter (`tests/bench/<script>`), warmed up, then measured
/// (`pipelined_calls` for calls/s).
pub(crate) fn floor_calls(
    language: &Adapter,
    interpreter: &Path,
    script: &str,
    pipelined_calls: usize,
) -> Result<Calls, BoxError> {
    let mut floor = FloorEcho::spawn(language, interpreter, script)?;
    let pids = [floor.child.id()];
    floor.sequential(WARMUP_CALLS)?;
    let cpu = Cpu::now(&pids);
    let rtt = Percentiles::of(floor.sequential(SEQUENTIAL_CALLS)?);
    let rtt_cpu = cpu.per(&pids, SEQUENTIAL_CALLS);
    floor.pipelined(pipelined_calls / 4)?;
    let cpu = Cpu::now(&pids);
    let rate = floor.pipelined(pipelined_calls)?;
    let rate_cpu = cpu.per(&pids, pipelined_calls);
    floor.stop()?;
    Ok(Calls {
        rtt,
        rtt_cpu,
        rate,
        rate_cpu,
        by_thread: None,
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

pub(crate) fn bench_file(name: &str) -> String {
    format!("{}/bench/{name}", env!("CARGO_MANIFEST_DIR"))
}
