//! The seed corpus: valid messages of the worker protocol and of rpc.capnp (Bootstrap,
//! Call, Return, Finish, Resolve, Release, Disembargo, Abort, Unimplemented and the
//! level-3 kinds a two-party peer refuses), sequences of them as a connection would
//! see them, values of the fuzz schema, and crafted edge cases (far and double-far
//! pointers, many segments, deep nesting, amplifying lists, oversize frames).
//!
//! `cargo run --release -p polyhost-fuzz -- --write-corpus` writes them to
//! `fuzz/corpus/<kind>/seed-*.bin` (kinds: host-codec, framing, reader, rpc; every
//! guest's target of a kind reads the same folder). Other files there (`regress-*.bin`:
//! inputs that once failed) are kept; the fuzzer starts from all of them.

use std::path::Path;

use capnp::message::{Builder, HeapAllocator};
use capnp_rpc::rpc_capnp::{self, exception, message};

use crate::crafted::{crafted, crafted_bytes};
use crate::fuzz_capnp;
use crate::wire::{self, Frame};

/// The corpus kinds; a target reads `fuzz/corpus/<kind>/`.
pub const KINDS: &[&str] = &["host-codec", "framing", "reader", "rpc"];

const WORKER_PROCESS: u64 = 0xe064_d616_5d05_67b2;
const START: u16 = 0;
const SCOPED: u16 = 1;
const PING: u16 = 2;
const SHUTDOWN: u16 = 3;

/// Eight bytes of Data that [`patch_caps`] turns into a capability pointer; the
/// last-but-one byte is the cap table index.
fn cap_marker(index: u8) -> [u8; 8] {
    [0xCA, 0xFE, 0xCA, 0x9B, 0xE1, 0x1E, index, 0x5A]
}

/// Replaces every pointer to an 8-byte Data that holds a [`cap_marker`] with a
/// capability pointer to that index (and zeroes the marker).
fn patch_caps(f: &mut Frame) {
    for seg in 0..f.segments.len() {
        let words = f.segments[seg].len() / 8;
        for i in 0..words {
            let w = f.word(seg, i);
            let is_bytes8 = w & 3 == 1 && (w >> 32) & 7 == wire::BYTE as u64 && (w >> 35) == 8;
            if !is_bytes8 {
                continue;
            }
            let target = i as i64 + 1 + (((w as u32) as i32) >> 2) as i64;
            if target < 0 || target as usize >= words {
                continue;
            }
            let t = f.word(seg, target as usize).to_le_bytes();
            if t[..6] == cap_marker(0)[..6] && t[7] == 0x5A {
                f.set_word(seg, i, wire::cap_ptr(t[6] as u32));
                f.set_word(seg, target as usize, 0);
            }
        }
    }
}

fn frame_of(m: &Builder<HeapAllocator>) -> Frame {
    let mut f = Frame {
        segments: m
            .get_segments_for_output()
            .iter()
            .map(|s| s.to_vec())
            .collect(),
    };
    patch_caps(&mut f);
    f
}

/// One rpc Message built by `build`.
fn rpc(build: impl FnOnce(message::Builder) -> capnp::Result<()>) -> capnp::Result<Frame> {
    let mut m = Builder::new_default();
    build(m.init_root())?;
    Ok(frame_of(&m))
}

fn set_exception(mut e: exception::Builder, reason: &str) {
    e.set_reason(reason);
    e.set_type(exception::Type::Failed);
}

enum Target {
    Imported(u32),
    Promised(u32, Vec<u16>),
}

fn set_target(mut t: rpc_capnp::message_target::Builder, target: &Target) {
    match target {
        Target::Imported(id) => t.set_imported_cap(*id),
        Target::Promised(q, path) => {
            let mut p = t.init_promised_answer();
            p.set_question_id(*q);
            let mut ops = p.init_transform(path.len() as u32);
            for (i, field) in path.iter().enumerate() {
                ops.reborrow().get(i as u32).set_get_pointer_field(*field);
            }
        }
    }
}

/// A Call; `params` fills the payload (content and cap table).
fn call(
    question: u32,
    target: Target,
    interface: u64,
    method: u16,
    params: impl FnOnce(rpc_capnp::payload::Builder) -> capnp::Result<()>,
) -> capnp::Result<Frame> {
    rpc(|m| {
        let mut c = m.init_call();
        c.set_question_id(question);
        c.set_interface_id(interface);
        c.set_method_id(method);
        set_target(c.reborrow().init_target(), &target);
        params(c.init_params())
    })
}

fn ping(question: u32, target: Target, nonce: u64) -> capnp::Result<Frame> {
    call(question, target, WORKER_PROCESS, PING, |p| {
        let mut s = p
            .init_content()
            .init_as::<polyhost::polyhost_capnp::worker_process::ping_params::Builder>();
        s.set_nonce(nonce);
        Ok(())
    })
}

