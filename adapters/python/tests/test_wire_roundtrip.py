"""Round trips through MessageBuilder -> bytes -> MessageReader, and the reading rules
(defaults, schema evolution, list upgrades, far pointers, capabilities)."""

import math
import struct
import unittest

from test_wire_support import (
    cap_ptr, far_ptr, list_ptr, msg, seg, struct_ptr, tag, u64, word, wire,
)


def reread(mb, **kw):
    return wire.read_message(mb.to_bytes(), **kw).root()


INT_CASES = [
    # (setter/getter suffix, offset, value, default)
    ("int8", 0, -128, 0), ("int8", 1, 127, -3), ("int8", 2, 0, 5),
    ("uint8", 3, 255, 0), ("uint8", 4, 0, 200), ("uint8", 5, 17, 17),
    ("int16", 3, -32768, 0), ("int16", 4, 1234, -1),
    ("uint16", 5, 65535, 1), ("uint16", 6, 0, 0xBEEF),
    ("int32", 4, -(2 ** 31), 0), ("int32", 5, 2 ** 31 - 1, -7),
    ("uint32", 6, 2 ** 32 - 1, 0), ("uint32", 7, 42, 0xDEADBEEF),
    ("int64", 4, -(2 ** 63), 0), ("int64", 5, 2 ** 63 - 1, -1),
    ("uint64", 6, 2 ** 64 - 1, 0), ("uint64", 7, 0, 2 ** 64 - 1),
]

SIZES = {"int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4,
         "int64": 8, "uint64": 8}
CODES = {"int8": "<b", "uint8": "<B", "int16": "<h", "uint16": "<H", "int32": "<i",
         "uint32": "<I", "int64": "<q", "uint64": "<Q"}


class PrimitiveFieldTest(unittest.TestCase):
    def test_integers_round_trip_with_xor_defaults(self):
        for name, off, value, default in INT_CASES:
            with self.subTest(name=name, value=value, default=default):
                mb = wire.MessageBuilder()
                b = mb.init_root(8, 0)
                getattr(b, "set_" + name)(off, value, default)
                r = reread(mb)
                self.assertEqual(getattr(r, "get_" + name)(off, default), value)
                # The wire holds value XOR default.
                raw = struct.unpack_from(CODES[name], r.data_section(), off * SIZES[name])[0]
                mask = (1 << (8 * SIZES[name])) - 1
                self.assertEqual(raw & mask, (value ^ default) & mask)

    def test_value_equal_to_default_is_zero_on_the_wire(self):
        mb = wire.MessageBuilder()
        b = mb.init_root(2, 0)
        b.set_int32(0, 99, 99)
        b.set_float64(1, 2.5, 2.5)
        b.set_bool(40, True, True)
        self.assertEqual(reread(mb).data_section(), bytes(16))

    def test_floats_round_trip_with_defaults(self):
        cases = [(0, 1.5, 0.0), (1, -2.25, 2.0), (2, 0.0, -0.0), (3, -0.0, 0.0),
                 (4, float("inf"), 1.0), (5, 3.0, float("nan"))]
        mb = wire.MessageBuilder()
        b = mb.init_root(6, 0)
        for off, v, d in cases:
            b.set_float64(off, v, d)
        mb32 = wire.MessageBuilder()
        b32 = mb32.init_root(3, 0)
        for off, v, d in cases:
            b32.set_float32(off, v, d)
        r, r32 = reread(mb), reread(mb32)
        for off, v, d in cases:
            got = r.get_float64(off, d)
            got32 = r32.get_float32(off, d)
            self.assertEqual(struct.pack("<d", got), struct.pack("<d", v), (off, v, d))
            self.assertEqual(struct.pack("<f", got32), struct.pack("<f", v), (off, v, d))
        # -0.0 written against a 0.0 default is not zero on the wire (sign bit).
        self.assertEqual(r.data_section()[24:32], struct.pack("<d", -0.0))
        # Default NaN: the stored bits are 3.0 XOR NaN.
        raw = struct.unpack_from("<Q", r.data_section(), 40)[0]
        nan_bits = struct.unpack("<Q", struct.pack("<d", float("nan")))[0]
        three = struct.unpack("<Q", struct.pack("<d", 3.0))[0]
        self.assertEqual(raw, three ^ nan_bits)
        # A null root reads as defaults, including a NaN default.
        self.assertTrue(math.isnan(reread(wire.MessageBuilder()).get_float64(0, float("nan"))))

    def test_bools_with_defaults(self):
        mb = wire.MessageBuilder()
        b = mb.init_root(1, 0)
        b.set_bool(0, True)
        b.set_bool(1, False, True)
        b.set_bool(9, True, True)
        b.set_bool(63, True)
        r = reread(mb)
        self.assertTrue(r.get_bool(0))
        self.assertFalse(r.get_bool(1, True))
        self.assertTrue(r.get_bool(9, True))
        self.assertTrue(r.get_bool(63))
        self.assertFalse(r.get_bool(2))
        self.assertEqual(r.data_section(), bytes([0b11, 0, 0, 0, 0, 0, 0, 0x80]))

    def test_overwriting_bool_clears_bit(self):
        mb = wire.MessageBuilder()
        b = mb.init_root(1, 0)
        b.set_bool(5, True)
        b.set_bool(5, False)
        self.assertEqual(reread(mb).data_section(), bytes(8))

    def test_fields_beyond_data_section_read_default(self):
        mb = wire.MessageBuilder()
        b = mb.init_root(1, 1)
        b.set_uint32(1, 7)
        r = reread(mb)
        self.assertEqual(r.get_uint32(1), 7)
        self.assertEqual(r.get_uint32(2, 55), 55)
        self.assertEqual(r.get_uint64(1, 3), 3)
        self.assertEqual(r.get_int8(8, -4), -4)
        self.assertIs(r.get_bool(64, True), True)
        self.assertEqual(r.get_float32(2, 1.25), 1.25)
        self.assertEqual(r.get_text(1, "dflt"), "dflt")
        self.assertEqual(r.get_data(5, b"d"), b"d")
        self.assertFalse(r.has_pointer(1))
        self.assertTrue(r.get_pointer(3).is_null())
        empty = r.get_struct(4)
        self.assertEqual((empty.get_int64(0, -9), empty.pointer_count), (-9, 0))
        self.assertEqual(r.get_list(2, wire.FOUR_BYTES).len(), 0)
        self.assertIsNone(r.get_capability(2))


