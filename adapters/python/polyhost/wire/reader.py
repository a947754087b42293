"""Reading Cap'n Proto messages: MessageReader, StructReader, ListReader, PointerReader.

Owns pointer decoding (struct, list, far and double-far, capability pointers), bounds
checks, the traversal and nesting limits, default (XOR) decoding of primitive fields,
schema-evolution rules (fields beyond a struct's sections read as defaults; list
element-size upgrades accepted like the reference implementation) and Text/Data.

Readers are cheap views: they hold a segment (a ``memoryview``), byte offsets and sizes,
and never copy message data except to produce the Python values asked for.
"""

import math as _math
import struct as _struct

from .errors import (
    IncompatibleListElement, IndexOutOfRange, InvalidCapability, InvalidSegmentId,
    MalformedMessage, MalformedPointer, MalformedText, NestingLimitExceeded,
    PointerOutOfBounds, TooManySegments, TraversalLimitExceeded, WrongPointerKind,
    WrongType,
)
from .layout import (
    BIT, BYTE, BYTE_BITS, CODE_SIZES, COLUMN_SIZES, COLUMNS_WORK, columns_fit,
    DATA_BITS, F32, F64, I8, I16, I32, I64, INLINE_COMPOSITE, POINTER, POINTERS,
    STEP_BITS, U8, U16, U32, U64, VOID, WORD, element_size_name, float32_bits,
    float64_bits,
)
from .limits import DEFAULT_LIMITS

__all__ = ["MessageReader", "StructReader", "ListReader", "PointerReader", "Capability"]

_unpack_word = WORD.unpack_from
_copysign = _math.copysign
_NO_NEST = 1 << 30
_new = object.__new__


