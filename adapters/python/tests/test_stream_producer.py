"""Tests of the producing end of a stream (polyhost.streams.Producer) on its own: the
batches it pushes, read back from the bytes of each push's message.

Items of a struct made only of numbers (Point of tests/schema/features.capnp) are kept
as columns, one array per field, and every other item type as a list of items; both
must push the same batches.
"""

import asyncio
import os
import sys
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (os.path.join(_HERE, "generated"), os.path.dirname(_HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import features_capnp as F  # noqa: E402
from polyhost import gen, streams, wire  # noqa: E402


class RecordingSink:
    """A Sink stand-in: each push's batch is written into a message, read back as
    items and kept; the push completes at once."""

    def __init__(self, codec):
        self.codec = codec
        self.batches = []

    def push(self, batch):
        mb = wire.MessageBuilder()
        batch._polyhost_write_pointer(mb.init_root(0, 1), 0)
        root = wire.read_message(mb.to_bytes()).root()
        self.batches.append(self.codec.read_list(root.get_list(0, self.codec.es)))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def items(self):
        return [item for batch in self.batches for item in batch]


class SubPoint(F.Point):
    __slots__ = ()


def points(n):
    return [F.Point(x=float(i), y=-0.5 * i) for i in range(n)]


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


class ColumnProducerTest(unittest.TestCase):
    def produce(self, items, max_batch=4):
        async def main():
            codec = gen.StructCodec(F.Point)
            sink = RecordingSink(codec)
            out = streams.Producer(sink, codec, max_batch=max_batch)
            for item in items:
                await out.send(item)
            await out.flush()
            return out, sink
        return run(main())

    def test_numbers_only_items_are_kept_as_columns(self):
        out, sink = self.produce(points(10))
        self.assertIsInstance(out, streams.Producer)
        self.assertEqual(type(out).__name__, "_ColumnProducer")
        self.assertEqual(sink.items(), points(10))
        self.assertEqual([len(b) for b in sink.batches], [4, 4, 2])   # max_batch each
        self.assertEqual(out.sent, 10)

    def test_a_subclass_item_arrives_as_the_struct(self):
        _, sink = self.produce([F.Point(x=1.0), SubPoint(x=2.0, y=3.0), F.Point(y=4.0)])
        self.assertEqual(sink.items(), [F.Point(x=1.0), F.Point(x=2.0, y=3.0), F.Point(y=4.0)])

    def test_a_bad_value_raises_the_structs_error_and_keeps_the_batch(self):
        async def main():
            codec = gen.StructCodec(F.Point)
            sink = RecordingSink(codec)
            out = streams.Producer(sink, codec, max_batch=8)
            await out.send(F.Point(x=1.0))
            await out.send(F.Point(x=2.0))
            with self.assertRaises(wire.ValueOutOfRange):
                await out.send(F.Point(x=3.0, y="not a number"))
            await out.send(F.Point(x=4.0))
            await out.flush()
            return sink
        sink = run(main())
        self.assertEqual(sink.items(), [F.Point(x=1.0), F.Point(x=2.0), F.Point(x=4.0)])

    def test_an_item_of_another_type_is_refused(self):
        async def main():
            codec = gen.StructCodec(F.Point)
            out = streams.Producer(RecordingSink(codec), codec)
            await out.send(F.Point())
            with self.assertRaisesRegex(TypeError, "sends Point items, not dict"):
                await out.send({"x": 1.0})
        run(main())

    def test_other_items_are_kept_as_a_list(self):
        async def main():
            codec = gen.StructCodec(F.Pair, gen.TEXT, gen.StructCodec(F.Point))
            sink = RecordingSink(codec)
            out = streams.Producer(sink, codec, max_batch=2)
            for i in range(3):
                await out.send(F.Pair(key=str(i), value=F.Point(x=float(i))))
            await out.flush()
            return out, sink
        out, sink = run(main())
        self.assertIs(type(out), streams.Producer)
        self.assertEqual([p.key for p in sink.items()], ["0", "1", "2"])


if __name__ == "__main__":
    unittest.main()
