//! The cost of the thread hop every pool call makes, measured alone: a no-op command
//! sent from the caller's runtime to a current-thread runtime on a thread of its own
//! (as polyhost's I/O threads are) and answered on a oneshot, one at a time and
//! `IN_FLIGHT` at a time. No sockets, no Cap'n Proto: what the hop itself costs.

use tokio::sync::{mpsc, oneshot};

use super::*;

/// Host CPU per round trip through the hop: (one at a time, `IN_FLIGHT` at a time).
pub(crate) async fn hop_cost() -> Result<(Duration, Duration), BoxError> {
    let (tx, mut rx) = mpsc::unbounded_channel::<oneshot::Sender<()>>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime");
        runtime.block_on(async move {
            while let Some(reply) = rx.recv().await {
                let _ = reply.send(());
            }
        });
    });
    let hop = |tx: &mpsc::UnboundedSender<oneshot::Sender<()>>| {
        let (reply, done) = oneshot::channel();
        let sent = tx.send(reply);
        async move {
            sent.map_err(|_| "the hop thread ended")?;
            done.await.map_err(|_| "the hop thread dropped a reply")
        }
    };
    for _ in 0..WARMUP_CALLS {
        hop(&tx).await?;
    }
    let cpu = Cpu::now(&[]);
    for _ in 0..SEQUENTIAL_CALLS {
        hop(&tx).await?;
    }
    let sequential = cpu.per(&[], SEQUENTIAL_CALLS).0;
    let cpu = Cpu::now(&[]);
    {
        let mut hops = futures::stream::iter(0..PIPELINED_CALLS)
            .map(|_| hop(&tx))
            .buffer_unordered(IN_FLIGHT);
        while let Some(done) = hops.next().await {
            done?;
        }
    }
    let in_flight = cpu.per(&[], PIPELINED_CALLS).0;
    drop(tx);
    thread.join().map_err(|_| "the hop thread panicked")?;
    Ok((sequential, in_flight))
}
