//! Scenarios about values: every type of the encoding round-trips through the guest,
//! the guest's canonical form is capnp's, nesting beyond the limit fails one call.

use polyhost::codec::to_canonical;
use polyhost::CallError;
use polyhost_tests::conformance::conformance::*;

use crate::corpus::{self, describe, same};
use crate::support::{start, within, Guest};
use crate::CALL;

/// Every value of the corpus goes Rust -> guest -> Rust: the guest decodes it into its
/// native objects and encodes them again; Rust decodes an equal value with equal
/// canonical bytes.
pub async fn every_type_round_trips_through_the_guest(guest: Guest) {
    let g = start(&guest).await;
    for (name, value) in corpus::all() {
        let back = within(CALL, "echo", g.client.echo(value.clone()))
            .await
            .unwrap_or_else(|e| panic!("[{}] {name}: {e}", guest.adapter));
        assert!(
            same(&back, &value),
            "[{}] {name}: the guest changed the value; {}",
            guest.adapter,
            corpus::difference(&value, &back)
        );
        assert_eq!(
            to_canonical(&back).unwrap(),
            to_canonical(&value).unwrap(),
            "[{}] {name}: equal-looking values with different bits (NaN payload, -0.0?)",
            guest.adapter
        );
    }
    g.stop().await;
}

/// For every value, the canonical bytes the guest computes (decode, encode into a
/// fresh message, its own canonicalize) equal capnp's canonical bytes of the value.
pub async fn the_guest_canonical_form_is_byte_identical_to_capnp(guest: Guest) {
    let g = start(&guest).await;
    for (name, value) in corpus::all() {
        let expected = to_canonical(&value).unwrap();
        let got = within(CALL, "canonical", g.client.canonical(value.clone()))
            .await
            .unwrap_or_else(|e| panic!("[{}] {name}: {e}", guest.adapter));
        if got != expected {
            let at = got
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(expected.len()));
            panic!(
                "[{}] {name}: canonical bytes differ at byte {at} (word {}): guest {} bytes, capnp {} bytes\nguest: {:02x?}\ncapnp: {:02x?}\nvalue: {}",
                guest.adapter,
                at / 8,
                got.len(),
                expected.len(),
                &got[at / 8 * 8..(at / 8 * 8 + 32).min(got.len())],
                &expected[at / 8 * 8..(at / 8 * 8 + 32).min(expected.len())],
                describe(&value)
            );
        }
    }
    g.stop().await;
}

/// A call whose params nest deeper than the reader's limit fails with an exception,
/// and the connection stays usable.
pub async fn params_nested_beyond_the_limit_fail_the_call_only(guest: Guest) {
    let g = start(&guest).await;
    let deep = Everything {
        tree: corpus::some(corpus::deep_tree(200)),
        ..Everything::default()
    };
    let err = within(CALL, "echo", g.client.echo(deep))
        .await
        .expect_err("a 200-deep tree is refused");
    assert!(
        matches!(err, CallError::Remote { .. }),
        "[{}] {err:?}",
        guest.adapter
    );
    let fine = Everything {
        tree: corpus::some(corpus::deep_tree(20)),
        ..Everything::default()
    };
    let back = within(CALL, "echo", g.client.echo(fine.clone()))
        .await
        .unwrap();
    assert!(
        same(&back, &fine),
        "[{}] the connection is not usable after the refused call",
        guest.adapter
    );
    g.stop().await;
}
