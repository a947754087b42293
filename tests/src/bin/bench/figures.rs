//! Figures: percentiles, medians, CPU time read from /proc, and how they are printed.

use super::*;

#[derive(Clone, Copy)]
pub(crate) struct Percentiles {
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
}

impl Percentiles {
    pub(crate) fn of(mut samples: Vec<Duration>) -> Percentiles {
        samples.sort();
        let at = |q: f64| {
            samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1]
        };
        Percentiles {
            p50: at(0.50),
            p99: at(0.99),
        }
    }
}

pub(crate) fn median(samples: impl IntoIterator<Item = Duration>) -> Duration {
    let mut v: Vec<Duration> = samples.into_iter().collect();
    v.sort();
    v[(v.len() - 1) / 2]
}

pub(crate) fn us(d: Duration) -> String {
    format!("{:.1} us", d.as_secs_f64() * 1e6)
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

pub(crate) fn per_s(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M/s", rate / 1e6)
    } else {
        format!("{:.1}k/s", rate / 1e3)
    }
}

/// CPU time (user + system) the host process and some worker processes have used.
pub(crate) struct Cpu {
    pub(crate) host: Duration,
    pub(crate) workers: Duration,
}

impl Cpu {
    pub(crate) fn now(pids: &[u32]) -> Cpu {
        Cpu {
            host: cpu_time(std::process::id()),
            workers: pids.iter().map(|p| cpu_time(*p)).sum(),
        }
    }

    /// CPU per operation since `self`: (host, workers).
    pub(crate) fn per(&self, pids: &[u32], ops: usize) -> (Duration, Duration) {
        let now = Cpu::now(pids);
        let n = ops.max(1) as u32;
        (
            now.host.saturating_sub(self.host) / n,
            now.workers.saturating_sub(self.workers) / n,
        )
    }
}

/// Time on CPU of a process, all its live threads, from `/proc/<pid>/task/*/schedstat`
/// (nanoseconds; utime + stime only count 10 ms ticks).
pub(crate) fn cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .sum()
}

/// This process's CPU time by thread kind: its I/O threads (`polyhost-io-*`) and the
/// rest (the caller's runtime, the bench's own threads), to show where the host's time
/// per call goes.
#[derive(Clone, Copy)]
pub(crate) struct ThreadCpu {
    pub(crate) io: Duration,
    pub(crate) rest: Duration,
}

impl ThreadCpu {
    pub(crate) fn now() -> ThreadCpu {
        let mut out = ThreadCpu {
            io: Duration::ZERO,
            rest: Duration::ZERO,
        };
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return out;
        };
        for task in tasks.flatten() {
            let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            let ran = std::fs::read_to_string(task.path().join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                .map_or(Duration::ZERO, Duration::from_nanos);
            if name.starts_with("polyhost-io") {
                out.io += ran;
            } else {
                out.rest += ran;
            }
        }
        out
    }

    /// Per operation since `self`: (I/O threads, the rest).
    pub(crate) fn per(&self, ops: usize) -> (Duration, Duration) {
        let now = ThreadCpu::now();
        let n = ops.max(1) as u32;
        (
            now.io.saturating_sub(self.io) / n,
            now.rest.saturating_sub(self.rest) / n,
        )
    }
}

pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// A markdown table in sections.
#[derive(Default)]
pub(crate) struct Table {
    pub(crate) sections: Vec<(String, Vec<Row>)>,
}

pub(crate) struct Row {
    pub(crate) what: String,
    pub(crate) value: String,
    pub(crate) ratio: f64,
    /// CPU per call or item: host, workers.
    pub(crate) cpu: Option<(Duration, Duration)>,
}

