"""Hostile and malformed input: every error kind, raised promptly and typed."""

import unittest

from test_wire_support import (
    QuickMixin, cap_ptr, far_ptr, list_ptr, msg, seg, struct_ptr, tag, u64, word, wire,
)


def root_with(*words, **kw):
    """A message whose root struct has len(words) pointers, followed by ``extra`` words."""
    extra = kw.pop("extra", ())
    return msg(seg(struct_ptr(0, 0, len(words)), *words, *extra), **kw).root()


def shared_target_lists(depth):
    """Words of a message whose root is a list of two pointers, both at the next such
    list, ``depth`` lists deep (the last one holds two nulls)."""
    words = [list_ptr(0, wire.POINTER, 2)]
    for level in range(depth):
        at = 1 + 2 * level          # this list's two words
        if level == depth - 1:
            words += [u64(0), u64(0)]
        else:
            words += [list_ptr(at + 2 - (at + 1), wire.POINTER, 2),
                      list_ptr(at + 2 - (at + 2), wire.POINTER, 2)]
    return words


class BoundsTest(QuickMixin, unittest.TestCase):
    def test_struct_pointer_out_of_bounds(self):
        m = msg(seg(struct_ptr(0, 2, 0), u64(1)))  # needs 2 words, has 1
        self.assertRaisesQuickly(wire.PointerOutOfBounds, m.root)
        m = msg(seg(struct_ptr(-5, 1, 0), u64(1)))  # negative offset before the segment
        self.assertRaisesQuickly(wire.PointerOutOfBounds, m.root)

    def test_huge_list_counts(self):
        huge = (1 << 29) - 1
        for es in (wire.BIT, wire.BYTE, wire.EIGHT_BYTES, wire.POINTER):
            with self.subTest(es=es):
                r = root_with(list_ptr(0, es, huge))
                err = self.assertRaisesQuickly(wire.PointerOutOfBounds, r.get_list, 0, es)
                self.assertIn("outside segment", str(err))
        r = root_with(list_ptr(0, wire.INLINE_COMPOSITE, huge))
        self.assertRaisesQuickly(wire.PointerOutOfBounds, r.get_list, 0, wire.INLINE_COMPOSITE)
        r = root_with(list_ptr(0, wire.BYTE, huge))
        self.assertRaisesQuickly(wire.PointerOutOfBounds, r.get_text, 0)
        self.assertRaisesQuickly(wire.PointerOutOfBounds, r.get_data, 0)

    def test_far_pointer_to_missing_segment(self):
        m = msg(seg(far_ptr(0, 7)))
        err = self.assertRaisesQuickly(wire.InvalidSegmentId, m.root)
        self.assertIn("segment 7", str(err))
        self.assertTrue(issubclass(wire.InvalidSegmentId, wire.PointerOutOfBounds))

    def test_far_landing_pad_out_of_bounds(self):
        self.assertRaisesQuickly(wire.PointerOutOfBounds, msg(seg(far_ptr(5, 0))).root)
        # A double-far pad needs two words.
        self.assertRaisesQuickly(wire.PointerOutOfBounds,
                                 msg(seg(far_ptr(0, 1, double=True)), seg(far_ptr(0, 0))).root)

    def test_double_far_target_out_of_bounds(self):
        # Pad points at word 2**29-1 of segment 0 with a list tag (as in the reference's
        # double_far_oob test).
        m = msg(seg(far_ptr(1, 0, double=True), word(-6, 0), list_ptr(0, wire.INLINE_COMPOSITE, 1)))
        self.assertRaisesQuickly(wire.PointerOutOfBounds, m.root_pointer().as_list, wire.BYTE)

    def test_far_pointer_loops_are_rejected(self):
        # A far pointer whose landing pad is itself.
        self.assertRaisesQuickly(wire.MalformedPointer, msg(seg(far_ptr(0, 0))).root)
        # Two far pointers pointing at each other.
        m = msg(seg(far_ptr(0, 1)), seg(far_ptr(0, 0)))
        self.assertRaisesQuickly(wire.MalformedPointer, m.root)
        # A double-far whose pad starts with a double-far (to itself).
        m = msg(seg(far_ptr(0, 0, double=True), struct_ptr(0, 0, 0)))
        self.assertRaisesQuickly(wire.MalformedPointer, m.root)
        # A double-far whose tag word is a far pointer.
        m = msg(seg(far_ptr(1, 0, double=True), far_ptr(0, 0), far_ptr(0, 0)))
        self.assertRaisesQuickly(wire.MalformedPointer, m.root)

    def test_empty_messages(self):
        self.assertRaisesQuickly(wire.PointerOutOfBounds, msg().root)
        self.assertRaisesQuickly(wire.PointerOutOfBounds, msg(b"").root)

    def test_segment_shape(self):
        with self.assertRaises(wire.MalformedMessage):
            msg(b"\0" * 12)
        with self.assertRaises(wire.TooManySegments):
            msg(*[u64(0)] * 3, limits=wire.Limits(max_segments=2))
        with self.assertRaises(wire.WrongType):
            wire.MessageReader([42])

    def test_composite_list_malformed(self):
        r = root_with(list_ptr(0, wire.INLINE_COMPOSITE, 1), extra=[list_ptr(0, wire.BYTE, 0), u64(0)])
        err = self.assertRaisesQuickly(wire.MalformedPointer, r.get_list, 0, wire.INLINE_COMPOSITE)
        self.assertIn("tag", str(err))
        # Tag claims 3 elements of 1 word but the list has 2 words.
        r = root_with(list_ptr(0, wire.INLINE_COMPOSITE, 2), extra=[tag(3, 1, 0), u64(1), u64(2)])
        err = self.assertRaisesQuickly(wire.MalformedPointer, r.get_list, 0, wire.INLINE_COMPOSITE)
        self.assertIn("overrun", str(err))


