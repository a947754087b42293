"""Deep copies of reader values into a builder (``copy_into``): what
``StructBuilder.set_struct`` / ``copy_pointer`` and ``canonical.canonicalize`` (in
canonical mode: data sections and lists trimmed, one segment) use.

A copy follows pointers with the source message's nesting limit and charges its
traversal budget, so a hostile value costs at most what reading it would.
"""

from .builder import (
    _ZEROS, _init_list, _init_struct, _init_struct_list, _pack_word, _set_capability, _unpack_u64,
)
from .errors import (
    CanonicalizationError, InvalidCapability, NestingLimitExceeded, TraversalLimitExceeded,
    WrongType,
)
from .layout import INLINE_COMPOSITE, POINTER, VOID
from .reader import Capability, ListReader, PointerReader, StructReader

__all__ = ["copy_into"]


def _copy(mb, segi, seg, ref, src, canonical):
    if src is None:
        _pack_word(seg, ref, 0, 0)
    elif isinstance(src, PointerReader):
        t = src.target()
        if t is None:
            _pack_word(seg, ref, 0, 0)
            return
        m = src._msg
        m._walk -= 1
        if m._walk < 0:
            raise TraversalLimitExceeded(
                "copying follows more pointers than the message has words: its pointers "
                "share targets or form a cycle")
        if isinstance(t, Capability):
            if canonical:
                raise CanonicalizationError("cannot create a canonical message with a "
                                            "capability")
            table = src._msg.cap_table
            n = 0 if table is None else len(table)
            if t.index >= n:
                raise InvalidCapability("capability pointer index %d is outside the "
                                        "capability table (%d entries)" % (t.index, n))
            _set_capability(mb, seg, ref, table[t.index])
        elif isinstance(t, StructReader):
            _copy_struct(mb, segi, seg, ref, t, canonical)
        else:
            _copy_list(mb, segi, seg, ref, t, canonical)
    elif isinstance(src, StructReader):
        _copy_struct(mb, segi, seg, ref, src, canonical)
    elif isinstance(src, ListReader):
        _copy_list(mb, segi, seg, ref, src, canonical)
    else:
        raise WrongType("cannot copy a %s into a pointer (expected PointerReader, "
                        "StructReader, ListReader or None)" % type(src).__name__)


def _copy_struct(mb, segi, seg, ref, sr, canonical):
    dsize = sr._dsize
    pc = sr._pcount
    sseg = sr._seg
    d0 = sr._data
    p0 = sr._ptrs
    if canonical:
        while dsize:
            w = dsize & 7 or 8
            if sseg[d0 + dsize - w:d0 + dsize] == _ZEROS[w]:
                dsize -= w
            else:
                break
        while pc and _unpack_u64(sseg, p0 + ((pc - 1) << 3))[0] == 0:
            pc -= 1
    sb = _init_struct(mb, segi, seg, ref, (dsize + 7) >> 3, pc)
    if dsize:
        sb._seg[sb._data:sb._data + dsize] = sseg[d0:d0 + dsize]
    if pc:
        smsg = sr._msg
        ssegi = sr._segi
        nest = sr._nest
        bsegi = sb._segi
        bseg = sb._seg
        bp = sb._ptrs
        for j in range(pc):
            _copy(mb, bsegi, bseg, bp + (j << 3), PointerReader(smsg, ssegi, p0 + (j << 3), nest),
                  canonical)


def _copy_list(mb, segi, seg, ref, lr, canonical):
    es = lr._esize
    n = lr._count
    sseg = lr._seg
    so = lr._off
    if es != INLINE_COMPOSITE:
        lb = _init_list(mb, segi, seg, ref, es, n)
        if es == POINTER:
            smsg, ssegi, nest = lr._msg, lr._segi, lr._nest
            for i in range(n):
                _copy(mb, lb._segi, lb._seg, lb._off + (i << 3),
                      PointerReader(smsg, ssegi, so + (i << 3), nest), canonical)
        elif es != VOID:
            bits = n * lr._step
            whole = bits >> 3
            left = bits & 7
            dseg = lb._seg
            do = lb._off
            if whole:
                dseg[do:do + whole] = sseg[so:so + whole]
            if left:
                dseg[do + whole] = sseg[so + whole] & ((1 << left) - 1)
        return
    ddw = lr._dbits >> 6
    dpc = lr._pcount
    stride = lr._step >> 3
    if canonical:
        dw = pc = 0
        for i in range(n):
            e = so + i * stride
            ldw = ddw
            while ldw > dw and _unpack_u64(sseg, e + ((ldw - 1) << 3))[0] == 0:
                ldw -= 1
            if ldw > dw:
                dw = ldw
            lpc = dpc
            p = e + (ddw << 3)
            while lpc > pc and _unpack_u64(sseg, p + ((lpc - 1) << 3))[0] == 0:
                lpc -= 1
            if lpc > pc:
                pc = lpc
    else:
        dw, pc = ddw, dpc
    lb = _init_struct_list(mb, segi, seg, ref, n, dw, pc)
    dseg = lb._seg
    dsegi = lb._segi
    do = lb._off
    dstride = (dw + pc) << 3
    db = dw << 3
    smsg, ssegi, nest = lr._msg, lr._segi, lr._nest
    for i in range(n):
        e = so + i * stride
        d = do + i * dstride
        if db:
            dseg[d:d + db] = sseg[e:e + db]
        sp = e + (ddw << 3)
        for j in range(pc):
            _copy(mb, dsegi, dseg, d + db + (j << 3),
                  PointerReader(smsg, ssegi, sp + (j << 3), nest), canonical)


def copy_into(mb, segi, seg, ref, src, canonical=False):
    """Deep-copy ``src`` into the pointer slot ``seg[ref]`` of ``mb`` (internal entry
    point shared with canonicalize); converts runaway recursion to NestingLimitExceeded.

    A copy may follow at most as many pointers as the source message has words (plus
    64): a message whose pointers do not share targets never needs more, and pointers
    that share targets (a list whose elements all point back at it) would otherwise
    make the copy cost exponential in the nesting limit, within the traversal limit."""
    m = getattr(src, "_msg", None)
    if m is not None:
        saved = m._walk
        m._walk = (sum(len(s) for s in m._segs) >> 3) + 64
    try:
        _copy(mb, segi, seg, ref, src, canonical)
    except RecursionError:
        raise NestingLimitExceeded("value nests too deeply to copy (Python recursion limit "
                                   "reached)") from None
    finally:
        if m is not None:
            m._walk = saved
