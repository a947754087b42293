//! Scenarios about calls: exceptions both ways, cancellation, callbacks and
//! capabilities both ways and their release, pipelining.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use polyhost::{CallError, Capability, CapabilityHandle, ErrorKind};
use polyhost_tests::conformance::conformance::*;
use polyhost_tests::conformance::conformance_capnp;

use crate::support::{self, eventually, start, within, Guest, HostCallback};
use crate::{raw, CALL};

/// A guest exception reaches Rust as `CallError::Remote` with its type, message and a
/// traceback naming the guest file; a host handler's error reaches the guest as an
/// exception and, uncaught, comes back with its type and message.
pub async fn a_guest_exception_arrives_with_type_message_and_traceback(guest: Guest) {
    let g = start(&guest).await;
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
        traceback.contains(&guest.file),
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
        traceback.contains(&guest.file),
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
}

/// Dropping the Rust future of a call cancels the call in the guest: its handler sees
/// the language's cancellation, observed by a later call.
pub async fn dropping_a_call_cancels_its_handler_in_the_guest(guest: Guest) {
    let g = start(&guest).await;
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
}

/// The guest calls into Rust (a Callback passed at start, and one passed in params),
/// returns capabilities of its own, and every capability is released on both sides
/// once its holder drops it.
pub async fn callbacks_and_capabilities_both_ways_are_released(guest: Guest) {
    let g = start(&guest).await;

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
}

/// A call on a capability the guest has not returned yet is sent at once, targeting
/// the promised answer: one round trip for both calls. Proved from the host's wire
/// record, without timing: `make` cannot return before `openGate` arrives (the guest
/// waits for it), and the pipelined `Thing.get` went out before `openGate`.
pub async fn a_call_on_an_unreturned_capability_is_pipelined(guest: Guest) {
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
    let (label, log, wire) = within(Duration::from_secs(30), "the pipelining scenario", done_rx)
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
}
