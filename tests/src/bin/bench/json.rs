//! Calls by name with JSON (`Pool::call_json`) against the typed client, on the same
//! Python worker in the same run: the p50 of each, interleaved so both see the same
//! machine, and their ratio (the cost of validation, encoding and decoding JSON).

use super::*;

const JSON_CALLS: usize = 2_000;

pub(crate) async fn json_rows(table: &mut Table) -> Result<(), BoxError> {
    eprintln!("polyhost: call_json vs the typed client, one Python worker ...");
    let python = Adapter::bundled("python")?;
    let pool = bench_pool(&python, 1, None).start().await?;
    let client: BenchClient = pool.client();
    let payload = PAYLOAD.to_vec();
    let params = serde_json::json!({ "data": "cG9seWhvc3QtYmVuY2gxNg==" });
    let json_call = || {
        pool.call_json(
            "Bench.echoBytes",
            params.clone(),
            polyhost::CallOptions::default(),
        )
    };
    for _ in 0..WARMUP_CALLS {
        client.echo_bytes(payload.clone()).await?;
        json_call().await?;
    }
    let (mut typed, mut json) = (Vec::new(), Vec::new());
    for _ in 0..JSON_CALLS {
        let t = Instant::now();
        client.echo_bytes(payload.clone()).await?;
        typed.push(t.elapsed());
        let t = Instant::now();
        let reply = json_call().await?;
        json.push(t.elapsed());
        match reply {
            polyhost::JsonReply::Value(v) if v == params => {}
            other => return Err(format!("echoBytes answered {other:?}").into()),
        }
    }
    pool.shutdown().await;
    let (typed, json) = (Percentiles::of(typed), Percentiles::of(json));
    table.section("calls by name: Pool::call_json vs the typed client, one Python worker, echoBytes(16 bytes), interleaved; ratio to the typed call");
    table.row("typed client round trip p50", us(typed.p50), 1.0);
    table.row(
        "call_json round trip p50 (validate, encode, decode JSON)",
        us(json.p50),
        json.p50.as_secs_f64() / typed.p50.as_secs_f64(),
    );
    Ok(())
}
