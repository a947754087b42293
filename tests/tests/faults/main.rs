//! Faults a production pool meets, injected on purpose into Python and Node workers
//! (`tests/plugins/fault_plugin.{py,mjs}`): busy and blocked workers under health
//! checks, workers' children, process groups, huge deadlines. Every scenario is one
//! test per adapter; each asserts that every call returns or fails with a typed error
//! and that the pool carries on.
//!
//! Adapters are discovered (`polyhost_tests::for_adapters!`): each runs its
//! `tests/plugins/fault_plugin<suffix>`.

use std::time::Duration;

use polyhost::{CallError, CallOptions, PoolBuilder, StartMode};
use polyhost_tests::fault_pool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use polyhost::HandlerError;
use polyhost::MAX_CALLBACKS_IN_FLIGHT;
use polyhost_tests::faults::{FaultsClient, HostGateDispatch, HostGateHandler, NestClient};
use polyhost_tests::for_adapters;
use tokio::sync::{watch, Notify};

mod calls;
mod health;
mod processes;

use calls::*;
use health::*;
use processes::*;

for_adapters!(
    busy_workers_answer_health_pings,
    a_handler_that_blocks_the_event_loop_is_explained,
    children_of_a_worker_do_not_inherit_its_socket,
    workers_run_in_a_process_group_of_their_own,
    a_deadline_too_far_to_name_does_not_panic_the_host,
    a_call_pipelined_outside_an_async_runtime_goes_out,
    a_call_for_an_interface_no_worker_serves_fails_at_once,
    calls_on_returned_and_pipelined_capabilities_keep_their_deadline,
    a_callback_flood_is_bounded_per_worker,
    a_host_handler_that_panics_fails_only_its_call,
    a_call_on_a_capability_whose_worker_died_fails_typed,
    a_stopped_worker_is_killed_and_replaced,
    shutdown_escalates_to_sigterm_then_sigkill,
    concurrent_calls_go_to_the_least_loaded_worker,
    a_deadline_is_the_callers_else_the_methods_else_the_pools,
    an_idle_session_is_forgotten_after_its_ttl,
);

fn pool(adapter: &str, size: usize) -> PoolBuilder {
    fault_pool(adapter, size)
        .restart_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .shutdown_timeouts(Duration::from_secs(2), Duration::from_secs(1))
}

/// Awaits `fut`, failing the test with `what` if it takes longer than `limit`.
async fn within<T>(limit: Duration, what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: not done within {limit:?}"),
    }
}

/// A call failed because its worker was cut off (killed, or its connection closed).
fn assert_worker_lost(err: &CallError) {
    assert!(
        matches!(
            err,
            CallError::WorkerCrashed { .. } | CallError::Disconnected { .. }
        ),
        "{err:?}"
    );
}

/// The next call is answered, by a worker other than `pid`: the pool replaced it.
async fn answered_by_a_new_worker(faults: &FaultsClient, pid: u32) {
    let new_pid = within(Duration::from_secs(20), "a call after", faults.pid())
        .await
        .unwrap()
        .pid;
    assert_ne!(new_pid, pid);
}
