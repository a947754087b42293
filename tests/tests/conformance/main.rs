//! The adapter conformance suite: every scenario runs against every adapter folder
//! (`adapters/*/adapter.json`, discovered by build.rs), one test per (scenario,
//! adapter) named `<adapter>::<scenario>`, with real guest workers and capnp-rpc
//! (through polyhost's connection, or directly where a scenario needs raw access) as
//! the reference peer.
//!
//! The guests implement `Conformance` of tests/conformance/schema/conformance.capnp in
//! tests/conformance/guests/<adapter>/. A new adapter passes when its tests are green;
//! it never needs new Rust code. `registry.rs` shows it with a copied adapter.

mod abuse;
mod calls;
mod corpus;
mod hostile;
mod json;
mod protocol;
mod raw;
mod registry;
mod support;
mod transfer;
mod values;

use std::time::Duration;

use abuse::*;
use calls::*;
use json::*;
use protocol::*;
use transfer::*;
use values::*;

/// How long one call of a scenario may take.
pub const CALL: Duration = Duration::from_secs(20);

/// Every scenario, in the order of tests/conformance/README.md.
macro_rules! scenarios {
    ($($scenario:ident),* $(,)?) => {
        polyhost_tests::for_adapters!(async crate::support::run; $($scenario),*);

        /// Every scenario by name, for running them against an adapter the build does
        /// not know (`registry.rs`).
        pub const SCENARIOS: &[(&str, support::Scenario)] = &[
            $((stringify!($scenario), |guest| Box::pin($scenario(guest)))),*
        ];
    };
}

scenarios!(
    every_type_round_trips_through_the_guest,
    the_guest_canonical_form_is_byte_identical_to_capnp,
    a_guest_exception_arrives_with_type_message_and_traceback,
    dropping_a_call_cancels_its_handler_in_the_guest,
    callbacks_and_capabilities_both_ways_are_released,
    a_call_on_an_unreturned_capability_is_pipelined,
    a_sixteen_mib_message_each_way,
    streams_flow_both_ways,
    params_nested_beyond_the_limit_fail_the_call_only,
    hostile_input_closes_the_connection,
    amplifying_input_closes_the_connection_within_64_mib,
    many_calls_in_flight_on_one_connection_all_answer,
    unknown_methods_and_interfaces_are_unimplemented,
    unimplemented_and_unknown_messages_are_echoed_and_the_connection_carries_on,
    every_type_round_trips_through_call_json,
    invalid_json_params_are_refused_before_sending,
    stream_items_arrive_as_json_values,
    capabilities_in_json_results_are_refused,
    call_json_takes_the_pool_call_path,
);
