"""Stream framing: frame(), read_message() and the incremental FrameDecoder."""

import struct
import unittest

from test_wire_support import QuickMixin, struct_ptr, u64, wire


def sample_messages():
    out = []
    for i, first in enumerate((1024, 1, 2, 1024)):
        mb = wire.MessageBuilder(first_segment_words=first)
        r = mb.init_root(1, 2)
        r.set_uint64(0, 1000 + i)
        r.set_text(0, "message %d" % i + "!" * (i * 13))
        r.init_list(1, wire.FOUR_BYTES, i * 5).set_primitives("i", list(range(i * 5)))
        out.append(mb.to_bytes())
    return out


class FrameTest(unittest.TestCase):
    def test_single_segment_header(self):
        body = struct_ptr(0, 1, 0) + u64(5)
        self.assertEqual(wire.frame([body]), struct.pack("<II", 0, 2) + body)

    def test_two_segment_header_is_padded(self):
        a, b = u64(1), u64(2) + u64(3)
        self.assertEqual(wire.frame([a, b]),
                         struct.pack("<III", 1, 1, 2) + b"\0\0\0\0" + a + b)

    def test_three_segment_header_needs_no_padding(self):
        segs = [u64(1), u64(2), bytes(0)]
        self.assertEqual(wire.frame(segs), struct.pack("<IIII", 2, 1, 1, 0) + u64(1) + u64(2))

    def test_frame_rejects_bad_segments(self):
        with self.assertRaises(wire.MalformedFrame):
            wire.frame([])
        with self.assertRaises(wire.MalformedFrame):
            wire.frame([b"\0" * 7])

    def test_read_message_round_trip_and_strictness(self):
        data = sample_messages()[1]
        r = wire.read_message(data).root()
        self.assertEqual(r.get_uint64(0), 1001)
        with self.assertRaises(wire.MalformedFrame):
            wire.read_message(data[:-8])
        with self.assertRaises(wire.MalformedFrame):
            wire.read_message(data + bytes(8))
        with self.assertRaises(wire.MalformedFrame):
            wire.read_message(data[:3])
        # memoryview input works too.
        self.assertEqual(wire.read_message(memoryview(data)).root().get_uint64(0), 1001)


class FrameDecoderTest(QuickMixin, unittest.TestCase):
    def values(self, readers):
        out = []
        for m in readers:
            r = m.root()
            out.append((r.get_uint64(0), r.get_text(0), r.get_list(1, wire.FOUR_BYTES).primitives("i")))
        return out

    def test_messages_split_at_every_chunk_size(self):
        msgs = sample_messages()
        stream = b"".join(msgs)
        expected = self.values([wire.read_message(m) for m in msgs])
        for chunk in (1, 2, 3, 5, 7, 8, 13, 64, len(stream)):
            with self.subTest(chunk=chunk):
                dec = wire.FrameDecoder(wire.Limits())
                got = []
                for i in range(0, len(stream), chunk):
                    got.extend(dec.feed(stream[i:i + chunk]))
                self.assertEqual(self.values(got), expected)
                self.assertTrue(dec.at_boundary())
                self.assertEqual(dec.buffered, 0)

    def test_every_split_point_of_one_message(self):
        data = sample_messages()[2]
        for cut in range(len(data) + 1):
            dec = wire.FrameDecoder()
            first = dec.feed(data[:cut])
            second = dec.feed(data[cut:])
            self.assertEqual(len(first) + len(second), 1, cut)
            self.assertEqual(len(first), 1 if cut == len(data) else 0)
            self.assertEqual((first + second)[0].root().get_uint64(0), 1002)

    def test_partial_frame_is_not_at_boundary(self):
        dec = wire.FrameDecoder()
        self.assertEqual(dec.feed(sample_messages()[0][:12]), [])
        self.assertFalse(dec.at_boundary())
        self.assertEqual(dec.buffered, 12)

    def test_too_many_segments_rejected_from_header(self):
        dec = wire.FrameDecoder(wire.Limits(max_segments=4))
        header = struct.pack("<I", 4)  # five segments
        err = self.assertRaisesQuickly(wire.TooManySegments, dec.feed, header)
        self.assertIn("5 segments", str(err))
        # 2**32 segments (count field 0xffffffff) under the default limit.
        self.assertRaisesQuickly(wire.TooManySegments, wire.FrameDecoder().feed,
                                 b"\xff\xff\xff\xff")

    def test_huge_declared_size_rejected_before_body(self):
        dec = wire.FrameDecoder()
        header = struct.pack("<II", 0, (1 << 29) - 1)  # 4 GiB segment, 8 bytes received
        self.assertRaisesQuickly(wire.MessageTooLarge, dec.feed, header)
        small = wire.FrameDecoder(wire.Limits(max_message_bytes=64))
        self.assertRaisesQuickly(wire.MessageTooLarge, small.feed, struct.pack("<II", 0, 9))
        self.assertEqual(small.buffered, 0)
        # Exactly at the limit is fine.
        ok = wire.FrameDecoder(wire.Limits(max_message_bytes=64))
        body = struct_ptr(0, 7, 0) + bytes(56)
        self.assertEqual(len(ok.feed(wire.frame([body]))), 1)

    def test_size_beyond_traversal_limit_rejected(self):
        dec = wire.FrameDecoder(wire.Limits(traversal_words=10))
        self.assertRaisesQuickly(wire.MessageTooLarge, dec.feed, struct.pack("<II", 0, 11))

    def test_decoder_stays_failed(self):
        dec = wire.FrameDecoder(wire.Limits(max_segments=1))
        with self.assertRaises(wire.TooManySegments):
            dec.feed(struct.pack("<I", 1))
        with self.assertRaises(wire.MalformedFrame):
            dec.feed(sample_messages()[0])

    def test_limits_reach_the_readers(self):
        # The first sample is 6 words: root pointer, struct (1 + 2), text (2 words).
        lim = wire.Limits(traversal_words=6)
        (m,) = wire.FrameDecoder(lim).feed(sample_messages()[0])
        self.assertIs(m.limits, lim)
        r = m.root()                    # 1 + 3 words
        self.assertEqual(r.get_text(0), "message 0")  # + 2 words = 6
        self.assertEqual(m.traversal_words_left, 0)
        with self.assertRaises(wire.TraversalLimitExceeded):
            r.get_text(0)               # reading again counts again


class LimitsTest(unittest.TestCase):
    def test_defaults_match_reference(self):
        lim = wire.Limits()
        self.assertEqual((lim.traversal_words, lim.nesting, lim.max_segments,
                          lim.max_message_bytes), (8 * 1024 * 1024, 64, 512, 64 * 1024 * 1024))
        self.assertEqual(wire.Limits(1, 2, 3, 4), wire.Limits(traversal_words=1, nesting=2,
                                                              max_segments=3,
                                                              max_message_bytes=4))

    def test_invalid_limits(self):
        with self.assertRaises(ValueError):
            wire.Limits(nesting=-1)
        with self.assertRaises(ValueError):
            wire.Limits(traversal_words="many")


if __name__ == "__main__":
    unittest.main()
