"""canonicalize(): expected bytes computed by hand from the encoding spec's rules
(single segment, pre-order, truncated data/pointer sections, offset -1 for empty structs,
cleared bit-list padding, no capabilities)."""

import unittest

from test_wire_support import (
    cap_ptr, far_ptr, list_ptr, msg, seg, struct_ptr, tag, u64, word, wire,
)

BYTE, IC = wire.BYTE, wire.INLINE_COMPOSITE


def canon_of(*segments):
    return wire.canonicalize(msg(*segments).root())


class CanonicalBytesTest(unittest.TestCase):
    def test_data_section_trailing_zero_words_truncated(self):
        got = canon_of(seg(struct_ptr(0, 3, 0), u64(0x1111111111111111),
                           u64(0x8000000000000000), u64(0)))
        self.assertEqual(got, seg(struct_ptr(0, 2, 0), u64(0x1111111111111111),
                                  u64(0x8000000000000000)))

    def test_all_zero_struct_becomes_empty_struct_pointer(self):
        got = canon_of(seg(struct_ptr(0, 2, 1), u64(0), u64(0), u64(0)))
        self.assertEqual(got, word(-4, 0))

    def test_pointer_section_trailing_nulls_truncated(self):
        got = canon_of(seg(struct_ptr(0, 1, 3), u64(9), list_ptr(2, BYTE, 2), u64(0), u64(0),
                           b"x\x00" + bytes(6)))
        self.assertEqual(got, seg(struct_ptr(0, 1, 1), u64(9), list_ptr(0, BYTE, 2),
                                  b"x\x00" + bytes(6)))

    def test_inner_null_pointers_are_kept(self):
        got = canon_of(seg(struct_ptr(0, 0, 3), u64(0), u64(0), list_ptr(0, BYTE, 1), bytes(8)))
        self.assertEqual(got, seg(struct_ptr(0, 0, 3), u64(0), u64(0), list_ptr(0, BYTE, 1),
                                  bytes(8)))

    def test_objects_are_laid_out_in_preorder(self):
        d1 = bytes([7, 6, 5, 4, 3, 2, 1, 0])
        d2 = bytes([0, 1, 2, 3, 4, 5, 6, 7])
        # Pointer 0 targets the last word and pointer 1 the one before it.
        got = canon_of(seg(struct_ptr(0, 0, 2), struct_ptr(2, 1, 0), struct_ptr(0, 1, 0), d2, d1))
        self.assertEqual(got, seg(struct_ptr(0, 0, 2), struct_ptr(1, 1, 0), struct_ptr(1, 1, 0),
                                  d1, d2))

    def test_preorder_is_depth_first(self):
        # root -> [A -> [A1], B]; canonical order: root, A, A1, B.
        mb = wire.MessageBuilder()
        root = mb.init_root(0, 2)
        b = root.init_struct(1, 1, 0)      # allocated first, so B precedes A here
        a = root.init_struct(0, 1, 1)
        b.set_uint64(0, 0xB)
        a.set_uint64(0, 0xA)
        a.init_struct(0, 1, 0).set_uint64(0, 0xA1)
        got = wire.canonicalize(mb.as_reader().root())
        self.assertEqual(got, seg(struct_ptr(0, 0, 2),
                                  struct_ptr(1, 1, 1),   # word 1 -> A at word 3
                                  struct_ptr(3, 1, 0),   # word 2 -> B at word 6
                                  u64(0xA), struct_ptr(0, 1, 0), u64(0xA1),
                                  u64(0xB)))

    def test_empty_struct_field_uses_offset_minus_one(self):
        got = canon_of(seg(struct_ptr(0, 0, 1), struct_ptr(1, 0, 0), u64(0xEEEEEEEEEEEEEEEE),
                           u64(0xEEEEEEEEEEEEEEEE)))
        self.assertEqual(got, seg(struct_ptr(0, 0, 1), word(-4, 0)))

    def test_struct_list_truncated_to_largest_element(self):
        got = canon_of(seg(struct_ptr(0, 0, 1), list_ptr(0, IC, 3), tag(1, 3, 0),
                           u64(0x2222222222222222), u64(0x8000000000000000), u64(0)))
        self.assertEqual(got, seg(struct_ptr(0, 0, 1), list_ptr(0, IC, 2), tag(1, 2, 0),
                                  u64(0x2222222222222222), u64(0x8000000000000000)))

    def test_struct_list_sections_use_maximum_over_elements(self):
        mb = wire.MessageBuilder()
        lb = mb.init_root(0, 1).init_struct_list(0, 2, 2, 2)
        lb.get_struct(0).set_uint64(0, 5)           # element 0: data word 0 only
        lb.get_struct(1).set_text(0, "a")           # element 1: pointer 0 only
        got = wire.canonicalize(mb.as_reader().root())
        self.assertEqual(got, seg(struct_ptr(0, 0, 1),
                                  list_ptr(0, IC, 4), tag(2, 1, 1),
                                  u64(5), u64(0),                   # element 0
                                  u64(0), list_ptr(0, BYTE, 2),     # element 1 -> word 7
                                  b"a\x00" + bytes(6)))

    def test_pointer_truncation_in_struct_list(self):
        # The root itself is a struct list here, so canonicalize the whole message.
        got = wire.canonicalize(msg(seg(list_ptr(0, IC, 4), tag(2, 1, 1), u64(0), u64(0),
                                        u64(0xAAAAAAAAAAAAAAAA), u64(0))))
        self.assertEqual(got, seg(list_ptr(0, IC, 2), tag(2, 1, 0), u64(0),
                                  u64(0xAAAAAAAAAAAAAAAA)))

    def test_empty_struct_lists(self):
        got = canon_of(seg(struct_ptr(0, 0, 1), list_ptr(0, IC, 0), tag(0, 0, 0)))
        self.assertEqual(got, seg(struct_ptr(0, 0, 1), list_ptr(0, IC, 0), tag(0, 0, 0)))
        # Zero-sized elements keep their count; declared sizes drop to zero.
        got = canon_of(seg(struct_ptr(0, 0, 1), list_ptr(0, IC, 6), tag(3, 1, 1), *[u64(0)] * 6))
        self.assertEqual(got, seg(struct_ptr(0, 0, 1), list_ptr(0, IC, 0), tag(3, 0, 0)))

    def test_bit_list_padding_cleared(self):
        got = canon_of(seg(struct_ptr(0, 0, 1), list_ptr(0, wire.BIT, 3), u64(0xFFFFFFFFFFFFFFFF)))
        self.assertEqual(got, seg(struct_ptr(0, 0, 1), list_ptr(0, wire.BIT, 3), u64(0b111)))

    def test_text_padding_cleared(self):
        got = canon_of(seg(struct_ptr(0, 0, 1), list_ptr(0, BYTE, 3), b"hi\x00garbg"))
        self.assertEqual(got, seg(struct_ptr(0, 0, 1), list_ptr(0, BYTE, 3), b"hi\x00" + bytes(5)))

    def test_void_list_offset_normalised(self):
        got = canon_of(seg(struct_ptr(0, 0, 1), list_ptr(3, wire.VOID, 5), u64(0), u64(0),
                           u64(0)))
        self.assertEqual(got, seg(struct_ptr(0, 0, 1), list_ptr(0, wire.VOID, 5)))

    def test_primitive_and_pointer_lists_copied(self):
        got = canon_of(seg(struct_ptr(0, 0, 2), list_ptr(1, wire.TWO_BYTES, 3),
                           list_ptr(1, wire.POINTER, 2),
                           bytes([1, 0, 2, 0, 3, 0, 0xEE, 0xEE]),
                           struct_ptr(1, 1, 0), u64(0), u64(42)))
        # Same layout (it already is pre-order); only the unused list bytes are cleared.
        self.assertEqual(got, seg(struct_ptr(0, 0, 2),
                                  list_ptr(1, wire.TWO_BYTES, 3),   # word 1 -> word 3
                                  list_ptr(1, wire.POINTER, 2),     # word 2 -> word 4
                                  bytes([1, 0, 2, 0, 3, 0, 0, 0]),
                                  struct_ptr(1, 1, 0), u64(0),      # word 4 -> word 6
                                  u64(42)))

    def test_multi_segment_becomes_single_segment(self):
        d = bytes(range(8))
        self.assertEqual(canon_of(seg(far_ptr(0, 1)), seg(struct_ptr(0, 1, 0), d)),
                         seg(struct_ptr(0, 1, 0), d))
        # Only segment 0 used, an unused second segment is dropped.
        self.assertEqual(canon_of(seg(struct_ptr(0, 1, 0), d), seg(struct_ptr(0, 1, 0))),
                         seg(struct_ptr(0, 1, 0), d))

    def test_null_and_default_roots(self):
        m = msg(seg(u64(0)))
        self.assertEqual(wire.canonicalize(m.root_pointer()), u64(0))
        self.assertEqual(wire.canonicalize(m), u64(0))
        # As a struct, the null root is the empty struct.
        self.assertEqual(wire.canonicalize(m.root()), word(-4, 0))

    def test_capabilities_cannot_be_canonical(self):
        m = msg(seg(struct_ptr(0, 0, 1), cap_ptr(0)), cap_table=["cap"])
        with self.assertRaises(wire.CanonicalizationError):
            wire.canonicalize(m.root())
        with self.assertRaises(wire.WrongType):
            wire.canonicalize(b"bytes")


