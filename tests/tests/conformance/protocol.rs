//! Scenarios about the RPC protocol itself, spoken by capnp-rpc directly or as raw
//! frames on a fresh worker's socket: many calls in flight on one connection, calls to
//! methods and interfaces the guest does not have, and messages of kinds the guest
//! does not implement or does not know.

use std::io::Write;
use std::time::Duration;

use capnp_rpc::rpc_capnp;
use futures::future::LocalBoxFuture;
use polyhost_tests::conformance::conformance::*;
use polyhost_tests::conformance::conformance_capnp;

use crate::raw;
use crate::support::{self, within, Guest};

/// Runs `body` against a fresh guest worker spoken to by capnp-rpc directly (on a
/// thread of its own: capnp-rpc is !Send), then closes the connection and checks that
/// the worker exits.
async fn with_capnp_rpc<T, F>(guest: &Guest, body: F) -> T
where
    T: Send + 'static,
    F: FnOnce(conformance_capnp::conformance::Client) -> LocalBoxFuture<'static, Result<T, String>>
        + Send
        + 'static,
{
    let spec = guest.spec();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let spawned = polyhost::worker::spawn(&spec, 1).expect("the guest starts");
        let pid = spawned.pid;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        let outcome = local.block_on(&runtime, async move {
            let (worker, _sent) = raw::connect(spawned.socket);
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
            body(conformance).await
        });
        drop(local);
        drop(runtime);
        let exit = support::reap(pid, Duration::from_secs(5));
        let _ = done_tx.send(outcome.and_then(|r| {
            exit.map(|_| r)
                .ok_or_else(|| "the worker did not exit on EOF".to_string())
        }));
    });
    within(Duration::from_secs(40), "the capnp-rpc scenario", done_rx)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("[{}] {e}", guest.adapter))
}

/// 200 calls in flight at once on one connection all answer, each with its own
/// results.
pub async fn many_calls_in_flight_on_one_connection_all_answer(guest: Guest) {
    let answers = with_capnp_rpc(&guest, |conformance| {
        Box::pin(async move {
            let calls: Vec<_> = (0..200u32)
                .map(|i| {
                    let mut request = conformance.measure_request();
                    request.get().set_data(&vec![1u8; i as usize]);
                    request.send().promise
                })
                .collect();
            let mut answers = Vec::new();
            for (i, call) in futures::future::join_all(calls)
                .await
                .into_iter()
                .enumerate()
            {
                let response = call.map_err(|e| format!("measure #{i}: {e}"))?;
                let results = response.get().map_err(|e| e.to_string())?;
                answers.push((results.get_size(), results.get_checksum()));
            }
            Ok(answers)
        })
    })
    .await;
    let expected: Vec<(u64, u64)> = (0..200u64).map(|i| (i, i)).collect();
    assert_eq!(
        answers, expected,
        "[{}] (size, checksum) of each call",
        guest.adapter
    );
}

/// A call to a method the interface does not have, and one to an interface the
/// capability does not implement, fail with `Unimplemented`; the connection carries
/// on.
pub async fn unknown_methods_and_interfaces_are_unimplemented(guest: Guest) {
    let (method, interface, after) = with_capnp_rpc(&guest, |conformance| {
        Box::pin(async move {
            let kind = |r: Result<_, capnp::Error>| match r {
                Ok(_) => Err("the call succeeded".to_string()),
                Err(e) => Ok(e.kind),
            };
            let method = kind(
                conformance
                    .client
                    .new_call::<capnp::any_pointer::Owned, capnp::any_pointer::Owned>(
                        ConformanceClient::INTERFACE_ID,
                        99,
                        None,
                    )
                    .send()
                    .promise
                    .await
                    .map(|_| ()),
            )?;
            let interface = kind(
                conformance
                    .client
                    .new_call::<capnp::any_pointer::Owned, capnp::any_pointer::Owned>(
                        0x9e11_c0de_0000_0001,
                        0,
                        None,
                    )
                    .send()
                    .promise
                    .await
                    .map(|_| ()),
            )?;
            let live = conformance
                .live_things_request()
                .send()
                .promise
                .await
                .map_err(|e| format!("liveThings after: {e}"))?;
            let after = live.get().map_err(|e| e.to_string())?.get_count();
            Ok((method, interface, after))
        })
    })
    .await;
    assert_eq!(
        method,
        capnp::ErrorKind::Unimplemented,
        "[{}] method 99",
        guest.adapter
    );
    assert_eq!(
        interface,
        capnp::ErrorKind::Unimplemented,
        "[{}] an unknown interface",
        guest.adapter
    );
    assert_eq!(after, 0, "[{}]", guest.adapter);
}

fn frame(words: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(words.len() as u32).to_le_bytes());
    out.extend(words.iter().flat_map(|w| w.to_le_bytes()));
    out
}

