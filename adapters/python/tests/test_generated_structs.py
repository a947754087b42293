"""Tests of a generated module's structs, enums and constants: every struct of
tests/schema/features.capnp through wire bytes and back.

The module under test is tests/generated/features_capnp.py, checked in and kept current
by the Rust test tests/tests/guest_modules_current.rs (regenerate with
`cargo run -p polyhost-tests --bin regenerate -- python`).
"""

import math
import os
import sys
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (os.path.join(_HERE, "generated"), os.path.dirname(_HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import features_capnp as F  # noqa: E402
from polyhost import polyhost_capnp as P  # noqa: E402
from polyhost import wire  # noqa: E402


def encode(obj, cap_table=None):
    """``obj`` as a single-segment message (root struct), with its capability table."""
    mb = wire.MessageBuilder(cap_table=cap_table)
    obj._polyhost_write(mb.init_root(obj._polyhost_data_words, obj._polyhost_ptr_count))
    return b"".join(mb.segments()), mb.cap_table


def decode(cls, data, cap_table=None):
    return cls._polyhost_read(wire.MessageReader([data], cap_table=cap_table).root())


def roundtrip(obj):
    data, caps = encode(obj)
    back = decode(type(obj), data, caps)
    again, _ = encode(back)
    return back, data, again


class CounterImpl(F.Counter):
    pass


def samples():
    """One instance of every non-group struct of features.capnp, every field set to a
    value other than its default (groups and union members are set through their
    struct)."""
    pt = F.Point(x=1.25, y=-3.5)
    shape_circle = F.Shape(name="disc", circle=2.5,
                           style=F.Shape_Style(color=F.Color.BLUEISH, width=2.0),
                           anchor=F.Shape_Anchor(corner=F.Point(x=9.0, y=8.0)),
                           origin=F.Point(x=4.0, y=5.0),
                           label=F.Shape_Label(text="big", kind=F.Shape_Label_Kind.BOLD))
    counter = F.CounterClient(CounterImpl())
    return {
        F.Point: pt,
        F.Primitives: F.Primitives(
            flag=True, i8=-128, i16=-32768, i32=-2 ** 31, i64=-2 ** 63, u8=255, u16=65535,
            u32=2 ** 32 - 1, u64=2 ** 64 - 1, f32=1.5, f64=-2.25e300, text="héllo\n", data=b"\x00\x01",
            flag_on=False, minus=7, big=0, ratio=-0.25, not_a_number=1.0, infinity=-1.0,
            named="", bytes_=b"", color=F.Color.RED),
        F.Lists: F.Lists(
            bools=[True, False, True] * 7, ints=[1, -2, 3], floats=[0.5, -1.0],
            texts=["a", "", "ü"], blobs=[b"x", b""], points=[pt, F.Point()],
            colors=[F.Color.BLUEISH, F.Color.RED], nested=[[1, 2], [], [-3]],
            matrix=[[pt], [pt, pt]], words=[["a", "b"], []], defaulted=[9]),
        F.Shape: shape_circle,
        F.Shape_Label: F.Shape_Label(text="t", kind=F.Shape_Label_Kind.BOLD),
        F.Pair: F.Pair(key=pt, value=None),
        F.Tagged: F.Tagged(entry=F.Pair(key="k", value=pt),
                           points=F.Pair(key=F.Point(x=1.0, y=2.0), value=F.Point(x=3.0, y=4.0))),
        F.Holder: F.Holder(counter=counter, counters=[counter, None], any=pt),
        F.Chain: F.Chain(value=1, next=F.Chain(value=2, branches=[]),
                         branches=[F.Chain(value=3, next=F.Chain(value=4, branches=[]),
                                           branches=[]), F.Chain(branches=[])]),
        F.Ping: F.Ping(pong=F.Pong(ping=F.Pong_Ping(back=F.Ping(which="stop"))),
                       again=F.Ping(again=F.Ping())),
        F.Pong: F.Pong(ping=F.Pong_Ping(back=F.Ping(again=F.Ping(pong=F.Pong())))),
        F.Silent: F.Silent(hush=F.Silent_Hush(which="d")),
        F.Nothing: F.Nothing(),
        F.Counter_IncrementParams: F.Counter_IncrementParams(by=-5),
        F.Counter_IncrementResults: F.Counter_IncrementResults(value=6),
        F.Counter_ReadParams: F.Counter_ReadParams(),
        F.Counter_ReadResults: F.Counter_ReadResults(value=7),
        F.Named_NameParams: F.Named_NameParams(),
        F.Named_NameResults: F.Named_NameResults(name="n"),
        F.Logger_LogParams: F.Logger_LogParams(level=F.Color.GREEN, message="m"),
        F.Logger_LogResults: F.Logger_LogResults(),
        F.Logger_LinesParams: F.Logger_LinesParams(sink=None),
        F.Logger_LinesResults: F.Logger_LinesResults(count=3),
        F.Calculator_AddParams: F.Calculator_AddParams(a=1, b=-2),
        F.Calculator_AddResults: F.Calculator_AddResults(sum=-1),
        F.Calculator_DescribeParams: F.Calculator_DescribeParams(shape=shape_circle),
        F.Calculator_DescribeResults: F.Calculator_DescribeResults(area=1.5, label="l"),
        F.Calculator_CounterParams: F.Calculator_CounterParams(start=3),
        F.Calculator_CounterResults: F.Calculator_CounterResults(counter=counter),
        F.Calculator_UseLoggerParams: F.Calculator_UseLoggerParams(logger=None),
        F.Calculator_UseLoggerResults: F.Calculator_UseLoggerResults(),
        F.Calculator_NumbersParams: F.Calculator_NumbersParams(count=4, out=None),
        F.Calculator_NumbersResults: F.Calculator_NumbersResults(),
        F.Calculator_SumParams: F.Calculator_SumParams(input=None),
        F.Calculator_SumResults: F.Calculator_SumResults(total=pt),
        F.Calculator_TickParams: F.Calculator_TickParams(n=2),
        F.Calculator_EchoParams: F.Calculator_EchoParams(value=F.Pair(key="a", value=pt)),
        F.Calculator_EchoResults: F.Calculator_EchoResults(value=F.Pair(key="b", value=pt)),
        F.Calculator_HolderParams: F.Calculator_HolderParams(),
        F.Calculator_HolderResults: F.Calculator_HolderResults(
            holder=F.Holder(counter=counter, counters=[], any=pt)),
    }


def struct_classes(module):
    return [c for c in vars(module).values()
            if isinstance(c, type) and "_polyhost_read" in vars(c) and "_polyhost_type_id" in vars(c)]


class RoundTripTest(unittest.TestCase):
    def test_every_struct_is_covered(self):
        groups = {F.Shape_Style, F.Shape_Anchor, F.Pong_Ping, F.Silent_Quiet, F.Silent_Hush}
        self.assertEqual(set(struct_classes(F)) - groups, set(samples()))

    def test_every_struct_round_trips(self):
        # AnyPointer fields read as PointerReaders: those structs compare by bytes only
        any_pointers = {F.Holder, F.Calculator_HolderResults, F.Pair}
        for cls, obj in samples().items():
            with self.subTest(cls.__name__):
                back, data, again = roundtrip(obj)
                self.assertEqual(again, data)
                if cls not in any_pointers:
                    self.assertEqual(back, obj)
                    self.assertEqual(repr(back), repr(obj))

    def test_union_members_round_trip(self):
        for kw in ({"circle": 1.0}, {"rectangle": F.Point(x=1, y=2)},
                   {"polygon": [F.Point(), F.Point(x=1)]}, {"which": "empty"}):
            with self.subTest(kw):
                obj = F.Shape(name="s", label=F.Shape_Label(), **kw)
                back, data, again = roundtrip(obj)
                self.assertEqual(back.which, obj.which)
                self.assertEqual(back, obj)
                self.assertEqual(again, data)
        anchor = F.Shape(label=F.Shape_Label(), anchor=F.Shape_Anchor(which="center"))
        self.assertEqual(roundtrip(anchor)[0].anchor.which, "center")

    def test_union_selection(self):
        self.assertEqual(F.Shape().which, "circle")
        self.assertEqual(F.Shape(polygon=[]).which, "polygon")
        self.assertEqual(F.Shape(which="empty").which, "empty")
        self.assertIsNone(F.Shape(which="empty").circle)
        self.assertIsNone(F.Shape(rectangle=F.Point(), which="circle").rectangle)
        with self.assertRaises(ValueError):
            F.Shape(which="square")
        self.assertEqual(F.Shape_Anchor().which, "center")

    def test_unknown_discriminant_reads_as_none(self):
        data, _ = encode(F.Shape(which="empty"))
        raw = bytearray(data)
        raw[8 + 8] = 99        # Shape's discriminant: data word 1, bytes 0-1
        self.assertIsNone(decode(F.Shape, bytes(raw)).which)

    def test_defaults(self):
        empty = decode(F.Primitives, bytes(8))
        fresh = F.Primitives()
        for name in F.Primitives.__slots__:
            a, b = getattr(empty, name), getattr(fresh, name)
            if name == "not_a_number":
                self.assertTrue(math.isnan(a) and math.isnan(b))
            else:
                self.assertEqual(a, b, name)
        self.assertEqual((fresh.flag_on, fresh.minus, fresh.big, fresh.ratio, fresh.named,
                          fresh.bytes_, fresh.color),
                         (True, -7, 2 ** 64 - 1, 0.5, "polyhost", b"\xde\xad\xbe\xef",
                          F.Color.GREEN))
        self.assertEqual(math.inf, fresh.infinity)
        # scalars equal to their default are zero bits; Text and Data are always written
        # (like polyhost's Rust codec, so canonical bytes agree across languages)
        data, _ = encode(F.Primitives(not_a_number=math.nan))
        back = decode(F.Primitives, data)
        self.assertEqual((back.text, back.data, back.named, back.bytes_),
                         ("", b"", "polyhost", b"\xde\xad\xbe\xef"))
        root = wire.MessageReader([data]).root()
        for i in range(4):
            self.assertTrue(root.has_pointer(i), i)
        self.assertEqual(data[8:8 + 8 * F.Primitives._polyhost_data_words],
                         bytes(8 * F.Primitives._polyhost_data_words))
        # pointer defaults
        self.assertEqual(F.Lists().defaulted, [1, 2, 3])
        self.assertEqual(decode(F.Lists, bytes(8)).defaulted, [1, 2, 3])
        self.assertEqual(decode(F.Lists, bytes(8)).ints, [])
        self.assertEqual(F.Shape().origin, F.Point(x=0.5, y=0.5))
        self.assertEqual(decode(F.Shape, bytes(8)).origin, F.Point(x=0.5, y=0.5))
        self.assertIsNone(decode(F.Shape, bytes(8)).label)    # a null struct is absent
        self.assertEqual(F.Shape().style, F.Shape_Style(width=1.0))
        # a default is a fresh object each time
        a, b = F.Lists(), F.Lists()
        a.defaulted.append(4)
        self.assertEqual(b.defaulted, [1, 2, 3])

    def test_null_struct_fields_are_none(self):
        # Recursive structs: a reader that built a default for a null field recursed
        # without end (RecursionError).
        self.assertIsNone(decode(F.Chain, bytes(8)).next)
        ping = decode(F.Ping, bytes(16))
        self.assertEqual((ping.pong, ping.which, ping.again), (None, "stop", None))
        self.assertIsNone(decode(F.Pong, bytes(8)).ping.back)
        back, data, again = roundtrip(F.Ping(which="again"))
        self.assertEqual((back.which, back.again), ("again", None))
        self.assertEqual(again, data)
        back, _, _ = roundtrip(F.Chain(value=5, next=F.Chain(value=6)))
        self.assertEqual((back.next.value, back.next.next), (6, None))
        # present but empty is not absent (a null list reads as empty)
        self.assertEqual(roundtrip(F.Chain(next=F.Chain()))[0].next, F.Chain(branches=[]))

    def test_constant_of_a_recursive_type(self):
        self.assertEqual(F.CHAINED, F.Chain(value=1, branches=[], next=F.Chain(
            value=2, branches=[], next=F.Chain(value=3, branches=[]))))
        self.assertIsNone(F.CHAINED.next.next.next)

    def test_all_void_structs(self):
        # a struct (or group) whose fields are all Void rendered a method with no body
        for obj in (F.Silent(), F.Silent(hush=F.Silent_Hush(which="d")), F.Nothing()):
            with self.subTest(obj):
                back, data, again = roundtrip(obj)
                self.assertEqual(back, obj)
                self.assertEqual(again, data)
        self.assertEqual(roundtrip(F.Silent(hush=F.Silent_Hush(which="d")))[0].hush.which, "d")

    def test_empty_text_and_data_distinct_from_defaults(self):
        back, _, _ = roundtrip(F.Primitives(named="", bytes_=b""))
        self.assertEqual((back.named, back.bytes_), ("", b""))

    def test_generics(self):
        tagged = samples()[F.Tagged]
        back, _, _ = roundtrip(tagged)
        self.assertEqual(back.entry.key, "k")
        self.assertIsInstance(back.entry.value, F.Point)
        self.assertEqual(back.points.key, F.Point(x=1, y=2))
        # used without type arguments, the parameters read as PointerReaders
        raw = decode(F.Pair, encode(F.Pair(key=F.Point(x=5, y=6)))[0])
        self.assertIsInstance(raw.key, wire.PointerReader)
        self.assertEqual(F.Point._polyhost_read(raw.key.as_struct()), F.Point(x=5, y=6))
        self.assertTrue(raw.value.is_null())

    def test_any_pointer_and_capabilities(self):
        inner, _ = encode(F.Point(x=7, y=8))
        reader = wire.MessageReader([inner]).root_pointer()
        holder = F.Holder(counter=CounterImpl(), any=reader)
        self.assertIsInstance(holder.counter, F.CounterClient)
        data, caps = encode(holder)
        self.assertEqual(len(caps), 1)
        back = decode(F.Holder, data, caps)
        self.assertIs(back.counter, caps[0])
        self.assertEqual(F.Point._polyhost_read(back.any.as_struct()), F.Point(x=7, y=8))
        self.assertEqual(back.counters, [])
        self.assertIsNone(decode(F.Holder, bytes(8)).counter)
        # a struct instance written into an AnyPointer
        back = decode(F.Holder, encode(F.Holder(any=F.Point(x=1, y=1)))[0])
        self.assertEqual(F.Point._polyhost_read(back.any.as_struct()), F.Point(x=1, y=1))

    def test_multi_segment_messages(self):
        obj = samples()[F.Lists]
        mb = wire.MessageBuilder(first_segment_words=2)
        obj._polyhost_write(mb.init_root(F.Lists._polyhost_data_words, F.Lists._polyhost_ptr_count))
        segs = mb.segments()
        self.assertGreater(len(segs), 1)
        self.assertEqual(F.Lists._polyhost_read(wire.MessageReader(segs).root()), obj)

    def test_canonical_form_matches_schema_default(self):
        # the constant ORIGIN and Shape.origin's default came from canonical hex
        self.assertEqual(F.ORIGIN, F.Point(x=1.5, y=-2.0))
        data, _ = encode(F.ORIGIN)
        self.assertEqual(wire.canonicalize(wire.MessageReader([data]).root()),
                         bytes.fromhex("0000000002000000000000000000f83f00000000000000c0"))


class BulkListTest(unittest.TestCase):
    """Lists of structs made only of numbers (Point) are packed and read in bulk
    (polyhost.gen.write_rows / read_rows): same bytes and values as one at a time."""

    def one_at_a_time(self, points):
        mb = wire.MessageBuilder()
        lb = mb.init_root(0, 1).init_struct_list(0, len(points), 2, 0)
        for i, p in enumerate(points):
            p._polyhost_write(lb.get_struct(i))
        return mb.to_bytes()

    def bulk(self, points):
        mb = wire.MessageBuilder()
        F.Point._polyhost_write_list(mb.init_root(0, 1), 0, points)
        return mb.to_bytes()

    def test_same_bytes_and_values(self):
        points = [F.Point(x=i * 0.5, y=-i) for i in range(100)] + [F.Point(x=float("inf"))]
        data = self.bulk(points)
        self.assertEqual(data, self.one_at_a_time(points))
        lr = wire.read_message(data).root().get_list(0, wire.INLINE_COMPOSITE)
        self.assertEqual(F.Point._polyhost_read_list(lr), points)
        self.assertEqual(F.Point._polyhost_read_list(lr),
                         [F.Point._polyhost_read(lr.get_struct(i)) for i in range(len(lr))])

    def test_bad_values_raise_the_usual_error(self):
        with self.assertRaises(wire.ValueOutOfRange):
            self.bulk([F.Point(x=1.0), F.Point(x="no")])
        with self.assertRaises(AttributeError):
            self.bulk([F.Point(), None])

    def test_smaller_elements_of_an_older_schema_read_as_defaults(self):
        mb = wire.MessageBuilder()
        lb = mb.init_root(0, 1).init_struct_list(0, 2, 1, 0)   # only x on the wire
        lb.get_struct(0).set_float64(0, 2.5)
        lr = wire.read_message(mb.to_bytes()).root().get_list(0, wire.INLINE_COMPOSITE)
        self.assertEqual(F.Point._polyhost_read_list(lr), [F.Point(x=2.5), F.Point()])

    def test_larger_elements_of_a_newer_schema(self):
        mb = wire.MessageBuilder()
        lb = mb.init_root(0, 1).init_struct_list(0, 2, 3, 1)   # an extra word and pointer
        lb.get_struct(1).set_float64(1, 7.0)
        lb.get_struct(1).set_float64(2, 9.0)
        lr = wire.read_message(mb.to_bytes()).root().get_list(0, wire.INLINE_COMPOSITE)
        self.assertEqual(F.Point._polyhost_read_list(lr), [F.Point(), F.Point(y=7.0)])


class NamingTest(unittest.TestCase):
    def test_names(self):
        self.assertIs(F.Shape.Label, F.Shape_Label)
        self.assertIs(F.Shape_Label.Kind, F.Shape_Label_Kind)
        self.assertEqual(F.Color.BLUEISH, 2)
        self.assertEqual([m.name for m in F.Color], ["RED", "GREEN", "BLUEISH"])
        self.assertIn("not_a_number", F.Primitives.__slots__)
        self.assertIn("bytes_", F.Primitives.__slots__)      # a builtin name is escaped
        self.assertEqual(F.Shape.__slots__[0], "which")
        self.assertEqual((F.Shape._polyhost_data_words, F.Shape._polyhost_ptr_count), (3, 5))
        self.assertEqual(F.Point._polyhost_type_id, 0xb882adc16721ff38)
        self.assertEqual((F.ANSWER, F.GREETING), (42, 'hello, "world"'))
        self.assertEqual(F.SCHEMA, "features.capnp")
        self.assertRegex(F.FINGERPRINT, "^[0-9a-f]{16}$")
        self.assertEqual(P.SCHEMA, "polyhost.capnp")

    def test_unknown_enumerant_stays_an_int(self):
        data, _ = encode(F.Shape_Label(kind=F.Shape_Label_Kind.BOLD))
        raw = bytearray(data)
        raw[8] = 9
        kind = decode(F.Shape_Label, bytes(raw)).kind
        self.assertEqual(kind, 9)
        self.assertNotIsInstance(kind, F.Shape_Label_Kind)
        lst = F.Lists(colors=[F.Color.GREEN, 7])
        self.assertEqual(roundtrip(lst)[0].colors, [F.Color.GREEN, 7])

    def test_keyword_only_constructor(self):
        with self.assertRaises(TypeError):
            F.Point(1.0, 2.0)
        with self.assertRaises(TypeError):
            F.Point(z=1)

    def test_interface_classes(self):
        self.assertEqual(F.Calculator._polyhost_interface_id, 0x85ddd1953920fd53)
        self.assertEqual(F.CalculatorClient._polyhost_interface_name, "Calculator")
        self.assertTrue(issubclass(F.Calculator, F.Named))
        self.assertTrue(issubclass(F.CalculatorClient, F.NamedClient))
        table = F.Calculator._polyhost_methods
        self.assertIn((F.Named._polyhost_interface_id, 0), table)          # inherited
        self.assertEqual(table[(F.Calculator._polyhost_interface_id, 6)].is_stream, True)
        self.assertEqual(table[(F.Calculator._polyhost_interface_id, 4)].name,
                         "_polyhost_serve_numbers")


class DocsTest(unittest.TestCase):
    def test_naming_rules_are_the_same_in_both_readmes(self):
        def section(path):
            with open(path, encoding="utf-8") as f:
                text = f.read()
            start = text.index("## Naming rules of the generated modules")
            end = text.find("\n## ", start + 1)
            return text[start:end if end >= 0 else None].strip()
        adapter = os.path.dirname(_HERE)
        self.assertEqual(section(os.path.join(adapter, "README.md")),
                         section(os.path.join(adapter, "templates", "README.md")))


if __name__ == "__main__":
    unittest.main()
