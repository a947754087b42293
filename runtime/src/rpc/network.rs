//! The network a connection's `RpcSystem` runs on: capnp-rpc's two-party network,
//! with the size of each new message's first segment held to what polyhost's messages
//! need.
//!
//! capnp-rpc asks for a first segment of 1024 words (8 KiB) for every call it sends,
//! and the allocator zeroes all of it: most of the cost of sending a small call went
//! to that. The size is a hint the network may adjust (`Connection::new_outgoing_message`);
//! here it is at most [`FIRST_SEGMENT_WORDS`]. A message that outgrows its first
//! segment gets more segments, as Cap'n Proto's framing allows.

use capnp::capability::Promise;
use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::{twoparty, Connection, FlowController, IncomingMessage, OutgoingMessage};

use crate::rpc::transport::ReadHalf;

/// Words of a new message's first segment at most: 960 bytes, which hold a call with
/// small params whole. It stays under glibc's large-chunk size (1 KiB): a burst of
/// new messages takes the allocator's small-chunk paths, not the large-chunk search
/// that first merges every free small chunk (`malloc_consolidate`).
pub(crate) const FIRST_SEGMENT_WORDS: u32 = 120;

/// capnp-rpc's two-party network, its connection wrapped in [`Sized`].
pub(crate) struct Network(pub(crate) twoparty::VatNetwork<ReadHalf>);

impl capnp_rpc::VatNetwork<Side> for Network {
    fn connect(&mut self, host_id: Side) -> Option<Box<dyn Connection<Side>>> {
        let connection = self.0.connect(host_id)?;
        Some(Box::new(Sized(connection)))
    }

    fn accept(&mut self) -> Promise<Box<dyn Connection<Side>>, capnp::Error> {
        let accepted = self.0.accept();
        Promise::from_future(async move {
            let connection = accepted.await?;
            Ok(Box::new(Sized(connection)) as Box<dyn Connection<Side>>)
        })
    }

    fn drive_until_shutdown(&mut self) -> Promise<(), capnp::Error> {
        self.0.drive_until_shutdown()
    }
}

/// A connection whose new messages start with at most [`FIRST_SEGMENT_WORDS`].
struct Sized(Box<dyn Connection<Side>>);

impl Connection<Side> for Sized {
    fn get_peer_vat_id(&self) -> Side {
        self.0.get_peer_vat_id()
    }

    fn new_outgoing_message(&mut self, first_segment_word_size: u32) -> Box<dyn OutgoingMessage> {
        let words = match first_segment_word_size {
            0 => FIRST_SEGMENT_WORDS,
            hint => hint.min(FIRST_SEGMENT_WORDS),
        };
        self.0.new_outgoing_message(words)
    }

    fn receive_incoming_message(
        &mut self,
    ) -> Promise<Option<Box<dyn IncomingMessage>>, capnp::Error> {
        self.0.receive_incoming_message()
    }

    fn new_stream(&mut self) -> (Box<dyn FlowController>, Promise<(), capnp::Error>) {
        self.0.new_stream()
    }

    fn shutdown(&mut self, result: capnp::Result<()>) -> Promise<(), capnp::Error> {
        self.0.shutdown(result)
    }
}
