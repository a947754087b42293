//! polyhost with its connections on the caller's thread: a pool built with
//! `PoolBuilder::connections_on(&local)`, called from inside that `LocalSet` on one
//! current-thread runtime (as the bare client runs), so that calls take no thread hop.

use super::*;

/// Starts the pool `builder` describes on a thread of its own (one current-thread
/// runtime and a `LocalSet` that runs its connections) and measures the same calls as
/// the other polyhost rows.
pub(crate) fn local_calls(builder: PoolBuilder) -> Result<Calls, BoxError> {
    on_own_thread("the local pool", |local| {
        let builder = builder.connections_on(local);
        async move {
            let pool = builder.start().await?;
            let client: BenchClient = pool.client();
            let pids = pool.stats().pids;
            let got = calls(&client, &pids).await;
            pool.shutdown().await;
            got
        }
    })
}