class TextDataTest(unittest.TestCase):
    def test_text_values(self):
        values = ["", "a", "hello world", "héllo wörld ☃ \U0001F600", "x" * 1000, "seven77",
                  "eight888"]
        mb = wire.MessageBuilder()
        b = mb.init_root(0, len(values))
        for i, v in enumerate(values):
            b.set_text(i, v)
        r = reread(mb)
        for i, v in enumerate(values):
            self.assertEqual(r.get_text(i), v)
            self.assertTrue(r.has_pointer(i))
        # "eight888" needs 9 bytes with its NUL: two words.
        self.assertEqual(r.get_data(6), b"eight888\x00")
        self.assertEqual(r.get_pointer(6).as_list(wire.BYTE).len(), 9)

    def test_text_null_and_default(self):
        mb = wire.MessageBuilder()
        b = mb.init_root(0, 2)
        b.set_text(0, "x")
        b.set_text(0, None)
        r = reread(mb)
        self.assertFalse(r.has_pointer(0))
        self.assertEqual(r.get_text(0), "")
        self.assertEqual(r.get_text(0, "dflt"), "dflt")
        self.assertIsNone(r.get_text(1, None))

    def test_empty_text_is_not_null(self):
        mb = wire.MessageBuilder()
        mb.init_root(0, 1).set_text(0, "")
        r = reread(mb)
        self.assertTrue(r.has_pointer(0))
        self.assertEqual(r.get_text(0, "dflt"), "")

    def test_data_values(self):
        values = [b"", b"\x00", bytes(range(256)), bytearray(b"abc"), memoryview(b"mv!")]
        mb = wire.MessageBuilder()
        b = mb.init_root(0, len(values))
        for i, v in enumerate(values):
            b.set_data(i, v)
        r = reread(mb)
        for i, v in enumerate(values):
            got = r.get_data(i)
            self.assertIsInstance(got, bytes)
            self.assertEqual(got, bytes(v))
        self.assertTrue(r.has_pointer(0))  # empty Data is a non-null zero-length list

    def test_text_and_data_encoding_on_wire(self):
        mb = wire.MessageBuilder()
        b = mb.init_root(0, 2)
        b.set_text(0, "hi")
        b.set_data(1, b"\x01\x02")
        s = mb.segments()[0]
        self.assertEqual(s, seg(struct_ptr(0, 0, 2),
                                list_ptr(1, wire.BYTE, 3),
                                list_ptr(1, wire.BYTE, 2),
                                b"hi\x00" + bytes(5),
                                b"\x01\x02" + bytes(6)))

    def test_wrong_types_rejected(self):
        b = wire.MessageBuilder().init_root(0, 1)
        with self.assertRaises(wire.WrongType):
            b.set_text(0, b"bytes")
        with self.assertRaises(wire.WrongType):
            b.set_data(0, "str")


