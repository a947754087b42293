//! The guest targets: for every adapter (`adapters/*/adapter.json`) and every kind
//! (framing, reader, rpc), the adapter's driver script
//! (`adapters/<language>/tests/fuzz/driver.*`) run by the adapter's interpreter as one
//! long-lived process. Inputs go to its stdin in batches (u32 count, then u32 length +
//! bytes per input); it answers each with a status byte (0 handled, 1 typed error, 2
//! failure), a u32 length and a detail. The driver first writes one byte when it is
//! ready (its start-up is not timed). An input that gets no answer within the time
//! limit is run again, alone, in a fresh process: if it gets none there either it is
//! a hang (a failure, reported with the driver's stderr, where a Python driver dumps
//! its stacks); if it does, the machine was only slow and the fresh answer counts. A
//! process that exits is a failure of the input it was running.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{FuzzError, Outcome};

/// The guest kinds, each a corpus folder and an argument of the driver.
pub const GUEST_KINDS: &[&str] = &["framing", "reader", "rpc"];

/// One adapter's driver.
#[derive(Debug, Clone)]
pub struct Guest {
    pub language: String,
    pub interpreter: String,
    pub driver: PathBuf,
}

/// Every adapter of the repository at `root`, with its driver; an adapter without a
/// driver is an error (a new language must bring one).
pub fn discover(root: &Path) -> Result<Vec<Guest>, FuzzError> {
    let adapters = root.join("adapters");
    let mut out = Vec::new();
    let entries = std::fs::read_dir(&adapters).map_err(|e| FuzzError::io(&adapters, e))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("adapter.json").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let json_path = dir.join("adapter.json");
        let text = std::fs::read_to_string(&json_path).map_err(|e| FuzzError::io(&json_path, e))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| FuzzError::Adapter {
                path: json_path.clone(),
                why: e.to_string(),
            })?;
        let field = |name: &str| json.get(name).and_then(|v| v.as_str()).map(str::to_string);
        let language = field("language").ok_or_else(|| FuzzError::Adapter {
            path: json_path.clone(),
            why: "no \"language\" string".into(),
        })?;
        let mut interpreter = field("interpreter").ok_or_else(|| FuzzError::Adapter {
            path: json_path.clone(),
            why: "no \"interpreter\" string".into(),
        })?;
        if let Some(var) = field("interpreter_env") {
            if let Ok(v) = std::env::var(var) {
                if !v.is_empty() {
                    interpreter = v;
                }
            }
        }
        let fuzz_dir = dir.join("tests").join("fuzz");
        let driver = std::fs::read_dir(&fuzz_dir)
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.file_stem().and_then(|s| s.to_str()) == Some("driver") && p.is_file())
            .ok_or_else(|| FuzzError::NoDriver {
                language: language.clone(),
                dir: fuzz_dir.clone(),
            })?;
        out.push(Guest {
            language,
            interpreter,
            driver,
        });
    }
    Ok(out)
}

/// What the stderr thread keeps: the last bytes the driver wrote there.
const STDERR_TAIL: usize = 8 * 1024;

/// How long a driver may take to start (import its runtime) on a loaded machine.
const START_LIMIT: Duration = Duration::from_secs(120);

