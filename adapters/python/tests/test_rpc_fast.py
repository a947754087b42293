"""The connection's fast paths (polyhost/rpc/_fast.py) against the generic encoder: a
Return with results is byte-for-byte what rpc_capnp writes, with and without
capabilities in the results; a Call read straight from its words (``direct_call``)
gives what the reader-based path gives, and other shapes are left to that path."""

import collections
import os
import sys
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (os.path.join(_HERE, "generated"), os.path.dirname(_HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import features_capnp as F  # noqa: E402
from polyhost import wire  # noqa: E402
from polyhost.rpc import _fast, connection  # noqa: E402
from polyhost.rpc.content import CapContent, ObjContent, builder_cap_table  # noqa: E402
from polyhost.rpc.hooks import BrokenHook  # noqa: E402
from polyhost.rpc.tables import IdTable  # noqa: E402
from polyhost.rpc_capnp import (  # noqa: E402
    Call, CapDescriptor, Message, MessageTarget, PromisedAnswer, Return,
)


class _Conn:
    """Just what _OutPayload asks of a connection."""

    def _write_descriptor(self, obj, exports):
        exports.append(7)
        return CapDescriptor(sender_hosted=7)


class _ReturnWithResults:
    def __init__(self, answer_id, payload):
        self.ret = Return(answer_id=answer_id, release_param_caps=False, which="results",
                          results=payload)
        self.payload = payload

    def _polyhost_write(self, b):
        self.ret._polyhost_write(b)
        if self.payload.ncaps == 0:
            b.set_bool(33, True, False)     # noFinishNeeded


def generic(answer_id, content):
    payload = connection._OutPayload(_Conn(), content)
    mb = wire.MessageBuilder()
    payload.table = mb.cap_table
    Message(return_=_ReturnWithResults(answer_id, payload))._polyhost_write(
        mb.init_root(Message._polyhost_data_words, Message._polyhost_ptr_count))
    return mb.to_bytes()


class EncodeResultsTest(unittest.TestCase):
    def check(self, answer_id, content):
        payload = connection._OutPayload(_Conn(), content)
        self.assertEqual(_fast.encode_results(answer_id, payload), generic(answer_id, content))
        return payload

    def test_struct_results(self):
        self.assertEqual(self.check(12345, ObjContent(F.Point(x=1.5, y=2))).ncaps, 0)
        self.check(0xFFFFFFFF, ObjContent(F.Point()))

    def test_empty_results(self):
        self.check(0, ObjContent(None))

    def test_results_with_a_capability(self):
        hook = BrokenHook(None)
        self.assertEqual(self.check(3, CapContent(hook)).ncaps, 1)


class EncodeDirectTest(unittest.TestCase):
    def test_same_bytes_as_the_generic_encoder(self):
        for answer_id, results in (
                (12345, F.Point(x=1.5, y=2)), (0xFFFFFFFF, F.Point()), (0, None),
                (3, F.Calculator_UseLoggerResults()), (4, F.Calculator_AddResults(sum=-9)),
                (5, F.Calculator_DescribeResults(area=2.0, label="x" * 1000)),
                (6, F.Calculator_EchoResults(value=F.Pair(key="k", value=F.Point(x=1)))),
                (7, F.Calculator_EchoResults())):
            self.assertEqual(_fast.encode_direct(answer_id, results),
                             generic(answer_id, ObjContent(results)), results)

    def test_builders_kept_between_messages(self):
        # one encoders dict, as a connection keeps it: each message is its own, and one
        # left to the generic encoder (a capability) leaves nothing behind
        encoders = {}
        sequence = [(1, F.Calculator_DescribeResults(area=1.0, label="a" * 500)),
                    (2, F.Calculator_DescribeResults(label="b")),
                    (3, F.Calculator_CounterResults(counter=BrokenHook(None))),
                    (4, F.Calculator_CounterResults()), (5, None), (6, F.Point(x=3))]
        for answer_id, results in sequence * 2:
            data = _fast.encode_direct(answer_id, results, encoders)
            if answer_id == 3:
                self.assertIsNone(data)
            else:
                self.assertEqual(data, generic(answer_id, ObjContent(results)), results)

    def test_left_to_the_generic_encoder(self):
        # a capability in the results, a value that does not fit its field
        self.assertIsNone(_fast.encode_direct(1, F.Calculator_CounterResults(
            counter=BrokenHook(None))))
        self.assertIsNone(_fast.encode_direct(1, F.Point(x="not a number")))


class _Target:
    def release(self):
        pass


class _Answering:
    """What direct_call / handle_call ask of a connection: records the call started."""

    def __init__(self):
        self.stats = collections.Counter()
        self._answers = {}
        self._exports = IdTable()       # no object served here: the call is passed on
        self._call_layout = None
        self.started = None

    def _export_target(self, import_id):
        self.import_id = import_id
        return _Target()

    def _answer_call(self, qid, target, interface_id, method_id, content, descriptors, mr):
        self.started = (qid, self.import_id, interface_id, method_id,
                        F.Point._polyhost_read(content.as_struct()), content._nest, descriptors)


class _EmptyCapTable:
    """Params written with an empty cap table list (not a null pointer), as capnp-rpc
    (Rust, C++) writes them."""

    def __init__(self, params):
        self.params = params
        self.table = None

    def _polyhost_write(self, b):
        ObjContent(self.params).write_into(b, 0)
        b.init_struct_list(1, 0, CapDescriptor._polyhost_data_words,
                           CapDescriptor._polyhost_ptr_count)


def call_frame(target, params=F.Point(x=1.5, y=-2), qid=1, empty_cap_table=False):
    """The frame of a Call as the connection writes it (rpc_capnp's encoder)."""
    payload = connection._OutPayload(_Conn(), ObjContent(params))
    if empty_cap_table:
        payload = _EmptyCapTable(params)
    table = []
    mb = wire.MessageBuilder(cap_table=table)
    payload.table = builder_cap_table(mb, table)
    Message(call=Call(question_id=qid, target=target, interface_id=0x1234567890ABCDEF,
                      method_id=7, params=payload))._polyhost_write(
        mb.init_root(Message._polyhost_data_words, Message._polyhost_ptr_count))
    return mb.to_bytes()


def reader(frame, limits=None):
    """The message of a one-segment frame (its 8-byte header skipped)."""
    return wire.MessageReader([frame[8:]], limits)


class DirectCallTest(unittest.TestCase):
    def test_same_call_as_the_readers(self):
        frame = call_frame(MessageTarget(imported_cap=42))
        direct, generic = _Answering(), _Answering()
        mr_direct, mr_generic = reader(frame), reader(frame)
        self.assertTrue(_fast.direct_call(direct, mr_direct))
        self.assertTrue(_fast.handle_call(generic, mr_generic, mr_generic.root()))
        self.assertEqual(direct.started[:4], (1, 42, 0x1234567890ABCDEF, 7))
        self.assertEqual(direct.started, generic.started)
        self.assertEqual(mr_direct.traversal_words_left, mr_generic.traversal_words_left)
        self.assertEqual(direct.stats, generic.stats)

    def test_an_empty_cap_table_list(self):
        frame = call_frame(MessageTarget(imported_cap=42), empty_cap_table=True)
        self.assertNotEqual(frame, call_frame(MessageTarget(imported_cap=42)))
        direct, generic = _Answering(), _Answering()
        mr_direct, mr_generic = reader(frame), reader(frame)
        self.assertTrue(_fast.direct_call(direct, mr_direct))
        self.assertTrue(_fast.handle_call(generic, mr_generic, mr_generic.root()))
        self.assertEqual(direct.started, generic.started)
        self.assertEqual(mr_direct.traversal_words_left, mr_generic.traversal_words_left)

    def test_later_calls_of_the_same_layout(self):
        # the places of the structs are read once per layout: later calls still read
        # their own ids, params and cap table, and another layout is parsed again
        direct = _Answering()
        frames = [call_frame(MessageTarget(imported_cap=42)),
                  call_frame(MessageTarget(imported_cap=7), F.Point(x=-1, y=3), qid=9),
                  call_frame(MessageTarget(imported_cap=8), F.Calculator_AddParams(a=1, b=2),
                             qid=10, empty_cap_table=True),
                  call_frame(MessageTarget(imported_cap=5), qid=11)]
        for frame in frames:
            generic = _Answering()
            mr_direct, mr_generic = reader(frame), reader(frame)
            self.assertTrue(_fast.direct_call(direct, mr_direct))
            self.assertTrue(_fast.handle_call(generic, mr_generic, mr_generic.root()))
            self.assertEqual(direct.started, generic.started)
            self.assertEqual(mr_direct.traversal_words_left, mr_generic.traversal_words_left)
        for frame in (call_frame(MessageTarget(promised_answer=PromisedAnswer(question_id=3))),
                      call_frame(MessageTarget(imported_cap=1), _WithCap())):
            mr = reader(frame)
            budget = mr.traversal_words_left
            direct.started = None
            self.assertFalse(_fast.direct_call(direct, mr))
            self.assertIsNone(direct.started)
            self.assertEqual(mr.traversal_words_left, budget)

    def check_left_alone(self, frame, limits=None):
        mr = reader(frame, limits)
        budget = mr.traversal_words_left
        conn = _Answering()
        self.assertFalse(_fast.direct_call(conn, mr))
        self.assertIsNone(conn.started)
        self.assertEqual(mr.traversal_words_left, budget)

    def test_promised_answer_target_is_left_to_the_readers(self):
        self.check_left_alone(call_frame(MessageTarget(promised_answer=PromisedAnswer(
            question_id=3))))

    def test_capabilities_in_the_params_are_left_to_the_readers(self):
        self.check_left_alone(call_frame(MessageTarget(imported_cap=1), _WithCap()))

    def test_other_messages_are_left_to_the_readers(self):
        ret = connection._OutPayload(_Conn(), ObjContent(F.Point()))
        self.check_left_alone(_fast.encode_results(5, ret))

    def test_a_budget_too_small_is_left_to_the_readers(self):
        self.check_left_alone(call_frame(MessageTarget(imported_cap=1)),
                              wire.Limits(traversal_words=10))

    def test_a_pointer_out_of_bounds_is_left_to_the_readers(self):
        frame = bytearray(call_frame(MessageTarget(imported_cap=1)))
        # the Message's pointer to the Call (segment word 2): 32767 data words
        frame[8 + 16 + 4:8 + 16 + 6] = b"\xff\x7f"
        self.check_left_alone(bytes(frame))


class _WithCap:
    """Params whose only pointer is a capability (the cap table gets one entry)."""

    _polyhost_data_words = 0
    _polyhost_ptr_count = 1

    def _polyhost_write(self, b):
        b.set_capability(0, BrokenHook(None))


if __name__ == "__main__":
    unittest.main()