class NestedStructTest(unittest.TestCase):
    def test_nested_structs(self):
        mb = wire.MessageBuilder()
        root = mb.init_root(1, 2)
        root.set_uint64(0, 1)
        a = root.init_struct(0, 1, 1)
        a.set_uint64(0, 2)
        aa = a.init_struct(0, 2, 0)
        aa.set_int32(3, -3)
        e = root.init_struct(1, 0, 0)
        self.assertEqual(e.pointer_count, 0)
        r = reread(mb)
        self.assertEqual(r.get_uint64(0), 1)
        ra = r.get_struct(0)
        self.assertEqual(ra.get_uint64(0), 2)
        self.assertEqual(ra.get_struct(0).get_int32(3), -3)
        self.assertEqual(ra.get_struct(0).data_words, 2)
        # A zero-sized struct is encoded with offset -1 and is not null.
        self.assertTrue(r.has_pointer(1))
        self.assertEqual(mb.segments()[0][24:32], word(-4, 0))
        self.assertEqual(r.get_struct(1).data_words, 0)

    def test_null_struct_reads_defaults(self):
        mb = wire.MessageBuilder()
        mb.init_root(0, 1)
        r = reread(mb).get_struct(0)
        self.assertEqual(r.get_uint16(0, 5), 5)
        self.assertEqual(r.get_struct(3).get_text(0, "d"), "d")

    def test_struct_layout_matches_spec(self):
        mb = wire.MessageBuilder()
        root = mb.init_root(1, 1)
        root.set_uint32(0, 0x01020304)
        root.init_struct(0, 1, 0).set_uint64(0, 0xAABB)
        self.assertEqual(mb.segments()[0], seg(struct_ptr(0, 1, 1),
                                               u64(0x01020304),
                                               struct_ptr(0, 1, 0),
                                               u64(0xAABB)))

    def test_root_pointer_and_any_pointer_copy(self):
        src = wire.MessageBuilder()
        s = src.init_root(1, 2)
        s.set_uint32(0, 77)
        s.set_text(0, "inner")
        s.init_list(1, wire.TWO_BYTES, 3).set_primitives("H", [1, 2, 3])
        src_reader = wire.read_message(src.to_bytes())
        dst = wire.MessageBuilder()
        d = dst.init_root(0, 3)
        d.copy_pointer(0, src_reader.root_pointer())
        d.copy_pointer(1, None)
        d.get_pointer(2).copy_from(src_reader.root().get_pointer(1))
        r = reread(dst)
        c = r.get_pointer(0).as_struct()
        self.assertEqual((c.get_uint32(0), c.get_text(0)), (77, "inner"))
        self.assertEqual(c.get_list(1, wire.TWO_BYTES).primitives("H"), [1, 2, 3])
        self.assertTrue(r.get_pointer(1).is_null())
        self.assertEqual(r.get_list(2, wire.TWO_BYTES).primitives("H"), [1, 2, 3])
        with self.assertRaises(wire.WrongType):
            d.copy_pointer(0, 42)

    def test_builder_index_and_value_errors(self):
        b = wire.MessageBuilder().init_root(1, 1)
        with self.assertRaises(wire.ValueOutOfRange):
            b.set_int8(0, 128)
        with self.assertRaises(wire.ValueOutOfRange):
            b.set_uint16(0, -1)
        with self.assertRaises(wire.ValueOutOfRange):
            b.set_float32(0, 1e300)
        with self.assertRaises(wire.IndexOutOfRange):
            b.set_uint32(2, 1)
        with self.assertRaises(wire.IndexOutOfRange):
            b.set_bool(64, True)
        with self.assertRaises(wire.IndexOutOfRange):
            b.set_text(1, "x")
        with self.assertRaises(wire.ValueOutOfRange):
            b.init_struct(0, 70000, 0)
        self.assertTrue(issubclass(wire.IndexOutOfRange, IndexError))
        self.assertTrue(issubclass(wire.ValueOutOfRange, ValueError))


