//! The mutation engine: derives a new input from a corpus entry.
//!
//! Byte-level mutations (bit and byte flips, interesting values, arithmetic, splicing
//! with another entry, truncation and extension, duplicated and deleted ranges) are
//! stacked with structure-aware ones that parse the input as Cap'n Proto frames and
//! edit words: crafted struct / list / far / double-far / capability pointers, far
//! pointers that relocate a real object behind a landing pad, bogus segment tables and
//! counts, chains of pointers deeper than any nesting limit, pointer cycles, and lists
//! that claim 2^29 elements or share one target many times (amplification).

use crate::rng::Rng;
use crate::wire::{self, Frame};

/// What a target reads, so the mutator keeps most inputs of the right shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One framed message.
    Message,
    /// A sequence of framed messages (a connection's byte stream).
    Frames,
}

/// Largest input the mutator produces.
pub const MAX_INPUT: usize = 64 * 1024;

const INTERESTING_32: &[u32] = &[
    0,
    1,
    2,
    7,
    8,
    63,
    64,
    65,
    255,
    256,
    512,
    513,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x10000,
    0x7F_FFFF,
    0x80_0000,
    0x80_0001,
    0x100_0000,
    0x1FFF_FFFF,
    0x2000_0000,
    0x3FFF_FFFF,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFE,
    0xFFFF_FFFF,
];

pub struct Mutator {
    pub rng: Rng,
}

impl Mutator {
    pub fn new(seed: u64) -> Self {
        Mutator {
            rng: Rng::new(seed),
        }
    }

    /// A new input derived from `input`, with `corpus` as splicing material.
    pub fn mutate(&mut self, input: &[u8], corpus: &[Vec<u8>], shape: Shape) -> Vec<u8> {
        let mut data = input.to_vec();
        let rounds = 1 + self.rng.below(4);
        for _ in 0..rounds {
            if self.rng.below(10) < 6 {
                if let Some(frames) = wire::parse_frames(&data) {
                    data = self.structural(frames, corpus, shape);
                    continue;
                }
            }
            self.bytes(&mut data, corpus);
        }
        data.truncate(MAX_INPUT);
        data
    }

    fn structural(&mut self, mut frames: Vec<Frame>, corpus: &[Vec<u8>], shape: Shape) -> Vec<u8> {
        let rng = &mut self.rng;
        if shape == Shape::Frames && rng.one_in(4) {
            // Reorder, repeat, drop or borrow whole messages.
            match rng.below(4) {
                0 if frames.len() > 1 => {
                    let (a, b) = (rng.below(frames.len()), rng.below(frames.len()));
                    frames.swap(a, b);
                }
                1 => {
                    let f = frames[rng.below(frames.len())].clone();
                    let at = rng.below(frames.len() + 1);
                    frames.insert(at, f);
                }
                2 if frames.len() > 1 => {
                    frames.remove(rng.below(frames.len()));
                }
                _ if !corpus.is_empty() => {
                    let other: &Vec<u8> = rng.pick(corpus);
                    if let Some(other) = wire::parse_frames(other) {
                        let f = other[rng.below(other.len())].clone();
                        let at = rng.below(frames.len() + 1);
                        frames.insert(at, f);
                    }
                }
                _ => {}
            }
            return wire::frames_to_bytes(&frames);
        }
        let i = rng.below(frames.len());
        edit_frame(rng, &mut frames[i]);
        wire::frames_to_bytes(&frames)
    }

