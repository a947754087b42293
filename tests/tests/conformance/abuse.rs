//! Scenarios about hostile peers: malformed frames, protocol violations and amplifying
//! input, as raw bytes on a fresh worker's socket (the cases are in `hostile.rs`).

use std::io::{Read, Write};
use std::time::Duration;

use crate::hostile;
use crate::support::{self, within, Guest};

/// Malformed frames and a hostile peer, as raw bytes on a fresh worker's socket: the
/// guest closes the connection promptly, says why on stderr, exits, and never
/// allocates what a frame merely declares.
pub async fn hostile_input_closes_the_connection(guest: Guest) {
    const MAX_RSS_KIB: i64 = 200 * 1024;
    let spec = guest.spec();
    let cases = hostile::fatal_cases();
    // A few workers at a time, each from a thread that lives as long as it.
    let results = tokio::task::spawn_blocking(move || {
        let mut results = Vec::new();
        for (chunk_at, chunk) in cases.chunks(4).enumerate() {
            std::thread::scope(|scope| {
                let handles: Vec<_> = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, case)| {
                        let (spec, id) = (&spec, (chunk_at * 4 + i) as u64 + 100);
                        scope.spawn(move || hostile_case(spec, id, case))
                    })
                    .collect();
                for (h, case) in handles.into_iter().zip(chunk) {
                    results.push((
                        case.name,
                        h.join().unwrap_or_else(|_| Err("the case panicked".into())),
                    ));
                }
            });
        }
        results
    });
    let results = within(Duration::from_secs(45), "the hostile cases", results)
        .await
        .unwrap();
    let mut failures = Vec::new();
    for (name, result) in results {
        match result {
            Ok((rss, said)) if rss < MAX_RSS_KIB => eprintln!(
                "[{}] {name}: closed, peak RSS {rss} KiB, stderr: {}",
                guest.adapter,
                said.lines().last().unwrap_or_default()
            ),
            Ok((rss, _)) => failures.push(format!("{name}: peak RSS {rss} KiB")),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "[{}] hostile input not handled:\n  {}",
        guest.adapter,
        failures.join("\n  ")
    );
}

/// Inputs that amplify: a null-root message, self-referencing pointer lists, a list of
/// millions of zero-sized structs. Each closes the connection, and the worker's peak
/// RSS exceeds that of a worker given a garbage frame by less than 64 MiB.
pub async fn amplifying_input_closes_the_connection_within_64_mib(guest: Guest) {
    const MAX_GROWTH_KIB: i64 = 64 * 1024;
    let spec = guest.spec();
    let results = tokio::task::spawn_blocking(move || {
        let baseline = &hostile::fatal_cases()[0]; // a garbage frame
        let base = hostile_case(&spec, 200, baseline).map(|(rss, _)| rss);
        let cases = hostile::amplification_cases();
        let results: Vec<_> = cases
            .iter()
            .enumerate()
            .map(|(i, case)| (case.name, hostile_case(&spec, 201 + i as u64, case)))
            .collect();
        (base, results)
    });
    let (base, results) = within(Duration::from_secs(60), "the amplifying cases", results)
        .await
        .unwrap();
    let base = base.expect("a garbage frame closes the connection");
    let mut failures = Vec::new();
    for (name, result) in results {
        match result {
            Ok((rss, said)) => {
                let growth = rss - base;
                eprintln!(
                    "[{}] {name}: closed, peak RSS {rss} KiB ({growth:+} KiB over a garbage frame's {base} KiB), stderr: {}",
                    guest.adapter,
                    said.lines().last().unwrap_or_default()
                );
                if growth >= MAX_GROWTH_KIB {
                    failures.push(format!(
                        "{name}: peak RSS {rss} KiB, {growth} KiB over {base} KiB"
                    ));
                }
                for symptom in ["RecursionError", "call stack", "internal error"] {
                    if said.contains(symptom) {
                        failures.push(format!("{name}: stderr says {symptom:?}:\n{said}"));
                    }
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "[{}] amplifying input not handled:\n  {}",
        guest.adapter,
        failures.join("\n  ")
    );
}

/// One hostile case against a fresh worker: Ok((peak RSS in KiB, the end of its
/// stderr)) when the worker closed the connection, said why on stderr and exited.
fn hostile_case(
    spec: &polyhost::worker::WorkerSpec,
    id: u64,
    case: &hostile::Case,
) -> Result<(i64, String), String> {
    // A forked child starts with the test process's resident set as its peak (Linux
    // counts the copy made at fork in the child's ru_maxrss), and this process may hold
    // hundreds of MiB for the scenarios running beside this one. The exit figure speaks
    // for the worker only when it is above what this process held at the fork; below
    // that, the VmHWM samples taken while the worker runs (its own address space) do.
    let before = support::self_rss_kib();
    let mut spawned = polyhost::worker::spawn(spec, id).map_err(|e| e.to_string())?;
    let inherited = before.max(support::self_rss_kib()) + 64 * 1024;
    let pid = spawned.pid;
    let outcome = (|| {
        // The peer may close before everything is written: that is fine.
        let _ = spawned.socket.write_all(&case.bytes);
        if case.then_eof {
            let _ = spawned.socket.shutdown(std::net::Shutdown::Write);
        }
        let mut peak = support::vm_hwm_kib(pid).unwrap_or(0);
        spawned
            .socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        let until = std::time::Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 4096];
        loop {
            match spawned.socket.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => return Err(format!("reading the socket: {e}")),
            }
            peak = peak.max(support::vm_hwm_kib(pid).unwrap_or(0));
            if std::time::Instant::now() >= until {
                return Err("the worker did not close the connection within 10 s".into());
            }
        }
        Ok(peak)
    })();
    let exit = support::reap(pid, Duration::from_secs(10));
    let peak = outcome?;
    let (_, maxrss) =
        exit.ok_or("the worker did not exit within 10 s of closing the connection")?;
    // The stderr reader thread may still be catching up.
    let mut stderr = String::new();
    for _ in 0..100 {
        stderr = polyhost::worker::tail_text(&spawned.stderr_tail);
        if !stderr.trim().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if stderr.trim().is_empty() {
        return Err("the worker closed the connection without saying why on stderr".into());
    }
    let own_at_exit = if maxrss > inherited { maxrss } else { 0 };
    Ok((peak.max(own_at_exit), stderr))
}