class CanonicalPropertiesTest(unittest.TestCase):
    def build(self, first_segment_words, reverse):
        mb = wire.MessageBuilder(first_segment_words=first_segment_words)
        root = mb.init_root(4, 4)       # oversized sections, truncated canonically
        steps = [
            lambda: root.set_uint32(0, 7),
            lambda: root.set_text(1, "canonical"),
            lambda: root.init_list(2, wire.EIGHT_BYTES, 3).set_primitives("q", [1, -1, 0]),
            lambda: root.set_bool(70, True),
        ]
        for s in (reversed(steps) if reverse else steps):
            s()
        lb = root.init_struct_list(0, 2, 3, 2)
        lb.get_struct(1).set_data(0, b"\x01\x02")
        return mb

    def test_equal_values_have_equal_canonical_bytes(self):
        forms = {wire.canonicalize(wire.read_message(self.build(f, rev).to_bytes()).root())
                 for f in (1, 3, 64) for rev in (False, True)}
        self.assertEqual(len(forms), 1)

    def test_canonicalize_is_idempotent_and_readable(self):
        c = wire.canonicalize(self.build(2, False).as_reader().root())
        again = wire.canonicalize(wire.MessageReader([c]).root())
        self.assertEqual(c, again)
        r = wire.MessageReader([c]).root()
        self.assertEqual((r.get_uint32(0), r.get_text(1), r.get_bool(70)), (7, "canonical", True))
        self.assertEqual(r.data_words, 2)         # bool at bit 70 lives in word 1
        self.assertEqual(r.pointer_count, 3)      # pointer 3 was never set


if __name__ == "__main__":
    unittest.main()