    fn bytes(&mut self, data: &mut Vec<u8>, corpus: &[Vec<u8>]) {
        let rng = &mut self.rng;
        let len = data.len();
        match rng.below(13) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = *rng.pick(&[0u8, 1, 0x7F, 0x80, 0xFF, 0xFE, 0x40]);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.next_u32() as u8;
            }
            3 if len >= 4 => {
                // An interesting 32-bit value, word-aligned half the time (segment
                // table entries, pointer halves).
                let mut i = rng.below(len - 3);
                if rng.one_in(2) {
                    i &= !3;
                }
                let v = *rng.pick(INTERESTING_32);
                data[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            4 if len >= 4 => {
                let i = rng.below(len - 3) & !3;
                let v = u32::from_le_bytes(data[i..i + 4].try_into().expect("4 bytes"));
                let delta = 1 + rng.below(16) as u32;
                let v = if rng.one_in(2) {
                    v.wrapping_add(delta)
                } else {
                    v.wrapping_sub(delta)
                };
                data[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            5 if len > 0 => data.truncate(rng.below(len)),
            6 => {
                let n = 1 + rng.below(64);
                let fill = rng.one_in(2);
                for _ in 0..n {
                    data.push(if fill { 0 } else { rng.next_u32() as u8 });
                }
            }
            7 if len > 1 => {
                let a = rng.below(len);
                let n = 1 + rng.below((len - a).min(64));
                data.drain(a..a + n);
            }
            8 if len > 1 => {
                let a = rng.below(len);
                let n = 1 + rng.below((len - a).min(256));
                let chunk = data[a..a + n].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, chunk);
            }
            9 if !corpus.is_empty() => {
                // Splice: our head, another entry's tail.
                let other: &Vec<u8> = rng.pick(corpus);
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            10 if !corpus.is_empty() => {
                let other: Vec<u8> = rng.pick(corpus).clone();
                data.extend_from_slice(&other);
            }
            11 if len >= 8 => {
                // Segment table: the count or a size, to an interesting value.
                let slot = rng.below(4.min(len / 4));
                let v = *rng.pick(INTERESTING_32);
                data[slot * 4..slot * 4 + 4].copy_from_slice(&v.to_le_bytes());
            }
            _ if len >= 8 => {
                let i = rng.below(len / 8) * 8;
                let w = crafted_pointer(rng, 64);
                data[i..i + 8].copy_from_slice(&w.to_le_bytes());
            }
            _ => data.extend_from_slice(&[0; 8]),
        }
    }
}

/// A random pointer word of any kind; offsets mostly land near `span` words.
pub fn crafted_pointer(rng: &mut Rng, span: u32) -> u64 {
    let offset = if rng.one_in(8) {
        *rng.pick(&[i32::MAX >> 2, -(1 << 29), (1 << 29) - 1, -1, -2])
    } else {
        rng.below(span as usize + 1) as i32 - (span as i32 / 4)
    };
    match rng.below(8) {
        0 | 1 => wire::struct_ptr(offset, rng.small() as u16, rng.small() as u16),
        2 | 3 => {
            let count = if rng.one_in(3) {
                wire::MAX_LIST_COUNT - rng.below(2) as u32
            } else {
                rng.small()
            };
            wire::list_ptr(offset, rng.below(8) as u8, count)
        }
        4 | 5 => wire::far_ptr(rng.small(), rng.small().min(9), rng.one_in(2)),
        6 => wire::cap_ptr(if rng.one_in(2) {
            rng.small()
        } else {
            rng.next_u32()
        }),
        _ => {
            if rng.one_in(2) {
                rng.next_u64()
            } else {
                // An "other" pointer that is not a capability.
                3 | ((rng.below(1 << 30) as u64) << 2) | ((rng.next_u32() as u64) << 32)
            }
        }
    }
}

/// Edits one message structurally.
fn edit_frame(rng: &mut Rng, f: &mut Frame) {
    if f.segments.is_empty() {
        f.segments.push(vec![0; 8]);
    }
    let seg = rng.below(f.segments.len());
    let words = f.segments[seg].len() / 8;
    match rng.below(11) {
        0 | 1 if words > 0 => {
            let i = rng.below(words);
            let w = crafted_pointer(rng, words as u32);
            f.set_word(seg, i, w);
        }
        2 if words > 0 => relocate_behind_far(rng, f, seg),
        3 => {
            // Extra segments: empty, garbage, or zeros, sometimes many.
            let n = if rng.one_in(8) { 1 + rng.below(600) } else { 1 };
            for _ in 0..n {
                let len = rng.below(4);
                let words: Vec<u64> = (0..len).map(|_| crafted_pointer(rng, 4)).collect();
                f.segments.push(wire::words_to_bytes(&words));
            }
        }
        4 if f.segments.len() > 1 => {
            let i = rng.below(f.segments.len());
            f.segments.remove(i);
        }
        5 => deep_chain(rng, f, seg),
        6 if words > 0 => {
            // A cycle: a struct or list pointer to its own word.
            let i = rng.below(words);
            let w = if rng.one_in(2) {
                wire::struct_ptr(-1, 0, 1 + rng.below(2) as u16)
            } else {
                wire::list_ptr(-1, wire::POINTER, 1)
            };
            f.set_word(seg, i, w);
        }
        7 => amplify(rng, f, seg),
        8 if words > 0 => {
            // Resize a segment (truncate or grow by words).
            if rng.one_in(2) {
                let keep = rng.below(words);
                f.segments[seg].truncate(keep * 8);
            } else {
                let n = 1 + rng.below(8);
                for _ in 0..n {
                    let w = if rng.one_in(2) {
                        0
                    } else {
                        crafted_pointer(rng, 8)
                    };
                    f.push_words(seg, &[w]);
                }
            }
        }
        9 if words > 1 => {
            let (a, b) = (rng.below(words), rng.below(words));
            let wa = f.word(seg, a);
            f.set_word(seg, b, wa);
        }
        _ if words > 0 => {
            // Flip bits of one pointer's fields (offset, sizes, counts).
            let i = rng.below(words);
            let w = f.word(seg, i) ^ (1u64 << rng.below(64));
            f.set_word(seg, i, w);
        }
        _ => {
            f.push_words(seg, &[0]);
        }
    }
}

/// Replaces a struct or list pointer with a far pointer to a landing pad that reaches
/// the same object: a single-far pad appended to the object's segment, or a double-far
/// pad in a new segment. The message means the same; readers take the far paths.
fn relocate_behind_far(rng: &mut Rng, f: &mut Frame, seg: usize) {
    let words = f.segments[seg].len() / 8;
    let start = rng.below(words);
    for k in 0..words {
        let i = (start + k) % words;
        let w = f.word(seg, i);
        let kind = w & 3;
        if w == 0 || kind > 1 {
            continue;
        }
        let offset = ((w as u32) as i32) >> 2;
        let target = i as i64 + 1 + offset as i64;
        if target < 0 {
            continue;
        }
        let bare = w & !0xFFFF_FFFC; // the same pointer with offset 0
        if rng.one_in(2) {
            // single far: pad at the end of `seg`, pointing back at the object
            let pad = f.segments[seg].len() / 8;
            let back = (target - (pad as i64 + 1)) as i32;
            let padw = (bare & !0xFFFF_FFFF) | ((((back as u32) << 2) | kind as u32) as u64);
            f.push_words(seg, &[padw]);
            f.set_word(seg, i, wire::far_ptr(pad as u32, seg as u32, false));
        } else {
            let new = f.segments.len();
            f.segments.push(wire::words_to_bytes(&[
                wire::far_ptr(target as u32, seg as u32, false),
                bare,
            ]));
            f.set_word(seg, i, wire::far_ptr(0, new as u32, true));
        }
        return;
    }
}

/// Points a word at a chain of struct (or list) pointers each pointing at the next,
/// `depth` long: around the nesting limit of 64, or far beyond it.
fn deep_chain(rng: &mut Rng, f: &mut Frame, seg: usize) {
    let depth = *rng.pick(&[60usize, 63, 64, 65, 66, 100, 1000, 5000]);
    let lists = rng.one_in(3);
    let start = f.segments[seg].len() / 8;
    let mut chain = Vec::with_capacity(depth + 1);
    for k in 0..depth {
        chain.push(if k + 1 == depth {
            0
        } else if lists {
            wire::list_ptr(0, wire::POINTER, 1)
        } else {
            wire::struct_ptr(0, 0, 1)
        });
    }
    f.push_words(seg, &chain);
    let words = f.segments[seg].len() / 8;
    let from = if rng.one_in(2) {
        0
    } else {
        rng.below(start.max(1))
    };
    if from < words {
        let off = start as i32 - (from as i32 + 1);
        let w = if lists {
            wire::list_ptr(off, wire::POINTER, 1)
        } else {
            wire::struct_ptr(off, 0, 1)
        };
        f.set_word(seg, from, w);
    }
}

/// Amplification: a list whose elements all point at one large object, a list of
/// zero-sized elements claiming 2^29 of them, or a composite list whose tag lies.
fn amplify(rng: &mut Rng, f: &mut Frame, seg: usize) {
    let start = f.segments[seg].len() / 8;
    let words = match rng.below(4) {
        0 => {
            // n pointers to one struct of `size` data words, placed after them
            let n = *rng.pick(&[16usize, 256, 4096]);
            let size = *rng.pick(&[1u16, 64, 1024]);
            let mut ws: Vec<u64> = (0..n)
                .map(|k| wire::struct_ptr((n - k - 1) as i32, size, 0))
                .collect();
            ws.extend(std::iter::repeat(0x4141_4141_4141_4141u64).take(size as usize));
            let mut out = vec![wire::list_ptr(0, wire::POINTER, n as u32)];
            out.append(&mut ws);
            out
        }
        1 => vec![wire::list_ptr(0, wire::VOID, wire::MAX_LIST_COUNT)],
        2 => vec![
            wire::list_ptr(0, wire::INLINE_COMPOSITE, 0),
            wire::tag_word((1 << 29) - 1, 0, 0),
        ],
        _ => vec![
            wire::list_ptr(0, wire::INLINE_COMPOSITE, 1),
            wire::tag_word(*rng.pick(&[2u32, 1 << 20, (1 << 30) - 1]), 1, 0),
            0,
        ],
    };
    // the head pointer is words[0]; whoever points at it gets its target
    f.push_words(seg, &words);
    let from = if rng.one_in(2) {
        0
    } else {
        rng.below(start.max(1))
    };
    if from < start || start == 0 {
        // copy the list pointer into `from`, re-aimed from there
        let head = f.word(seg, start);
        let off = start as i32 + 1 - (from as i32 + 1);
        let w = (head & !0xFFFF_FFFC) | (((off as u32) << 2) as u64);
        f.set_word(seg, from, w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutation_is_deterministic_and_bounded() {
        let seed = wire::Frame::single(&[wire::struct_ptr(0, 1, 1), 42, 0]).to_bytes();
        let corpus = vec![seed.clone()];
        let run = |s| {
            let mut m = Mutator::new(s);
            let mut last = seed.clone();
            let mut all = Vec::new();
            for _ in 0..2000 {
                let input = if m.rng.one_in(2) { &seed } else { &last };
                last = m.mutate(input, &corpus, Shape::Frames);
                assert!(last.len() <= MAX_INPUT);
                all.push(last.clone());
            }
            all
        };
        assert_eq!(run(3), run(3));
        let distinct: std::collections::HashSet<_> = run(3).into_iter().collect();
        assert!(
            distinct.len() > 1000,
            "only {} distinct inputs",
            distinct.len()
        );
    }

    #[test]
    fn relocating_behind_a_far_pointer_keeps_the_message_the_same() {
        fn canonical(f: &Frame) -> Vec<capnp::Word> {
            let bytes = f.to_bytes();
            let msg =
                capnp::serialize::read_message_from_flat_slice(&mut &bytes[..], Default::default())
                    .unwrap();
            msg.canonicalize().unwrap()
        }
        // root: a struct of one data word and one pointer to a list of three bytes
        let plain = Frame::single(&[
            wire::struct_ptr(0, 1, 1),
            0x1236, // data words whose low bits do not look like struct or list pointers
            wire::list_ptr(0, wire::BYTE, 3),
            0x0064_6362,
        ]);
        let mut rng = Rng::new(1);
        let mut far_paths = 0;
        for _ in 0..50 {
            let mut f = plain.clone();
            relocate_behind_far(&mut rng, &mut f, 0);
            assert_ne!(f, plain);
            far_paths += usize::from(f.segments.len() > 1);
            assert_eq!(canonical(&f), canonical(&plain));
        }
        assert!(far_paths > 0 && far_paths < 50, "both kinds of far pointer");
    }
}
