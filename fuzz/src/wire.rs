//! Just enough of the Cap'n Proto wire format to craft hostile input: the stream
//! framing (segment table + segments) parsed into and written from [`Frame`], and the
//! four pointer kinds as raw words. The fuzzer edits messages at this level so it can
//! produce what no builder would: far and double-far pointers into any segment, bogus
//! segment tables, pointer cycles, lists claiming 2^29 elements.

/// One message: its segments, each a whole number of 8-byte words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub segments: Vec<Vec<u8>>,
}

/// Most segments and words a frame may have for the fuzzer to edit it structurally
/// (larger inputs are still mutated byte-wise).
const MAX_EDIT_SEGMENTS: usize = 64;
const MAX_EDIT_WORDS: usize = 1 << 16;

impl Frame {
    pub fn single(words: &[u64]) -> Frame {
        Frame {
            segments: vec![words_to_bytes(words)],
        }
    }

    /// The stream framing of the segments.
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.segments.len().max(1);
        let mut out = Vec::with_capacity(8 + 4 * n + self.words() * 8);
        out.extend_from_slice(&((n - 1) as u32).to_le_bytes());
        if self.segments.is_empty() {
            out.extend_from_slice(&0u32.to_le_bytes());
        }
        for s in &self.segments {
            out.extend_from_slice(&((s.len() / 8) as u32).to_le_bytes());
        }
        if out.len() % 8 != 0 {
            out.extend_from_slice(&[0; 4]);
        }
        for s in &self.segments {
            out.extend_from_slice(s);
        }
        out
    }

    pub fn words(&self) -> usize {
        self.segments.iter().map(|s| s.len() / 8).sum()
    }

    pub fn word(&self, seg: usize, index: usize) -> u64 {
        let s = &self.segments[seg];
        u64::from_le_bytes(s[index * 8..index * 8 + 8].try_into().expect("8 bytes"))
    }

    pub fn set_word(&mut self, seg: usize, index: usize, value: u64) {
        self.segments[seg][index * 8..index * 8 + 8].copy_from_slice(&value.to_le_bytes());
    }

    /// Appends words to segment `seg`, returning the index of the first one.
    pub fn push_words(&mut self, seg: usize, words: &[u64]) -> usize {
        let at = self.segments[seg].len() / 8;
        self.segments[seg].extend_from_slice(&words_to_bytes(words));
        at
    }
}

/// Parses one frame at the start of `bytes`; returns it and the bytes it took.
/// None when the bytes are not a frame small enough to edit.
pub fn parse_frame(bytes: &[u8]) -> Option<(Frame, usize)> {
    let count = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?) as usize + 1;
    if count > MAX_EDIT_SEGMENTS {
        return None;
    }
    let header = (4 + 4 * count + 7) & !7;
    let mut sizes = Vec::with_capacity(count);
    for i in 0..count {
        let at = 4 + 4 * i;
        sizes.push(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize);
    }
    let words: usize = sizes.iter().sum();
    if words > MAX_EDIT_WORDS || bytes.len() < header + words * 8 {
        return None;
    }
    let mut pos = header;
    let mut segments = Vec::with_capacity(count);
    for size in sizes {
        segments.push(bytes[pos..pos + size * 8].to_vec());
        pos += size * 8;
    }
    Some((Frame { segments }, pos))
}

/// Parses `bytes` as a whole sequence of frames (None if anything is left over).
pub fn parse_frames(bytes: &[u8]) -> Option<Vec<Frame>> {
    let mut frames = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (f, used) = parse_frame(rest)?;
        frames.push(f);
        rest = &rest[used..];
        if frames.len() > 256 {
            return None;
        }
    }
    (!frames.is_empty()).then_some(frames)
}

pub fn frames_to_bytes(frames: &[Frame]) -> Vec<u8> {
    frames.iter().flat_map(Frame::to_bytes).collect()
}

pub fn words_to_bytes(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Element size codes of list pointers.
pub const VOID: u8 = 0;
pub const BIT: u8 = 1;
pub const BYTE: u8 = 2;
pub const POINTER: u8 = 6;
pub const INLINE_COMPOSITE: u8 = 7;

/// Largest element count a list pointer can hold.
pub const MAX_LIST_COUNT: u32 = (1 << 29) - 1;

/// A struct pointer: `offset` words after the pointer's own word.
pub fn struct_ptr(offset: i32, data_words: u16, ptr_count: u16) -> u64 {
    (((offset as u32) << 2) as u64) | ((data_words as u64) << 32) | ((ptr_count as u64) << 48)
}

/// A list pointer (for INLINE_COMPOSITE, `count` is the number of words after the tag).
pub fn list_ptr(offset: i32, element_size: u8, count: u32) -> u64 {
    1 | (((offset as u32) << 2) as u64)
        | (((element_size & 7) as u64) << 32)
        | (((count & MAX_LIST_COUNT) as u64) << 35)
}

/// A far pointer to word `pad` of segment `segment` (a two-word pad when `double`).
pub fn far_ptr(pad: u32, segment: u32, double: bool) -> u64 {
    2 | ((double as u64) << 2) | (((pad & ((1 << 29) - 1)) as u64) << 3) | ((segment as u64) << 32)
}

/// A capability pointer to entry `index` of the message's cap table.
pub fn cap_ptr(index: u32) -> u64 {
    3 | ((index as u64) << 32)
}

/// The tag word of an inline-composite list: `count` elements of the given shape.
pub fn tag_word(count: u32, data_words: u16, ptr_count: u16) -> u64 {
    (((count & ((1 << 30) - 1)) as u64) << 2)
        | ((data_words as u64) << 32)
        | ((ptr_count as u64) << 48)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        for segments in [1, 2, 3] {
            let f = Frame {
                segments: (0..segments).map(|i| vec![i as u8; 8 * (i + 1)]).collect(),
            };
            let bytes = f.to_bytes();
            let (g, used) = parse_frame(&bytes).unwrap();
            assert_eq!((g, used), (f.clone(), bytes.len()));
            let two = [bytes.clone(), bytes].concat();
            assert_eq!(parse_frames(&two).unwrap(), vec![f.clone(), f]);
        }
        assert!(parse_frame(&[0, 0, 0]).is_none());
        assert!(parse_frames(&[0, 0, 0, 0, 1, 0, 0, 0]).is_none());
    }

    #[test]
    fn pointer_words_match_the_encoding_spec() {
        assert_eq!(struct_ptr(0, 2, 1), 0x0001_0002_0000_0000);
        assert_eq!(struct_ptr(-1, 0, 0) & 0xFFFF_FFFF, 0xFFFF_FFFC);
        assert_eq!(list_ptr(1, BYTE, 3), 0x0000_001A_0000_0005);
        assert_eq!(far_ptr(1, 2, true), 0x0000_0002_0000_000E);
        assert_eq!(cap_ptr(5), 0x0000_0005_0000_0003);
        assert_eq!(tag_word(3, 1, 0), 0x0000_0001_0000_000C);
    }
}
