//! Starting one worker process: the transport, the environment, death with the host.
//!
//! The host creates a `socketpair`; the worker inherits its end as fd 3 (and learns
//! the number from `POLYHOST_FD`). There is no listening socket and no path on disk.
//! The child gets a parent-death signal (SIGKILL) before it execs, and the guest
//! runtime exits on socket EOF, so workers never outlive the host. Each child is the
//! leader of its own process group, so a Ctrl-C in the host's terminal does not reach
//! it; the pool drains and stops workers itself. The environment is
//! an allowlist, not the host's. Stdout and stderr are read line by line into
//! `tracing` events tagged with the worker id (`output.rs`); the last stderr lines are
//! kept for crash reports.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::error::ExitReason;
use crate::process::adapter::Adapter;
use crate::process::cache::cache_dir;
use crate::process::exit::{reap_in_background, ExitWatch, ProcessHandle};
use crate::process::output::{forward_output, tail_text, StderrTail};

/// The fd number the worker's socket has in the child.
pub const WORKER_FD: i32 = 3;
/// Variables passed through from the host unless the allowlist is replaced.
pub const DEFAULT_ENV_ALLOWLIST: &[&str] = &[
    "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER",
];

/// Everything needed to start workers of one plugin.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    pub adapter: Adapter,
    /// The plugin's entry point in the adapter's syntax (`plugin.calc:make`).
    pub entry: String,
    /// Folders with generated modules and plugin code, put on the module search path
    /// after the adapter's runtime.
    pub module_paths: Vec<PathBuf>,
    /// The resolved interpreter (see [`Adapter::resolve_interpreter`]).
    pub interpreter: PathBuf,
    /// Host variables the worker inherits.
    pub env_allowlist: Vec<String>,
    /// Extra variables for the worker.
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// Calls a worker runs at once (`POLYHOST_CONCURRENCY`).
    pub concurrency: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("cannot create the worker socket: {0}")]
    Socket(std::io::Error),
    #[error("cannot start {language} worker `{interpreter}`: {source}")]
    Spawn {
        language: String,
        interpreter: String,
        source: std::io::Error,
    },
}

/// A started worker process and the host's end of its socket.
pub struct Spawned {
    pub child: Child,
    pub socket: UnixStream,
    pub pid: u32,
    /// The last lines the worker wrote to stderr.
    pub stderr_tail: StderrTail,
}

/// The search path: the adapter's runtime, then the module paths.
fn search_path(spec: &WorkerSpec) -> OsString {
    let dirs = std::iter::once(spec.adapter.runtime_dir()).chain(spec.module_paths.iter().cloned());
    std::env::join_paths(dirs).unwrap_or_default()
}

/// Starts one worker. Call it from a thread that lives as long as the worker: Linux
/// delivers the parent-death signal when the spawning thread exits.
pub fn spawn(spec: &WorkerSpec, worker_id: u64) -> Result<Spawned, LaunchError> {
    let (host_end, worker_end) = UnixStream::pair().map_err(LaunchError::Socket)?;
    let (child, stderr_tail) = start_process(
        spec,
        &spec.adapter.definition.args,
        OwnedFd::from(worker_end),
        worker_id,
        &[],
    )?;
    Ok(Spawned {
        pid: child.id(),
        child,
        socket: host_end,
        stderr_tail,
    })
}

/// Starts the interpreter with `args` (placeholders replaced), `fd` as its fd 3, the
/// allowlisted environment plus `extra_env`, the parent-death signal, and its output
/// forwarded to `tracing` under `worker_id`. Shared by workers and templates.
pub(crate) fn start_process(
    spec: &WorkerSpec,
    args: &[String],
    fd: OwnedFd,
    worker_id: u64,
    extra_env: &[(&str, String)],
) -> Result<(Child, StderrTail), LaunchError> {
    let def = &spec.adapter.definition;
    let mut cmd = Command::new(&spec.interpreter);
    let runtime_dir = spec.adapter.runtime_dir();
    cmd.args(args.iter().map(|a| {
        a.replace("{entry}", &spec.entry)
            .replace("{runtime_dir}", &runtime_dir.to_string_lossy())
    }));
    cmd.env_clear();
    for name in &spec.env_allowlist {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    for (name, value) in &def.env {
        match (value.contains("{cache_dir}"), cache_dir()) {
            (false, _) => cmd.env(name, value),
            (true, Some(dir)) => {
                cmd.env(name, value.replace("{cache_dir}", &dir.to_string_lossy()))
            }
            (true, None) => continue,
        };
    }
    cmd.envs(spec.env.iter().cloned());
    cmd.env(&def.search_path_env, search_path(spec));
    cmd.env("POLYHOST_FD", WORKER_FD.to_string());
    cmd.env("POLYHOST_WORKER_ID", worker_id.to_string());
    cmd.env("POLYHOST_CONCURRENCY", spec.concurrency.to_string());
    cmd.envs(extra_env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let raw = fd.as_raw_fd();
    let host_pid = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls (dup2, fcntl, setpgid, prctl, getppid)
    // between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // A process group of its own: a Ctrl-C in the host's terminal (SIGINT to the
            // foreground group) does not reach workers; the pool stops them itself.
            if libc::setpgid(0, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            if raw == WORKER_FD {
                if libc::fcntl(raw, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(raw, WORKER_FD) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            #[cfg(target_os = "linux")]
            {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                // The host may have died between fork and prctl: the child was then
                // re-parented (to init or to a subreaper).
                if libc::getppid() != host_pid {
                    libc::_exit(0);
                }
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|source| LaunchError::Spawn {
        language: def.language.clone(),
        interpreter: spec.interpreter.display().to_string(),
        source,
    })?;
    drop(fd);
    let pid = child.id();
    let stderr_tail = forward_output(
        child.stdout.take().map(OwnedFd::from),
        child.stderr.take().map(OwnedFd::from),
        worker_id,
        pid,
    );
    Ok((child, stderr_tail))
}

/// A worker process the pool supervises, however it was started.
pub struct Running {
    pub socket: UnixStream,
    pub pid: u32,
    /// Signals the process, and never another one that reused its pid.
    pub process: Arc<ProcessHandle>,
    pub stderr_tail: StderrTail,
    /// Filled when the process has exited.
    pub exit: Arc<ExitWatch>,
}

impl Spawned {
    /// Hands the child to a reaper that fills its exit watch.
    pub fn watched(self, worker_id: u64) -> std::io::Result<Running> {
        let exit = reap_in_background(self.child, &worker_id.to_string())?;
        // Opened before the reaper can reap the child: it names this process for good.
        let process = Arc::new(ProcessHandle::open(self.pid));
        Ok(Running {
            socket: self.socket,
            pid: self.pid,
            process,
            stderr_tail: self.stderr_tail,
            exit,
        })
    }
}

/// How a process that failed to start ended, and the last lines of its stderr: waits
/// up to 2 s for its exit, then up to 1 s for the stderr reader to read to the end.
pub async fn exit_report(exit: &ExitWatch, tail: &StderrTail) -> (ExitReason, String) {
    if exit.wait(Duration::from_secs(2)).await {
        tail.wait_ended(Duration::from_secs(1)).await;
    }
    (exit.get().unwrap_or(ExitReason::Unknown), tail_text(tail))
}
