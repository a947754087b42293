"""Tests of polyhost/rpc_capnp.py: byte-exact against capnp-rpc's generated Rust code.

The fixtures below are single-segment messages built with the Rust crate capnp 0.27.3
using capnp-rpc 0.27.3's ``rpc_capnp.rs`` (a throwaway program setting the same fields,
in the same order, as the Python messages here); the Python classes must encode the
same bytes and decode them back to equal values.
"""

import unittest

import test_wire_support  # noqa: F401  (puts the adapter on sys.path)
from polyhost import rpc_capnp as M
from polyhost import wire

RUST = {
    "call": (
        "0000000001000100020000000000000000000000030003000500000007000100"
        "efcdab9078563412020000000000000008000000010001002000000000000200"
        "0000000000000000000000000100000000000000010001000300000000000000"
        "0100000017000000080000000100000001000200000000000000000000000000"
        "000000000000000001000000370000000c000000010001000100000004000000"
        "00000000000000000300fc000900000000000000000000000400000000000000"
        "00000000010001000b000000000000000000000000000000"),
    "return_exc": (
        "0000000001000100030000000000000000000000020001000800000003000100"
        "0000000000000000000000000100020001000300010000000500000022000000"
        "050000001a00000062616400000000007472000000000000"),
    "return_take": (
        "0000000001000100030000000000000000000000020001000800000000000400"
        "4d000000000000000000000000000000"),
    "finish": (
        "0000000001000100040000000000000000000000010000000900000001000000"),
    "resolve": (
        "0000000001000100050000000000000000000000010001000600000000000000"
        "0000000001000100020000000c0000000000000000000000"),
    "release": (
        "0000000001000100060000000000000000000000010000000600000003000000"),
    "disembargo": (
        "00000000010001000d0000000000000000000000010001001500000001000000"
        "000000000100010004000000000000000000000000000000"),
    "bootstrap": (
        "0000000001000100080000000000000000000000010001000200000000000000"
        "0000000000000000"),
    "accept": (
        "00000000010001000b0000000000000000000000010001000200000001000000"
        "0000000000000000"),
}

Op = M.PromisedAnswer_Op

MESSAGES = {
    "call": M.Message(call=M.Call(
        question_id=5, interface_id=0x1234567890abcdef, method_id=7,
        no_promise_pipelining=True,
        target=M.MessageTarget(promised_answer=M.PromisedAnswer(
            question_id=3, transform=[Op(get_pointer_field=2), Op(which="noop")])),
        params=M.Payload(cap_table=[
            M.CapDescriptor(sender_hosted=4),
            M.CapDescriptor(receiver_hosted=9, attached_fd=3),
            M.CapDescriptor(receiver_answer=M.PromisedAnswer(question_id=11))]),
        send_results_to=M.Call_SendResultsTo(which="yourself"))),
    "return_exc": M.Message(return_=M.Return(
        answer_id=8, release_param_caps=False, no_finish_needed=True,
        exception=M.Exception_(reason="bad", type=M.Exception_Type.OVERLOADED, trace="tr",
                               obsolete_durability=3, obsolete_is_callers_fault=True))),
    "return_take": M.Message(return_=M.Return(answer_id=8, take_from_other_question=77)),
    "finish": M.Message(finish=M.Finish(question_id=9, release_result_caps=False)),
    "resolve": M.Message(resolve=M.Resolve(promise_id=6, cap=M.CapDescriptor(sender_promise=12))),
    "release": M.Message(release=M.Release(id=6, reference_count=3)),
    "disembargo": M.Message(disembargo=M.Disembargo(
        target=M.MessageTarget(imported_cap=4),
        context=M.Disembargo_Context(receiver_loopback=21))),
    "bootstrap": M.Message(bootstrap=M.Bootstrap(question_id=2)),
    "accept": M.Message(accept=M.Accept(question_id=2, embargo=True)),
}


def encode(msg):
    mb = wire.MessageBuilder()
    msg._polyhost_write(mb.init_root(M.Message._polyhost_data_words,
                                     M.Message._polyhost_ptr_count))
    return bytes(mb.segments()[0])


def decode(data):
    return M.Message._polyhost_read(wire.MessageReader([data]).root())


class RpcCapnpTest(unittest.TestCase):
    def test_encoding_matches_rust(self):
        for name, msg in MESSAGES.items():
            with self.subTest(name):
                self.assertEqual(encode(msg).hex(), RUST[name])

    def test_decoding_rust(self):
        call = decode(bytes.fromhex(RUST["call"])).call
        self.assertEqual(call.question_id, 5)
        self.assertEqual(call.interface_id, 0x1234567890abcdef)
        self.assertEqual(call.method_id, 7)
        self.assertTrue(call.no_promise_pipelining)
        self.assertEqual(call.target, MESSAGES["call"].call.target)
        caps = call.params.cap_table
        self.assertEqual(caps[:2], MESSAGES["call"].call.params.cap_table[:2])
        self.assertEqual(caps[2].which, "receiver_answer")
        self.assertEqual(caps[2].receiver_answer.question_id, 11)
        self.assertEqual(caps[2].receiver_answer.transform, [])     # null list reads as []
        self.assertTrue(call.params.content.is_null())
        self.assertEqual(call.send_results_to.which, "yourself")
        for name in ("return_exc", "return_take", "finish", "resolve", "release",
                     "disembargo"):
            with self.subTest(name):
                self.assertEqual(decode(bytes.fromhex(RUST[name])), MESSAGES[name])

    def test_defaults(self):
        f = M.Finish._polyhost_read(wire.MessageReader([bytes(8)]).root())
        self.assertTrue(f.release_result_caps)
        self.assertTrue(f.require_early_cancellation_workaround)
        self.assertEqual(M.Return().release_param_caps, True)
        self.assertEqual(M.CapDescriptor().attached_fd, 255)
        self.assertEqual(M.CapDescriptor().which, "none")
        self.assertEqual(M.Message().which, "unimplemented")

    def test_union_inference_and_naming(self):
        self.assertEqual(M.Message(return_=M.Return()).which, "return_")
        self.assertEqual(M.Return(exception=M.Exception_()).which, "exception")
        self.assertEqual(M.Return(which="canceled").which, "canceled")
        self.assertIsNone(M.Return(which="canceled").results)
        self.assertIs(M.Exception_.Type, M.Exception_Type)
        self.assertIs(M.PromisedAnswer.Op, M.PromisedAnswer_Op)
        self.assertEqual(M.Call._polyhost_type_id, 0x836a53ce789d4cd4)
        self.assertEqual((M.Call._polyhost_data_words, M.Call._polyhost_ptr_count), (3, 3))
        with self.assertRaises(ValueError):
            M.Message(which="nope")

    def test_unknown_discriminant_reads_as_none(self):
        data = bytearray(encode(M.Message(bootstrap=M.Bootstrap(question_id=1))))
        data[8] = 99                            # Message's union discriminant
        self.assertIsNone(decode(bytes(data)).which)


if __name__ == "__main__":
    unittest.main()