/// A running driver process.
pub struct GuestProcess {
    guest: Guest,
    kind: String,
    child: Child,
    batches: Option<mpsc::Sender<Vec<u8>>>,
    results: Receiver<Option<Outcome>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl GuestProcess {
    pub fn start(guest: &Guest, kind: &str) -> Result<GuestProcess, FuzzError> {
        let mut child = Command::new(&guest.interpreter)
            .arg(&guest.driver)
            .arg(kind)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| FuzzError::Spawn {
                command: format!("{} {} {kind}", guest.interpreter, guest.driver.display()),
                source: e,
            })?;
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");
        let (batch_tx, batch_rx) = mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || write_batches(stdin, batch_rx));
        let (result_tx, results) = mpsc::channel();
        let (ready_tx, ready) = mpsc::channel();
        let mut ready_tx = Some(ready_tx);
        std::thread::spawn(move || loop {
            if let Some(ready_tx) = ready_tx.take() {
                let mut byte = [0u8; 1];
                let ok = stdout.read_exact(&mut byte).is_ok() && byte[0] == b'R';
                let _ = ready_tx.send(ok);
                if !ok {
                    return;
                }
            }
            let record = read_record(&mut stdout);
            let end = record.is_none();
            if result_tx.send(record).is_err() || end {
                return;
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let tail = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut buf) {
                if n == 0 {
                    return;
                }
                let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                t.extend_from_slice(&buf[..n]);
                if t.len() > STDERR_TAIL {
                    let cut = t.len() - STDERR_TAIL;
                    t.drain(..cut);
                }
            }
        });
        let mut process = GuestProcess {
            guest: guest.clone(),
            kind: kind.to_string(),
            child,
            batches: Some(batch_tx),
            results,
            stderr,
        };
        match ready.recv_timeout(START_LIMIT) {
            Ok(true) => Ok(process),
            _ => {
                process.stop();
                Err(FuzzError::DriverStart {
                    command: format!("{} {} {kind}", guest.interpreter, guest.driver.display()),
                    stderr: process.stderr_tail(),
                })
            }
        }
    }

    /// Sends one batch (false if the process is gone).
    fn send(&self, inputs: &[Vec<u8>]) -> bool {
        let mut buf = Vec::with_capacity(4 + inputs.iter().map(|i| i.len() + 4).sum::<usize>());
        buf.extend_from_slice(&(inputs.len() as u32).to_le_bytes());
        for input in inputs {
            buf.extend_from_slice(&(input.len() as u32).to_le_bytes());
            buf.extend_from_slice(input);
        }
        self.batches
            .as_ref()
            .map(|tx| tx.send(buf).is_ok())
            .unwrap_or(false)
    }

    /// After `input` got no answer within `limit`: the stderr so far, then the input
    /// alone in a fresh process. A hang only if it gets no answer there either.
    fn confirm_hang(&mut self, input: &[u8], limit: Duration) -> Result<Outcome, FuzzError> {
        let first = self.stderr_tail();
        self.restart()?;
        if self.send(&[input.to_vec()]) {
            if let Ok(Some(outcome)) = self.results.recv_timeout(limit) {
                eprintln!(
                    "{}-{}: an input took over {} ms, then answered at once in a fresh process \
                     (a slow machine, not a hang)",
                    self.guest.language,
                    self.kind,
                    limit.as_millis()
                );
                return Ok(outcome);
            }
        }
        let second = self.stderr_tail();
        self.restart()?;
        Ok(Outcome::Failure(format!(
            "hang: no answer within {} ms, twice (the second time alone in a fresh process)\n\
             stderr of the first process:\n{first}\nstderr of the second:\n{second}",
            limit.as_millis()
        )))
    }

    /// Runs `inputs`; returns one outcome per input run. Fewer come back when an input
    /// hung or killed the process (its outcome is the last, a failure); the process
    /// is then started again.
    pub fn run_batch(
        &mut self,
        inputs: &[Vec<u8>],
        limit: Duration,
    ) -> Result<Vec<Outcome>, FuzzError> {
        let sent = self.send(inputs);
        let mut out = Vec::with_capacity(inputs.len());
        for input in inputs {
            let outcome = if !sent {
                None
            } else {
                match self.results.recv_timeout(limit) {
                    Ok(Some(outcome)) => Some(outcome),
                    Ok(None) | Err(RecvTimeoutError::Disconnected) => None,
                    Err(RecvTimeoutError::Timeout) => {
                        out.push(self.confirm_hang(input, limit)?);
                        return Ok(out);
                    }
                }
            };
            match outcome {
                Some(o) => out.push(o),
                None => {
                    let status = self.child.wait().ok();
                    let tail = self.stderr_tail();
                    out.push(Outcome::Failure(format!(
                        "the driver exited ({}) while running this input; its stderr ends with:\n{tail}",
                        status.map(|s| s.to_string()).unwrap_or_else(|| "status unknown".into())
                    )));
                    self.restart()?;
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    fn stderr_tail(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    fn restart(&mut self) -> Result<(), FuzzError> {
        self.stop();
        *self = GuestProcess::start(&self.guest, &self.kind)?;
        Ok(())
    }

    fn stop(&mut self) {
        self.batches = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for GuestProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

fn write_batches(mut stdin: ChildStdin, batches: Receiver<Vec<u8>>) {
    for batch in batches {
        if stdin.write_all(&batch).and_then(|_| stdin.flush()).is_err() {
            return;
        }
    }
}

/// One answer; None at EOF or on a malformed record.
fn read_record(r: &mut impl Read) -> Option<Outcome> {
    let mut head = [0u8; 5];
    r.read_exact(&mut head).ok()?;
    let len = u32::from_le_bytes(head[1..5].try_into().ok()?) as usize;
    let mut detail = vec![0u8; len];
    r.read_exact(&mut detail).ok()?;
    let detail = String::from_utf8_lossy(&detail).into_owned();
    match head[0] {
        0 => Some(Outcome::Ok),
        1 => Some(Outcome::Typed),
        2 => Some(Outcome::Failure(detail)),
        other => Some(Outcome::Failure(format!(
            "the driver answered with an unknown status {other}"
        ))),
    }
}
