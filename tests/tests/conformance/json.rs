//! Scenarios about calls by name with JSON (`Pool::call_json`): every value of the
//! corpus through the guest and back equals the typed path's result serialised by
//! serde, invalid params never reach the guest, stream items arrive as JSON values.

use futures::StreamExt;
use polyhost::{JsonCallError, JsonReply};
use polyhost_tests::conformance::conformance::*;
use serde_json::{json, Value};

use crate::corpus::{self, same};
use crate::support::{start, within, Guest};
use crate::CALL;

async fn echo_json(pool: &polyhost::Pool, params: Value) -> Result<Value, JsonCallError> {
    match within(
        CALL,
        "call_json",
        pool.call_json("Conformance.echo", params, Default::default()),
    )
    .await?
    {
        JsonReply::Value(v) => Ok(v),
        JsonReply::Stream(_) => panic!("echo is not a stream method"),
    }
}

/// Every value of the corpus goes JSON -> guest -> JSON through `call_json`, and the
/// result equals the typed client's result for the same value serialised by serde;
/// read back through serde, it is the value sent.
pub async fn every_type_round_trips_through_call_json(guest: Guest) {
    let g = start(&guest).await;
    for (name, value) in corpus::all() {
        let typed = within(CALL, "echo", g.client.echo(value.clone()))
            .await
            .unwrap_or_else(|e| panic!("[{}] {name}: {e}", guest.adapter));
        let expected = serde_json::to_value(&typed).unwrap();
        let params = json!({ "value": serde_json::to_value(&value).unwrap() });
        let got = echo_json(&g.pool, params)
            .await
            .unwrap_or_else(|e| panic!("[{}] {name}: {e}", guest.adapter));
        assert!(
            got["value"] == expected,
            "[{}] {name}: call_json and the typed path disagree",
            guest.adapter
        );
        let back: Everything = serde_json::from_value(got["value"].clone()).unwrap();
        assert!(
            same(&back, &value),
            "[{}] {name}: the JSON result does not read back as the value sent; {}",
            guest.adapter,
            corpus::difference(&value, &back)
        );
    }
    g.stop().await;
}

/// A wrong type, an unknown field, an integer overflow, a string for a number and bad
/// base64 are refused with the JSON pointer of the value, and no call reaches a
/// worker (the pool counts none).
pub async fn invalid_json_params_are_refused_before_sending(guest: Guest) {
    let g = start(&guest).await;
    let before = g.pool.stats().calls;
    let cases = [
        (
            "a wrong type",
            json!({ "value": { "bool": "yes" } }),
            "/value/bool",
        ),
        (
            "an unknown field",
            json!({ "value": { "colour": 1 } }),
            "/value",
        ),
        (
            "an integer overflow",
            json!({ "value": { "i8": 128 } }),
            "/value/i8",
        ),
        (
            "a 64-bit overflow",
            json!({ "value": { "u64": "18446744073709551616" } }),
            "/value/u64",
        ),
        (
            "a string for a number",
            json!({ "value": { "i32": "12" } }),
            "/value/i32",
        ),
        (
            "bad base64",
            json!({ "value": { "data": "not base64!" } }),
            "/value/data",
        ),
        (
            "two union members",
            json!({ "value": { "idle": null, "count": 1 } }),
            "/value",
        ),
        (
            "an unknown enumerant",
            json!({ "value": { "mood": "sleepy" } }),
            "/value/mood",
        ),
    ];
    for (what, params, pointer) in cases {
        match echo_json(&g.pool, params).await {
            Err(JsonCallError::Invalid { errors, .. }) => assert!(
                errors.iter().any(|e| e.pointer == pointer),
                "[{}] {what}: no error at {pointer}: {errors:?}",
                guest.adapter
            ),
            Err(JsonCallError::Encode { source, .. }) => assert!(
                source.to_string().starts_with(pointer),
                "[{}] {what}: {source}",
                guest.adapter
            ),
            other => panic!("[{}] {what} was not refused: {other:?}", guest.adapter),
        }
    }
    assert_eq!(
        g.pool.stats().calls,
        before,
        "[{}] a refused call reached the pool's call path",
        guest.adapter
    );
    // The same path still calls when the params are right.
    let ok = echo_json(
        &g.pool,
        json!({ "value": { "i8": 127, "u64": "18446744073709551615" } }),
    )
    .await
    .unwrap();
    assert_eq!(ok["value"]["i8"], json!(127));
    assert_eq!(ok["value"]["u64"], json!("18446744073709551615"));
    assert_eq!(g.pool.stats().calls, before + 1, "[{}]", guest.adapter);
    g.stop().await;
}