fn scoped(question: u32, target: Target, interface: u64) -> capnp::Result<Frame> {
    call(question, target, WORKER_PROCESS, SCOPED, |p| {
        let mut s = p
            .init_content()
            .init_as::<polyhost::polyhost_capnp::worker_process::scoped_params::Builder>();
        s.set_interface_id(interface);
        let mut c = s.init_context();
        c.set_trace_parent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        c.set_deadline_unix_ms(1_700_000_000_000);
        c.set_session("user-7");
        Ok(())
    })
}

/// WorkerProcess.start with one callback per cap table entry, the table holding one
/// descriptor of every kind.
fn start(question: u32, target: Target) -> capnp::Result<Frame> {
    call(question, target, WORKER_PROCESS, START, |mut p| {
        let kinds = 6u32;
        {
            let s = p
                .reborrow()
                .init_content()
                .init_as::<fuzz_capnp::start_params_mirror::Builder>();
            let mut list = s.init_callbacks(kinds);
            for i in 0..kinds {
                let mut svc = list.reborrow().get(i);
                svc.set_interface_id(0x1000 + i as u64);
                svc.set_name("callback");
                svc.set_cap(&cap_marker(i as u8)[..]);
            }
        }
        let mut table = p.init_cap_table(kinds);
        table.reborrow().get(0).set_sender_hosted(5);
        table.reborrow().get(1).set_sender_promise(6);
        table.reborrow().get(2).set_receiver_hosted(0);
        {
            let mut ra = table.reborrow().get(3).init_receiver_answer();
            ra.set_question_id(0);
            ra.reborrow().init_transform(0);
        }
        table.reborrow().get(4).set_none(());
        table
            .reborrow()
            .get(5)
            .init_third_party_hosted()
            .set_vine_id(7);
        Ok(())
    })
}

fn finish(question: u32, release: bool) -> capnp::Result<Frame> {
    rpc(|m| {
        let mut f = m.init_finish();
        f.set_question_id(question);
        f.set_release_result_caps(release);
        Ok(())
    })
}

fn release(id: u32, count: u32) -> capnp::Result<Frame> {
    rpc(|m| {
        let mut r = m.init_release();
        r.set_id(id);
        r.set_reference_count(count);
        Ok(())
    })
}

fn bootstrap(question: u32) -> capnp::Result<Frame> {
    rpc(|m| {
        m.init_bootstrap().set_question_id(question);
        Ok(())
    })
}

/// A Return for one of the guest's own questions (0: its bootstrap, 1: its ping).
fn return_results(answer: u32) -> capnp::Result<Frame> {
    rpc(|m| {
        let mut r = m.init_return();
        r.set_answer_id(answer);
        let mut p = r.init_results();
        if answer == 0 {
            p.reborrow()
                .init_content()
                .set_as::<capnp::data::Owned>(&cap_marker(0)[..])?;
            p.init_cap_table(1).get(0).set_sender_hosted(3);
        } else {
            p.init_content()
                .init_as::<polyhost::polyhost_capnp::worker_process::ping_results::Builder>()
                .set_nonce(4);
        }
        Ok(())
    })
}

fn return_other(answer: u32, how: u8) -> capnp::Result<Frame> {
    rpc(|m| {
        let mut r = m.init_return();
        r.set_answer_id(answer);
        match how {
            0 => set_exception(r.init_exception(), "boom"),
            1 => r.set_canceled(()),
            2 => r.set_results_sent_elsewhere(()),
            3 => r.set_take_from_other_question(0),
            _ => r
                .init_accept_from_third_party()
                .set_as::<capnp::text::Owned>("x")?,
        }
        Ok(())
    })
}

fn resolve(promise: u32, broken: bool) -> capnp::Result<Frame> {
    rpc(|m| {
        let mut r = m.init_resolve();
        r.set_promise_id(promise);
        if broken {
            set_exception(r.init_exception(), "promise broken");
        } else {
            r.init_cap().set_sender_hosted(4);
        }
        Ok(())
    })
}

fn disembargo(target: Target, receiver: bool) -> capnp::Result<Frame> {
    rpc(|m| {
        let mut d = m.init_disembargo();
        set_target(d.reborrow().init_target(), &target);
        let mut c = d.init_context();
        if receiver {
            c.set_receiver_loopback(0);
        } else {
            c.set_sender_loopback(0);
        }
        Ok(())
    })
}

