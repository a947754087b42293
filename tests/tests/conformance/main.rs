//! The adapter conformance suite: every scenario runs against every adapter in
//! [`support::ADAPTERS`], with real guest workers, capnp-rpc (through polyhost's
//! connection, or directly where a scenario needs raw access) as the reference peer.
//!
//! The guests implement `Conformance` of tests/conformance/schema/conformance.capnp in
//! tests/conformance/guests/<adapter>/. A new adapter passes when this file is green
//! with one more entry in `ADAPTERS`; it never needs new Rust tests.

mod corpus;
mod hostile;
mod raw;
mod support;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use polyhost::codec::to_canonical;
use polyhost::{CallError, Capability, CapabilityHandle, ErrorKind};
use polyhost_tests::conformance::conformance::*;
use polyhost_tests::conformance::conformance_capnp;

use corpus::{describe, same};
use support::{eventually, for_each_adapter, start, within, HostCallback};

const CALL: Duration = Duration::from_secs(20);

/// Every value of the corpus goes Rust -> guest -> Rust: the guest decodes it into its
/// native objects and encodes them again; Rust decodes an equal value with equal
/// canonical bytes.
#[tokio::test(flavor = "multi_thread")]
async fn every_type_round_trips_through_the_guest() {
    for_each_adapter(|guest| async move {
        let g = start(guest).await;
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
    })
    .await;
}

