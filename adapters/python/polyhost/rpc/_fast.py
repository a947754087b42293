"""Fast paths of the connection for the messages of an ordinary call.

Most traffic is a Call to an exported capability whose params carry no capability, and
a Return with results. Decoding those through the generated ``rpc_capnp`` classes
builds five objects per message; encoding a Return goes through four generic struct
writers. Here:

- :func:`direct_call` reads a Call straight from the words of a one-segment message
  (struct offsets computed inline, every bound checked, the budget charged as the
  readers would) when its pointers are all near struct pointers and its cap table is
  null or an empty list; anything else falls back, untouched, to the readers below.
  The struct offsets are computed once per layout (:class:`_Layout`: a peer writes
  every Call the same way). A Call to an ``async def`` method of an object served here
  then runs the short way: the params struct read here, ``server.run_direct`` takes
  the handler's first step and :func:`encode_direct` writes the Return (into a frame
  laid out ahead, with builders the connection keeps per results class).
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

import functools
import struct as _struct

from polyhost import wire
from polyhost.rpc_capnp import Message, Return

from .errors import ProtocolError
from .content import ObjContent
from .server import LocalCall, LocalHook, run_direct
from .tables import Answer

__all__ = ["direct_call", "handle_call", "handle_return", "encode_results"]

_INLINE_COMPOSITE = wire.INLINE_COMPOSITE
_pack_u32 = _struct.Struct("<I").pack
_unpack_word = _struct.Struct("<iI").unpack_from
_unpack_u16 = _struct.Struct("<H").unpack_from
# Call's data section: questionId u32, methodId u16, sendResultsTo's discriminant u16,
# interfaceId u64; MessageTarget's: importedCap u32, its discriminant u16
_unpack_call = _struct.Struct("<IHHQ").unpack_from
_unpack_target = _struct.Struct("<IH").unpack_from
_FIRST_SEGMENT_WORDS = 32
_MSG_CALL = 2
_PointerReader = wire.PointerReader
_partial = functools.partial
_StructReader = wire.StructReader
_StructBuilder = wire.StructBuilder
_EMPTY_STRUCT = _PointerReader(None, 0, 0, 0).as_struct()
_pack_word = _struct.Struct("<iI").pack
_pack_uword = _struct.Struct("<II").pack

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
    # a small first segment that grows (the message stays one segment): zeroing the
    # default 8 KiB segment for a Return of a few words costs more than the encoding
    mb = wire.MessageBuilder(first_segment_words=_FIRST_SEGMENT_WORDS, single_segment=True)
    payload.table = mb.cap_table
    mb.preset(_HEAD_A + _pack_u32(answer_id) + _HEAD_B)
    payload._polyhost_write(mb.struct_at(_PAYLOAD_WORD, 0, 2))
    if payload.ncaps:
        mb.struct_at(_RETURN_WORD, 2, 1).set_bool(_NO_FINISH_NEEDED_BIT, False, False)
    return mb.to_bytes()


# A Return-with-results frame laid out ahead, per (data words, pointer count) of the
# results struct: the stream framing's header (8 bytes, the size filled in at the end),
# the Return prefix, the results struct right behind it (word 8, so the content
# pointer at word 6 has offset 1), zeroed, and some room for what it points to. The
# builder's segment holds the header too: pointers are relative, so nothing else moves.
_CONTENT_AT = 8 + (_PAYLOAD_WORD << 3)
_QID_AT = 8 + (_RETURN_WORD << 3)
_RESULTS_AT = 8 + ((_PAYLOAD_WORD + 2) << 3)
_ROOM = bytes(24 << 3)
_FRAMES = {}
_pack_header_into = _struct.Struct("<II").pack_into
_pack_u32_into = _struct.Struct("<I").pack_into
_from_prefix = wire.MessageBuilder.from_prefix


def _encoder(cls):
    """[frame, bytes used, builder, results struct builder] for Returns of ``cls``."""
    if cls is None:
        ptr = bytes(8)
        dw = pc = 0
    else:
        dw = cls._polyhost_data_words
        pc = cls._polyhost_ptr_count
        if not (0 <= dw <= 0xFFFF and 0 <= pc <= 0xFFFF):
            raise ValueError("struct size out of range: %r data words, %r pointers"
                             % (dw, pc))
        ptr = _pack_uword(1 << 2, dw | (pc << 16)) if dw or pc else _pack_word(-4, 0)
    prefix = bytes(8) + _HEAD_A + bytes(4) + _HEAD_B
    frame = (prefix[:_CONTENT_AT] + ptr + prefix[_CONTENT_AT + 8:] + bytes((dw + pc) << 3)
             + _ROOM)
    used = _RESULTS_AT + ((dw + pc) << 3)
    mb = _from_prefix(frame, used)
    sb = _StructBuilder(mb, mb._segs[0], 0, _RESULTS_AT, dw << 3, _RESULTS_AT + (dw << 3), pc)
    return [frame, used, mb, sb]


def encode_direct(answer_id, results, encoders=None):
    """The framed Return(results) for ``answer_id`` with ``results`` (a generated struct
    instance, or None) as content, when it holds no capability; None when it does or
    cannot be encoded (the connection then encodes it the generic way, which reports
    the error). The bytes are the ones ``encode_results`` produces. ``encoders``: a
    dict kept by the caller (one connection: one thread) where the builders made for a
    results class are kept and reused, each message in a new bytearray."""
    try:
        cls = None if results is None else type(results)
        e = None if encoders is None else encoders.get(cls)
        if e is None:
            e = _encoder(cls)
            if encoders is not None:
                encoders[cls] = e
        seg = bytearray(e[0])
        mb = e[2]
        mb._segs[0] = seg
        mb._used[0] = e[1]
        _pack_u32_into(seg, _QID_AT, answer_id)
        if cls is not None:
            sb = e[3]
            sb._seg = seg
            results._polyhost_write(sb)
            if mb.cap_table:
                mb.cap_table = []
                return None
        used = mb._used[0]
        _pack_header_into(seg, 0, 0, (used - 8) >> 3)
        del seg[used:]
        return seg
    except Exception:
        if encoders is not None:
            encoders.pop(cls, None)     # (its builder may be left in any state)
        return None


def _answer_direct(conn, qid, r):
    """Answer question ``qid`` with what ``run_direct`` returned."""
    if type(r) is not LocalCall:
        if conn.closed:
            return
        data = encode_direct(qid, r, conn._encoders)
        if data is not None:
            if conn._reading:
                conn._out.append(data)      # (written at the end of the chunk)
            else:
                conn._write(data)
            conn.stats["sent.return_"] += 1
            return
        p = LocalCall()
        p._complete(content=ObjContent(r))
        r = p
    a = Answer(qid)
    a.pending = r
    conn._answers[qid] = a
    if r.done:
        conn._on_answer_done(a, r)
    else:
        conn._calls_running += 1
        r.add_listener(_partial(conn._on_call_done, a))


class _Layout:
    """Where a Call message's structs were (the root pointer, Message, Call,
    MessageTarget, Payload) and the words that placed them: a later message whose
    words are the same there (a peer writes every Call the same way) has its structs
    at the same places, within ``end`` bytes, so only its own values are read."""

    __slots__ = ("end", "mask", "expect", "call", "target", "content", "cap_table", "words")

    def __init__(self, seg, end, relied, call, target, content, cap_table, words):
        mask = bytearray(end)
        for at, size in relied:
            mask[at:at + size] = b"\xff" * size
        self.end = end
        self.mask = int.from_bytes(mask, "little")
        self.expect = int.from_bytes(seg[:end], "little") & self.mask
        self.call = call
        self.target = target
        self.content = content
        self.cap_table = cap_table      # the Payload has a capTable pointer
        self.words = words


def _parse_call(seg):
    """The places of a Call's structs read from its pointers (see direct_call), as a
    _Layout; None when the message is not a Call of the common shape or a pointer is
    not a valid near struct pointer."""
    n = len(seg)
    if n < 8:
        return None
    lo, hi = _unpack_word(seg, 0)                   # root pointer -> Message
    if lo & 3 or (lo == 0 and hi == 0):
        return None
    t = 8 + ((lo >> 2) << 3)
    dw = hi & 0xFFFF
    pc = hi >> 16
    if dw == 0 or pc == 0 or t < 0 or t + ((dw + pc) << 3) > n:
        return None
    if _unpack_u16(seg, t)[0] != _MSG_CALL:
        return None
    relied = [(0, 8), (t, 2)]
    end = t + ((dw + pc) << 3)
    words = 1 + dw + pc
    off = t + (dw << 3)
    lo, hi = _unpack_word(seg, off)                 # Message.call -> Call
    if lo & 3 or (lo == 0 and hi == 0):
        return None
    relied.append((off, 8))
    t = off + 8 + ((lo >> 2) << 3)
    dw = hi & 0xFFFF
    pc = hi >> 16
    if dw < 3 or pc < 2 or t < 0 or t + ((dw + pc) << 3) > n:
        return None
    if _unpack_call(seg, t)[2] != 0:                # sendResultsTo is not `caller`
        return None
    call = t
    relied.append((t + 6, 2))
    end = max(end, t + ((dw + pc) << 3))
    words += dw + pc
    off = t + (dw << 3)
    lo, hi = _unpack_word(seg, off)                 # Call.target -> MessageTarget
    if lo & 3 or (lo == 0 and hi == 0):
        return None
    relied.append((off, 16))                        # (and Call.params)
    t = off + 8 + ((lo >> 2) << 3)
    tdw = hi & 0xFFFF
    tpc = hi >> 16
    if tdw == 0 or t < 0 or t + ((tdw + tpc) << 3) > n:
        return None
    if _unpack_target(seg, t)[1] != 0:              # the target is a promisedAnswer
        return None
    target = t
    relied.append((t + 4, 2))
    end = max(end, t + ((tdw + tpc) << 3))
    words += tdw + tpc
    off += 8
    lo, hi = _unpack_word(seg, off)                 # Call.params -> Payload
    if lo & 3 or (lo == 0 and hi == 0):
        return None
    t = off + 8 + ((lo >> 2) << 3)
    dw = hi & 0xFFFF
    pc = hi >> 16
    if pc == 0 or t < 0 or t + ((dw + pc) << 3) > n:
        return None
    end = max(end, t + ((dw + pc) << 3))
    words += dw + pc
    return _Layout(seg, end, relied, call, target, t + (dw << 3), pc > 1, words)


def direct_call(conn, mr):
    """Handle a Call read straight from the words of a one-segment message, when every
    pointer on the way is a valid near struct pointer and the Call has the common shape
    (see handle_call); False before anything happened otherwise (the generic readers
    then decode it and raise the error of a bad message). The traversal budget is
    charged as the generic readers charge it. The places of the structs are read once
    per layout (``conn._call_layout``, see _Layout)."""
    segs = mr._segs
    if len(segs) != 1:
        return False
    seg = segs[0]
    n = len(seg)
    nest = mr.limits.nesting
    if nest < 4:
        return False
    lay = conn._call_layout
    if (lay is None or n < lay.end
            or int.from_bytes(seg[:lay.end], "little") & lay.mask != lay.expect):
        lay = _parse_call(seg)
        if lay is None:
            return False
        conn._call_layout = lay
    qid, method_id, _, interface_id = _unpack_call(seg, lay.call)
    import_id = _unpack_target(seg, lay.target)[0]
    content = lay.content
    words = lay.words
    if lay.cap_table:
        lo, hi = _unpack_word(seg, content + 8)     # Payload.capTable
        if lo or hi:
            # an empty list (what most peers send) is read as the generic readers read
            # it: a composite list of no words, its tag charged; anything else: generic
            if lo & 3 != 1 or hi != _INLINE_COMPOSITE:
                return False
            t = content + 16 + ((lo >> 2) << 3)
            if t < 0 or t + 8 > n or _unpack_word(seg, t)[0] != 0:
                return False
            words += 1
    budget = mr._budget - words
    if budget < 0:
        return False
    e = conn._exports._slots.get(import_id)        # (IdTable.get, inline)
    if e is not None and type(e.hook) is LocalHook:
        # An object served here, an async def method: the params struct read here too,
        # the handler run at once and its Return encoded without the generic objects.
        hook = e.hook
        found = hook._dispatch.get((interface_id, method_id))   # (direct_entry, inline)
        if found is None or not found[2] or hook._queue:
            found = hook.direct_entry(interface_id, method_id)
        if found is not None:
            lo, hi = _unpack_word(seg, content)     # Payload.content -> params struct
            if lo == 0 and hi == 0:
                params = _EMPTY_STRUCT
            elif lo & 3 == 0:
                t = content + 8 + ((lo >> 2) << 3)
                dw = hi & 0xFFFF
                pc = hi >> 16
                budget -= dw + pc
                if t < 0 or t + ((dw + pc) << 3) > n or budget < 0:
                    params = None
                else:
                    d = dw << 3
                    params = _StructReader(mr, seg, 0, t, d, t + d, pc, nest - 4)
            else:
                params = None
            if params is not None:
                mr._budget = budget
                conn.stats["recv.call"] += 1
                if qid in conn._answers:
                    raise ProtocolError("Call reuses question id %d still in use" % qid)
                mr.cap_table = []
                _answer_direct(conn, qid, run_direct(hook, found, params, conn))
                return True
            budget = mr._budget - words
    mr._budget = budget
    conn.stats["recv.call"] += 1
    if qid in conn._answers:
        raise ProtocolError("Call reuses question id %d still in use" % qid)
    # nesting as the generic readers count it: root pointer, Message, Call, Payload
    conn._answer_call(qid, conn._export_target(import_id), interface_id, method_id,
                      _PointerReader(mr, 0, content, nest - 3), None, mr)
    return True


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