class LimitTest(QuickMixin, unittest.TestCase):
    def test_traversal_limit_counts_every_read(self):
        m = msg(seg(struct_ptr(0, 0, 1), struct_ptr(0, 4, 0), *[u64(i) for i in range(4)]),
                limits=wire.Limits(traversal_words=20))
        r = m.root()  # 1 + 1
        for _ in range(4):
            r.get_struct(0)  # 4 words each: 18 in total
        self.assertEqual(m.traversal_words_left, 2)
        err = self.assertRaisesQuickly(wire.TraversalLimitExceeded, r.get_struct, 0)
        self.assertIn("traversal limit", str(err))

    def test_unlimited_traversal(self):
        m = msg(seg(struct_ptr(0, 0, 1), struct_ptr(0, 4, 0), *[u64(i) for i in range(4)]),
                limits=wire.Limits(traversal_words=None))
        r = m.root()
        for _ in range(1000):
            r.get_struct(0)

    def test_amplification_by_repeated_pointers(self):
        # 1000 list elements all pointing back at the same 50-word struct: reading them
        # all would be 50,000 words; the limit stops it.
        n, size = 1000, 50
        words = [struct_ptr(0, 0, 1), list_ptr(size, wire.POINTER, n)]
        words += [u64(7)] * size  # the shared struct's data, at words 2..51
        base = 2 + size           # the pointer list starts here
        for i in range(n):
            here = base + i
            words.append(struct_ptr(2 - here - 1, size, 0))
        m = msg(seg(*words), limits=wire.Limits(traversal_words=10000))
        lr = m.root().get_list(0, wire.POINTER)

        def read_all():
            for i in range(n):
                lr.get_pointer(i).as_struct()
        self.assertEqual(lr.get_pointer(0).as_struct().get_uint64(49), 7)
        self.assertRaisesQuickly(wire.TraversalLimitExceeded, read_all)

    def test_void_list_amplification(self):
        r = root_with(list_ptr(0, wire.VOID, (1 << 29) - 1))
        self.assertRaisesQuickly(wire.TraversalLimitExceeded, r.get_list, 0, wire.VOID)
        # Within the limit, a void list is accepted and costs its element count.
        m = msg(seg(struct_ptr(0, 0, 1), list_ptr(0, wire.VOID, 100)))
        start = m.traversal_words_left
        self.assertEqual(m.root().get_list(0, wire.VOID).len(), 100)
        # root pointer (1) + struct (1) + 100 void elements
        self.assertEqual(start - m.traversal_words_left, 1 + 1 + 100)

    def test_zero_sized_struct_list_amplification(self):
        r = root_with(list_ptr(0, wire.INLINE_COMPOSITE, 0), extra=[tag((1 << 30) - 1, 0, 0)])
        self.assertRaisesQuickly(wire.TraversalLimitExceeded, r.get_list, 0,
                                 wire.INLINE_COMPOSITE)
        self.assertRaisesQuickly(wire.TraversalLimitExceeded, wire.canonicalize, r)

    def test_zero_sized_structs_have_a_budget_per_message(self):
        # Within the traversal limit, a list of 4 Mi zero-sized structs (a frame of a
        # few words) was accepted, and decoding built an object per element (+578 MiB,
        # 10 s for 8 Mi).
        n = 4 * 1024 * 1024

        def zero_sized(*counts):
            # a root with one list of `count` zero-sized structs per pointer (the tags
            # right after the pointers)
            k = len(counts)
            return root_with(*[list_ptr(k - 1, wire.INLINE_COMPOSITE, 0) for _ in counts],
                             extra=[tag(c, 0, 0) for c in counts])
        r = zero_sized(n)
        err = self.assertRaisesQuickly(wire.TraversalLimitExceeded, r.get_list, 0,
                                       wire.INLINE_COMPOSITE)
        self.assertIn("zero-sized struct element limit", str(err))
        # the budget (64 Ki) is per message: two lists of 40 Ki overdraw it
        k = 40 * 1024
        r = zero_sized(k, k)
        self.assertEqual(r.get_list(0, wire.INLINE_COMPOSITE).len(), k)
        self.assertRaisesQuickly(wire.TraversalLimitExceeded, r.get_list, 1,
                                 wire.INLINE_COMPOSITE)
        self.assertEqual(wire.DEFAULT_LIMITS.zero_sized_structs, 64 * 1024)
        # a Void element (one reference) counts 1/16: 1 Mi fit, 8 Mi (64 MiB) do not
        self.assertEqual(root_with(list_ptr(0, wire.VOID, 1 << 20)).get_list(0, wire.VOID)
                         .len(), 1 << 20)
        r = root_with(list_ptr(0, wire.VOID, (1 << 20) + 1))
        self.assertRaisesQuickly(wire.TraversalLimitExceeded, r.get_list, 0, wire.VOID)
        # it is a limit like the others
        m = msg(seg(struct_ptr(0, 0, 1), list_ptr(0, wire.INLINE_COMPOSITE, 0), tag(n, 0, 0)),
                limits=wire.Limits(zero_sized_structs=None))
        self.assertEqual(m.root().get_list(0, wire.INLINE_COMPOSITE).len(), n)
        with self.assertRaises(ValueError):
            wire.Limits(zero_sized_structs=-1)

    def test_nesting_limit_on_cycle(self):
        # The root struct's only pointer points back at the struct itself.
        m = msg(seg(struct_ptr(0, 0, 1), struct_ptr(-1, 0, 1)), limits=wire.Limits(nesting=10))
        s = m.root()
        depth = 0

        def descend():
            nonlocal s, depth
            while True:
                s = s.get_struct(0)
                depth += 1
        err = self.assertRaisesQuickly(wire.NestingLimitExceeded, descend)
        self.assertIn("nest", str(err))
        self.assertEqual(depth, 9)
        self.assertRaisesQuickly(wire.NestingLimitExceeded, wire.canonicalize, m.root())
        dst = wire.MessageBuilder()
        self.assertRaisesQuickly(wire.NestingLimitExceeded,
                                 dst.init_root(0, 1).copy_pointer, 0, m.root_pointer())

    def test_nesting_limit_on_list_cycle(self):
        # A pointer list whose single element points at the list itself.
        m = msg(seg(list_ptr(0, wire.POINTER, 1), list_ptr(-1, wire.POINTER, 1)))
        lr = m.root_pointer().as_list(wire.POINTER)

        def descend():
            x = lr
            while True:
                x = x.get_list(0, wire.POINTER)
        self.assertRaisesQuickly(wire.NestingLimitExceeded, descend)
        self.assertRaisesQuickly(wire.NestingLimitExceeded, wire.canonicalize, m.root_pointer())

    def test_copy_of_pointer_lists_that_share_targets(self):
        # 60 lists of two pointers, both at the next list: a copy (an AnyPointer echoed,
        # canonicalize) followed 2 ** 60 paths until the traversal limit stopped it,
        # after 53 s. A copy now follows at most as many pointers as the message has
        # words (+64).
        m = msg(seg(*shared_target_lists(60)))
        dst = wire.MessageBuilder()
        err = self.assertRaisesQuickly(wire.TraversalLimitExceeded,
                                       dst.init_root(0, 1).copy_pointer, 0, m.root_pointer())
        self.assertIn("share targets or form a cycle", str(err))
        self.assertRaisesQuickly(wire.TraversalLimitExceeded, wire.canonicalize,
                                 m.root_pointer())
        # the budget is per copy: a legal value copies any number of times
        ok = msg(seg(struct_ptr(0, 0, 1), list_ptr(0, wire.POINTER, 2), struct_ptr(1, 1, 0),
                     struct_ptr(1, 1, 0), u64(1), u64(2)))
        for _ in range(3):
            wire.MessageBuilder().init_root(0, 1).copy_pointer(0, ok.root_pointer())

    def test_deep_but_legal_nesting(self):
        mb = wire.MessageBuilder()
        s = mb.init_root(1, 1)
        for i in range(30):
            s.set_uint64(0, i)
            s = s.init_struct(0, 1, 1)
        r = wire.read_message(mb.to_bytes()).root()
        for i in range(30):
            self.assertEqual(r.get_uint64(0), i)
            r = r.get_struct(0)
        shallow = wire.read_message(mb.to_bytes(), limits=wire.Limits(nesting=5)).root()
        with self.assertRaises(wire.NestingLimitExceeded):
            for _ in range(30):
                shallow = shallow.get_struct(0)