/// For every value, the canonical bytes the guest computes (decode, encode into a
/// fresh message, its own canonicalize) equal capnp's canonical bytes of the value.
#[tokio::test(flavor = "multi_thread")]
async fn the_guest_canonical_form_is_byte_identical_to_capnp() {
    for_each_adapter(|guest| async move {
        let g = start(guest).await;
        for (name, value) in corpus::all() {
            let expected = to_canonical(&value).unwrap();
            let got = within(CALL, "canonical", g.client.canonical(value.clone())).await.unwrap_or_else(|e| panic!("[{}] {name}: {e}", guest.adapter));
            if got != expected {
                let at = got.iter().zip(&expected).position(|(a, b)| a != b).unwrap_or(got.len().min(expected.len()));
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
    })
    .await;
}

/// A guest exception reaches Rust as `CallError::Remote` with its type, message and a
/// traceback naming the guest file; a host handler's error reaches the guest as an
/// exception and, uncaught, comes back with its type and message.
#[tokio::test(flavor = "multi_thread")]
async fn a_guest_exception_arrives_with_type_message_and_traceback() {
    for_each_adapter(|guest| async move {
        let g = start(guest).await;
        let err = within(CALL, "fail", g.client.fail("boom".into()))
            .await
            .expect_err("fail() fails");
        let CallError::Remote {
            method,
            kind,
            exception_type,
            message,
            traceback,
        } = &err
        else {
            panic!(
                "[{}] expected CallError::Remote, got {err:?}",
                guest.adapter
            )
        };
        assert_eq!(kind, &ErrorKind::Failed, "[{}] {err:?}", guest.adapter);
        assert_eq!(
            exception_type, "ConformanceError",
            "[{}] {err:?}",
            guest.adapter
        );
        assert_eq!(message, "failure: boom", "[{}] {err:?}", guest.adapter);
        assert!(
            traceback.contains(guest.file),
            "[{}] the traceback does not name {}:\n{traceback}",
            guest.adapter,
            guest.file
        );
        assert!(
            !message.contains("polyhost traceback"),
            "[{}] the marker leaked into the message: {message}",
            guest.adapter
        );
        assert!(method.contains("fail"), "[{}] {method}", guest.adapter);

        // Host error -> guest exception -> (uncaught) back to the host.
        let err = within(CALL, "callHost", g.client.call_host(-5))
            .await
            .expect_err("the host refuses negative input");
        let CallError::Remote {
            exception_type,
            message,
            traceback,
            ..
        } = &err
        else {
            panic!(
                "[{}] expected CallError::Remote, got {err:?}",
                guest.adapter
            )
        };
        assert_eq!(exception_type, "HostRefused", "[{}] {err:?}", guest.adapter);
        assert_eq!(message, "negative input -5", "[{}] {err:?}", guest.adapter);
        assert!(
            traceback.contains(guest.file),
            "[{}] the guest's traceback is missing:\n{traceback}",
            guest.adapter
        );

        // The worker carries on.
        assert_eq!(
            within(CALL, "callHost", g.client.call_host(2))
                .await
                .unwrap(),
            7
        );
        g.stop().await;
    })
    .await;
}

/// Dropping the Rust future of a call cancels the call in the guest: its handler sees
/// the language's cancellation, observed by a later call.
#[tokio::test(flavor = "multi_thread")]
async fn dropping_a_call_cancels_its_handler_in_the_guest() {
    for_each_adapter(|guest| async move {
        let g = start(guest).await;
        assert_eq!(
            within(CALL, "cancelledCount", g.client.cancelled_count())
                .await
                .unwrap(),
            0
        );
        // A quick sleep completes normally.
        assert!(within(CALL, "sleep", g.client.sleep(1)).await.unwrap());
        // Start a ten-minute sleep, wait until the guest runs it, then drop the call.
        let sleeping = tokio::spawn({
            let client = g.client.clone();
            async move { client.sleep(600_000).await }
        });
        let client = g.client.clone();
        let started = eventually(Duration::from_secs(10), || {
            let client = client.clone();
            async move {
                client
                    .events()
                    .await
                    .ok()?
                    .iter()
                    .any(|e| e == "sleep:600000:start")
                    .then_some(())
            }
        })
        .await;
        assert!(
            started.is_some(),
            "[{}] the guest never started the sleep",
            guest.adapter
        );
        assert!(
            !sleeping.is_finished(),
            "[{}] a ten-minute sleep returned",
            guest.adapter
        );
        sleeping.abort(); // drops the call's future
        assert!(sleeping.await.unwrap_err().is_cancelled());
        let seen = eventually(Duration::from_secs(10), || {
            let client = client.clone();
            async move { (client.cancelled_count().await.ok()? == 1).then_some(()) }
        })
        .await;
        assert!(
            seen.is_some(),
            "[{}] the guest handler never saw the cancellation",
            guest.adapter
        );
        // Nothing else was cancelled, and the worker still serves calls.
        assert!(within(CALL, "sleep", g.client.sleep(1)).await.unwrap());
        assert_eq!(
            within(CALL, "cancelledCount", g.client.cancelled_count())
                .await
                .unwrap(),
            1
        );
        g.stop().await;
    })
    .await;
}

/// The guest calls into Rust (a Callback passed at start, and one passed in params),
/// returns capabilities of its own, and every capability is released on both sides
/// once its holder drops it.
#[tokio::test(flavor = "multi_thread")]
async fn callbacks_and_capabilities_both_ways_are_released() {
    for_each_adapter(|guest| async move {
        let g = start(guest).await;

        // A callback passed at start.
        assert_eq!(
            within(CALL, "callHost", g.client.call_host(20))
                .await
                .unwrap(),
            61
        );
        assert_eq!(g.callback.calls.load(Ordering::SeqCst), 1);

        // A host capability passed in params: released once the guest is done with it.
        let live = Arc::new(AtomicUsize::new(0));
        let local = CallbackClient::from_capability(Capability::local(Arc::new(CallbackDispatch(
            Arc::new(HostCallback::counted(7, &live)),
        ))));
        assert_eq!(live.load(Ordering::SeqCst), 1);
        for x in [5, 6] {
            assert_eq!(
                within(CALL, "applyTo", g.client.apply_to(Some(local.clone()), x))
                    .await
                    .unwrap(),
                x * 7 + 1
            );
        }
        drop(local);
        let client = g.client.clone();
        let live2 = live.clone();
        let released = eventually(Duration::from_secs(10), || {
            let (client, live) = (client.clone(), live2.clone());
            async move {
                // A guest with a garbage collector collects in liveThings().
                client.live_things().await.ok()?;
                (live.load(Ordering::SeqCst) == 0).then_some(())
            }
        })
        .await;
        assert!(
            released.is_some(),
            "[{}] the guest never released the host's callback",
            guest.adapter
        );

        // Guest capabilities returned to Rust: usable, and released when dropped.
        assert_eq!(
            within(CALL, "liveThings", g.client.live_things())
                .await
                .unwrap(),
            0
        );
        let a = within(CALL, "make", g.client.make("a".into()))
            .await
            .unwrap()
            .expect("a thing");
        let b = within(CALL, "make", g.client.make("b".into()))
            .await
            .unwrap()
            .expect("a thing");
        assert_eq!(within(CALL, "get", a.get()).await.unwrap().label, "a");
        assert_eq!(within(CALL, "get", b.get()).await.unwrap().label, "b");
        assert_eq!(
            within(CALL, "liveThings", g.client.live_things())
                .await
                .unwrap(),
            2
        );
        let a2 = a.clone();
        drop(a);
        assert_eq!(
            within(CALL, "get", a2.get()).await.unwrap().label,
            "a",
            "a clone keeps the capability"
        );
        drop(a2);
        let client = g.client.clone();
        let one_left = eventually(Duration::from_secs(10), || {
            let client = client.clone();
            async move { (client.live_things().await.ok()? == 1).then_some(()) }
        })
        .await;
        assert!(
            one_left.is_some(),
            "[{}] dropping the last handle did not release the guest's Thing",
            guest.adapter
        );
        assert_eq!(within(CALL, "get", b.get()).await.unwrap().label, "b");
        drop(b);
        let none_left = eventually(Duration::from_secs(10), || {
            let client = client.clone();
            async move { (client.live_things().await.ok()? == 0).then_some(()) }
        })
        .await;
        assert!(
            none_left.is_some(),
            "[{}] the guest still holds Things nobody references",
            guest.adapter
        );
        g.stop().await;
    })
    .await;
}

/// A call on a capability the guest has not returned yet is sent at once, targeting
/// the promised answer: one round trip for both calls. Proved from the host's wire
/// record, without timing: `make` cannot return before `openGate` arrives (the guest
/// waits for it), and the pipelined `Thing.get` went out before `openGate`.
#[tokio::test(flavor = "multi_thread")]
async fn a_call_on_an_unreturned_capability_is_pipelined() {
    for_each_adapter(|guest| async move {
        let spec = guest.spec();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        // capnp-rpc is !Send: run it on a thread of its own.
        std::thread::spawn(move || {
            let spawned = polyhost::worker::spawn(&spec, 1).expect("the guest starts");
            let pid = spawned.pid;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let local = tokio::task::LocalSet::new();
            let outcome = local.block_on(&runtime, async move {
                let (worker, sent) = raw::connect(spawned.socket);
                let started = worker
                    .start_request()
                    .send()
                    .promise
                    .await
                    .map_err(|e| format!("start: {e}"))?;
                let services = started
                    .get()
                    .and_then(|r| r.get_services())
                    .map_err(|e| format!("start results: {e}"))?;
                let service = services
                    .iter()
                    .find(|s| s.get_interface_id() == ConformanceClient::INTERFACE_ID)
                    .ok_or("the guest serves no Conformance")?;
                let conformance: conformance_capnp::conformance::Client = service
                    .get_cap()
                    .get_as_capability()
                    .map_err(|e| e.to_string())?;

                conformance
                    .close_gate_request()
                    .send()
                    .promise
                    .await
                    .map_err(|e| format!("closeGate: {e}"))?;
                let mark = sent.lock().unwrap().len();
                let mut make = conformance.make_request();
                make.get().set_label("p");
                let make = make.send();
                let get = make.pipeline.get_thing().get_request().send();
                let open = conformance.open_gate_request().send();
                let got = get
                    .promise
                    .await
                    .map_err(|e| format!("pipelined get: {e}"))?;
                let label = got
                    .get()
                    .and_then(|r| Ok(r.get_label()?.to_string()?))
                    .map_err(|e| e.to_string())?;
                make.promise.await.map_err(|e| format!("make: {e}"))?;
                open.promise.await.map_err(|e| format!("openGate: {e}"))?;
                let events = conformance
                    .events_request()
                    .send()
                    .promise
                    .await
                    .map_err(|e| format!("events: {e}"))?;
                let log: Vec<String> = events
                    .get()
                    .and_then(|r| {
                        r.get_log()?
                            .iter()
                            .map(|t| Ok(t?.to_string()?))
                            .collect::<capnp::Result<Vec<_>>>()
                    })
                    .map_err(|e| e.to_string())?;
                let wire = raw::decode(&sent.lock().unwrap()[mark..]);
                Ok::<_, String>((label, log, wire))
            });
            // Closing the connection (dropping the RPC system) lets the worker exit.
            drop(local);
            drop(runtime);
            let exit = support::reap(pid, Duration::from_secs(5));
            let _ = done_tx.send(outcome.and_then(|r| {
                exit.map(|_| r)
                    .ok_or_else(|| "the worker did not exit on EOF".to_string())
            }));
        });
        let (label, log, wire) =
            within(Duration::from_secs(30), "the pipelining scenario", done_rx)
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("[{}] {e}", guest.adapter));
        assert_eq!(label, "p");
        assert_eq!(
            log,
            ["make:p:start", "gate:open", "make:p:return", "get:p"],
            "[{}] what the guest saw",
            guest.adapter
        );

        let calls: Vec<(u32, raw::Target, u64, u16)> = wire
            .iter()
            .filter_map(|m| match m {
                raw::Sent::Call {
                    question,
                    target,
                    interface_id,
                    method_id,
                } => Some((*question, target.clone(), *interface_id, *method_id)),
                raw::Sent::Other(_) => None,
            })
            .collect();
        let position =
            |iface: u64, method: u16| calls.iter().position(|c| c.2 == iface && c.3 == method);
        let make_at = position(ConformanceClient::INTERFACE_ID, 7).expect("make was sent");
        let get_at = position(ThingClient::INTERFACE_ID, 0).expect("get was sent");
        let open_at = position(ConformanceClient::INTERFACE_ID, 10).expect("openGate was sent");
        assert_eq!(
            calls[get_at].1,
            raw::Target::Promised(calls[make_at].0, vec![0]),
            "[{}] get must target make's promised answer",
            guest.adapter
        );
        assert!(
            make_at < get_at && get_at < open_at,
            "[{}] host messages out of order: {calls:?}",
            guest.adapter
        );
        let gets = calls
            .iter()
            .filter(|c| c.2 == ThingClient::INTERFACE_ID)
            .count();
        assert_eq!(
            gets, 1,
            "[{}] get went out more than once: {calls:?}",
            guest.adapter
        );
    })
    .await;
}

/// A 16 MiB Data travels each way.
#[tokio::test(flavor = "multi_thread")]
async fn a_sixteen_mib_message_each_way() {
    const SIZE: usize = 16 << 20;
    for_each_adapter(|guest| async move {
        let g = start(guest).await;
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
    })
    .await;
}

/// `Sink(T)` streams both ways: the guest produces into a Rust `Stream`, and consumes
/// what a Rust handler produces.
#[tokio::test(flavor = "multi_thread")]
async fn streams_flow_both_ways() {
    for_each_adapter(|guest| async move {
        let g = start(guest).await;
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
    })
    .await;
}

/// A call whose params nest deeper than the reader's limit fails with an exception,
/// and the connection stays usable.
#[tokio::test(flavor = "multi_thread")]
async fn params_nested_beyond_the_limit_fail_the_call_only() {
    for_each_adapter(|guest| async move {
        let g = start(guest).await;
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
    })
    .await;
}

/// Malformed frames and a hostile peer, as raw bytes on a fresh worker's socket: the
/// guest closes the connection promptly, says why on stderr, exits, and never
/// allocates what a frame merely declares.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_input_closes_the_connection() {
    const MAX_RSS_KIB: i64 = 200 * 1024;
    for_each_adapter(|guest| async move {
        let spec = guest.spec();
        let cases = hostile::fatal_cases();
        // A few workers at a time, each from a thread that lives as long as it.
        let results = tokio::task::spawn_blocking(move || {
            let mut results = Vec::new();
            for (chunk_at, chunk) in cases.chunks(4).enumerate() {
                std::thread::scope(|scope| {
                    let handles: Vec<_> = chunk
                        .iter()
                        .enumerate()
                        .map(|(i, case)| {
                            let (spec, id) = (&spec, (chunk_at * 4 + i) as u64 + 100);
                            scope.spawn(move || hostile_case(spec, id, case))
                        })
                        .collect();
                    for (h, case) in handles.into_iter().zip(chunk) {
                        results.push((
                            case.name,
                            h.join().unwrap_or_else(|_| Err("the case panicked".into())),
                        ));
                    }
                });
            }
            results
        });
        let results = within(Duration::from_secs(45), "the hostile cases", results)
            .await
            .unwrap();
        let mut failures = Vec::new();
        for (name, result) in results {
            match result {
                Ok((rss, said)) if rss < MAX_RSS_KIB => eprintln!(
                    "[{}] {name}: closed, peak RSS {rss} KiB, stderr: {}",
                    guest.adapter,
                    said.lines().last().unwrap_or_default()
                ),
                Ok((rss, _)) => failures.push(format!("{name}: peak RSS {rss} KiB")),
                Err(e) => failures.push(format!("{name}: {e}")),
            }
        }
        assert!(
            failures.is_empty(),
            "[{}] hostile input not handled:\n  {}",
            guest.adapter,
            failures.join("\n  ")
        );
    })
    .await;
}

