//! A worker's stdout and stderr, forwarded as `tracing` events.
//!
//! A task per stream, on the shared I/O threads (`executor`), reads the pipe until EOF
//! and emits an event per line, tagged with the worker id, pid and stream (stdout at INFO, stderr at WARN, target
//! `polyhost::worker`). Whatever the worker writes, the task keeps reading, so the
//! worker's writes never fail or block because the host stopped reading:
//! - bytes that are not UTF-8 are replaced (U+FFFD), never an error;
//! - a line is at most [`MAX_LINE`] bytes: longer output without a newline is cut into
//!   pieces of that size (events with `continues = true` for all but the last), so
//!   memory stays bounded and output arrives while it is written.
//!
//! The last [`STDERR_TAIL_LINES`] stderr lines (each bounded like events) are kept in a
//! [`StderrTail`] for crash reports; it knows when the stream has ended, so a report
//! taken after a death can wait for the last lines to be read.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::error::ExitReason;
use crate::executor;
use crate::process::exit::ExitWatch;

/// Lines of stderr kept per worker for crash reports.
pub const STDERR_TAIL_LINES: usize = 20;
/// Longest piece of output forwarded as one event or kept as one tail line, in bytes.
pub const MAX_LINE: usize = 8 * 1024;

/// The last lines a process wrote to stderr (at most [`STDERR_TAIL_LINES`]).
pub type StderrTail = Arc<OutputTail>;

/// See [`StderrTail`].
#[derive(Default)]
pub struct OutputTail {
    lines: Mutex<VecDeque<String>>,
    /// Set when the stream has ended (EOF or a read error).
    ended: ExitWatch,
}

impl OutputTail {
    fn push(&self, line: String) {
        let mut t = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if t.len() == STDERR_TAIL_LINES {
            t.pop_front();
        }
        t.push_back(line);
    }

    /// The lines kept, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Waits up to `t` until the stream has been read to its end; true when it has.
    /// (A child of the worker that inherited the stream can keep it open after the
    /// worker died, hence the bound.)
    pub async fn wait_ended(&self, t: Duration) -> bool {
        self.ended.wait(t).await
    }
}

/// The stderr tail's lines.
pub fn tail_lines(tail: &StderrTail) -> Vec<String> {
    tail.lines()
}

/// The stderr tail as one text, a line each.
pub fn tail_text(tail: &StderrTail) -> String {
    tail.lines().join("\n")
}

/// Re-emits a process's stdout and stderr (the read ends of its pipes) as `tracing`
/// events; returns the tail of its stderr. The pipes are read on the shared I/O
/// threads, not on threads of their own.
pub(crate) fn forward_output(
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    worker_id: u64,
    pid: u32,
) -> StderrTail {
    let tail = StderrTail::default();
    if let Some(out) = stdout {
        spawn_reader(out, worker_id, pid, "stdout", None);
    }
    match stderr {
        Some(err) => spawn_reader(err, worker_id, pid, "stderr", Some(tail.clone())),
        None => tail.ended.set(ExitReason::Unknown),
    }
    tail
}

fn spawn_reader(
    pipe: OwnedFd,
    worker_id: u64,
    pid: u32,
    name: &'static str,
    tail: Option<StderrTail>,
) {
    let ended = tail.clone();
    let started = executor::run(Box::new(move || {
        Box::pin(async move {
            let emit = |line: String, continues: bool| {
                if name == "stderr" {
                    tracing::warn!(target: "polyhost::worker", worker = worker_id, pid, stream = name, continues, "{line}");
                } else {
                    tracing::info!(target: "polyhost::worker", worker = worker_id, pid, stream = name, continues, "{line}");
                }
                if let Some(tail) = &tail {
                    tail.push(line);
                }
            };
            let read = match tokio::net::unix::pipe::Receiver::from_owned_fd(pipe) {
                Ok(pipe) => read_lines(pipe, emit).await,
                Err(e) => Err(e),
            };
            if let Err(e) = read {
                tracing::error!(worker = worker_id, pid, "reading the worker's {name}: {e}");
            }
            if let Some(tail) = &tail {
                tail.ended.set(ExitReason::Unknown);
            }
        })
    }));
    if let Err(e) = started {
        tracing::error!(worker = worker_id, "cannot read the worker's {name}: {e}");
        if let Some(tail) = ended {
            tail.ended.set(ExitReason::Unknown);
        }
    }
}