class MessageReader:
    """A message made of segments (bytes-like objects, each a whole number of words).

    ``cap_table`` is the sequence capability pointers index into; it is a public
    attribute and may be set after construction. Each MessageReader has its own
    traversal budget, consumed by every read.
    """

    __slots__ = ("_segs", "cap_table", "limits", "_budget", "_zero_budget", "_walk")

    def __init__(self, segments, limits=None, cap_table=None):
        if limits is None:
            limits = DEFAULT_LIMITS
        segs = []
        for s in segments:
            try:
                mv = memoryview(s)
            except TypeError:
                raise WrongType("segment must be bytes-like, got %s" % type(s).__name__)
            if mv.format != "B" or mv.ndim != 1:
                mv = mv.cast("B")
            if len(mv) % 8:
                raise MalformedMessage("segment %d is %d bytes long, not a whole number of "
                                       "8-byte words" % (len(segs), len(mv)))
            segs.append(mv)
        if len(segs) > limits.max_segments:
            raise TooManySegments("message has %d segments, the limit is %d"
                                  % (len(segs), limits.max_segments))
        self._segs = segs
        self.limits = limits
        self.cap_table = cap_table
        self._budget = limits.traversal_budget()
        self._zero_budget = limits.zero_sized_budget()
        self._walk = 0      # pointers a deep copy may still follow (polyhost.wire.copy)

    @classmethod
    def _of_segment(cls, seg, limits, budget, zero_budget):
        """A reader of one segment known to be good (a ``memoryview`` of bytes, whole
        words, within the limits: ``FrameDecoder``'s), with the budgets given
        (``limits.traversal_budget()``, ``limits.zero_sized_budget()``)."""
        mr = _new(cls)
        mr._segs = [seg]
        mr.limits = limits
        mr.cap_table = None
        mr._budget = budget
        mr._zero_budget = zero_budget
        mr._walk = 0
        return mr

    @property
    def traversal_words_left(self):
        """How many words may still be read before TraversalLimitExceeded."""
        return self._budget

    def segments(self):
        """The segments as memoryviews (no copy)."""
        return list(self._segs)

    def root_pointer(self):
        """The root pointer (word 0 of segment 0) as a PointerReader."""
        segs = self._segs
        if not segs:
            raise PointerOutOfBounds("message has no segments, so no root pointer")
        if len(segs[0]) < 8:
            raise PointerOutOfBounds("segment 0 is empty, so there is no root pointer")
        _charge(self, 1)
        return PointerReader(self, 0, 0, self.limits.nesting)

    def root(self):
        """The root struct (a reader of defaults when the root pointer is null)."""
        return self.root_pointer().as_struct()

    def __repr__(self):
        return "<MessageReader %d segment(s), %d words>" % (
            len(self._segs), sum(len(s) for s in self._segs) // 8)


class Capability:
    """A capability pointer found by PointerReader.target(): its index in the cap table."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index

    def __repr__(self):
        return "Capability(%d)" % self.index

    def __eq__(self, other):
        return isinstance(other, Capability) and other.index == self.index

    def __hash__(self):
        return hash(("Capability", self.index))


# ---------------------------------------------------------------------------------------
# Pointer resolution helpers (module functions: they are on the hot path).


def _charge(msg, words):
    b = msg._budget - words
    if b < 0:
        raise TraversalLimitExceeded(
            "traversal limit exceeded: reading %d more word(s) with %d of %s left"
            % (words, msg._budget, msg.limits.traversal_words))
    msg._budget = b


def _charge_zero_sized(msg, count):
    # Zero-sized struct elements take no bytes on the wire but one object each when
    # decoded; a Void element is one reference, and counts 1/16.
    b = msg._zero_budget - count
    if b < 0:
        raise TraversalLimitExceeded(
            "zero-sized struct element limit exceeded: a list of %d zero-sized elements with "
            "%d of %s left for this message (Limits.zero_sized_structs)"
            % (count, msg._zero_budget, msg.limits.zero_sized_structs))
    msg._zero_budget = b


def _segment(msg, segi):
    segs = msg._segs
    if segi >= len(segs):
        raise InvalidSegmentId("far pointer names segment %d but the message has %d segment(s)"
                               % (segi, len(segs)))
    return segs[segi]


def _follow_far(msg, lo, hi):
    """Resolve a far pointer word (lo, hi). Returns (segi, seg, target, lo, hi) where
    (lo, hi) is the pointer describing the object (the landing pad or the tag word) and
    target the byte offset of the object in seg (not yet bounds-checked)."""
    ulo = lo & 0xFFFFFFFF
    double = ulo & 4
    pos = (ulo >> 3) << 3
    segi = hi
    seg = _segment(msg, segi)
    pad = 16 if double else 8
    if pos + pad > len(seg):
        raise PointerOutOfBounds("far pointer landing pad at word %d of segment %d is outside "
                                 "the segment (%d words)" % (pos >> 3, segi, len(seg) >> 3))
    _charge(msg, pad >> 3)
    plo, phi = _unpack_word(seg, pos)
    if not double:
        if plo & 3 == 2:
            raise MalformedPointer("far pointer landing pad (segment %d, word %d) is itself a "
                                   "far pointer" % (segi, pos >> 3))
        return segi, seg, pos + 8 + ((plo >> 2) << 3), plo, phi
    if plo & 7 != 2:
        raise MalformedPointer("double-far landing pad (segment %d, word %d) must start with a "
                               "single far pointer" % (segi, pos >> 3))
    tlo, thi = _unpack_word(seg, pos + 8)
    if tlo & 3 == 2:
        raise MalformedPointer("double-far landing pad tag (segment %d, word %d) is a far "
                               "pointer" % (segi, (pos >> 3) + 1))
    tsegi = phi
    tseg = _segment(msg, tsegi)
    return tsegi, tseg, ((plo & 0xFFFFFFFF) >> 3) << 3, tlo, thi


def _kind_name(lo):
    k = lo & 3
    if k == 3:
        return "capability" if lo == 3 else "unknown other-kind"
    return ("struct", "list", "far")[k]


def _struct_at(msg, segi, seg, off, lo, hi, nest):
    """Read the non-null struct pointer at seg[off] (word already unpacked as lo, hi)."""
    if nest <= 0:
        raise NestingLimitExceeded("nesting limit exceeded reading a struct (message too "
                                   "deeply nested or cyclic; limit %d)" % msg.limits.nesting)
    if lo & 3 == 2:
        segi, seg, t, lo, hi = _follow_far(msg, lo, hi)
    else:
        t = off + 8 + ((lo >> 2) << 3)
    return _struct_resolved(msg, segi, seg, t, lo, hi, nest)


def _near_struct(msg, segi, seg, off, lo, hi, nest):
    """The struct a valid near struct pointer designates (the usual case, in one call),
    or None: then _struct_at decides, raising the error of a bad pointer."""
    if lo & 3 or nest <= 0:
        return None
    t = off + 8 + ((lo >> 2) << 3)
    dw = hi & 0xFFFF
    pc = hi >> 16
    words = dw + pc
    if t < 0 or t + (words << 3) > len(seg):
        return None
    b = msg._budget - words
    if b < 0:
        return None
    msg._budget = b
    d = dw << 3
    return StructReader(msg, seg, segi, t, d, t + d, pc, nest - 1)


def _struct_resolved(msg, segi, seg, t, lo, hi, nest):
    if lo & 3:
        raise WrongPointerKind("expected a struct pointer, found a %s pointer" % _kind_name(lo))
    dw = hi & 0xFFFF
    pc = hi >> 16
    words = dw + pc
    if t < 0 or t + (words << 3) > len(seg):
        raise PointerOutOfBounds("struct pointer target (word %d, %d words) is outside segment "
                                 "%d (%d words)" % (t >> 3, words, segi, len(seg) >> 3))
    b = msg._budget - words
    if b < 0:
        _charge(msg, words)
    msg._budget = b
    d = dw << 3
    return StructReader(msg, seg, segi, t, d, t + d, pc, nest - 1)


def _list_at(msg, segi, seg, off, lo, hi, nest, expected):
    """Read the non-null list pointer at seg[off]; ``expected`` is the element size the
    caller wants (None: whatever is on the wire)."""
    if nest <= 0:
        raise NestingLimitExceeded("nesting limit exceeded reading a list (message too deeply "
                                   "nested or cyclic; limit %d)" % msg.limits.nesting)
    if lo & 3 == 2:
        segi, seg, t, lo, hi = _follow_far(msg, lo, hi)
    else:
        t = off + 8 + ((lo >> 2) << 3)
    return _list_resolved(msg, segi, seg, t, lo, hi, nest, expected)


def _list_resolved(msg, segi, seg, t, lo, hi, nest, expected):
    if lo & 3 != 1:
        raise WrongPointerKind("expected a list pointer, found a %s pointer" % _kind_name(lo))
    es = hi & 7
    if es == INLINE_COMPOSITE:
        wc = hi >> 3
        if t < 0 or t + ((wc + 1) << 3) > len(seg):
            raise PointerOutOfBounds("composite list (word %d, %d words + tag) is outside "
                                     "segment %d (%d words)"
                                     % (t >> 3, wc, segi, len(seg) >> 3))
        _charge(msg, wc + 1)
        tlo, thi = _unpack_word(seg, t)
        if tlo & 3:
            raise MalformedPointer("composite list tag is a %s pointer, only struct tags are "
                                   "supported" % _kind_name(tlo))
        count = (tlo & 0xFFFFFFFF) >> 2
        dw = thi & 0xFFFF
        pc = thi >> 16
        per = dw + pc
        if count * per > wc:
            raise MalformedPointer("composite list elements overrun its word count: %d "
                                   "elements of %d words in %d words" % (count, per, wc))
        if per == 0:
            # Zero-sized elements cost nothing on the wire; count them anyway.
            _charge(msg, count)
            _charge_zero_sized(msg, count)
        if expected is not None and expected != VOID and expected != INLINE_COMPOSITE:
            if expected == BIT:
                raise IncompatibleListElement("found a struct list where a bit list was "
                                              "expected")
            if expected == POINTER:
                if pc == 0:
                    raise IncompatibleListElement("expected a pointer list but got a list of "
                                                  "data-only structs")
            elif dw == 0:
                raise IncompatibleListElement("expected a %s list but got a list of "
                                              "pointer-only structs"
                                              % element_size_name(expected))
        return ListReader(msg, seg, segi, t + 8, count, per << 6, dw << 6, pc, es, nest - 1)
    count = hi >> 3
    step = STEP_BITS[es]
    words = (count * step + 63) >> 6
    if t < 0 or t + (words << 3) > len(seg):
        raise PointerOutOfBounds("list of %d %s elements (word %d, %d words) is outside segment "
                                 "%d (%d words)" % (count, element_size_name(es), t >> 3, words,
                                                    segi, len(seg) >> 3))
    b = msg._budget - words
    if b < 0:
        _charge(msg, words)
    msg._budget = b
    if es == VOID:
        _charge(msg, count)
        _charge_zero_sized(msg, (count + 15) >> 4)   # a reference each: 1/16 of an object
    if expected is not None and expected != es:
        if es == BIT:
            raise IncompatibleListElement("found a bit list where a %s list was expected"
                                          % element_size_name(expected))
        if not 0 <= expected <= 7:
            raise WrongType("invalid element size %r" % (expected,))
        if DATA_BITS[expected] > DATA_BITS[es] or POINTERS[expected] > POINTERS[es]:
            raise IncompatibleListElement("found a %s list where a %s list was expected"
                                          % (element_size_name(es),
                                             element_size_name(expected)))
    return ListReader(msg, seg, segi, t, count, step, DATA_BITS[es], POINTERS[es], es,
                      nest - 1)


def _bytes_at(msg, segi, seg, off, lo, hi, what):
    """Resolve a Text/Data pointer: returns (seg, start, byte_count)."""
    if lo & 3 == 2:
        segi, seg, t, lo, hi = _follow_far(msg, lo, hi)
    else:
        t = off + 8 + ((lo >> 2) << 3)
    if lo & 3 != 1:
        raise WrongPointerKind("expected a list pointer for %s, found a %s pointer"
                               % (what, _kind_name(lo)))
    if hi & 7 != BYTE:
        raise WrongPointerKind("expected a byte list for %s, found a %s list"
                               % (what, element_size_name(hi & 7)))
    n = hi >> 3
    words = (n + 7) >> 3
    if t < 0 or t + (words << 3) > len(seg):
        raise PointerOutOfBounds("%s of %d bytes (word %d) is outside segment %d (%d words)"
                                 % (what, n, t >> 3, segi, len(seg) >> 3))
    _charge(msg, words)
    return seg, t, n


def _text_at(msg, segi, seg, off, lo, hi):
    seg, t, n = _bytes_at(msg, segi, seg, off, lo, hi, "Text")
    if n == 0 or seg[t + n - 1] != 0:
        raise MalformedText("Text is not NUL-terminated (%d bytes)" % n)
    try:
        return str(seg[t:t + n - 1], "utf-8")
    except UnicodeDecodeError as e:
        raise MalformedText("Text is not valid UTF-8: %s" % e) from None


def _cap_at(msg, lo, hi):
    if lo != 3:
        raise WrongPointerKind("expected a capability pointer, found a %s pointer"
                               % _kind_name(lo))
    table = msg.cap_table
    n = 0 if table is None else len(table)
    if hi >= n:
        raise InvalidCapability("capability pointer index %d is outside the capability table "
                                "(%d entries)" % (hi, n))
    return table[hi]


# ---------------------------------------------------------------------------------------
# StructReader


def _int_getter(packer, size, name):
    unpack_from = packer.unpack_from

    def get(self, offset, default=0):
        o = offset * size
        if o + size > self._dsize or o < 0:
            return default
        v = unpack_from(self._seg, self._data + o)[0]
        return v ^ default if default else v

    get.__name__ = name
    get.__doc__ = ("Data field at ``offset`` (in %d-byte units), XOR-decoded against "
                   "``default``; ``default`` when beyond the data section." % size)
    return get


def _float_getter(packer, ipacker, size, bits_of, name):
    unpack_from = packer.unpack_from
    iunpack_from = ipacker.unpack_from
    pack = ipacker.pack
    funpack = packer.unpack

    def get(self, offset, default=0.0):
        o = offset * size
        if o + size > self._dsize or o < 0:
            return default
        if default or _copysign(1.0, default) < 0:
            raw = iunpack_from(self._seg, self._data + o)[0] ^ bits_of(default)
            return funpack(pack(raw))[0]
        return unpack_from(self._seg, self._data + o)[0]

    get.__name__ = name
    get.__doc__ = ("Float field at ``offset`` (in %d-byte units), XOR-decoded against the "
                   "bits of ``default``." % size)
    return get


def _bytes_in(msg, segi, seg, off, default, text):
    """The Text (``text``) or Data at pointer ``off`` of segment ``segi``: a near byte
    list read inline (the usual case, shared by struct and list readers), anything else
    by ``_text_at`` / ``_bytes_at``, which also raise the errors."""
    lo, hi = _unpack_word(seg, off)
    if lo == 0 and hi == 0:
        return default
    if lo & 3 == 1 and hi & 7 == BYTE:
        t = off + 8 + ((lo >> 2) << 3)
        n = hi >> 3
        words = (n + 7) >> 3
        b = msg._budget - words
        if t >= 0 and t + (words << 3) <= len(seg) and b >= 0:
            if not text:
                msg._budget = b
                return bytes(seg[t:t + n])
            if n and seg[t + n - 1] == 0:
                try:
                    s = str(seg[t:t + n - 1], "utf-8")
                except UnicodeDecodeError:
                    pass                    # (_text_at raises the error)
                else:
                    msg._budget = b
                    return s
    if text:
        return _text_at(msg, segi, seg, off, lo, hi)
    seg, t, n = _bytes_at(msg, segi, seg, off, lo, hi, "Data")
    return bytes(seg[t:t + n])


class StructReader:
    """A view of one struct: its data section and pointer section."""

    __slots__ = ("_msg", "_seg", "_segi", "_data", "_dsize", "_ptrs", "_pcount", "_nest")

    def __init__(self, msg, seg, segi, data, dsize, ptrs, pcount, nest):
        self._msg = msg
        self._seg = seg
        self._segi = segi
        self._data = data
        self._dsize = dsize      # data section size in bytes
        self._ptrs = ptrs
        self._pcount = pcount
        self._nest = nest

    @property
    def data_words(self):
        """Size of the data section on the wire, in words (rounded up)."""
        return (self._dsize + 7) >> 3

    @property
    def pointer_count(self):
        """Number of pointers in the pointer section on the wire."""
        return self._pcount

    @property
    def message(self):
        """The MessageReader this struct belongs to (None for a reader of defaults)."""
        return self._msg

    def data_section(self):
        """The raw data section bytes (a copy)."""
        return bytes(self._seg[self._data:self._data + self._dsize]) if self._dsize else b""

    def get_bool(self, bit, default=False):
        if bit >= (self._dsize << 3) or bit < 0:
            return default
        v = (self._seg[self._data + (bit >> 3)] >> (bit & 7)) & 1
        if default:
            return not v
        return v == 1

    get_int8 = _int_getter(I8, 1, "get_int8")
    get_int16 = _int_getter(I16, 2, "get_int16")
    get_int32 = _int_getter(I32, 4, "get_int32")
    get_int64 = _int_getter(I64, 8, "get_int64")
    get_uint8 = _int_getter(U8, 1, "get_uint8")
    get_uint16 = _int_getter(U16, 2, "get_uint16")
    get_uint32 = _int_getter(U32, 4, "get_uint32")
    get_uint64 = _int_getter(U64, 8, "get_uint64")
    get_float32 = _float_getter(F32, U32, 4, float32_bits, "get_float32")
    get_float64 = _float_getter(F64, U64, 8, float64_bits, "get_float64")

    def has_pointer(self, i):
        """True when pointer ``i`` exists and is not null."""
        if i >= self._pcount or i < 0:
            return False
        lo, hi = _unpack_word(self._seg, self._ptrs + (i << 3))
        return lo != 0 or hi != 0

    def get_pointer(self, i):
        """Pointer ``i`` as a PointerReader (a null one beyond the pointer section)."""
        if i >= self._pcount or i < 0:
            return _NULL_POINTER
        return PointerReader(self._msg, self._segi, self._ptrs + (i << 3), self._nest)

    def get_text(self, i, default=""):
        if i >= self._pcount or i < 0:
            return default
        seg = self._seg
        off = self._ptrs + (i << 3)
        return _bytes_in(self._msg, self._segi, seg, off, default, True)

    def get_data(self, i, default=b""):
        if i >= self._pcount or i < 0:
            return default
        seg = self._seg
        off = self._ptrs + (i << 3)
        return _bytes_in(self._msg, self._segi, seg, off, default, False)

    def get_struct(self, i):
        """Struct pointer ``i``; a reader of defaults when null or absent."""
        if i >= self._pcount or i < 0:
            return _EMPTY_STRUCT
        seg = self._seg
        off = self._ptrs + (i << 3)
        lo, hi = _unpack_word(seg, off)
        if lo == 0 and hi == 0:
            return _EMPTY_STRUCT
        r = _near_struct(self._msg, self._segi, seg, off, lo, hi, self._nest)
        if r is not None:
            return r
        return _struct_at(self._msg, self._segi, seg, off, lo, hi, self._nest)

    def get_list(self, i, element_size):
        """List pointer ``i`` read as lists of ``element_size``; empty when null."""
        if i >= self._pcount or i < 0:
            return _empty_list(element_size)
        seg = self._seg
        off = self._ptrs + (i << 3)
        lo, hi = _unpack_word(seg, off)
        if lo == 0 and hi == 0:
            return _empty_list(element_size)
        return _list_at(self._msg, self._segi, seg, off, lo, hi, self._nest, element_size)

    def get_capability(self, i):
        """The cap-table entry capability pointer ``i`` names; None when null."""
        if i >= self._pcount or i < 0:
            return None
        lo, hi = _unpack_word(self._seg, self._ptrs + (i << 3))
        if lo == 0 and hi == 0:
            return None
        return _cap_at(self._msg, lo, hi)

    def __repr__(self):
        return "<StructReader data=%d bytes, pointers=%d>" % (self._dsize, self._pcount)


_EMPTY_STRUCT = StructReader(None, b"", 0, 0, 0, 0, 0, _NO_NEST)


# ---------------------------------------------------------------------------------------
# ListReader


def _list_int_getter(packer, size, name):
    unpack_from = packer.unpack_from
    bits = size * 8

    def get(self, i):
        if i >= self._count or i < 0:
            raise IndexOutOfRange("list index %r out of range (length %d)" % (i, self._count))
        if self._dbits < bits:
            raise IncompatibleListElement("%s of a list whose elements have %d data bits"
                                          % (name, self._dbits))
        return unpack_from(self._seg, self._off + ((i * self._step) >> 3))[0]

    get.__name__ = name
    return get


class ListReader:
    """A view of one list: ``count`` elements of ``step`` bits each, where each element is
    read as a struct of ``dbits`` data bits followed by ``pcount`` pointers."""

    __slots__ = ("_msg", "_seg", "_segi", "_off", "_count", "_step", "_dbits", "_pcount",
                 "_esize", "_nest")

    def __init__(self, msg, seg, segi, off, count, step, dbits, pcount, esize, nest):
        self._msg = msg
        self._seg = seg
        self._segi = segi
        self._off = off
        self._count = count
        self._step = step
        self._dbits = dbits
        self._pcount = pcount
        self._esize = esize
        self._nest = nest

    def len(self):
        return self._count

    def __len__(self):
        return self._count

    @property
    def element_size(self):
        """The element size on the wire (INLINE_COMPOSITE for struct lists)."""
        return self._esize

    def get_bool(self, i):
        if i >= self._count or i < 0:
            raise IndexOutOfRange("list index %r out of range (length %d)" % (i, self._count))
        if self._esize != BIT:
            if self._dbits < 1:
                raise IncompatibleListElement("get_bool of a list without data")
            # An upgraded list: the bool is bit 0 of the element.
            return bool(self._seg[self._off + ((i * self._step) >> 3)] & 1)
        return bool((self._seg[self._off + (i >> 3)] >> (i & 7)) & 1)

    get_int8 = _list_int_getter(I8, 1, "get_int8")
    get_int16 = _list_int_getter(I16, 2, "get_int16")
    get_int32 = _list_int_getter(I32, 4, "get_int32")
    get_int64 = _list_int_getter(I64, 8, "get_int64")
    get_uint8 = _list_int_getter(U8, 1, "get_uint8")
    get_uint16 = _list_int_getter(U16, 2, "get_uint16")
    get_uint32 = _list_int_getter(U32, 4, "get_uint32")
    get_uint64 = _list_int_getter(U64, 8, "get_uint64")
    get_float32 = _list_int_getter(F32, 4, "get_float32")
    get_float64 = _list_int_getter(F64, 8, "get_float64")

    def primitives(self, code):
        """All elements decoded with the ``struct`` format code ``code`` ("i", "Q", "d",
        ...; "?" for bools) as a list, in one unpack call when the list is packed."""
        n = self._count
        if n == 0:
            return []
        size = CODE_SIZES.get(code)
        if size is None:
            raise WrongType("unsupported primitive code %r" % (code,))
        seg = self._seg
        off = self._off
        if size == 0:
            if self._esize == BIT:
                out = []
                ext = out.extend
                for byte in seg[off:off + ((n + 7) >> 3)]:
                    ext(BYTE_BITS[byte])
                del out[n:]
                return out
            return [self.get_bool(i) for i in range(n)]
        if self._dbits < size * 8:
            raise IncompatibleListElement("primitives(%r) of a list whose elements have %d "
                                          "data bits" % (code, self._dbits))
        step = self._step
        if step == size * 8:
            return list(_struct.unpack_from("<%d%s" % (n, code), seg, off))
        unpack_from = _struct.Struct("<" + code).unpack_from
        stride = step >> 3
        return [unpack_from(seg, off + i * stride)[0] for i in range(n)]

    def unpack_rows(self, packer):
        """Every element's data section read with ``packer`` (a ``struct.Struct``), as a
        list of tuples; None when the elements' data sections are smaller than
        ``packer.size`` or the list is a bit list (then read them one at a time)."""
        if self._esize == BIT or (self._dbits >> 3) < packer.size:
            return None
        n = self._count
        stride = self._step >> 3
        seg = self._seg
        off = self._off
        if stride == packer.size:
            return list(packer.iter_unpack(seg[off:off + n * stride]))
        unpack_from = packer.unpack_from
        return [unpack_from(seg, off + i * stride) for i in range(n)]

    def columns(self, fields):
        """Every element's value of each field in ``fields`` ((struct code, byte
        position in the data section) pairs of numbers at their natural alignment), as
        one list per field. None when a field lies beyond the elements' data sections,
        the list is a bit list, or this machine is not little-endian (then read them
        one at a time)."""
        if self._esize == BIT or not COLUMNS_WORK:
            return None
        stride = self._step >> 3
        if not columns_fit(fields, stride, self._dbits >> 3):
            return None
        off = self._off
        # one memoryview of the elements, cast per field to its type and strided over
        # the elements: the values come out as a list in one C loop per field
        elements = memoryview(self._seg)[off:off + self._count * stride]
        try:
            return [elements.cast(code)[pos // COLUMN_SIZES[code]::stride // COLUMN_SIZES[code]]
                    .tolist() for code, pos in fields]
        finally:
            elements.release()

    def get_struct(self, i):
        """Element ``i`` as a struct (struct lists, or upgraded primitive/pointer lists)."""
        if i >= self._count or i < 0:
            raise IndexOutOfRange("list index %r out of range (length %d)" % (i, self._count))
        if self._esize == BIT:
            raise IncompatibleListElement("found a bit list where a struct list was expected")
        start = self._off + ((i * self._step) >> 3)
        d = self._dbits >> 3
        return StructReader(self._msg, self._seg, self._segi, start, d, start + d,
                            self._pcount, self._nest - 1)

    def _pointer_off(self, i):
        if i >= self._count or i < 0:
            raise IndexOutOfRange("list index %r out of range (length %d)" % (i, self._count))
        if self._pcount == 0:
            raise IncompatibleListElement("pointer access to a %s list whose elements have no "
                                          "pointers" % element_size_name(self._esize))
        return self._off + ((i * self._step + self._dbits) >> 3)

    def get_pointer(self, i):
        return PointerReader(self._msg, self._segi, self._pointer_off(i), self._nest)

    def get_text(self, i, default=""):
        off = self._pointer_off(i)
        seg = self._seg
        return _bytes_in(self._msg, self._segi, seg, off, default, True)

    def get_data(self, i, default=b""):
        off = self._pointer_off(i)
        seg = self._seg
        return _bytes_in(self._msg, self._segi, seg, off, default, False)

    def get_list(self, i, element_size):
        off = self._pointer_off(i)
        seg = self._seg
        lo, hi = _unpack_word(seg, off)
        if lo == 0 and hi == 0:
            return _empty_list(element_size)
        return _list_at(self._msg, self._segi, seg, off, lo, hi, self._nest, element_size)

    def get_capability(self, i):
        off = self._pointer_off(i)
        lo, hi = _unpack_word(self._seg, off)
        if lo == 0 and hi == 0:
            return None
        return _cap_at(self._msg, lo, hi)

    def __repr__(self):
        return "<ListReader %d x %s>" % (self._count, element_size_name(self._esize))


_EMPTY_LISTS = tuple(ListReader(None, b"", 0, 0, 0, STEP_BITS[es], DATA_BITS[es], POINTERS[es],
                                es, _NO_NEST) for es in range(8))


def _empty_list(element_size):
    if element_size is None:
        return _EMPTY_LISTS[VOID]
    try:
        return _EMPTY_LISTS[element_size]
    except (IndexError, TypeError):
        raise WrongType("invalid element size %r" % (element_size,)) from None


# ---------------------------------------------------------------------------------------
# PointerReader


class PointerReader:
    """One pointer slot, read lazily as whatever the caller expects (AnyPointer)."""

    __slots__ = ("_msg", "_segi", "_off", "_nest")

    def __init__(self, msg, segi, off, nest):
        self._msg = msg
        self._segi = segi
        self._off = off
        self._nest = nest

    @property
    def message(self):
        """The MessageReader this pointer belongs to (None for a null default)."""
        return self._msg

    def _word(self):
        msg = self._msg
        if msg is None:
            return None, 0, 0, 0
        seg = msg._segs[self._segi]
        lo, hi = _unpack_word(seg, self._off)
        return seg, lo, hi, 1

    def is_null(self):
        seg, lo, hi, ok = self._word()
        return not ok or (lo == 0 and hi == 0)

    def as_struct(self):
        msg = self._msg
        if msg is None:
            return _EMPTY_STRUCT
        seg = msg._segs[self._segi]
        lo, hi = _unpack_word(seg, self._off)
        if lo == 0 and hi == 0:
            return _EMPTY_STRUCT
        r = _near_struct(msg, self._segi, seg, self._off, lo, hi, self._nest)
        if r is not None:
            return r
        return _struct_at(msg, self._segi, seg, self._off, lo, hi, self._nest)

    def as_list(self, element_size=None):
        """The list, checked against ``element_size`` (None accepts any list)."""
        seg, lo, hi, ok = self._word()
        if not ok or (lo == 0 and hi == 0):
            return _empty_list(element_size)
        return _list_at(self._msg, self._segi, seg, self._off, lo, hi, self._nest,
                        element_size)

    def as_text(self, default=""):
        seg, lo, hi, ok = self._word()
        if not ok or (lo == 0 and hi == 0):
            return default
        return _text_at(self._msg, self._segi, seg, self._off, lo, hi)

    def as_data(self, default=b""):
        seg, lo, hi, ok = self._word()
        if not ok or (lo == 0 and hi == 0):
            return default
        seg, t, n = _bytes_at(self._msg, self._segi, seg, self._off, lo, hi, "Data")
        return bytes(seg[t:t + n])

    def as_capability(self):
        seg, lo, hi, ok = self._word()
        if not ok or (lo == 0 and hi == 0):
            return None
        return _cap_at(self._msg, lo, hi)

    def target(self):
        """What the pointer designates, by its wire kind: None (null), a StructReader,
        a ListReader (its wire element size), or a Capability (its index)."""
        seg, lo, hi, ok = self._word()
        if not ok or (lo == 0 and hi == 0):
            return None
        msg = self._msg
        kind = lo & 3
        if kind == 3:
            if lo != 3:
                raise MalformedPointer("unknown other-kind pointer 0x%08x%08x"
                                       % (hi, lo & 0xFFFFFFFF))
            return Capability(hi)
        nest = self._nest
        if nest <= 0:
            raise NestingLimitExceeded("nesting limit exceeded (message too deeply nested or "
                                       "cyclic; limit %d)" % msg.limits.nesting)
        segi = self._segi
        if kind == 2:
            segi, seg, t, lo, hi = _follow_far(msg, lo, hi)
            kind = lo & 3
            if kind == 3:
                if lo != 3:
                    raise MalformedPointer("unknown other-kind pointer behind a far pointer")
                return Capability(hi)
        else:
            t = self._off + 8 + ((lo >> 2) << 3)
        if kind == 0:
            return _struct_resolved(msg, segi, seg, t, lo, hi, nest)
        return _list_resolved(msg, segi, seg, t, lo, hi, nest, None)

    def __repr__(self):
        if self._msg is None:
            return "<PointerReader null>"
        return "<PointerReader segment %d word %d>" % (self._segi, self._off >> 3)


_NULL_POINTER = PointerReader(None, 0, 0, _NO_NEST)

