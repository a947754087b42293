//! Pipelined calls take the pool's one call path: they hold their worker slot until
//! they complete, fail at their deadline (and so do the capabilities pipelined from
//! them), and are counted in the per-method metrics, as are calls on the
//! capabilities they return.

use std::time::Duration;

use polyhost::{CallError, CapabilityHandle, Method, OutgoingCall, PoolBuilder};
use polyhost_tests::pool_lab::{CounterClient, LabClient, LabCounterWhenPipedParams};
use polyhost_tests::{eventually, lab_pool};
use std::future::ready;

fn lab(call_timeout: Duration) -> PoolBuilder {
    lab_pool(1)
        .call_timeout(call_timeout)
        .shutdown_timeouts(Duration::from_secs(2), Duration::from_secs(1))
}

/// `Lab.counterWhenPiped`: the worker answers once another call has reached it, or
/// after `wait_ms`.
const COUNTER_WHEN_PIPED: Method = Method {
    interface_id: LabClient::INTERFACE_ID,
    method_id: 7,
    name: "Lab.counterWhenPiped",
    timeout_ms: None,
    idempotent: false,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pipelined_call_holds_its_slot_until_it_completes_and_is_counted() {
    let pool = lab(Duration::from_secs(30)).start().await.unwrap();
    let lab: LabClient = pool.client();
    let counter = lab.counter_when_piped_pipelined(10, 10_000);
    // The worker's slot is taken as the call is sent, before anything answers.
    let stats = pool.stats();
    assert_eq!((stats.in_flight, stats.busy), (1, 1), "{stats:?}");
    // `next` goes out on the promised answer, which lets the first call return.
    assert_eq!(counter.next().await.unwrap(), 11);
    assert!(
        // The router records a pipelined call in a task of its own, after the calls
        // on its capabilities have returned: it gives the slot back, then counts it.
        eventually(Duration::from_secs(10), || {
            let stats = pool.stats();
            ready(
                stats.in_flight == 0
                    && stats
                        .methods
                        .iter()
                        .any(|m| m.method == "Lab.counterWhenPiped"),
            )
        })
        .await,
        "the slot is given back and the call counted once the pipelined call completed: {:?}",
        pool.stats()
    );
    let stats = pool.stats();
    let of = |name: &str| stats.methods.iter().find(|m| m.method == name).cloned();
    let piped = of("Lab.counterWhenPiped").expect("the pipelined call is in the metrics");
    assert_eq!((piped.calls, piped.errors), (1, 0), "{piped:?}");
    let next = of("Counter.next").expect("a call on a pipelined capability too");
    assert_eq!((next.calls, next.errors), (1, 0), "{next:?}");
    assert_eq!((stats.calls, stats.errors), (2, 0), "{stats:?}");
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pipelined_call_fails_at_its_deadline_and_its_capabilities_with_it() {
    // No caller's timeout and no `$timeoutMs`: the pool's deadline applies.
    let deadline = Duration::from_millis(300);
    let pool = lab(deadline).start().await.unwrap();
    let lab: LabClient = pool.client();
    // Nothing is called on the counter, so the worker would wait 30 s.
    let call = OutgoingCall::to(COUNTER_WHEN_PIPED, Default::default()).params(
        LabCounterWhenPipedParams {
            start: 1,
            wait_ms: 30_000,
        },
    );
    let sent = lab.capability().hook().call_pipelined(call, vec![vec![0]]);
    let stats = pool.stats();
    assert_eq!(stats.in_flight, 1, "in flight while it runs: {stats:?}");
    let err = tokio::time::timeout(Duration::from_secs(10), sent.done)
        .await
        .expect("the deadline ends the call, not the worker's 30 s")
        .unwrap_err();
    assert!(
        matches!(&err, CallError::Timeout { method, after } if method == "Lab.counterWhenPiped" && *after == deadline),
        "{err:?}"
    );
    // Slot given back and the failure recorded before the caller heard of it.
    let stats = pool.stats();
    assert_eq!(stats.in_flight, 0, "{stats:?}");
    let piped = stats
        .methods
        .iter()
        .find(|m| m.method == "Lab.counterWhenPiped")
        .expect("the timed-out call is in the metrics");
    assert_eq!((piped.calls, piped.errors), (1, 1), "{piped:?}");
    // The capability pipelined from it fails with the same error, at once.
    let counter = CounterClient::from_capability(sent.caps.into_iter().next().unwrap());
    let err = tokio::time::timeout(Duration::from_secs(5), counter.next())
        .await
        .expect("no wait")
        .unwrap_err();
    assert!(matches!(err, CallError::Timeout { .. }), "{err:?}");
    // The worker is fine: the next call works.
    assert_eq!(lab.echo(5).await.unwrap(), 5);
    pool.shutdown().await;
}