/// Reads `stream` to its end and calls `emit(line, continues)` for every line (without
/// its `\n` or `\r\n`) and every [`MAX_LINE`]-byte piece of a longer one; bytes that
/// are not UTF-8 are replaced. Ends at EOF, or with the first read error other than
/// an interruption.
pub(crate) async fn read_lines(
    stream: impl AsyncRead + Unpin,
    mut emit: impl FnMut(String, bool),
) -> std::io::Result<()> {
    let mut reader = BufReader::with_capacity(MAX_LINE, stream);
    let mut line: Vec<u8> = Vec::new();
    loop {
        let buf = match reader.fill_buf().await {
            Ok(buf) => buf,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if !line.is_empty() {
                emit(text(&line), false);
            }
            return Ok(());
        }
        let room = MAX_LINE - line.len();
        let chunk = &buf[..buf.len().min(room)];
        match chunk.iter().position(|&b| b == b'\n') {
            Some(at) => {
                line.extend_from_slice(&chunk[..at]);
                reader.consume(at + 1);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                emit(text(&line), false);
                line.clear();
            }
            None => {
                let n = chunk.len();
                line.extend_from_slice(chunk);
                reader.consume(n);
                if line.len() == MAX_LINE {
                    // Cut, but not inside a UTF-8 sequence: its start goes with the
                    // next piece.
                    let keep = incomplete_suffix(&line);
                    let rest = line.split_off(line.len() - keep);
                    emit(text(&line), true);
                    line = rest;
                }
            }
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// How many bytes at the end of `bytes` begin a UTF-8 sequence that is not complete
/// (0 to 3).
fn incomplete_suffix(bytes: &[u8]) -> usize {
    let start = bytes.len().saturating_sub(3);
    for i in (start..bytes.len()).rev() {
        let b = bytes[i];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back
        }
        let len = match b {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return 0,
        };
        return if bytes.len() - i < len {
            bytes.len() - i
        } else {
            0
        };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(input: &[u8]) -> Vec<(String, bool)> {
        let mut out = vec![];
        futures::executor::block_on(read_lines(input, |l, c| out.push((l, c)))).unwrap();
        out
    }

    #[test]
    fn bytes_that_are_not_utf8_are_replaced_and_reading_goes_on() {
        let got = lines_of(b"ok\n\xff\xfe bad\r\nafter\nlast without newline");
        assert_eq!(
            got,
            vec![
                ("ok".to_string(), false),
                ("\u{fffd}\u{fffd} bad".to_string(), false),
                ("after".to_string(), false),
                ("last without newline".to_string(), false),
            ]
        );
    }

    #[test]
    fn output_without_newline_is_cut_into_bounded_pieces_and_nothing_is_lost() {
        let input = vec![b'x'; 10 * 1024 * 1024 + 5];
        let got = lines_of(&input);
        assert!(got.iter().all(|(l, _)| l.len() <= MAX_LINE));
        assert_eq!(got.iter().map(|(l, _)| l.len()).sum::<usize>(), input.len());
        assert!(got[..got.len() - 1].iter().all(|(_, c)| *c));
        assert!(!got.last().unwrap().1);
    }

    #[test]
    fn a_cut_never_splits_a_utf8_sequence() {
        let mut input = vec![b'a'; MAX_LINE - 1];
        input.extend_from_slice("é and more".as_bytes());
        let got = lines_of(&input);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0.len(), MAX_LINE - 1);
        assert_eq!(got[1].0, "é and more");
        assert!(!got.iter().any(|(l, _)| l.contains('\u{fffd}')));
    }
}