/// Every single rpc message seed, by name.
fn rpc_messages() -> capnp::Result<Vec<(&'static str, Frame)>> {
    use Target::*;
    Ok(vec![
        ("bootstrap", bootstrap(0)?),
        ("call-ping-promised", ping(1, Promised(0, vec![]), 2)?),
        ("call-ping-imported", ping(1, Imported(0), 8)?),
        ("call-ping-raises", ping(1, Promised(0, vec![]), 1)?),
        ("call-scoped", scoped(2, Promised(0, vec![]), 2)?),
        ("call-scoped-raises", scoped(2, Promised(0, vec![]), 3)?),
        ("call-start-every-cap-kind", start(1, Promised(0, vec![]))?),
        (
            "call-shutdown",
            call(1, Promised(0, vec![]), WORKER_PROCESS, SHUTDOWN, |p| {
                p.init_content()
                    .init_as::<polyhost::polyhost_capnp::worker_process::shutdown_params::Builder>(
                    );
                Ok(())
            })?,
        ),
        (
            "call-unknown-method",
            call(1, Imported(0), 0x1234_5678, 9, |_| Ok(()))?,
        ),
        ("call-on-pipelined-cap", ping(3, Promised(2, vec![0]), 4)?),
        ("return-bootstrap-cap", return_results(0)?),
        ("return-ping-results", return_results(1)?),
        ("return-exception", return_other(1, 0)?),
        ("return-canceled", return_other(1, 1)?),
        ("return-sent-elsewhere", return_other(1, 2)?),
        ("return-take-from-other", return_other(1, 3)?),
        ("return-third-party", return_other(1, 4)?),
        ("finish", finish(1, true)?),
        ("finish-keep-caps", finish(0, false)?),
        ("resolve-cap", resolve(6, false)?),
        ("resolve-broken", resolve(6, true)?),
        ("release", release(0, 1)?),
        ("release-too-many", release(0, 1000)?),
        (
            "disembargo-sender-loopback",
            disembargo(Promised(2, vec![0]), false)?,
        ),
        (
            "disembargo-receiver-loopback",
            disembargo(Imported(0), true)?,
        ),
        (
            "abort",
            rpc(|m| {
                set_exception(m.init_abort(), "the host gives up");
                Ok(())
            })?,
        ),
        (
            "unimplemented",
            rpc(|m| {
                m.init_unimplemented().init_bootstrap().set_question_id(9);
                Ok(())
            })?,
        ),
        (
            "provide",
            rpc(|m| {
                let mut p = m.init_provide();
                p.set_question_id(4);
                set_target(p.init_target(), &Imported(0));
                Ok(())
            })?,
        ),
        (
            "accept",
            rpc(|m| {
                m.init_accept().set_question_id(5);
                Ok(())
            })?,
        ),
        (
            "join",
            rpc(|m| {
                let mut j = m.init_join();
                j.set_question_id(6);
                set_target(j.init_target(), &Imported(0));
                Ok(())
            })?,
        ),
    ])
}

/// Conversations: the messages a peer sends, in order.
fn rpc_sequences() -> capnp::Result<Vec<(&'static str, Vec<Frame>)>> {
    use Target::*;
    Ok(vec![
        (
            "seq-ping-pipelined",
            vec![
                bootstrap(0)?,
                ping(1, Promised(0, vec![]), 2)?,
                finish(1, true)?,
            ],
        ),
        (
            "seq-ping-imported-released",
            vec![
                bootstrap(0)?,
                finish(0, false)?,
                ping(1, Imported(0), 8)?,
                finish(1, true)?,
                release(0, 1)?,
            ],
        ),
        (
            "seq-scoped-pipeline-embargo",
            vec![
                bootstrap(0)?,
                scoped(2, Promised(0, vec![]), 2)?,
                ping(3, Promised(2, vec![0]), 4)?,
                disembargo(Promised(2, vec![0]), false)?,
                finish(2, false)?,
                finish(3, true)?,
            ],
        ),
        (
            "seq-start-callbacks-resolved",
            vec![
                bootstrap(0)?,
                start(1, Promised(0, vec![]))?,
                resolve(6, false)?,
                finish(1, false)?,
                release(0, 1)?,
            ],
        ),
        (
            "seq-returns-to-our-questions",
            vec![return_results(0)?, return_results(1)?, release(0, 1)?],
        ),
        (
            "seq-return-exception-then-abort",
            vec![
                return_other(1, 0)?,
                rpc(|m| {
                    set_exception(m.init_abort(), "bye");
                    Ok(())
                })?,
            ],
        ),
        (
            "seq-cancel-before-return",
            vec![
                bootstrap(0)?,
                ping(1, Promised(0, vec![]), 2)?,
                finish(1, true)?,
                finish(0, true)?,
            ],
        ),
    ])
}

/// Values of the fuzz schema, encoded (see `host::sample_values`).
fn values() -> capnp::Result<Vec<(&'static str, Vec<u8>)>> {
    crate::host::sample_values()
}

