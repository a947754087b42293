//! The hasher of the pool's maps that every call looks up: a worker's services by
//! interface id, the metrics by method name. Their keys come from the schema, not from
//! callers, so they need no protection against chosen collisions, and SipHash (std's
//! default) cost more per call than the rest of the lookup.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map keyed by schema ids or names.
pub(crate) type SchemaMap<K, V> = HashMap<K, V, BuildHasherDefault<SchemaHasher>>;

/// A multiply-rotate hasher (the one rustc uses for its own tables).
#[derive(Default, Clone, Copy)]
pub(crate) struct SchemaHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl SchemaHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for SchemaHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
        }
        let mut last = [0u8; 8];
        let rest = chunks.remainder();
        last[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(last));
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_are_found_again_and_distinct_keys_stay_apart() {
        let mut names: SchemaMap<&str, usize> = SchemaMap::default();
        let keys = [
            "Bench.echoBytes",
            "Bench.echoBytez",
            "Lab.pid",
            "",
            "Counter.next",
        ];
        for (i, k) in keys.iter().enumerate() {
            names.insert(k, i);
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(names.get(k), Some(&i));
        }
        let mut ids: SchemaMap<u64, u64> = SchemaMap::default();
        for id in [0u64, 1, u64::MAX, 0x950d47d539ceb3b3] {
            ids.insert(id, id ^ 7);
        }
        assert_eq!(ids.len(), 4);
        assert_eq!(
            ids.get(&0x950d47d539ceb3b3),
            Some(&(0x950d47d539ceb3b3 ^ 7))
        );
    }
}
