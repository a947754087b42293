//! Pool telemetry reaches the OpenTelemetry meter provider an application installs:
//! call durations per method and outcome, and the pool's gauges.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use polyhost::{CallError, CallOptions};
use polyhost_tests::pool_lab::LabClient;
use polyhost_tests::{lab_pool, LAB_ENTRY as ENTRY};

fn has(attributes: &[&KeyValue], key: &str, value: &str) -> bool {
    attributes
        .iter()
        .any(|kv| kv.key.as_str() == key && kv.value.as_str() == value)
}

/// The newest export of the metric `name`.
fn find<'a>(
    exported: &'a [opentelemetry_sdk::metrics::data::ResourceMetrics],
    name: &str,
) -> &'a Metric {
    exported
        .iter()
        .rev()
        .flat_map(|rm| rm.scope_metrics())
        .filter(|sm| sm.scope().name() == "polyhost")
        .flat_map(|sm| sm.metrics())
        .find(|m| m.name() == name)
        .unwrap_or_else(|| panic!("no `{name}` was exported"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn call_durations_and_pool_gauges_reach_the_meter_provider() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    opentelemetry::global::set_meter_provider(provider.clone());

    let pool = lab_pool(2).start().await.unwrap();
    let lab: LabClient = pool.client();
    for n in 0..10 {
        assert_eq!(lab.echo(n).await.unwrap(), n);
    }
    let timeout = CallOptions {
        timeout: Some(Duration::from_millis(50)),
        ..Default::default()
    };
    let err = lab.slow_with(2_000, timeout).await.unwrap_err();
    assert!(matches!(err, CallError::Timeout { .. }), "{err:?}");
    provider.force_flush().unwrap();
    let exported = exporter.get_finished_metrics().unwrap();

    let AggregatedMetrics::F64(MetricData::Histogram(durations)) =
        find(&exported, "polyhost.call.duration").data()
    else {
        panic!("polyhost.call.duration is not an f64 histogram");
    };
    let count = |method: &str, outcome: &str| -> u64 {
        durations
            .data_points()
            .filter(|dp| {
                let attrs: Vec<&KeyValue> = dp.attributes().collect();
                has(&attrs, "polyhost.pool", ENTRY)
                    && has(&attrs, "rpc.method", method)
                    && has(&attrs, "outcome", outcome)
            })
            .map(|dp| dp.count())
            .sum()
    };
    assert_eq!(count("Lab.echo", "ok"), 10);
    assert_eq!(count("Lab.echo", "error"), 0);
    assert_eq!(count("Lab.slow", "error"), 1);

    let AggregatedMetrics::U64(MetricData::Gauge(workers)) =
        find(&exported, "polyhost.pool.workers").data()
    else {
        panic!("polyhost.pool.workers is not a u64 gauge");
    };
    let ours: Vec<u64> = workers
        .data_points()
        .filter(|dp| has(&dp.attributes().collect::<Vec<_>>(), "polyhost.pool", ENTRY))
        .map(|dp| dp.value())
        .collect();
    assert_eq!(ours, [2]);
    pool.shutdown().await;
}