class KindTest(QuickMixin, unittest.TestCase):
    def test_wrong_pointer_kinds(self):
        r = root_with(list_ptr(0, wire.BYTE, 0), word(-4, 0), cap_ptr(0),
                      list_ptr(0, wire.FOUR_BYTES, 0), word(7, 0))
        self.assertRaisesQuickly(wire.WrongPointerKind, r.get_struct, 0)
        self.assertRaisesQuickly(wire.WrongPointerKind, r.get_text, 1)
        self.assertRaisesQuickly(wire.WrongPointerKind, r.get_data, 1)
        self.assertRaisesQuickly(wire.WrongPointerKind, r.get_list, 1, wire.BYTE)
        self.assertRaisesQuickly(wire.WrongPointerKind, r.get_struct, 2)
        self.assertRaisesQuickly(wire.WrongPointerKind, r.get_capability, 1)
        self.assertRaisesQuickly(wire.WrongPointerKind, r.get_text, 3)  # not a byte list
        self.assertRaisesQuickly(wire.WrongPointerKind, r.get_struct, 4)  # unknown "other"
        self.assertRaisesQuickly(wire.MalformedPointer, r.get_pointer(4).target)

    def test_incompatible_list_element(self):
        r = root_with(list_ptr(0, wire.BIT, 8), extra=[u64(0xFF)])
        self.assertRaisesQuickly(wire.IncompatibleListElement, r.get_list, 0,
                                 wire.INLINE_COMPOSITE)
        lr = r.get_list(0, wire.BIT)
        self.assertRaisesQuickly(wire.IncompatibleListElement, lr.get_uint32, 0)
        self.assertRaisesQuickly(wire.IncompatibleListElement, lr.get_text, 0)
        self.assertRaisesQuickly(wire.IncompatibleListElement, lr.primitives, "i")

    def test_text_must_be_nul_terminated_utf8(self):
        r = root_with(list_ptr(2, wire.BYTE, 3), list_ptr(1, wire.BYTE, 0),
                      list_ptr(1, wire.BYTE, 3), extra=[b"abc" + bytes(5), b"\xff\xfe\x00" + bytes(5)])
        err = self.assertRaisesQuickly(wire.MalformedText, r.get_text, 0)
        self.assertIn("NUL", str(err))
        self.assertRaisesQuickly(wire.MalformedText, r.get_text, 1)
        err = self.assertRaisesQuickly(wire.MalformedText, r.get_text, 2)
        self.assertIn("UTF-8", str(err))
        self.assertEqual(r.get_data(0), b"abc")  # the same bytes are fine as Data

    def test_invalid_capability_index(self):
        r = root_with(cap_ptr(2), cap_table=["a", "b"])
        err = self.assertRaisesQuickly(wire.InvalidCapability, r.get_capability, 0)
        self.assertIn("index 2", str(err))
        r = root_with(cap_ptr(0))  # no cap table at all
        self.assertRaisesQuickly(wire.InvalidCapability, r.get_capability, 0)

    def test_list_index_errors(self):
        r = root_with(list_ptr(0, wire.FOUR_BYTES, 2), extra=[u64(0)])
        lr = r.get_list(0, wire.FOUR_BYTES)
        self.assertRaisesQuickly(wire.IndexOutOfRange, lr.get_int32, 2)
        self.assertRaisesQuickly(wire.IndexOutOfRange, lr.get_int32, -1)
        self.assertRaisesQuickly(wire.IndexOutOfRange, lr.get_struct, 5)

    def test_all_errors_are_wire_errors(self):
        for name in ("MalformedFrame", "TooManySegments", "MessageTooLarge", "MalformedMessage",
                     "PointerOutOfBounds", "InvalidSegmentId", "MalformedPointer",
                     "WrongPointerKind", "IncompatibleListElement", "MalformedText",
                     "InvalidCapability", "TraversalLimitExceeded", "NestingLimitExceeded",
                     "CanonicalizationError", "IndexOutOfRange", "ValueOutOfRange", "WrongType"):
            self.assertTrue(issubclass(getattr(wire, name), wire.WireError), name)