/// Inputs that amplify: a null-root message, self-referencing pointer lists, a list of
/// millions of zero-sized structs. Each closes the connection, and the worker's peak
/// RSS exceeds that of a worker given a garbage frame by less than 64 MiB.
#[tokio::test(flavor = "multi_thread")]
async fn amplifying_input_closes_the_connection_within_64_mib() {
    const MAX_GROWTH_KIB: i64 = 64 * 1024;
    for_each_adapter(|guest| async move {
        let spec = guest.spec();
        let results = tokio::task::spawn_blocking(move || {
            let baseline = &hostile::fatal_cases()[0]; // a garbage frame
            let base = hostile_case(&spec, 200, baseline).map(|(rss, _)| rss);
            let cases = hostile::amplification_cases();
            let results: Vec<_> = cases
                .iter()
                .enumerate()
                .map(|(i, case)| (case.name, hostile_case(&spec, 201 + i as u64, case)))
                .collect();
            (base, results)
        });
        let (base, results) = within(Duration::from_secs(60), "the amplifying cases", results)
            .await
            .unwrap();
        let base = base.expect("a garbage frame closes the connection");
        let mut failures = Vec::new();
        for (name, result) in results {
            match result {
                Ok((rss, said)) => {
                    let growth = rss - base;
                    eprintln!(
                        "[{}] {name}: closed, peak RSS {rss} KiB ({growth:+} KiB over a garbage frame's {base} KiB), stderr: {}",
                        guest.adapter,
                        said.lines().last().unwrap_or_default()
                    );
                    if growth >= MAX_GROWTH_KIB {
                        failures.push(format!("{name}: peak RSS {rss} KiB, {growth} KiB over {base} KiB"));
                    }
                    for symptom in ["RecursionError", "call stack", "internal error"] {
                        if said.contains(symptom) {
                            failures.push(format!("{name}: stderr says {symptom:?}:\n{said}"));
                        }
                    }
                }
                Err(e) => failures.push(format!("{name}: {e}")),
            }
        }
        assert!(
            failures.is_empty(),
            "[{}] amplifying input not handled:\n  {}",
            guest.adapter,
            failures.join("\n  ")
        );
    })
    .await;
}

