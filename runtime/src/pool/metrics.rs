//! Per-method call metrics of a pool: calls, errors and a latency histogram, kept for
//! [`crate::PoolStats`] and reported to OpenTelemetry.
//!
//! Every call made through a pool's clients is recorded when it ends (success, error,
//! timeout) under its schema name (`Interface.method`). Latencies go into fixed
//! buckets, four per power of two of microseconds, so keeping them is a few integer
//! operations under a short lock (plus one OpenTelemetry record, below) and a
//! percentile is exact to within 25% (the reported value is the upper edge of its
//! bucket, capped by the largest call seen).
//!
//! The same calls go to the global OpenTelemetry meter provider (a no-op unless the
//! application installs one before it starts the pool: instruments are made at
//! start), as instruments of the meter `polyhost`:
//!
//! | instrument | kind | attributes |
//! |---|---|---|
//! | `polyhost.call.duration` (s) | histogram | `polyhost.pool`, `rpc.method`, `outcome` (`ok` / `error`) |
//! | `polyhost.pool.workers`, `.busy`, `.queued` | gauges | `polyhost.pool` |
//! | `polyhost.pool.restarts` | counter | `polyhost.pool` |
//!
//! `polyhost.pool` is the pool's plugin entry (`greeter_plugin:make`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::KeyValue;

use crate::pool::small_map::SchemaMap;

/// Buckets per power of two.
const SUB: u32 = 4;
/// Powers of two of microseconds covered (2^28 us is ~4.5 min); longer calls land in
/// the last bucket.
const OCTAVES: u32 = 28;
const BUCKETS: usize = (SUB * (OCTAVES - 1)) as usize;

/// What a pool knows about the calls of one method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodStats {
    /// `Interface.method`, as the schema names it.
    pub method: String,
    /// Calls that ended, successful or not.
    pub calls: u64,
    /// Calls that ended with an error (timeouts and crashes included).
    pub errors: u64,
    /// Median latency from the caller's side (queueing included).
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

struct Histogram {
    calls: u64,
    errors: u64,
    max_us: u64,
    buckets: [u64; BUCKETS],
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            calls: 0,
            errors: 0,
            max_us: 0,
            buckets: [0; BUCKETS],
        }
    }
}

/// The bucket of a latency of `us` microseconds.
fn bucket(us: u64) -> usize {
    if us < u64::from(SUB) {
        return us as usize;
    }
    let octave = 63 - us.leading_zeros(); // floor(log2(us)) >= 2
    let sub = (us >> (octave - 2)) & u64::from(SUB - 1);
    (((octave - 1) * SUB) as usize + sub as usize).min(BUCKETS - 1)
}

/// The largest latency (microseconds) bucket `i` holds.
fn upper_edge(i: usize) -> u64 {
    let i = i as u64;
    let sub = u64::from(SUB);
    if i < sub {
        return i;
    }
    let (octave, part) = (i / sub + 1, i % sub);
    ((sub + part + 1) << (octave - 2)) - 1
}

impl Histogram {
    fn percentile(&self, q: f64) -> Duration {
        let rank = ((self.calls as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Duration::from_micros(upper_edge(i).min(self.max_us));
            }
        }
        Duration::from_micros(self.max_us)
    }
}

/// The metrics of one pool.
pub(crate) struct Metrics {
    methods: Mutex<SchemaMap<&'static str, Histogram>>,
    /// `polyhost.call.duration`
    duration: opentelemetry::metrics::Histogram<f64>,
    /// `polyhost.pool = <entry>`, shared by every measurement of the pool.
    pool: KeyValue,
}

/// What the pool gauges read when the meter provider collects.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Gauges {
    pub workers: u64,
    pub busy: u64,
    pub queued: u64,
    pub restarts: u64,
}