class MutationTest(QuickMixin, unittest.TestCase):
    """Corrupt every byte of a valid message in turn: reading either works or raises a
    WireError, never anything else, and always promptly."""

    def test_single_byte_corruptions(self):
        mb = wire.MessageBuilder(first_segment_words=4)
        root = mb.init_root(1, 3)
        root.set_uint64(0, 3)
        root.set_text(0, "text")
        lb = root.init_struct_list(1, 2, 1, 1)
        lb.get_struct(0).set_text(0, "x")
        root.init_list(2, wire.BIT, 9)
        segs = mb.segments()

        def read_everything(m):
            r = m.root()
            r.get_text(0)
            lr = r.get_list(1, wire.INLINE_COMPOSITE)
            for i in range(lr.len()):
                lr.get_struct(i).get_text(0)
            r.get_list(2, wire.BIT).primitives("?")
            wire.canonicalize(r)

        read_everything(wire.MessageReader(segs))
        for si, s in enumerate(segs):
            for pos in range(len(s)):
                for v in (0x00, 0xFF, 0x80, 0x07):
                    bad = bytearray(s)
                    bad[pos] = v
                    mutated = list(segs)
                    mutated[si] = bytes(bad)
                    try:
                        read_everything(wire.MessageReader(mutated))
                    except wire.WireError:
                        pass


if __name__ == "__main__":
    unittest.main()
