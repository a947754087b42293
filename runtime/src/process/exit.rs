//! How worker and template processes end, and signalling them safely.
//!
//! Owns the exit watch (filled by a reaper when the process exits: a task on the shared
//! I/O threads watching a pidfd, or a thread where there are no pidfds), pidfd-based
//! process handles that never signal a process that reused a pid, and `signal` for a
//! bare pid with its sanity check.

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::error::ExitReason;

/// Reaps `child` when it exits and fills the returned watch. With a pidfd (Linux 5.3+),
/// the wait is a task on one of the shared I/O threads (`executor`), so a pool of any
/// size adds no thread for it; without, a thread of its own waits.
pub(crate) fn reap_in_background(child: Child, name: &str) -> std::io::Result<Arc<ExitWatch>> {
    let exit = Arc::new(ExitWatch::default());
    match pidfd(child.id()) {
        Some(fd) => {
            let watch = exit.clone();
            crate::executor::run(Box::new(move || {
                Box::pin(async move { watch.set(reap_on_pidfd(child, fd).await) })
            }))?;
        }
        None => {
            let watch = exit.clone();
            let mut child = child;
            std::thread::Builder::new()
                .name(format!("polyhost-reap-{name}"))
                .spawn(move || {
                    let status = child
                        .wait()
                        .map(ExitReason::from)
                        .unwrap_or(ExitReason::Unknown);
                    watch.set(status);
                })?;
        }
    }
    Ok(exit)
}

/// A pidfd for `pid`, if the kernel has them.
fn pidfd(pid: u32) -> Option<OwnedFd> {
    if !valid_pid(pid) {
        return None;
    }
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    // SAFETY: a non-negative result is a new fd that nothing else owns.
    (fd >= 0).then(|| unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) })
}

/// Waits until the pidfd of `child` is readable (the process has exited), then reaps it.
async fn reap_on_pidfd(mut child: Child, fd: OwnedFd) -> ExitReason {
    // SAFETY: the AsyncFd owns the pidfd, which is closed only when it is dropped.
    let registered = unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)
    };
    if let Ok(readable) = registered {
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return ExitReason::from(status),
                Err(_) => return ExitReason::Unknown,
                Ok(None) => {}
            }
            match readable.readable().await {
                Ok(mut ready) => ready.clear_ready(),
                Err(_) => break,
            }
        }
    }
    // The pidfd could not be watched: wait for the exit off the I/O thread.
    tokio::task::spawn_blocking(move || child.wait())
        .await
        .ok()
        .and_then(Result::ok)
        .map_or(ExitReason::Unknown, ExitReason::from)
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
        ProcessHandle {
            pid,
            pidfd: pidfd(pid),
        }
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

    use std::process::Command;

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
