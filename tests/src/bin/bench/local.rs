//! polyhost with its connections on the caller's thread: a pool built with
//! `PoolBuilder::connections_on(&local)`, called from inside that `LocalSet` on one
//! current-thread runtime (as the bare client runs), so that calls take no thread hop.

use super::*;

/// Starts the pool `builder` describes on a thread of its own (one current-thread
/// runtime and a `LocalSet` that runs its connections) and measures the same calls as
/// the other polyhost rows.
pub(crate) fn local_calls(builder: PoolBuilder) -> Result<Calls, BoxError> {
    std::thread::spawn(move || -> Result<Calls, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let local = tokio::task::LocalSet::new();
        local
            .block_on(&runtime, async {
                let pool = builder.connections_on(&local).start().await?;
                let client: BenchClient = pool.client();
                let pids = pool.stats().pids;
                let got = calls(&client, &pids).await;
                pool.shutdown().await;
                got
            })
            .map_err(|e| e.to_string())
    })
    .join()
    .map_err(|_| "the local pool's thread panicked")?
    .map_err(Into::into)
}