/// `numbers` streams points into its `Sink(Point)`: through `call_json` they arrive as
/// JSON values equal to the typed stream's items serialised by serde.
pub async fn stream_items_arrive_as_json_values(guest: Guest) {
    let g = start(&guest).await;
    let count = 50u32;
    let typed: Vec<Value> = within(
        CALL,
        "numbers",
        g.client
            .numbers(count)
            .map(|p| serde_json::to_value(p.unwrap()).unwrap())
            .collect(),
    )
    .await;
    let reply = within(
        CALL,
        "call_json",
        g.pool.call_json(
            "Conformance.numbers",
            json!({ "count": count }),
            Default::default(),
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("[{}] {e}", guest.adapter));
    let JsonReply::Stream(items) = reply else {
        panic!("[{}] numbers did not return a stream", guest.adapter);
    };
    let items: Vec<Value> = within(
        CALL,
        "stream",
        items.map(|i| i.unwrap_or_else(|e| panic!("{e}"))).collect(),
    )
    .await;
    assert_eq!(items.len(), count as usize, "[{}]", guest.adapter);
    assert_eq!(items, typed, "[{}]", guest.adapter);
    assert_eq!(
        items[2],
        json!({ "x": 2.0, "y": -2.0 }),
        "[{}]",
        guest.adapter
    );
    g.stop().await;
}

/// A capability in the results is refused with a clear error (pipelining and
/// capabilities are for the typed API).
pub async fn capabilities_in_json_results_are_refused(guest: Guest) {
    let g = start(&guest).await;
    let got = within(
        CALL,
        "call_json",
        g.pool.call_json(
            "Conformance.make",
            json!({ "label": "x" }),
            Default::default(),
        ),
    )
    .await;
    match got {
        Err(JsonCallError::Decode { source, .. }) => {
            assert!(
                source.to_string().contains("/thing") && source.to_string().contains("capability"),
                "[{}] {source}",
                guest.adapter
            )
        }
        other => panic!("[{}] a capability came back as {other:?}", guest.adapter),
    }
    g.stop().await;
}

/// A call by name takes the typed calls' path through the pool: the caller's deadline
/// cancels it, and it is counted in the per-method metrics under the schema's name.
pub async fn call_json_takes_the_pool_call_path(guest: Guest) {
    let g = start(&guest).await;
    let options = polyhost::CallOptions {
        timeout: Some(std::time::Duration::from_millis(300)),
        ..Default::default()
    };
    let slept = within(
        CALL,
        "call_json",
        g.pool
            .call_json("Conformance.sleep", json!({ "ms": 20_000 }), options),
    )
    .await;
    assert!(
        matches!(
            slept,
            Err(JsonCallError::Call(polyhost::CallError::Timeout { .. }))
        ),
        "[{}] {slept:?}",
        guest.adapter
    );
    echo_json(&g.pool, json!({ "value": {} })).await.unwrap();
    let stats = g.pool.stats();
    let of = |name: &str| stats.methods.iter().find(|m| m.method == name).cloned();
    let sleep = of("Conformance.sleep").expect("sleep is in the metrics");
    assert_eq!((sleep.calls, sleep.errors), (1, 1), "[{}]", guest.adapter);
    let echo = of("Conformance.echo").expect("echo is in the metrics");
    assert_eq!((echo.calls, echo.errors), (1, 0), "[{}]", guest.adapter);
    g.stop().await;
}
