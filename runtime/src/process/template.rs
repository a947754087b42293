//! Template processes: workers forked from one interpreter that has already imported
//! the guest runtime (and, opt-in, the plugin module).
//!
//! Starting an interpreter and importing the guest runtime costs tens of milliseconds
//! of CPU per worker; a template pays it once and forks every worker of a pool. It is
//! started like a worker (`launch.rs`: the adapter's `template` command line, fd 3,
//! the allowlisted environment, the parent-death signal) and speaks a small protocol
//! on a `SOCK_SEQPACKET` socket, one JSON object per message:
//!
//! | from     | message                                   | meaning                          |
//! |----------|-------------------------------------------|----------------------------------|
//! | template | `{"ready": {}}`                           | imports done, accepting requests |
//! | host     | `{"spawn": {"id": N}}` + 3 fds            | fork worker N: socket, stdout, stderr |
//! | template | `{"spawned": {"id": N, "pid": P}}`        | worker N runs as P               |
//! | template | `{"failed": {"id": N, "error": "..."}}`   | the fork failed                  |
//! | template | `{"exited": {"pid": P, "code": C}}` or `{"exited": {"pid": P, "signal": S}}` | a worker ended |
//!
//! The fds travel as `SCM_RIGHTS`; the forked worker makes them its fd 3, 1 and 2, so
//! its socket and output are exactly those of a fresh worker. A forked worker sets its
//! own parent-death signal, so it dies with the template, which dies with the host;
//! the template reaps its workers and reports how they ended. When the host closes
//! the control socket the template exits.

use std::collections::HashMap;
use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustix::net::{
    AddressFamily, RecvFlags, SendAncillaryBuffer, SendAncillaryMessage, SendFlags, Shutdown,
    SocketFlags, SocketType,
};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::error::ExitReason;
use crate::process::exit::{reap_in_background, signal, valid_pid, ExitWatch, ProcessHandle};
use crate::process::launch::{self, LaunchError, Running, WorkerSpec};
use crate::process::output::{forward_output, StderrTail};

/// The worker id under which a template's own output is logged.
pub const TEMPLATE_WORKER_ID: u64 = 0;
/// Largest control message the template may send.
const MAX_REPORT: usize = 64 * 1024;

