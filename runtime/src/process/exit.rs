//! How worker and template processes end, and signalling them safely.
//!
//! Owns the exit watch (filled by a reaper thread when the process exits), pidfd-based
//! process handles that never signal a process that reused a pid, and `signal` for a
//! bare pid with its sanity check.

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::error::ExitReason;

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