impl Metrics {
    /// Metrics of the pool running `entry`; `gauges` is read at every collection and
    /// answers `None` once the pool is gone.
    pub(crate) fn new(
        entry: &str,
        gauges: impl Fn() -> Option<Gauges> + Send + Sync + Clone + 'static,
    ) -> Metrics {
        let meter = opentelemetry::global::meter("polyhost");
        let pool = KeyValue::new("polyhost.pool", Arc::<str>::from(entry));
        let gauge = |name: &'static str, description: &'static str, read: fn(&Gauges) -> u64| {
            let (gauges, pool) = (gauges.clone(), pool.clone());
            meter
                .u64_observable_gauge(name)
                .with_description(description)
                .with_callback(move |o| {
                    if let Some(g) = gauges() {
                        o.observe(read(&g), std::slice::from_ref(&pool));
                    }
                })
                .build();
        };
        gauge("polyhost.pool.workers", "Workers alive and started", |g| {
            g.workers
        });
        gauge(
            "polyhost.pool.busy",
            "Workers running at least one call",
            |g| g.busy,
        );
        gauge("polyhost.pool.queued", "Calls waiting for a worker", |g| {
            g.queued
        });
        {
            let (gauges, pool) = (gauges.clone(), pool.clone());
            meter
                .u64_observable_counter("polyhost.pool.restarts")
                .with_description("Workers restarted after they died")
                .with_callback(move |o| {
                    if let Some(g) = gauges() {
                        o.observe(g.restarts, std::slice::from_ref(&pool));
                    }
                })
                .build();
        }
        Metrics {
            methods: Mutex::default(),
            duration: meter
                .f64_histogram("polyhost.call.duration")
                .with_unit("s")
                .with_description("Calls through the pool's clients, queueing included")
                .build(),
            pool,
        }
    }

    pub(crate) fn record(&self, method: &'static str, took: Duration, ok: bool) {
        self.duration.record(
            took.as_secs_f64(),
            &[
                self.pool.clone(),
                KeyValue::new("rpc.method", method),
                KeyValue::new("outcome", if ok { "ok" } else { "error" }),
            ],
        );
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let mut methods = self.methods.lock().unwrap_or_else(|e| e.into_inner());
        let h = methods.entry(method).or_default();
        h.calls += 1;
        h.errors += u64::from(!ok);
        h.max_us = h.max_us.max(us);
        h.buckets[bucket(us)] += 1;
    }

    /// Every method called so far, by name.
    pub(crate) fn snapshot(&self) -> Vec<MethodStats> {
        let methods = self.methods.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<MethodStats> = methods
            .iter()
            .map(|(name, h)| MethodStats {
                method: name.to_string(),
                calls: h.calls,
                errors: h.errors,
                p50: h.percentile(0.50),
                p99: h.percentile(0.99),
                max: Duration::from_micros(h.max_us),
            })
            .collect();
        out.sort_by(|a, b| a.method.cmp(&b.method));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_latency_lands_in_a_bucket_whose_edge_is_within_a_quarter_above_it() {
        for us in (0..5000u64).chain([1 << 20, (1 << 27) + 12345, u64::MAX / 2]) {
            let i = bucket(us);
            if i == BUCKETS - 1 {
                continue;
            }
            let edge = upper_edge(i);
            assert!(edge >= us, "{us} us -> bucket {i} ends at {edge}");
            assert!(
                edge as f64 <= (us as f64) * 1.25,
                "{us} us -> bucket {i} ends at {edge}"
            );
            if i > 0 {
                assert!(upper_edge(i - 1) < us, "{us} us belongs below bucket {i}");
            }
        }
    }

    #[test]
    fn percentiles_follow_the_recorded_calls() {
        let m = Metrics::new("test:make", || None);
        for ms in 1..=100u64 {
            m.record("Calc.add", Duration::from_millis(ms), ms != 100);
        }
        m.record("A.first", Duration::from_micros(7), true);
        let stats = m.snapshot();
        assert_eq!(stats[0].method, "A.first", "sorted by name");
        let add = &stats[1];
        assert_eq!((add.calls, add.errors), (100, 1));
        assert_eq!(add.max, Duration::from_millis(100));
        let p50 = add.p50.as_secs_f64() * 1e3;
        let p99 = add.p99.as_secs_f64() * 1e3;
        assert!((50.0..=50.0 * 1.25).contains(&p50), "p50 {p50} ms");
        assert!((99.0..=100.0).contains(&p99), "p99 {p99} ms");
    }
}