/// One hostile case against a fresh worker: Ok((peak RSS in KiB, the end of its
/// stderr)) when the worker closed the connection, said why on stderr and exited.
fn hostile_case(
    spec: &polyhost::worker::WorkerSpec,
    id: u64,
    case: &hostile::Case,
) -> Result<(i64, String), String> {
    let mut spawned = polyhost::worker::spawn(spec, id).map_err(|e| e.to_string())?;
    let pid = spawned.pid;
    let outcome = (|| {
        // The peer may close before everything is written: that is fine.
        let _ = spawned.socket.write_all(&case.bytes);
        if case.then_eof {
            let _ = spawned.socket.shutdown(std::net::Shutdown::Write);
        }
        let mut peak = support::vm_hwm_kib(pid).unwrap_or(0);
        spawned
            .socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        let until = std::time::Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 4096];
        loop {
            match spawned.socket.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => return Err(format!("reading the socket: {e}")),
            }
            peak = peak.max(support::vm_hwm_kib(pid).unwrap_or(0));
            if std::time::Instant::now() >= until {
                return Err("the worker did not close the connection within 10 s".into());
            }
        }
        Ok(peak)
    })();
    let exit = support::reap(pid, Duration::from_secs(10));
    let peak = outcome?;
    let (_, maxrss) =
        exit.ok_or("the worker did not exit within 10 s of closing the connection")?;
    // The stderr reader thread may still be catching up.
    let mut stderr = String::new();
    for _ in 0..100 {
        stderr = polyhost::worker::tail_text(&spawned.stderr_tail);
        if !stderr.trim().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if stderr.trim().is_empty() {
        return Err("the worker closed the connection without saying why on stderr".into());
    }
    Ok((peak.max(maxrss), stderr))
}

/// One adapter's failure does not hide the others' results: every adapter runs, and
/// each failure is reported.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_adapter_does_not_hide_the_next_ones() {
    let ran = std::sync::Mutex::new(vec![]);
    let first = support::selected()[0].adapter;
    let failures = support::run_each_adapter(|guest| {
        ran.lock().unwrap().push(guest.adapter);
        async move {
            assert_ne!(
                guest.adapter, first,
                "deliberately failing the first adapter"
            );
        }
    })
    .await;
    let all: Vec<&str> = support::selected().iter().map(|g| g.adapter).collect();
    assert_eq!(*ran.lock().unwrap(), all);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].starts_with(&format!("[{first}]")),
        "{failures:?}"
    );
}
