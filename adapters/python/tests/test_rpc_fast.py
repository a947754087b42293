"""The connection's fast paths (polyhost/rpc/_fast.py) against the generic encoder: a
Return with results is byte-for-byte what rpc_capnp writes, with and without
capabilities in the results."""

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
from polyhost.rpc.content import CapContent, ObjContent  # noqa: E402
from polyhost.rpc.hooks import BrokenHook  # noqa: E402
from polyhost.rpc_capnp import CapDescriptor, Message, Return  # noqa: E402


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


if __name__ == "__main__":
    unittest.main()
