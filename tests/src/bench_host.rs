//! The host's side of `Bench.consume` (tests/schema/bench.capnp), shared by the bench
//! and callprobe: a `Feeder` callback that streams `count` items into the worker.

use polyhost::{HandlerError, SinkWriter};

use crate::bench::{FeederHandler, Item};

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
