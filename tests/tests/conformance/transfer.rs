//! Scenarios about moving data: a 16 MiB message each way, streams both ways.

use futures::StreamExt;
use polyhost_tests::conformance::conformance::*;

use crate::support::{start, within, Guest};
use crate::CALL;

/// A 16 MiB Data travels each way.
pub async fn a_sixteen_mib_message_each_way(guest: Guest) {
    const SIZE: usize = 16 << 20;
    let g = start(&guest).await;
    let data = within(CALL, "big", g.client.big(SIZE as u32))
        .await
        .unwrap_or_else(|e| panic!("[{}] big: {e}", guest.adapter));
    assert_eq!(data.len(), SIZE);
    if let Some(i) = data
        .iter()
        .enumerate()
        .position(|(i, b)| *b != (i * 7 + 3) as u8)
    {
        panic!(
            "[{}] byte {i} of the guest's 16 MiB is {} (expected {})",
            guest.adapter,
            data[i],
            (i * 7 + 3) as u8
        );
    }
    let checksum: u64 = data.iter().map(|b| u64::from(*b)).sum();
    let measured = within(CALL, "measure", g.client.measure(data))
        .await
        .unwrap_or_else(|e| panic!("[{}] measure: {e}", guest.adapter));
    assert_eq!(
        (measured.size, measured.checksum),
        (SIZE as u64, checksum),
        "[{}]",
        guest.adapter
    );
    g.stop().await;
}

/// `Sink(T)` streams both ways: the guest produces into a Rust `Stream`, and consumes
/// what a Rust handler produces.
pub async fn streams_flow_both_ways(guest: Guest) {
    let g = start(&guest).await;
    for count in [0u32, 1, 3000] {
        let points: Vec<Point> = within(
            CALL,
            "numbers",
            g.client
                .numbers(count)
                .map(|p| p.unwrap_or_else(|e| panic!("{e}")))
                .collect(),
        )
        .await;
        assert_eq!(
            points.len(),
            count as usize,
            "[{}] items of numbers({count})",
            guest.adapter
        );
        assert!(
            points
                .iter()
                .enumerate()
                .all(|(i, p)| p.x == i as f64 && p.y == -(i as f64)),
            "[{}] numbers out of order",
            guest.adapter
        );

        let drained = within(CALL, "drain", g.client.drain(count))
            .await
            .unwrap_or_else(|e| panic!("[{}] drain({count}): {e}", guest.adapter));
        assert_eq!(drained.received, count, "[{}]", guest.adapter);
        assert_eq!(
            drained.sum_x,
            (0..count).map(f64::from).sum::<f64>(),
            "[{}]",
            guest.adapter
        );
    }
    g.stop().await;
}