fn message(build: impl FnOnce(rpc_capnp::message::Builder<'_>)) -> Vec<u8> {
    let mut m = capnp::message::Builder::new_default();
    build(m.init_root());
    capnp::serialize::write_message_to_words(&m)
}

/// The canonical bytes of the root of a framed message.
fn canonical_root(framed: &[u8]) -> Vec<u8> {
    let mut slice = framed;
    let read = capnp::serialize::read_message_from_flat_slice(&mut slice, Default::default())
        .expect("a whole message");
    let root: rpc_capnp::message::Reader<'_> = read.get_root().expect("a root");
    let mut out = capnp::message::Builder::new_default();
    out.set_root_canonical(root).expect("canonicalizes");
    capnp::serialize::write_message_to_words(&out)
}

/// Reads one framed message from the worker; `(kind, canonical bytes of the inner
/// message of an Unimplemented)`.
fn read_reply(socket: &mut std::os::unix::net::UnixStream) -> Result<(String, Vec<u8>), String> {
    let read = capnp::serialize::read_message(&mut *socket, Default::default())
        .map_err(|e| format!("reading a reply: {e}"))?;
    let m: rpc_capnp::message::Reader<'_> = read.get_root().map_err(|e| e.to_string())?;
    Ok(match m.which() {
        Ok(rpc_capnp::message::Unimplemented(inner)) => {
            let inner = inner.map_err(|e| e.to_string())?;
            let what = match inner.which() {
                Ok(rpc_capnp::message::Provide(_)) => "unimplemented:provide".to_string(),
                Ok(_) => "unimplemented:other".to_string(),
                Err(capnp::NotInSchema(n)) => format!("unimplemented:{n}"),
            };
            let mut out = capnp::message::Builder::new_default();
            out.set_root_canonical(inner).map_err(|e| e.to_string())?;
            (what, capnp::serialize::write_message_to_words(&out))
        }
        Ok(rpc_capnp::message::Return(_)) => ("return".into(), vec![]),
        Ok(rpc_capnp::message::Abort(e)) => (
            format!(
                "abort: {}",
                e.and_then(|e| Ok(e.get_reason()?.to_string()?))
                    .unwrap_or_default()
            ),
            vec![],
        ),
        Ok(_) => ("other".into(), vec![]),
        Err(capnp::NotInSchema(n)) => (format!("kind {n}"), vec![]),
    })
}

/// A message the guest does not implement (Provide), and one of a kind newer than its
/// schema, come back in an Unimplemented holding the message as received; one of an
/// unknown kind holding a capability (which has no table to be copied from) is dropped
/// without an echo. The connection carries on: a Bootstrap after them is answered.
pub async fn unimplemented_and_unknown_messages_are_echoed_and_the_connection_carries_on(
    guest: Guest,
) {
    let spec = guest.spec();
    let replies = tokio::task::spawn_blocking(move || {
        let mut spawned = polyhost::worker::spawn(&spec, 300).map_err(|e| e.to_string())?;
        let pid = spawned.pid;
        let socket = &mut spawned.socket;
        let outcome = (|| {
            socket
                .set_read_timeout(Some(Duration::from_secs(10)))
                .map_err(|e| e.to_string())?;
            let mut replies = Vec::new();
            let mut send = |bytes: &[u8]| socket.write_all(bytes).map_err(|e| e.to_string());
            send(&message(|m| m.init_provide().set_question_id(1)))?;
            replies.push(read_reply(socket)?);

            // Kind 99 (newer than the schema), a struct in pointer 0.
            let unknown = frame(&[0x0001_0001_0000_0000, 99, 0x0000_0001_0000_0000, 0x1234]);
            let sent = canonical_root(&unknown);
            socket.write_all(&unknown).map_err(|e| e.to_string())?;
            let (what, echoed) = read_reply(socket)?;
            replies.push((
                what,
                if echoed == sent {
                    b"same".to_vec()
                } else {
                    echoed
                },
            ));

            // Kind 99 holding a capability pointer, then a Bootstrap.
            socket
                .write_all(&frame(&[0x0001_0001_0000_0000, 99, 3]))
                .map_err(|e| e.to_string())?;
            socket
                .write_all(&message(|m| m.init_bootstrap().set_question_id(0)))
                .map_err(|e| e.to_string())?;
            replies.push(read_reply(socket)?);
            Ok::<_, String>(replies)
        })();
        let _ = spawned.socket.shutdown(std::net::Shutdown::Write);
        let exit = support::reap(pid, Duration::from_secs(10));
        let replies = outcome?;
        exit.ok_or("the worker did not exit on EOF")?;
        Ok::<_, String>(replies)
    });
    let replies = within(Duration::from_secs(40), "the raw exchange", replies)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("[{}] {e}", guest.adapter));
    let kinds: Vec<&str> = replies.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        ["unimplemented:provide", "unimplemented:99", "return"],
        "[{}] the guest's replies",
        guest.adapter
    );
    assert_eq!(
        replies[1].1, b"same",
        "[{}] the echo of the unknown kind is not the message as sent",
        guest.adapter
    );
}