/// Why a template could not start or fork.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error(transparent)]
    Launch(#[from] LaunchError),
    #[error("the template process (pid {pid}) ended before it was ready ({exit}):\n{stderr}")]
    NotReady {
        pid: u32,
        exit: ExitReason,
        stderr: String,
    },
    #[error("the template process (pid {pid}) could not fork worker {worker}: {message}")]
    Fork {
        pid: u32,
        worker: u64,
        message: String,
    },
    #[error("the template process (pid {pid}) is gone")]
    Gone { pid: u32 },
    #[error("cannot talk to the template process: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Request {
    Spawn { id: u64 },
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Report {
    Ready {},
    Spawned {
        id: u64,
        pid: u32,
    },
    Failed {
        id: u64,
        error: String,
    },
    Exited {
        pid: u32,
        #[serde(default)]
        code: Option<i32>,
        #[serde(default)]
        signal: Option<i32>,
    },
}

type SpawnReply = Result<(u32, Arc<ExitWatch>), String>;

/// What the reader thread and the spawners share.
#[derive(Default)]
struct Shared {
    ready: Option<oneshot::Sender<()>>,
    pending: HashMap<u64, oneshot::Sender<SpawnReply>>,
    children: HashMap<u32, Arc<ExitWatch>>,
    closed: bool,
}

/// A running template process.
pub struct Template {
    ctl: OwnedFd,
    pid: u32,
    shared: Arc<Mutex<Shared>>,
    exit: Arc<ExitWatch>,
    stderr_tail: StderrTail,
}

/// A template that has been started but may still be importing.
pub struct Launched {
    template: Template,
    ready: oneshot::Receiver<()>,
}

impl Template {
    /// Starts the adapter's template process (`preload`: it imports the plugin too).
    /// Call it from the thread that spawns workers (see `launch::spawn`).
    pub fn launch(spec: &WorkerSpec, preload: bool) -> Result<Launched, TemplateError> {
        let (host_end, template_end) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| LaunchError::Socket(e.into()))?;
        let mut extra = vec![];
        if preload {
            extra.push(("POLYHOST_PRELOAD", "1".to_string()));
        }
        let (child, stderr_tail) = launch::start_process(
            spec,
            &spec.adapter.definition.template,
            template_end,
            TEMPLATE_WORKER_ID,
            &extra,
        )?;
        let pid = child.id();
        let exit = reap_in_background(child, "template")?;
        let (ready_tx, ready) = oneshot::channel();
        let shared = Arc::new(Mutex::new(Shared {
            ready: Some(ready_tx),
            ..Shared::default()
        }));
        let reader = host_end.try_clone()?;
        {
            let shared = shared.clone();
            let exit = exit.clone();
            std::thread::Builder::new()
                .name(format!("polyhost-template-{pid}"))
                .spawn(move || read_reports(reader, pid, &exit, &shared))?;
        }
        Ok(Launched {
            template: Template {
                ctl: host_end,
                pid,
                shared,
                exit,
                stderr_tail,
            },
            ready,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the template still accepts requests.
    pub fn is_alive(&self) -> bool {
        !lock(&self.shared).closed && self.exit.get().is_none()
    }

    /// Forks worker `worker_id` from the template. A template that has not answered
    /// within `limit` is of no use: it is killed, and the answer is `Gone`.
    pub async fn spawn(&self, worker_id: u64, limit: Duration) -> Result<Running, TemplateError> {
        let (host_end, worker_end) = UnixStream::pair()?;
        let (out_r, out_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(std::io::Error::from)?;
        let (err_r, err_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(std::io::Error::from)?;
        let (tx, rx) = oneshot::channel();
        {
            let mut shared = lock(&self.shared);
            if shared.closed {
                return Err(TemplateError::Gone { pid: self.pid });
            }
            shared.pending.insert(worker_id, tx);
        }
        let message =
            serde_json::to_vec(&Request::Spawn { id: worker_id }).map_err(std::io::Error::other)?;
        let fds = [worker_end.as_fd(), out_w.as_fd(), err_w.as_fd()];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        control.push(SendAncillaryMessage::ScmRights(&fds));
        let sent = rustix::net::sendmsg(
            &self.ctl,
            &[IoSlice::new(&message)],
            &mut control,
            SendFlags::NOSIGNAL,
        );
        // The template holds its own copies now (or never will).
        drop((worker_end, out_w, err_w));
        if let Err(e) = sent {
            lock(&self.shared).pending.remove(&worker_id);
            return Err(if e == rustix::io::Errno::PIPE {
                TemplateError::Gone { pid: self.pid }
            } else {
                TemplateError::Io(e.into())
            });
        }
        let reply = match tokio::time::timeout(limit, rx).await {
            Ok(reply) => reply.map_err(|_| TemplateError::Gone { pid: self.pid })?,
            Err(_) => {
                tracing::warn!(
                    pid = self.pid,
                    "template did not fork a worker within {limit:?}; killing it"
                );
                self.kill();
                return Err(TemplateError::Gone { pid: self.pid });
            }
        };
        let (pid, exit) = reply.map_err(|message| TemplateError::Fork {
            pid: self.pid,
            worker: worker_id,
            message,
        })?;
        let stderr_tail = forward_output(Some(out_r), Some(err_r), worker_id, pid);
        Ok(Running {
            socket: host_end,
            pid,
            // The template reaps this worker, not the host: a pid reused in the
            // moment since its report would be named instead (see ProcessHandle).
            process: Arc::new(ProcessHandle::open(pid)),
            stderr_tail,
            exit,
        })
    }

    /// Kills the template (and so its workers); it accepts no more requests.
    fn kill(&self) {
        lock(&self.shared).closed = true;
        if self.exit.get().is_none() {
            signal(self.pid, libc::SIGKILL);
        }
    }

    /// Closes the control socket (the template exits on its end), then SIGKILLs the
    /// template if it has not exited within `grace`.
    pub async fn stop(&self, grace: Duration) {
        let _ = rustix::net::shutdown(&self.ctl, Shutdown::Both);
        if !self.exit.wait(grace).await {
            signal(self.pid, libc::SIGKILL);
            self.exit.wait(grace).await;
        }
    }
}

impl Drop for Template {
    fn drop(&mut self) {
        // The template sees EOF and exits; its workers follow (parent-death signal).
        let _ = rustix::net::shutdown(&self.ctl, Shutdown::Both);
    }
}

impl Launched {
    /// Waits until the template has done its imports, for at most `limit`.
    pub async fn ready(self, limit: Duration) -> Result<Template, TemplateError> {
        let Launched { template, ready } = self;
        match tokio::time::timeout(limit, ready).await {
            Ok(Ok(())) => Ok(template),
            outcome => {
                if outcome.is_err() {
                    template.kill();
                }
                let (exit, stderr) =
                    launch::exit_report(&template.exit, &template.stderr_tail).await;
                Err(TemplateError::NotReady {
                    pid: template.pid,
                    exit,
                    stderr,
                })
            }
        }
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// The reader thread: applies the template's reports until its socket closes.
fn read_reports(ctl: OwnedFd, template_pid: u32, exit: &ExitWatch, shared: &Mutex<Shared>) {
    let mut buf = vec![0u8; MAX_REPORT];
    loop {
        // TRUNC: the real length of a message longer than the buffer, not the part
        // that fit, so an oversized report is seen as one.
        let n = match rustix::net::recv(&ctl, &mut buf[..], RecvFlags::TRUNC) {
            Ok((_, 0)) => break,
            Ok((_, n)) if n > MAX_REPORT => {
                tracing::error!(
                    pid = template_pid,
                    "template sent a report over {MAX_REPORT} bytes; stopping it"
                );
                break;
            }
            Ok((_, n)) => n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                tracing::error!(pid = template_pid, "reading the template's reports: {e}");
                break;
            }
        };
        let report: Report = match serde_json::from_slice(&buf[..n]) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(
                    pid = template_pid,
                    "template sent a malformed report ({e}); stopping it"
                );
                break;
            }
        };
        let mut sh = lock(shared);
        match report {
            Report::Ready {} => {
                if let Some(tx) = sh.ready.take() {
                    let _ = tx.send(());
                }
            }
            Report::Spawned { id, pid }
                if !valid_pid(pid) || pid == template_pid || sh.children.contains_key(&pid) =>
            {
                // Signalling it later could hit a process group, every process, or
                // another worker: the template (or a plugin it imported) is not to be
                // trusted any more.
                tracing::error!(
                    pid = template_pid,
                    "template reported worker {id} as pid {pid}, which is not a new child of it; stopping it"
                );
                if let Some(tx) = sh.pending.remove(&id) {
                    let _ = tx.send(Err(format!(
                        "it reported pid {pid}, which is not a new child of the template"
                    )));
                }
                break;
            }
            Report::Spawned { id, pid } => {
                let watch = Arc::new(ExitWatch::default());
                sh.children.insert(pid, watch.clone());
                if let Some(tx) = sh.pending.remove(&id) {
                    let _ = tx.send(Ok((pid, watch)));
                }
            }
            Report::Failed { id, error } => {
                if let Some(tx) = sh.pending.remove(&id) {
                    let _ = tx.send(Err(error));
                }
            }
            Report::Exited { pid, code, signal } => {
                if let Some(watch) = sh.children.remove(&pid) {
                    watch.set(match (code, signal) {
                        (Some(c), _) => ExitReason::Code(c),
                        (None, Some(s)) => ExitReason::Signal(s),
                        _ => ExitReason::Unknown,
                    });
                }
            }
        }
    }
    // The template is gone or was cut off: its workers die with it (parent-death
    // signal), and nobody is left to report how.
    if exit.get().is_none() {
        signal(template_pid, libc::SIGKILL);
    }
    let mut sh = lock(shared);
    sh.closed = true;
    sh.ready = None;
    sh.pending.clear();
    for (_, watch) in sh.children.drain() {
        watch.set(ExitReason::Unknown);
    }
}
