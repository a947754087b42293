//! Hand-made seeds for every reader: valid multi-segment layouts (far and double-far
//! pointers, empty segments) and hostile pointer structures (cycles, nesting past the
//! limit, amplifying lists, lying composite tags, too many segments), and frames whose
//! headers lie (oversize, too many segments, cut short).

use crate::wire::{self, Frame};

/// Hand-made edge cases for every reader: valid multi-segment layouts and hostile
/// pointer structures.
// one commented push per case reads better than one long vec![]
#[allow(clippy::vec_init_then_push)]
pub fn crafted() -> Vec<(&'static str, Frame)> {
    use wire::*;
    let text = |s: &[u8]| {
        let mut b = s.to_vec();
        b.push(0);
        while b.len() % 8 != 0 {
            b.push(0);
        }
        b
    };
    let mut out = Vec::new();
    // root behind a far pointer, landing pad in segment 1
    out.push((
        "far-root",
        Frame {
            segments: vec![
                words_to_bytes(&[far_ptr(0, 1, false)]),
                words_to_bytes(&[struct_ptr(0, 1, 0), 42]),
            ],
        },
    ));
    // root behind a double-far pointer: pad in segment 1, object in segment 2
    out.push((
        "double-far-root",
        Frame {
            segments: vec![
                words_to_bytes(&[far_ptr(0, 1, true)]),
                words_to_bytes(&[far_ptr(0, 2, false), struct_ptr(0, 1, 1)]),
                [words_to_bytes(&[7, list_ptr(0, BYTE, 6)]), text(b"hello")].concat(),
            ],
        },
    ));
    // a far pointer into a segment that does not exist
    out.push((
        "far-missing-segment",
        Frame::single(&[far_ptr(0, 9, false)]),
    ));
    // a far pointer whose pad is itself
    out.push(("far-loop", Frame::single(&[far_ptr(0, 0, false)])));
    // root struct pointing at itself (cycle)
    out.push(("struct-cycle", Frame::single(&[struct_ptr(-1, 0, 1)])));
    // 80 nested structs (deeper than the nesting limit of 64)
    let mut deep = vec![struct_ptr(0, 0, 1); 80];
    deep.push(0);
    out.push(("nesting-80", Frame::single(&deep)));
    // 63 nested lists of pointers (legal)
    let mut lists = vec![list_ptr(0, POINTER, 1); 63];
    lists.push(0);
    out.push(("nesting-63-lists", Frame::single(&lists)));
    // amplification: 256 pointers to one 256-word struct
    let n = 256u32;
    let mut amp = vec![list_ptr(0, POINTER, n)];
    amp.extend((0..n).map(|k| struct_ptr((n - k - 1) as i32, 256, 0)));
    amp.extend(std::iter::repeat(0x4141_4141_4141_4141).take(256));
    out.push(("amplify-shared-struct", Frame::single(&amp)));
    // List(Void) of 2^29-1 elements in one word
    out.push((
        "void-list-max",
        Frame::single(&[list_ptr(0, VOID, MAX_LIST_COUNT)]),
    ));
    // composite list of 2^29-1 zero-sized structs
    out.push((
        "zero-sized-structs-max",
        Frame::single(&[
            list_ptr(0, INLINE_COMPOSITE, 0),
            tag_word(MAX_LIST_COUNT, 0, 0),
        ]),
    ));
    // composite list whose tag claims more elements than its words hold
    out.push((
        "composite-tag-lies",
        Frame::single(&[list_ptr(0, INLINE_COMPOSITE, 1), tag_word(1 << 20, 1, 0), 0]),
    ));
    // byte list claiming 2^29-1 bytes
    out.push((
        "byte-list-max",
        Frame::single(&[list_ptr(0, BYTE, MAX_LIST_COUNT)]),
    ));
    // a capability pointer as the root
    out.push(("cap-root", Frame::single(&[cap_ptr(0)])));
    // 600 segments (more than the limit of 512)
    out.push((
        "segments-600",
        Frame {
            segments: (0..600)
                .map(|i| words_to_bytes(&[if i == 0 { struct_ptr(0, 0, 0) } else { 0 }]))
                .collect(),
        },
    ));
    // empty segments around a struct
    out.push((
        "empty-segments",
        Frame {
            segments: vec![
                words_to_bytes(&[far_ptr(0, 2, false)]),
                vec![],
                words_to_bytes(&[struct_ptr(0, 1, 0), 1]),
                vec![],
            ],
        },
    ));
    out
}

/// Frames whose headers lie: they are written as bytes, not as a Frame.
#[allow(clippy::vec_init_then_push)]
pub fn crafted_bytes() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    // one segment of 2^32-1 words declared, 8 bytes present
    out.push((
        "oversize-frame",
        [0u32.to_le_bytes(), u32::MAX.to_le_bytes()]
            .concat()
            .into_iter()
            .chain([0; 8])
            .collect(),
    ));
    // 8 Mi + 1 words: just over the traversal / size limit
    out.push((
        "frame-over-limit",
        [0u32.to_le_bytes(), (8 * 1024 * 1024 + 1u32).to_le_bytes()].concat(),
    ));
    // 2^32 segments declared
    out.push(("segment-count-max", u32::MAX.to_le_bytes().to_vec()));
    // a header cut in the middle
    out.push(("truncated-header", vec![1, 0, 0, 0, 1, 0]));
    out
}