/// The seeds of one corpus kind, by file name.
pub fn seeds(kind: &str) -> capnp::Result<Vec<(String, Vec<u8>)>> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>| out.push((format!("seed-{name}.bin"), bytes));
    let edges = || {
        crafted()
            .into_iter()
            .map(|(n, f)| (n, f.to_bytes()))
            .chain(crafted_bytes())
    };
    match kind {
        "host-codec" => {
            for (name, bytes) in values()? {
                add(name, bytes);
            }
            for (name, f) in rpc_messages()? {
                add(&format!("rpc-{name}"), f.to_bytes());
            }
            for (name, bytes) in edges() {
                add(name, bytes);
            }
        }
        "framing" | "reader" => {
            for (name, f) in rpc_messages()? {
                add(&format!("rpc-{name}"), f.to_bytes());
            }
            for (name, bytes) in values()? {
                add(name, bytes);
            }
            for (name, bytes) in edges() {
                add(name, bytes);
            }
            if kind == "framing" {
                for (name, frames) in rpc_sequences()? {
                    add(name, wire::frames_to_bytes(&frames));
                }
            }
        }
        "rpc" => {
            for (name, frames) in rpc_sequences()? {
                add(name, wire::frames_to_bytes(&frames));
            }
            for (name, f) in rpc_messages()? {
                add(&format!("rpc-{name}"), f.to_bytes());
            }
            for (name, f) in crafted() {
                add(name, f.to_bytes());
            }
        }
        other => {
            return Err(capnp::Error::failed(format!(
                "unknown corpus kind {other:?}; the kinds are {KINDS:?}"
            )))
        }
    }
    Ok(out)
}

/// Writes every kind's seeds under `root` (`root/<kind>/seed-*.bin`), removing seed
/// files no longer generated; other files are left alone. Returns how many it wrote.
pub fn write_corpus(root: &Path) -> Result<usize, crate::FuzzError> {
    let mut written = 0;
    for kind in KINDS {
        let dir = root.join(kind);
        std::fs::create_dir_all(&dir).map_err(|e| crate::FuzzError::io(&dir, e))?;
        let seeds = seeds(kind).map_err(|e| crate::FuzzError::Seeds(e.to_string()))?;
        for entry in std::fs::read_dir(&dir).map_err(|e| crate::FuzzError::io(&dir, e))? {
            let path = entry.map_err(|e| crate::FuzzError::io(&dir, e))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("seed-") && !seeds.iter().any(|(n, _)| n == name) {
                std::fs::remove_file(&path).map_err(|e| crate::FuzzError::io(&path, e))?;
            }
        }
        for (name, bytes) in seeds {
            let path = dir.join(name);
            std::fs::write(&path, bytes).map_err(|e| crate::FuzzError::io(&path, e))?;
            written += 1;
        }
    }
    Ok(written)
}

/// Every file of `root/<kind>/`, sorted by name.
pub fn load(root: &Path, kind: &str) -> Result<Vec<(String, Vec<u8>)>, crate::FuzzError> {
    let dir = root.join(kind);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| crate::FuzzError::io(&dir, e))? {
        let path = entry.map_err(|e| crate::FuzzError::io(&dir, e))?.path();
        if path.is_file() {
            let bytes = std::fs::read(&path).map_err(|e| crate::FuzzError::io(&path, e))?;
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("?")
                .to_string();
            out.push((name, bytes));
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(crate::FuzzError::EmptyCorpus(dir));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rpc_seed_reads_back_as_its_kind() {
        for (name, f) in rpc_messages().unwrap() {
            let bytes = f.to_bytes();
            let msg =
                capnp::serialize::read_message_from_flat_slice(&mut &bytes[..], Default::default())
                    .unwrap();
            let root: rpc_capnp::message::Reader = msg.get_root().unwrap();
            let which = root.which().map(|_| ()).is_ok();
            assert!(which, "{name}");
        }
    }

    #[test]
    fn cap_markers_become_capability_pointers() {
        let f = return_results(0).unwrap();
        let bytes = f.to_bytes();
        let msg =
            capnp::serialize::read_message_from_flat_slice(&mut &bytes[..], Default::default())
                .unwrap();
        let root: rpc_capnp::message::Reader = msg.get_root().unwrap();
        let rpc_capnp::message::Return(r) = root.which().unwrap() else {
            panic!("not a return")
        };
        let rpc_capnp::return_::Results(p) = r.unwrap().which().unwrap() else {
            panic!("not results")
        };
        assert!(!p.unwrap().get_content().is_null());
        let words: Vec<u64> = (0..f.segments[0].len() / 8).map(|i| f.word(0, i)).collect();
        assert!(
            words.contains(&wire::cap_ptr(0)),
            "a capability pointer to entry 0"
        );
        assert!(
            !f.segments[0].windows(6).any(|w| w == &cap_marker(0)[..6]),
            "no marker left"
        );
    }
}
