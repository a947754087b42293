//! Figures: percentiles, medians, CPU time read from /proc, and how they are printed.

use super::*;

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

/// utime + stime of a process (all its threads), from /proc (clock ticks of 10 ms).
pub(crate) fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    let Some((_, rest)) = stat.rsplit_once(") ") else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
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