class ListTest(unittest.TestCase):
    PRIMS = [
        (wire.BYTE, "int8", "b", [-128, 0, 127]),
        (wire.BYTE, "uint8", "B", [0, 1, 255]),
        (wire.TWO_BYTES, "int16", "h", [-32768, 5, 32767]),
        (wire.TWO_BYTES, "uint16", "H", [65535, 0]),
        (wire.FOUR_BYTES, "int32", "i", [-(2 ** 31), 2 ** 31 - 1, 0, 9]),
        (wire.FOUR_BYTES, "uint32", "I", [2 ** 32 - 1]),
        (wire.FOUR_BYTES, "float32", "f", [1.5, -0.25, float("inf")]),
        (wire.EIGHT_BYTES, "int64", "q", [-(2 ** 63), 2 ** 63 - 1]),
        (wire.EIGHT_BYTES, "uint64", "Q", [2 ** 64 - 1, 0, 1]),
        (wire.EIGHT_BYTES, "float64", "d", [math.pi, -1e300]),
    ]

    def test_primitive_lists_elementwise_and_bulk(self):
        for es, name, code, values in self.PRIMS:
            with self.subTest(name=name):
                mb = wire.MessageBuilder()
                b = mb.init_root(0, 2)
                lb = b.init_list(0, es, len(values))
                for i, v in enumerate(values):
                    getattr(lb, "set_" + name)(i, v)
                b.init_list(1, es, len(values)).set_primitives(code, values)
                r = reread(mb)
                for p in (0, 1):
                    lr = r.get_list(p, es)
                    self.assertEqual(lr.len(), len(values))
                    self.assertEqual(len(lr), len(values))
                    self.assertEqual(lr.primitives(code), values)
                    self.assertEqual([getattr(lr, "get_" + name)(i) for i in range(len(values))],
                                     values)
                with self.assertRaises(wire.IndexOutOfRange):
                    getattr(r.get_list(0, es), "get_" + name)(len(values))

    def test_bit_lists(self):
        for n in (0, 1, 7, 8, 9, 64, 65, 200):
            with self.subTest(n=n):
                values = [(i * 7) % 3 == 0 for i in range(n)]
                mb = wire.MessageBuilder()
                b = mb.init_root(0, 2)
                lb = b.init_list(0, wire.BIT, n)
                for i, v in enumerate(values):
                    lb.set_bool(i, v)
                b.init_list(1, wire.BIT, n).set_primitives("?", values)
                r = reread(mb)
                for p in (0, 1):
                    lr = r.get_list(p, wire.BIT)
                    self.assertEqual(lr.primitives("?"), values)
                    self.assertEqual([lr.get_bool(i) for i in range(n)], values)
                # Words used: ceil(n / 64).
                self.assertEqual(mb.size_in_words(), 1 + 2 + 2 * ((n + 63) // 64))

    def test_bit_list_wire_layout(self):
        mb = wire.MessageBuilder()
        mb.init_root(0, 1).init_list(0, wire.BIT, 10).set_primitives(
            "?", [True, False, True] + [False] * 6 + [True])
        self.assertEqual(mb.segments()[0], seg(struct_ptr(0, 0, 1), list_ptr(0, wire.BIT, 10),
                                               bytes([0b101, 0b10]) + bytes(6)))

    def test_void_list(self):
        mb = wire.MessageBuilder()
        mb.init_root(0, 1).init_list(0, wire.VOID, 1000)
        self.assertEqual(mb.size_in_words(), 2)
        self.assertEqual(reread(mb).get_list(0, wire.VOID).len(), 1000)

    def test_empty_and_long_lists(self):
        mb = wire.MessageBuilder(first_segment_words=16)
        b = mb.init_root(0, 3)
        b.init_list(0, wire.EIGHT_BYTES, 0)
        long_values = list(range(100000))
        b.init_list(1, wire.FOUR_BYTES, len(long_values)).set_primitives("I", long_values)
        b.init_struct_list(2, 0, 1, 1)
        r = reread(mb)
        self.assertTrue(r.has_pointer(0))
        self.assertEqual(r.get_list(0, wire.EIGHT_BYTES).primitives("Q"), [])
        self.assertEqual(r.get_list(1, wire.FOUR_BYTES).primitives("I"), long_values)
        self.assertEqual(r.get_list(2, wire.INLINE_COMPOSITE).len(), 0)

    def test_composite_lists(self):
        mb = wire.MessageBuilder()
        lb = mb.init_root(0, 1).init_struct_list(0, 3, 2, 1)
        for i in range(3):
            e = lb.get_struct(i)
            e.set_uint64(0, i * 10)
            e.set_int16(4, -i)
            e.set_text(0, "e%d" % i)
        r = reread(mb)
        lr = r.get_list(0, wire.INLINE_COMPOSITE)
        self.assertEqual(lr.len(), 3)
        self.assertEqual([lr.get_struct(i).get_uint64(0) for i in range(3)], [0, 10, 20])
        self.assertEqual([lr.get_struct(i).get_int16(4) for i in range(3)], [0, -1, -2])
        self.assertEqual([lr.get_struct(i).get_text(0) for i in range(3)], ["e0", "e1", "e2"])
        # Layout: list pointer with word count 9, then the tag word.
        s = mb.segments()[0]
        self.assertEqual(s[8:24], list_ptr(0, wire.INLINE_COMPOSITE, 9) + tag(3, 2, 1))

    def test_pointer_lists_text_data_lists_of_lists(self):
        mb = wire.MessageBuilder()
        b = mb.init_root(0, 3)
        t = b.init_list(0, wire.POINTER, 4)
        t.set_text(0, "a")
        t.set_text(2, "ccc")
        t.set_data(3, b"\x00\x01")
        ll = b.init_list(1, wire.POINTER, 2)
        ll.init_list(0, wire.FOUR_BYTES, 2).set_primitives("i", [5, -6])
        inner = ll.init_struct_list(1, 2, 1, 0)
        inner.get_struct(1).set_uint8(0, 9)
        sl = b.init_list(2, wire.POINTER, 1)
        sl.init_struct(0, 1, 0).set_uint32(1, 3)
        r = reread(mb)
        tr = r.get_list(0, wire.POINTER)
        self.assertEqual([tr.get_text(0), tr.get_text(1), tr.get_text(2)], ["a", "", "ccc"])
        self.assertEqual(tr.get_data(3), b"\x00\x01")
        self.assertTrue(tr.get_pointer(1).is_null())
        llr = r.get_list(1, wire.POINTER)
        self.assertEqual(llr.get_list(0, wire.FOUR_BYTES).primitives("i"), [5, -6])
        self.assertEqual(llr.get_list(1, wire.INLINE_COMPOSITE).get_struct(1).get_uint8(0), 9)
        self.assertEqual(r.get_list(2, wire.POINTER).get_pointer(0).as_struct().get_uint32(1), 3)

    def test_list_builder_errors(self):
        b = wire.MessageBuilder().init_root(0, 3)
        lb = b.init_list(0, wire.FOUR_BYTES, 2)
        with self.assertRaises(wire.IndexOutOfRange):
            lb.set_int32(2, 0)
        with self.assertRaises(wire.IndexOutOfRange):
            lb.set_primitives("i", [1, 2, 3])
        with self.assertRaises(wire.ValueOutOfRange):
            lb.set_primitives("i", [1, 2 ** 40])
        with self.assertRaises(wire.IncompatibleListElement):
            lb.set_int64(0, 1)
        with self.assertRaises(wire.IncompatibleListElement):
            lb.set_text(0, "x")
        with self.assertRaises(wire.WrongType):
            b.init_list(1, wire.INLINE_COMPOSITE, 2)
        with self.assertRaises(wire.ValueOutOfRange):
            b.init_list(1, wire.BYTE, 1 << 29)


class ColumnsTest(unittest.TestCase):
    """ListReader.columns / ListBuilder.put_columns: a field at a time over every element
    of a struct list, the same bytes and values as element by element."""

    # (struct code, byte position, setter / getter name, offset in the field's units)
    FIELDS = [("b", 0, "int8", 0), ("H", 2, "uint16", 1), ("i", 4, "int32", 1),
              ("f", 8, "float32", 2), ("Q", 16, "uint64", 2)]
    VALUES = [[-128, 0, 127], [0, 65535, 7], [-(2 ** 31), 5, 2 ** 31 - 1],
              [1.5, -0.25, float("inf")], [2 ** 64 - 1, 0, 1]]

    def lists(self):
        mb = wire.MessageBuilder()
        b = mb.init_root(0, 2)
        # elements of 3 data words and a pointer: a stride larger than the data
        return mb, b.init_struct_list(0, 3, 3, 1), b.init_struct_list(1, 3, 3, 1)

    def test_same_bytes_and_values_as_element_by_element(self):
        mb, one_by_one, bulk = self.lists()
        for (_code, _pos, name, offset), values in zip(self.FIELDS, self.VALUES):
            for i, v in enumerate(values):
                getattr(one_by_one.get_struct(i), "set_" + name)(offset, v)
        fields = [(code, pos) for code, pos, _n, _o in self.FIELDS]
        self.assertTrue(bulk.put_columns(fields, [iter(v) for v in self.VALUES]))
        r = reread(mb)
        first, second = r.get_list(0, wire.INLINE_COMPOSITE), r.get_list(1, wire.INLINE_COMPOSITE)
        # root pointer, root struct (2 pointers), then each list: a tag word, 3 x 32 bytes
        segment = bytes(mb.segments()[0])
        self.assertEqual(segment[32:128], segment[136:232])
        self.assertEqual(first.columns(fields), self.VALUES)
        self.assertEqual(second.columns(fields), self.VALUES)
        self.assertEqual([[getattr(second.get_struct(i), "get_" + name)(offset)
                           for i in range(3)] for _c, _p, name, offset in self.FIELDS],
                         self.VALUES)

    def test_a_value_out_of_range_raises(self):
        _mb, lb, _ = self.lists()
        with self.assertRaises(OverflowError):
            lb.put_columns([("b", 0)], [[1, 2, 128]])
        with self.assertRaises(TypeError):
            lb.put_columns([("i", 4)], [[1, 2.5, 3]])
        with self.assertRaises(wire.IndexOutOfRange):
            lb.put_columns([("i", 4)], [[1, 2]])

    def test_fields_beyond_the_elements_are_read_one_at_a_time(self):
        mb = wire.MessageBuilder()
        b = mb.init_root(0, 2)
        self.assertFalse(b.init_struct_list(0, 2, 1, 0).put_columns([("d", 8)], [[1.0, 2.0]]))
        b.init_list(1, wire.BIT, 3).set_primitives("?", [True, False, True])
        r = reread(mb)
        self.assertIsNone(r.get_list(0, wire.INLINE_COMPOSITE).columns([("d", 8)]))
        self.assertIsNone(r.get_list(0, wire.INLINE_COMPOSITE).columns([("i", 2)]))  # unaligned
        self.assertIsNone(r.get_list(1, wire.BIT).columns([("B", 0)]))

class UpgradeRulesTest(unittest.TestCase):
    """Reading a list with another element size than written (spec: schema evolution)."""

    def test_primitive_list_read_as_struct_list(self):
        mb = wire.MessageBuilder()
        mb.init_root(0, 1).init_list(0, wire.FOUR_BYTES, 3).set_primitives("I", [7, 8, 9])
        lr = reread(mb).get_list(0, wire.INLINE_COMPOSITE)
        self.assertEqual([lr.get_struct(i).get_uint32(0) for i in range(3)], [7, 8, 9])
        self.assertEqual(lr.get_struct(1).get_uint32(1, 44), 44)  # beyond the 4-byte element
        self.assertEqual(lr.get_struct(1).get_text(0, "d"), "d")  # no pointer section

    def test_pointer_list_read_as_struct_list(self):
        mb = wire.MessageBuilder()
        pl = mb.init_root(0, 1).init_list(0, wire.POINTER, 2)
        pl.set_text(0, "first")
        pl.set_text(1, "second")
        lr = reread(mb).get_list(0, wire.INLINE_COMPOSITE)
        self.assertEqual([lr.get_struct(i).get_text(0) for i in range(2)], ["first", "second"])
        self.assertEqual(lr.get_struct(0).get_uint64(0, 5), 5)

    def test_struct_list_read_as_primitive_and_pointer_list(self):
        mb = wire.MessageBuilder()
        lb = mb.init_root(0, 1).init_struct_list(0, 3, 1, 1)
        for i in range(3):
            lb.get_struct(i).set_uint32(0, 100 + i)
            lb.get_struct(i).set_uint32(1, 999)
            lb.get_struct(i).set_text(0, str(i))
        r = reread(mb)
        as_u32 = r.get_list(0, wire.FOUR_BYTES)
        self.assertEqual(as_u32.primitives("I"), [100, 101, 102])
        self.assertEqual(as_u32.get_uint32(2), 102)
        as_ptr = r.get_list(0, wire.POINTER)
        self.assertEqual([as_ptr.get_text(i) for i in range(3)], ["0", "1", "2"])

    def test_incompatible_upgrades_raise(self):
        mb = wire.MessageBuilder()
        b = mb.init_root(0, 4)
        b.init_list(0, wire.BIT, 3)
        b.init_list(1, wire.TWO_BYTES, 3)
        b.init_struct_list(2, 2, 1, 0)
        b.init_struct_list(3, 2, 0, 1)
        r = reread(mb)
        cases = [(0, wire.INLINE_COMPOSITE), (0, wire.BYTE), (1, wire.FOUR_BYTES),
                 (1, wire.POINTER), (2, wire.POINTER), (2, wire.BIT), (3, wire.EIGHT_BYTES)]
        for p, es in cases:
            with self.subTest(pointer=p, expected=es):
                with self.assertRaises(wire.IncompatibleListElement):
                    r.get_list(p, es)
        self.assertTrue(issubclass(wire.IncompatibleListElement, wire.WrongPointerKind))
        # Same-or-smaller expectations are accepted.
        self.assertEqual(r.get_list(1, wire.BYTE).len(), 3)
        self.assertEqual(r.get_list(1, wire.VOID).len(), 3)


class MultiSegmentTest(unittest.TestCase):
    def build(self, first_segment_words):
        mb = wire.MessageBuilder(first_segment_words=first_segment_words)
        root = mb.init_root(2, 4)
        root.set_uint64(0, 0x1122334455667788)
        root.set_int32(3, -42)
        root.set_text(0, "spread over segments " * 3)
        root.set_data(1, bytes(range(50)))
        lb = root.init_struct_list(2, 5, 1, 1)
        for i in range(5):
            lb.get_struct(i).set_uint64(0, i)
            lb.get_struct(i).init_struct(0, 1, 0).set_uint64(0, i * i)
        root.init_list(3, wire.EIGHT_BYTES, 20).set_primitives("q", list(range(-10, 10)))
        return mb

    def check(self, r):
        self.assertEqual(r.get_uint64(0), 0x1122334455667788)
        self.assertEqual(r.get_int32(3), -42)
        self.assertEqual(r.get_text(0), "spread over segments " * 3)
        self.assertEqual(r.get_data(1), bytes(range(50)))
        lr = r.get_list(2, wire.INLINE_COMPOSITE)
        self.assertEqual([lr.get_struct(i).get_uint64(0) for i in range(5)], list(range(5)))
        self.assertEqual([lr.get_struct(i).get_struct(0).get_uint64(0) for i in range(5)],
                         [i * i for i in range(5)])
        self.assertEqual(r.get_list(3, wire.EIGHT_BYTES).primitives("q"), list(range(-10, 10)))

    def test_small_first_segment_emits_far_pointers(self):
        for first in (1, 2, 3, 7, 16):
            with self.subTest(first_segment_words=first):
                mb = self.build(first)
                segs = mb.segments()
                self.assertGreater(len(segs), 1)
                if first == 1:
                    # The root pointer fills segment 0, so it must be a far pointer to a
                    # landing pad at word 0 of segment 1, followed by the struct.
                    self.assertEqual(segs[0], far_ptr(0, 1))
                    self.assertEqual(segs[1][:8], struct_ptr(0, 2, 4))
                data = mb.to_bytes()
                count = struct.unpack_from("<I", data)[0] + 1
                self.assertEqual(count, len(segs))
                self.check(wire.read_message(data).root())
                # Same value, same canonical form as a single-segment build.
                self.assertEqual(wire.canonicalize(wire.read_message(data).root()),
                                 wire.canonicalize(self.build(4096).as_reader().root()))

    def test_large_first_segment_is_single(self):
        mb = self.build(4096)
        self.assertEqual(len(mb.segments()), 1)
        self.check(reread(mb))

    def test_far_pointer_reading_hand_built(self):
        # Root: far -> segment 1 word 1 (landing pad) -> struct in segment 1 word 2.
        s0 = seg(far_ptr(1, 1))
        s1 = seg(u64(0xFFFF), struct_ptr(0, 1, 1), u64(77), far_ptr(0, 2))
        s2 = seg(list_ptr(0, wire.BYTE, 3), b"ok\x00" + bytes(5))
        r = msg(s0, s1, s2).root()
        self.assertEqual(r.get_uint64(0), 77)
        self.assertEqual(r.get_text(0), "ok")

    def test_double_far_pointer_hand_built(self):
        # Root: double-far -> segment 1 word 0: [far -> segment 2 word 0, tag struct(1,1)].
        s0 = seg(far_ptr(0, 1, double=True))
        s1 = seg(far_ptr(0, 2), struct_ptr(0, 1, 1))
        # Struct body in segment 2; its pointer is a double-far to a Text in segment 3.
        s2 = seg(u64(0xABCDEF), far_ptr(2, 1, double=True))
        s1 = s1 + seg(far_ptr(0, 3), list_ptr(0, wire.BYTE, 6))
        s3 = seg("wörd".encode("utf-8") + b"\x00" + bytes(2))
        r = msg(s0, s1, s2, s3).root()
        self.assertEqual(r.get_uint64(0), 0xABCDEF)
        self.assertEqual(r.get_text(0), "wörd")
        self.assertEqual(r.pointer_count, 1)
        # Canonical form brings it all into one segment in pre-order.
        self.assertEqual(wire.canonicalize(r), seg(struct_ptr(0, 1, 1), u64(0xABCDEF),
                                                   list_ptr(0, wire.BYTE, 6),
                                                   b"w\xc3\xb6rd\x00" + bytes(2)))


class CapabilityTest(unittest.TestCase):
    def test_capabilities_round_trip(self):
        caps = []
        mb = wire.MessageBuilder(cap_table=caps)
        a, b = object(), object()
        root = mb.init_root(0, 3)
        root.set_capability(0, a)
        root.set_capability(2, b)
        lb = root.init_list(1, wire.POINTER, 2)
        lb.set_capability(1, a)
        self.assertEqual(caps, [a, b, a])
        self.assertIs(mb.cap_table, caps)
        s = mb.segments()[0]
        self.assertEqual(s[8:16], cap_ptr(0))
        self.assertEqual(s[24:32], cap_ptr(1))
        r = wire.read_message(mb.to_bytes(), cap_table=caps).root()
        self.assertIs(r.get_capability(0), a)
        self.assertIs(r.get_capability(2), b)
        self.assertIs(r.get_pointer(2).as_capability(), b)
        lr = r.get_list(1, wire.POINTER)
        self.assertIsNone(lr.get_capability(0))
        self.assertIs(lr.get_capability(1), a)
        self.assertEqual(r.get_pointer(0).target(), wire.Capability(0))

    def test_null_capability_is_none_and_clearing(self):
        mb = wire.MessageBuilder()
        root = mb.init_root(0, 1)
        root.set_capability(0, None)
        self.assertEqual(mb.cap_table, [])
        self.assertIsNone(reread(mb).get_capability(0))

    def test_copy_pointer_moves_capabilities_to_new_table(self):
        src_caps = ["zero", "one"]
        m = msg(seg(struct_ptr(0, 0, 1), cap_ptr(1)), cap_table=src_caps)
        dst = wire.MessageBuilder()
        dst.init_root(0, 1).copy_pointer(0, m.root_pointer())
        self.assertEqual(dst.cap_table, ["one"])
        r = dst.as_reader().root().get_struct(0)
        self.assertEqual(r.get_capability(0), "one")


if __name__ == "__main__":
    unittest.main()
