//! Bytes a broken or hostile peer sends: each case is what the host writes on a fresh
//! worker's socket before anything else.

use capnp_rpc::rpc_capnp;

/// A hostile input and what it attacks.
pub struct Case {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    /// Close the host's sending side after the bytes.
    pub then_eof: bool,
}

fn words(ws: &[u64]) -> Vec<u8> {
    ws.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// The stream framing of one segment.
fn framed(segment: &[u8]) -> Vec<u8> {
    assert_eq!(segment.len() % 8, 0);
    let mut out = Vec::new();
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&((segment.len() / 8) as u32).to_le_bytes());
    out.extend_from_slice(segment);
    out
}

/// A struct pointer: `offset` words after the pointer, `data` words, `ptrs` pointers.
fn struct_ptr(offset: i32, data: u16, ptrs: u16) -> u64 {
    let lo = ((offset as u32) << 2) as u64;
    let hi = (data as u64) | ((ptrs as u64) << 16);
    lo | (hi << 32)
}

/// A far pointer to word `pos` of segment `segment`.
fn far_ptr(pos: u32, double: bool, segment: u32) -> u64 {
    let lo = ((pos as u64) << 3) | ((double as u64) << 2) | 2;
    lo | ((segment as u64) << 32)
}

fn message(build: impl FnOnce(rpc_capnp::message::Builder<'_>)) -> Vec<u8> {
    let mut m = capnp::message::Builder::new_default();
    build(m.init_root());
    capnp::serialize::write_message_to_words(&m)
}

/// The hostile inputs that must make a guest close the connection.
pub fn fatal_cases() -> Vec<Case> {
    vec![
        Case {
            name: "garbage framing (an HTTP request)",
            bytes: b"GET / HTTP/1.1\r\nHost: polyhost\r\nAccept: */*\r\n\r\n".to_vec(),
            then_eof: false,
        },
        Case {
            name: "segment table declaring 1 GiB",
            bytes: {
                let mut b = Vec::new();
                b.extend_from_slice(&0u32.to_le_bytes());
                b.extend_from_slice(&(128u32 * 1024 * 1024).to_le_bytes()); // words: 1 GiB
                b.extend_from_slice(&[0u8; 4096]);
                b
            },
            then_eof: false,
        },
        Case {
            name: "segment table declaring 512 segments of 2 GiB each",
            bytes: {
                let mut b = Vec::new();
                b.extend_from_slice(&511u32.to_le_bytes());
                for _ in 0..512 {
                    b.extend_from_slice(&(u32::MAX / 2).to_le_bytes());
                }
                b.extend_from_slice(&[0u8; 4]);
                b
            },
            then_eof: false,
        },
        Case {
            name: "segment table declaring 2^32 segments",
            bytes: {
                let mut b = u32::MAX.to_le_bytes().to_vec();
                b.extend_from_slice(&[0xff; 64]);
                b
            },
            then_eof: false,
        },
        Case {
            name: "root pointer out of bounds",
            bytes: framed(&words(&[struct_ptr(1000, 1, 1), 0])),
            then_eof: false,
        },
        Case {
            name: "root pointer with a negative offset before the segment",
            bytes: framed(&words(&[struct_ptr(-50, 1, 0), 0])),
            then_eof: false,
        },
        Case {
            name: "struct larger than its segment",
            bytes: framed(&words(&[struct_ptr(0, 60000, 60000), 0])),
            then_eof: false,
        },
        Case {
            name: "far pointer into a segment that does not exist",
            bytes: framed(&words(&[far_ptr(0, false, 7), 0])),
            then_eof: false,
        },
        Case {
            name: "far-pointer loop (a landing pad that is a far pointer back)",
            bytes: framed(&words(&[far_ptr(1, false, 0), far_ptr(0, false, 0)])),
            then_eof: false,
        },
        Case {
            name: "far pointer to itself",
            bytes: framed(&words(&[far_ptr(0, false, 0)])),
            then_eof: false,
        },
        Case {
            name: "double-far loop",
            bytes: framed(&words(&[far_ptr(1, true, 0), far_ptr(0, true, 0), 0])),
            then_eof: false,
        },
        Case {
            name: "nesting beyond the limit (Unimplemented of Unimplemented of ... 200 deep)",
            bytes: message(|m| {
                let mut m = m;
                for _ in 0..200 {
                    m = m.init_unimplemented();
                }
                m.init_bootstrap().set_question_id(0);
            }),
            then_eof: false,
        },
        Case {
            name: "a Return for a question never asked",
            bytes: message(|m| {
                let mut r = m.init_return();
                r.set_answer_id(4242);
                r.init_results();
            }),
            then_eof: false,
        },
        Case {
            name: "a call to an export that does not exist",
            bytes: message(|m| {
                let mut c = m.init_call();
                c.set_question_id(0);
                c.set_interface_id(0x1234);
                c.reborrow().init_params();
                c.init_target().set_imported_cap(999);
            }),
            then_eof: false,
        },
        Case {
            name: "a Release of an export that does not exist",
            bytes: message(|m| {
                let mut r = m.init_release();
                r.set_id(5);
                r.set_reference_count(1);
            }),
            then_eof: false,
        },
        Case {
            name: "a question id reused while its answer is still held",
            bytes: {
                // The Bootstrap's answer holds a capability: it stays until a Finish.
                let mut b = message(|m| m.init_bootstrap().set_question_id(3));
                b.extend(message(|m| m.init_bootstrap().set_question_id(3)));
                b
            },
            then_eof: false,
        },
        Case {
            name: "a frame declaring 60 MiB (under the limit) that stops after 1 MiB",
            bytes: {
                let mut b = Vec::new();
                b.extend_from_slice(&0u32.to_le_bytes());
                b.extend_from_slice(&(60u32 * 1024 * 128).to_le_bytes()); // words: 60 MiB
                b.extend_from_slice(&vec![0u8; 1 << 20]);
                b
            },
            then_eof: true,
        },
    ]
}

/// A list pointer: `offset` words after the pointer, element size `size` (7 =
/// inline composite, with `count` then the word count), `count` elements.
fn list_ptr(offset: i32, size: u64, count: u64) -> u64 {
    let lo = (((offset as u32) << 2) | 1) as u64;
    lo | ((size | (count << 3)) << 32)
}

/// Inputs that cost next to nothing to send and amplified memory or time in a guest.
/// Each must close the connection (or answer an error) with memory growth under
/// 64 MiB over a worker given a garbage frame.
pub fn amplification_cases() -> Vec<Case> {
    // A message of a kind the guest does not know (discriminant 99) holding `content`
    // in its pointer: the guest echoes it in an Unimplemented, which copies it.
    let unknown_kind = |content: &[u64]| {
        let mut ws = vec![struct_ptr(0, 1, 1), 99, list_ptr(0, 6, 2)];
        ws.extend_from_slice(content);
        framed(&words(&ws))
    };
    vec![
        Case {
            name: "an RPC message with a null root",
            bytes: framed(&words(&[0])),
            then_eof: false,
        },
        Case {
            name: "a self-referencing pointer list (both elements point at the list)",
            // the list is at word 3; its elements at words 3 and 4 point back at it
            bytes: unknown_kind(&[list_ptr(-1, 6, 2), list_ptr(-2, 6, 2)]),
            then_eof: false,
        },
        Case {
            name: "pointer lists sharing targets (60 lists of two pointers to the next)",
            bytes: unknown_kind(
                &(0..60)
                    .flat_map(|level| {
                        if level == 59 {
                            [0, 0]
                        } else {
                            [list_ptr(1, 6, 2), list_ptr(0, 6, 2)]
                        }
                    })
                    .collect::<Vec<_>>(),
            ),
            then_eof: false,
        },
        Case {
            name: "zero-sized list amplification (a Call whose capTable claims 4 Mi empty structs)",
            bytes: zero_sized_cap_table(4 << 20),
            then_eof: false,
        },
    ]
}

/// A Call to import 0 whose params' capTable is a list of `count` zero-sized structs:
/// built with one CapDescriptor (1 data word, 1 pointer), then its list pointer and
/// tag rewritten.
fn zero_sized_cap_table(count: u64) -> Vec<u8> {
    let bytes = message(|m| {
        let mut c = m.init_call();
        c.set_question_id(0);
        c.reborrow().init_target().set_imported_cap(0);
        c.init_params().init_cap_table(1);
    });
    let mut patched = 0;
    let out = bytes
        .chunks(8)
        .map(|w| u64::from_le_bytes(w.try_into().expect("whole words")))
        .map(|w| {
            let (lo, hi) = (w & 0xffff_ffff, w >> 32);
            if lo == 1 << 2 && hi == (1 | 1 << 16) {
                patched += 1;
                count << 2 // the tag: `count` elements of 0 data words, 0 pointers
            } else if lo & 3 == 1 && hi == (7 | 2 << 3) {
                patched += 1;
                lo | 7 << 32 // the list pointer: 0 words of elements
            } else {
                w
            }
        })
        .flat_map(u64::to_le_bytes)
        .collect();
    assert_eq!(patched, 2, "the capTable's list pointer and tag were found");
    out
}
