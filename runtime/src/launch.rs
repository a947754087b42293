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
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;

use crate::adapter::Adapter;
use crate::error::ExitReason;
pub(crate) use crate::output::forward_output;
pub use crate::output::{tail_lines, tail_text, StderrTail, STDERR_TAIL_LINES};

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

/// Where guest runtimes may keep caches (Python's bytecode, say): the adapter
/// definition's `{cache_dir}`, and where bundled runtimes and generated modules are
/// written (see `cache`). `$POLYHOST_CACHE_DIR`, else `$XDG_CACHE_HOME/polyhost`, else
/// `$HOME/.cache/polyhost`,
/// else `polyhost-<uid>` in the temporary directory, made private (mode 0700) and used
/// only while this user owns it and nobody else may write to it. `None` when there is
/// no such folder: variables that name `{cache_dir}` are then left out. Worked out
/// once per process.
pub fn cache_dir() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("POLYHOST_CACHE_DIR").filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(dir));
        }
        let home = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".cache"))
            });
        if let Some(base) = home {
            return Some(base.join("polyhost"));
        }
        // SAFETY: getuid(2) cannot fail and has no preconditions.
        let uid = unsafe { libc::getuid() };
        let dir = std::env::temp_dir().join(format!("polyhost-{uid}"));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        let meta = std::fs::symlink_metadata(&dir).ok()?;
        (meta.is_dir() && meta.uid() == uid && meta.mode() & 0o022 == 0).then_some(dir)
    })
    .as_deref()
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
    let stderr_tail = forward_output(child.stdout.take(), child.stderr.take(), worker_id, pid);
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
    /// Hands the child to a reaper thread that fills its exit watch.
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

/// Waits for `child` on a thread of its own; the watch is filled when it exits.
pub(crate) fn reap_in_background(mut child: Child, name: &str) -> std::io::Result<Arc<ExitWatch>> {
    let exit = Arc::new(ExitWatch::default());
    let watch = exit.clone();
    std::thread::Builder::new()
        .name(format!("polyhost-reap-{name}"))
        .spawn(move || {
            let status = child
                .wait()
                .map(ExitReason::from)
                .unwrap_or(ExitReason::Unknown);
            watch.set(status);
        })?;
    Ok(exit)
}

/// How a process that failed to start ended, and the last lines of its stderr: waits
/// up to 2 s for its exit, then up to 1 s for the stderr reader to read to the end.
pub async fn exit_report(exit: &ExitWatch, tail: &StderrTail) -> (ExitReason, String) {
    if exit.wait(Duration::from_secs(2)).await {
        tail.wait_ended(Duration::from_secs(1)).await;
    }
    (exit.get().unwrap_or(ExitReason::Unknown), tail_text(tail))
}

/// How a process ended, once known; waiters are woken when it is set.
#[derive(Default)]
pub struct ExitWatch {
    status: Mutex<Option<ExitReason>>,
    done: Notify,
}

impl ExitWatch {
    /// The exit, if the process has ended.
    pub fn get(&self) -> Option<ExitReason> {
        *self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the exit (the first one recorded wins) and wakes waiters.
    pub fn set(&self, exit: ExitReason) {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(exit);
        self.done.notify_waiters();
    }

    /// Waits up to `t` for the exit; true when the process has ended.
    pub async fn wait(&self, t: Duration) -> bool {
        let deadline = tokio::time::Instant::now().checked_add(t);
        loop {
            let notified = self.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.get().is_some() {
                return true;
            }
            match deadline {
                Some(at) => {
                    if tokio::time::timeout_at(at, notified).await.is_err() {
                        return self.get().is_some();
                    }
                }
                None => notified.await,
            }
        }
    }
}

/// One process, to signal: through a Linux pidfd when the kernel has them, which keeps
/// naming that process after it exited, so a signal never reaches another process
/// that reused the pid; else by pid (after [`valid_pid`]).
#[derive(Debug)]
pub struct ProcessHandle {
    pid: u32,
    pidfd: Option<OwnedFd>,
}

impl ProcessHandle {
    /// A handle on `pid`. Exact for a child not yet reaped; for any other process, a
    /// pid reused between its exit and this call would be named instead.
    pub fn open(pid: u32) -> ProcessHandle {
        let pidfd = valid_pid(pid)
            .then(|| {
                // SAFETY: pidfd_open(2) takes a pid and flags and returns a new fd or -1.
                let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
                // SAFETY: a non-negative result is a new fd that nothing else owns.
                (fd >= 0)
                    .then(|| unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) })
            })
            .flatten();
        ProcessHandle { pid, pidfd }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends `sig`; false when it was not delivered (the process has ended, say).
    pub fn signal(&self, sig: i32) -> bool {
        match &self.pidfd {
            // SAFETY: pidfd_send_signal(2) with a valid pidfd, no siginfo, no flags.
            Some(fd) => unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    sig,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                ) == 0
            },
            None => signal(self.pid, sig),
        }
    }
}

/// Sends `signal` to process `pid`; false when it was not sent. A pid that names no
/// single process is refused: kill(2) reads 0 as the caller's process group, 1 as init,
/// and values over `i32::MAX` (negative as a pid_t) as process groups or as every process
/// the user may signal.
pub fn signal(pid: u32, signal: i32) -> bool {
    if !valid_pid(pid) {
        tracing::error!(
            pid,
            signal,
            "refusing to signal a pid that names no single process"
        );
        return false;
    }
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe { libc::kill(pid as libc::pid_t, signal) == 0 }
}

/// Whether `pid` can name one process other than init: 2 ..= i32::MAX.
pub fn valid_pid(pid: u32) -> bool {
    (2..=i32::MAX as u32).contains(&pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_handle_signals_its_process_and_nothing_once_it_was_reaped() {
        let mut child = Command::new("sleep").arg("60").spawn().unwrap();
        let handle = ProcessHandle::open(child.id());
        assert!(handle.signal(0), "the live process");
        assert!(handle.signal(libc::SIGKILL));
        let status = child.wait().unwrap();
        assert_eq!(ExitReason::from(status), ExitReason::Signal(libc::SIGKILL));
        // Reaped: its pid may name another process from now on; the handle does not.
        assert!(!handle.signal(0), "a reaped process is not signalled");
    }

    #[test]
    fn pids_that_name_no_single_process_are_refused() {
        for pid in [0, 1, 1 << 31, u32::MAX] {
            assert!(!valid_pid(pid));
            assert!(!signal(pid, 0), "{pid}");
            assert!(!ProcessHandle::open(pid).signal(0), "{pid}");
        }
    }
}
