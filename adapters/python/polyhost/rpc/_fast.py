"""Fast paths of the connection for the messages of an ordinary call.

Most traffic is a Call to an exported capability whose params carry no capability, and
a Return with results. Decoding those through the generated ``rpc_capnp`` classes
builds five objects per message; encoding a Return goes through four generic struct
writers. Here:

- :func:`handle_call` / :func:`handle_return` read only the fields the connection
  needs, in the same order as the generated decoder (so a malformed message raises the
  same error). Any other shape (a promisedAnswer target, sendResultsTo other than
  caller, a non-empty cap table, a Return that is not ``results``) returns False before
  anything happened, with the traversal budget restored, and the connection decodes it
  the generic way.
- :func:`encode_results` starts a Return-with-results message from a prefix captured
  at import from the generic encoder (root -> Message -> Return -> Payload), patches
  the answer id in, and writes the results content and cap table behind it. The bytes
  are the ones the generic path produces.
"""

import struct as _struct

from polyhost import wire
from polyhost.rpc_capnp import Message, Return

from .errors import ProtocolError

__all__ = ["handle_call", "handle_return", "encode_results"]

_INLINE_COMPOSITE = wire.INLINE_COMPOSITE
_pack_u32 = _struct.Struct("<I").pack

# Word offsets of the structs in the captured Return prefix (checked below).
_RETURN_WORD = 3
_PAYLOAD_WORD = 6
_NO_FINISH_NEEDED_BIT = 33


class _Empty:
    def _polyhost_write(self, b):
        pass


def _capture(answer_id):
    class _Head:
        def _polyhost_write(self, b):
            Return(answer_id=answer_id, release_param_caps=False, which="results",
                   results=_Empty())._polyhost_write(b)
            b.set_bool(_NO_FINISH_NEEDED_BIT, True, False)
    mb = wire.MessageBuilder()
    Message(return_=_Head())._polyhost_write(
        mb.init_root(Message._polyhost_data_words, Message._polyhost_ptr_count))
    return mb.segments()[0]


def _split_head():
    a = _capture(0)
    b = _capture(0x01020304)
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    at = _RETURN_WORD << 3
    if len(a) != (_PAYLOAD_WORD + 2) << 3 or diff != [at, at + 1, at + 2, at + 3]:
        raise RuntimeError("unexpected Return layout; the fast path needs updating")
    return a[:at], a[at + 4:]


_HEAD_A, _HEAD_B = _split_head()


def encode_results(answer_id, payload):
    """The framed Return(results=payload) for ``answer_id`` (``payload``: the
    connection's _OutPayload; noFinishNeeded is set when it wrote no capability)."""
    mb = wire.MessageBuilder()
    payload.table = mb.cap_table
    mb.preset(_HEAD_A + _pack_u32(answer_id) + _HEAD_B)
    payload._polyhost_write(mb.struct_at(_PAYLOAD_WORD, 0, 2))
    if payload.ncaps:
        mb.struct_at(_RETURN_WORD, 2, 1).set_bool(_NO_FINISH_NEEDED_BIT, False, False)
    return mb.to_bytes()


def handle_call(conn, mr, root):
    """Handle a Call message the fast way; False when it must take the generic path."""
    budget = mr._budget             # restored when falling back (see module doc)
    zero = mr._zero_budget
    c = root.get_struct(0)
    if c.get_uint16(3, 0) != 0:     # sendResultsTo is not `caller`
        mr._budget, mr._zero_budget = budget, zero
        return False
    t = c.get_struct(0)
    if t.get_uint16(2, 0) != 0:     # the target is a promisedAnswer
        mr._budget, mr._zero_budget = budget, zero
        return False
    params = c.get_struct(1)
    if len(params.get_list(1, _INLINE_COMPOSITE)):      # capabilities in the params
        mr._budget, mr._zero_budget = budget, zero
        return False
    conn.stats["recv.call"] += 1
    qid = c.get_uint32(0, 0)
    if qid in conn._answers:
        raise ProtocolError("Call reuses question id %d still in use" % qid)
    conn._answer_call(qid, conn._export_target(t.get_uint32(0, 0)), c.get_uint64(1, 0),
                      c.get_uint16(2, 0), params.get_pointer(0), None, mr)
    return True


def handle_return(conn, mr, root):
    """Handle a Return message the fast way; False when it must take the generic path."""
    budget = mr._budget
    zero = mr._zero_budget
    r = root.get_struct(0)
    if r.get_uint16(3, 0) != 0:     # not `results`
        mr._budget, mr._zero_budget = budget, zero
        return False
    payload = r.get_struct(0)
    if len(payload.get_list(1, _INLINE_COMPOSITE)):     # capabilities in the results
        mr._budget, mr._zero_budget = budget, zero
        return False
    conn.stats["recv.return_"] += 1
    q = conn._returned_question(r.get_uint32(0, 0), r.get_bool(32, True))
    if q is not None:
        conn._complete_question(q, payload.get_pointer(0), None, mr)
        conn._after_return(q, r.get_bool(_NO_FINISH_NEEDED_BIT, False))
    return True