impl Table {
    pub(crate) fn section(&mut self, title: &str) {
        self.sections.push((title.to_string(), vec![]));
    }
    pub(crate) fn row(&mut self, what: &str, value: String, ratio: f64) {
        let last = self.sections.len() - 1;
        self.row_in(last, what, value, ratio, None);
    }
    pub(crate) fn row_cpu(
        &mut self,
        what: &str,
        value: String,
        ratio: f64,
        cpu: (Duration, Duration),
    ) {
        let last = self.sections.len() - 1;
        self.row_in(last, what, value, ratio, Some(cpu));
    }
    pub(crate) fn row_in(
        &mut self,
        section: usize,
        what: &str,
        value: String,
        ratio: f64,
        cpu: Option<(Duration, Duration)>,
    ) {
        self.sections[section].1.push(Row {
            what: what.to_string(),
            value,
            ratio,
            cpu,
        });
    }
    pub(crate) fn print(&self) {
        println!();
        println!("| measurement | value | vs floor | CPU per call/item: host | worker |");
        println!("|---|---:|---:|---:|---:|");
        for (title, rows) in &self.sections {
            println!("| **{title}** | | | | |");
            for r in rows {
                let (host, worker) = match r.cpu {
                    Some((h, w)) => (us(h), us(w)),
                    None => ("".into(), "".into()),
                };
                println!(
                    "| {} | {} | {:.2}x | {host} | {worker} |",
                    r.what, r.value, r.ratio
                );
            }
        }
    }
}

/// A target the bench checks: what must hold of a figure measured in this run.
pub(crate) enum Limit {
    AtMost(f64),
    AtLeast(f64),
    Above(f64),
}

/// The targets, checked against figures of this run, printed after the table.
#[derive(Default)]
pub(crate) struct Targets {
    rows: Vec<(String, String, f64, Limit)>,
}

impl Targets {
    pub(crate) fn check(&mut self, what: &str, value: String, ratio: f64, limit: Limit) {
        self.rows.push((what.to_string(), value, ratio, limit));
    }

    /// Calls into one worker of `language`: against the raw floor and the bare
    /// capnp-rpc client into the same worker.
    /// The targets against pycapnp (the C++ implementation inside Python).
    pub(crate) fn peer(&mut self, language: &str, got: &Calls, pycapnp: &Calls) {
        self.check(
            &format!("{language}: round trip p50 vs pycapnp's"),
            us(got.rtt.p50),
            ratio(got.rtt.p50, pycapnp.rtt.p50),
            Limit::AtMost(0.8),
        );
        self.check(
            &format!("{language}: calls/s, {IN_FLIGHT} in flight, vs pycapnp's"),
            per_s(got.rate),
            got.rate / pycapnp.rate,
            Limit::AtLeast(1.5),
        );
    }

    pub(crate) fn calls(&mut self, language: &str, got: &Calls, floor: &Calls, bare: &Calls) {
        self.check(
            &format!("{language}: host CPU per sequential call vs the bare client's"),
            us(got.rtt_cpu.0),
            ratio(got.rtt_cpu.0, bare.rtt_cpu.0),
            Limit::AtMost(1.25),
        );
        self.check(
            &format!("{language}: host CPU per call, {IN_FLIGHT} in flight, vs the bare client's"),
            us(got.rate_cpu.0),
            ratio(got.rate_cpu.0, bare.rate_cpu.0),
            Limit::AtMost(1.25),
        );
        self.check(
            &format!("{language}: calls/s, {IN_FLIGHT} in flight, vs the bare client's"),
            per_s(got.rate),
            got.rate / bare.rate,
            Limit::AtLeast(0.9),
        );
        self.check(
            &format!("{language}: round trip p50 vs the raw floor's"),
            us(got.rtt.p50),
            ratio(got.rtt.p50, floor.rtt.p50),
            Limit::AtMost(2.0),
        );
        if language.starts_with("Python") {
            self.check(
                &format!("{language}: worker CPU per sequential call vs the floor worker's"),
                us(got.rtt_cpu.1),
                ratio(got.rtt_cpu.1, floor.rtt_cpu.1),
                Limit::AtMost(1.4),
            );
        }
    }

    pub(crate) fn print(&self) {
        println!();
        println!("| target | value | figure | limit | met |");
        println!("|---|---:|---:|---:|---|");
        for (what, value, figure, limit) in &self.rows {
            let (limit, met) = match limit {
                Limit::AtMost(l) => (format!("<= {l}"), figure <= l),
                Limit::AtLeast(l) => (format!(">= {l}"), figure >= l),
                Limit::Above(l) => (format!("> {l}"), figure > l),
            };
            println!(
                "| {what} | {value} | {figure:.2} | {limit} | {} |",
                if met { "yes" } else { "**no**" }
            );
        }
    }
}
