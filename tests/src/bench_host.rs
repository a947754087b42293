//! The host's side of the bench schema (tests/schema/bench.capnp), shared by the bench
//! and callprobe: the payload both echo, the echo calls themselves, and a `Feeder`
//! callback that streams `count` items into the worker (`Bench.consume`).

use futures::StreamExt;
use polyhost::{HandlerError, SinkWriter};

use crate::bench::{BenchClient, FeederHandler, Item};

/// What every `echoBytes` call sends (16 bytes).
pub const PAYLOAD: [u8; 16] = *b"polyhost-bench16";

/// `n` `echoBytes(PAYLOAD)` calls, `in_flight` at a time; fails on the first error or
/// on an answer that is not the payload.
pub async fn echo_calls(
    client: &BenchClient,
    n: usize,
    in_flight: usize,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut calls = futures::stream::iter(0..n)
        .map(|_| client.echo_bytes(PAYLOAD.to_vec()))
        .buffer_unordered(in_flight);
    while let Some(echoed) = calls.next().await {
        if echoed? != PAYLOAD {
            return Err("echoBytes answered another payload".into());
        }
    }
    Ok(())
}

/// Streams items `0..count` (`seq` and `value` both the item's number) into the sink
/// the worker passed.
pub struct Feeder;

#[async_trait::async_trait]
impl FeederHandler for Feeder {
    async fn feed(&self, count: u32, mut out: SinkWriter<Item>) -> Result<(), HandlerError> {
        for i in 0..count {
            out.send(Item {
                seq: i,
                value: i as f64,
            })
            .await?;
        }
        out.finish().await
    }
}
