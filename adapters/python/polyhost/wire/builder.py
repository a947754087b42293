"""Building Cap'n Proto messages: MessageBuilder, StructBuilder, ListBuilder, PointerBuilder.

Owns segment allocation (a configurable first segment, further segments allocated when
one is full, with far pointers and landing pads emitted automatically), pointer
encoding, default (XOR) encoding of primitive fields and Text/Data/capability writing;
deep copies of reader values into a builder are ``copy.py``'s.

Space is never reused: re-initialising a pointer leaves the old object in the message as
unreachable zero-or-stale words, like orphaned space in the reference implementation.
"""

import math as _math
import struct as _struct
from array import array as _array
from itertools import starmap as _starmap

from .errors import IncompatibleListElement, IndexOutOfRange, ValueOutOfRange, WrongType
from .layout import (
    BIT, DATA_BITS, F32, F64, I8, I16, I32, I64, INLINE_COMPOSITE, MAX_LIST_COUNT,
    MAX_SEGMENT_WORDS, POINTER, POINTERS, STEP_BITS, U8, U16, U32, U64, UWORD, WORD,
    CODE_SIZES, COLUMN_SIZES, COLUMNS_WORK, columns_fit, element_size_name,
    float32_bits, float64_bits,
)
from .reader import ListReader, MessageReader, PointerReader, StructReader

__all__ = ["MessageBuilder", "StructBuilder", "ListBuilder", "PointerBuilder"]


_pack_word = WORD.pack_into
_UWORD_pack = UWORD.pack
_unpack_u64 = U64.unpack_from
_copysign = _math.copysign
_PACK_ERRORS = (_struct.error, OverflowError, TypeError)
_ZEROS = tuple(bytes(n) for n in range(9))


class MessageBuilder:
    """A message under construction.

    ``cap_table``: the list capability pointers index into; written capabilities are
    appended to it (a new list when None). ``first_segment_words``: size of the first
    segment in words; further segments are allocated when it is full (a small value
    forces multi-segment messages). ``single_segment=True`` instead grows the first
    segment so the message always has exactly one segment.
    """

    __slots__ = ("cap_table", "_segs", "_used", "_next", "_growable")

    def __init__(self, cap_table=None, first_segment_words=1024, single_segment=False):
        if not isinstance(first_segment_words, int) or not (
                1 <= first_segment_words <= MAX_SEGMENT_WORDS):
            raise ValueOutOfRange("first_segment_words must be an int in 1..%d, got %r"
                                  % (MAX_SEGMENT_WORDS, first_segment_words))
        self.cap_table = [] if cap_table is None else cap_table
        self._segs = [bytearray(first_segment_words << 3)]
        self._used = [8]  # word 0 of segment 0 is the root pointer
        self._next = first_segment_words << 3
        self._growable = bool(single_segment)

    def root_pointer(self):
        """The root pointer slot as a PointerBuilder."""
        return PointerBuilder(self, 0, self._segs[0], 0)

    def init_root(self, data_words, ptr_count):
        """Allocate the root struct and return its StructBuilder."""
        return _init_struct(self, 0, self._segs[0], 0, data_words, ptr_count)

    def preset(self, prefix):
        """Start the message with ``prefix``: bytes (whole words) captured from a message
        this module built, for encoders that precompute a fixed layout (see
        ``rpc._fast``). Must be called on a new builder; objects inside the prefix are
        reached with :meth:`struct_at`."""
        n = len(prefix)
        seg = self._segs[0]
        if self._used != [8] or n & 7 or n > len(seg):
            raise ValueOutOfRange("preset() needs a new builder and a prefix of whole words "
                                  "that fits its first segment")
        seg[:n] = prefix
        self._used[0] = n

    @classmethod
    def from_prefix(cls, prefix, used):
        """A new one-segment builder (grown as needed) whose segment starts as a copy of
        ``prefix`` (bytes captured from a message this module built, whole words, zero
        beyond what was written), of which the first ``used`` bytes are allocated: the
        faster ``preset`` for encoders with a fixed layout (see ``rpc._fast``)."""
        mb = cls.__new__(cls)
        mb.cap_table = []
        mb._segs = [bytearray(prefix)]
        mb._used = [used]
        mb._next = len(prefix)
        mb._growable = True
        return mb

    def struct_at(self, word, data_words, ptr_count):
        """A StructBuilder for the struct at ``word`` of segment 0 (laid out by
        :meth:`preset`)."""
        d = word << 3
        dsize = data_words << 3
        return StructBuilder(self, self._segs[0], 0, d, dsize, d + dsize, ptr_count)

    def segments(self):
        """The used part of each segment, as bytes."""
        return [bytes(memoryview(s)[:u]) for s, u in zip(self._segs, self._used)]

    def to_bytes(self):
        """The message in the standard stream framing."""
        if len(self._segs) == 1:
            # the common case, framed inline: header (0 = one segment, its size) + words
            used = self._used[0]
            return _UWORD_pack(0, used >> 3) + self._segs[0][:used]
        from .framing import frame
        return frame([memoryview(s)[:u] for s, u in zip(self._segs, self._used)])

    def as_reader(self, limits=None):
        """A MessageReader over a copy of the current segments (sharing ``cap_table``)."""
        return MessageReader(self.segments(), limits, self.cap_table)

    def size_in_words(self):
        return sum(self._used) >> 3

    def __repr__(self):
        return "<MessageBuilder %d segment(s), %d words>" % (len(self._segs),
                                                             self.size_in_words())


# ---------------------------------------------------------------------------------------
# Allocation and pointer writing


def _alloc_local(mb, segi, nbytes):
    seg = mb._segs[segi]
    used = mb._used[segi]
    end = used + nbytes
    if end <= len(seg):
        mb._used[segi] = end
        return used
    if mb._growable:
        if end > (MAX_SEGMENT_WORDS << 3):
            raise ValueOutOfRange("single-segment message would exceed %d words"
                                  % MAX_SEGMENT_WORDS)
        seg.extend(bytes(max(end, min(len(seg) << 1, MAX_SEGMENT_WORDS << 3)) - len(seg)))
        mb._used[segi] = end
        return used
    return -1


def _alloc_anywhere(mb, nbytes):
    last = len(mb._segs) - 1
    off = _alloc_local(mb, last, nbytes)
    if off >= 0:
        return last, off
    limit = MAX_SEGMENT_WORDS << 3
    if nbytes > limit:
        raise ValueOutOfRange("object of %d words does not fit in a segment" % (nbytes >> 3))
    size = min(max(nbytes, mb._next), limit)
    mb._next = min(mb._next + size, limit)
    mb._segs.append(bytearray(size))
    mb._used.append(nbytes)
    return last + 1, 0


def _allocate(mb, segi, seg, ref, nbytes):
    """Allocate ``nbytes`` for the object ``seg[ref]`` will point to. Returns
    (tsegi, tseg, target, pseg, pref): where the object is and where the pointer
    describing it must be written (``ref`` itself, or a far landing pad)."""
    off = _alloc_local(mb, segi, nbytes)
    if off >= 0:
        return segi, seg, off, seg, ref
    nsegi, noff = _alloc_anywhere(mb, nbytes + 8)
    nseg = mb._segs[nsegi]
    UWORD.pack_into(seg, ref, noff | 2, nsegi)  # far pointer to the landing pad
    return nsegi, nseg, noff + 8, nseg, noff


def _check_struct_size(dw, pc):
    if not (0 <= dw <= 0xFFFF and 0 <= pc <= 0xFFFF):
        raise ValueOutOfRange("struct size out of range: %r data words, %r pointers" % (dw, pc))


def _init_struct(mb, segi, seg, ref, dw, pc):
    if not (0 <= dw <= 0xFFFF and 0 <= pc <= 0xFFFF):
        _check_struct_size(dw, pc)
    words = dw + pc
    if words == 0:
        _pack_word(seg, ref, -4, 0)  # empty struct: offset -1, distinct from null
        return StructBuilder(mb, seg, segi, ref, 0, ref, 0)
    hi = dw | (pc << 16)
    tsegi, tseg, t, pseg, pref = _allocate(mb, segi, seg, ref, words << 3)
    _pack_word(pseg, pref, (t - pref - 8) >> 1, hi)
    d = dw << 3
    return StructBuilder(mb, tseg, tsegi, t, d, t + d, pc)


def _init_list(mb, segi, seg, ref, es, count):
    if es == INLINE_COMPOSITE:
        raise WrongType("lists of structs are created with init_struct_list()")
    if not isinstance(es, int) or not 0 <= es < 7:
        raise WrongType("invalid element size %r" % (es,))
    if not isinstance(count, int) or not 0 <= count <= MAX_LIST_COUNT:
        raise ValueOutOfRange("list element count %r out of range 0..%d"
                              % (count, MAX_LIST_COUNT))
    step = STEP_BITS[es]
    tsegi, tseg, t, pseg, pref = _allocate(mb, segi, seg, ref,
                                           ((count * step + 63) >> 6) << 3)
    _pack_word(pseg, pref, ((t - pref - 8) >> 1) | 1, (count << 3) | es)
    return ListBuilder(mb, tseg, tsegi, t, count, step, DATA_BITS[es], POINTERS[es], es)


def _init_struct_list(mb, segi, seg, ref, count, dw, pc):
    _check_struct_size(dw, pc)
    if not isinstance(count, int) or count < 0:
        raise ValueOutOfRange("list element count %r is not a non-negative int" % (count,))
    per = dw + pc
    words = count * per
    if words > MAX_LIST_COUNT or count > MAX_LIST_COUNT:
        raise ValueOutOfRange("struct list of %d elements of %d words is too large"
                              % (count, per))
    tsegi, tseg, t, pseg, pref = _allocate(mb, segi, seg, ref, (words + 1) << 3)
    _pack_word(pseg, pref, ((t - pref - 8) >> 1) | 1, (words << 3) | INLINE_COMPOSITE)
    _pack_word(tseg, t, count << 2, dw | (pc << 16))  # tag: struct, count in offset field
    return ListBuilder(mb, tseg, tsegi, t + 8, count, per << 6, dw << 6, pc, INLINE_COMPOSITE)


def _set_bytes(mb, segi, seg, ref, raw, n):
    """Write a byte list of ``n`` elements holding ``raw`` (n >= len(raw))."""
    if n > MAX_LIST_COUNT:
        raise ValueOutOfRange("byte list of %d bytes is too large" % n)
    tsegi, tseg, t, pseg, pref = _allocate(mb, segi, seg, ref, ((n + 7) >> 3) << 3)
    _pack_word(pseg, pref, ((t - pref - 8) >> 1) | 1, (n << 3) | 2)
    if raw:
        tseg[t:t + len(raw)] = raw


def _put_bytes(sb, i, raw, n):
    """The usual case of a Text/Data write, inline: a byte list of ``n`` elements
    holding ``raw`` placed in the struct's own segment, which has room for it (no far
    pointer, no growth). False, with nothing written, otherwise."""
    mb = sb._msg
    segi = sb._segi
    seg = sb._seg
    used = mb._used[segi]
    end = used + (((n + 7) >> 3) << 3)
    if end > len(seg) or n > MAX_LIST_COUNT:
        return False
    mb._used[segi] = end
    ref = sb._ptrs + (i << 3)
    _pack_word(seg, ref, ((used - ref - 8) >> 1) | 1, (n << 3) | 2)
    if raw:
        seg[used:used + len(raw)] = raw
    return True


def _set_text(mb, segi, seg, ref, s):
    if s is None:
        _pack_word(seg, ref, 0, 0)
        return
    if not isinstance(s, str):
        raise WrongType("Text must be str, got %s" % type(s).__name__)
    raw = s.encode("utf-8")
    _set_bytes(mb, segi, seg, ref, raw, len(raw) + 1)


def _set_data(mb, segi, seg, ref, b):
    if b is None:
        _pack_word(seg, ref, 0, 0)
        return
    try:
        raw = memoryview(b).cast("B")
    except TypeError:
        raise WrongType("Data must be bytes-like, got %s" % type(b).__name__) from None
    _set_bytes(mb, segi, seg, ref, raw, len(raw))


def _set_capability(mb, seg, ref, obj):
    if obj is None:
        _pack_word(seg, ref, 0, 0)
        return
    table = mb.cap_table
    idx = len(table)
    table.append(obj)
    _pack_word(seg, ref, 3, idx)


# ---------------------------------------------------------------------------------------
# StructBuilder


def _int_setter(packer, size, name):
    pack_into = packer.pack_into

    def set_(self, offset, value, default=0):
        o = offset * size
        if o + size > self._dsize or o < 0:
            raise IndexOutOfRange("%s offset %r is outside the %d-byte data section"
                                  % (name, offset, self._dsize))
        try:
            pack_into(self._seg, self._data + o, value ^ default if default else value)
        except _PACK_ERRORS as e:
            raise ValueOutOfRange("%s(%r, %r): %s" % (name, offset, value, e)) from None

    set_.__name__ = name
    set_.__doc__ = ("Write a data field at ``offset`` (in %d-byte units), XOR-encoded "
                    "against ``default``." % size)
    return set_


def _float_setter(packer, ipacker, size, bits_of, name):
    pack_into = packer.pack_into
    ipack_into = ipacker.pack_into

    def set_(self, offset, value, default=0.0):
        o = offset * size
        if o + size > self._dsize or o < 0:
            raise IndexOutOfRange("%s offset %r is outside the %d-byte data section"
                                  % (name, offset, self._dsize))
        try:
            if default or _copysign(1.0, default) < 0:
                ipack_into(self._seg, self._data + o, bits_of(value) ^ bits_of(default))
            else:
                pack_into(self._seg, self._data + o, value)
        except _PACK_ERRORS as e:
            raise ValueOutOfRange("%s(%r, %r): %s" % (name, offset, value, e)) from None

    set_.__name__ = name
    return set_


class StructBuilder:
    """A struct being written: data section and pointer section."""

    __slots__ = ("_msg", "_seg", "_segi", "_data", "_dsize", "_ptrs", "_pcount")

    def __init__(self, msg, seg, segi, data, dsize, ptrs, pcount):
        self._msg = msg
        self._seg = seg
        self._segi = segi
        self._data = data
        self._dsize = dsize
        self._ptrs = ptrs
        self._pcount = pcount

    @property
    def data_words(self):
        return self._dsize >> 3

    @property
    def pointer_count(self):
        return self._pcount

    def set_bool(self, bit, value, default=False):
        if bit >= (self._dsize << 3) or bit < 0:
            raise IndexOutOfRange("set_bool bit %r is outside the %d-byte data section"
                                  % (bit, self._dsize))
        seg = self._seg
        i = self._data + (bit >> 3)
        m = 1 << (bit & 7)
        if (not value) is (not default):
            seg[i] &= ~m
        else:
            seg[i] |= m

    set_int8 = _int_setter(I8, 1, "set_int8")
    set_int16 = _int_setter(I16, 2, "set_int16")
    set_int32 = _int_setter(I32, 4, "set_int32")
    set_int64 = _int_setter(I64, 8, "set_int64")
    set_uint8 = _int_setter(U8, 1, "set_uint8")
    set_uint16 = _int_setter(U16, 2, "set_uint16")
    set_uint32 = _int_setter(U32, 4, "set_uint32")
    set_uint64 = _int_setter(U64, 8, "set_uint64")
    set_float32 = _float_setter(F32, U32, 4, float32_bits, "set_float32")
    set_float64 = _float_setter(F64, U64, 8, float64_bits, "set_float64")

    def _ref(self, i):
        if i >= self._pcount or i < 0:
            raise IndexOutOfRange("pointer index %r is outside the pointer section (%d "
                                  "pointers)" % (i, self._pcount))
        return self._ptrs + (i << 3)

    def get_pointer(self, i):
        return PointerBuilder(self._msg, self._segi, self._seg, self._ref(i))

    def set_text(self, i, s):
        if type(s) is str and 0 <= i < self._pcount:
            raw = s.encode("utf-8")
            if _put_bytes(self, i, raw, len(raw) + 1):
                return
        _set_text(self._msg, self._segi, self._seg, self._ref(i), s)

    def set_data(self, i, b):
        if type(b) is bytes and 0 <= i < self._pcount:
            # (_put_bytes, inline: the usual Data write)
            mb = self._msg
            segi = self._segi
            seg = self._seg
            used = mb._used[segi]
            n = len(b)
            end = used + (((n + 7) >> 3) << 3)
            if end <= len(seg) and n <= MAX_LIST_COUNT:
                mb._used[segi] = end
                ref = self._ptrs + (i << 3)
                _pack_word(seg, ref, ((used - ref - 8) >> 1) | 1, (n << 3) | 2)
                seg[used:used + n] = b
                return
        _set_data(self._msg, self._segi, self._seg, self._ref(i), b)

    def init_struct(self, i, data_words, ptr_count):
        return _init_struct(self._msg, self._segi, self._seg, self._ref(i), data_words,
                            ptr_count)

    def init_list(self, i, element_size, count):
        return _init_list(self._msg, self._segi, self._seg, self._ref(i), element_size, count)

    def init_struct_list(self, i, count, data_words, ptr_count):
        return _init_struct_list(self._msg, self._segi, self._seg, self._ref(i), count,
                                 data_words, ptr_count)

    def set_capability(self, i, obj):
        _set_capability(self._msg, self._seg, self._ref(i), obj)

    def copy_pointer(self, i, src):
        copy_into(self._msg, self._segi, self._seg, self._ref(i), src)

    def clear_pointer(self, i):
        _pack_word(self._seg, self._ref(i), 0, 0)

    def __repr__(self):
        return "<StructBuilder data=%d bytes, pointers=%d>" % (self._dsize, self._pcount)


# ---------------------------------------------------------------------------------------
# ListBuilder


def _list_setter(packer, size, name):
    pack_into = packer.pack_into
    bits = size * 8

    def set_(self, i, value):
        if i >= self._count or i < 0:
            raise IndexOutOfRange("list index %r out of range (length %d)" % (i, self._count))
        if self._dbits < bits:
            raise IncompatibleListElement("%s on a %s list" % (name,
                                                               element_size_name(self._esize)))
        try:
            pack_into(self._seg, self._off + ((i * self._step) >> 3), value)
        except _PACK_ERRORS as e:
            raise ValueOutOfRange("%s(%r, %r): %s" % (name, i, value, e)) from None

    set_.__name__ = name
    return set_


class ListBuilder:
    """A list being written (same element model as ListReader)."""

    __slots__ = ("_msg", "_seg", "_segi", "_off", "_count", "_step", "_dbits", "_pcount",
                 "_esize")

    def __init__(self, msg, seg, segi, off, count, step, dbits, pcount, esize):
        self._msg = msg
        self._seg = seg
        self._segi = segi
        self._off = off
        self._count = count
        self._step = step
        self._dbits = dbits
        self._pcount = pcount
        self._esize = esize

    def len(self):
        return self._count

    def __len__(self):
        return self._count

    @property
    def element_size(self):
        return self._esize

    def set_bool(self, i, value):
        if i >= self._count or i < 0:
            raise IndexOutOfRange("list index %r out of range (length %d)" % (i, self._count))
        if self._esize != BIT:
            raise IncompatibleListElement("set_bool on a %s list"
                                          % element_size_name(self._esize))
        seg = self._seg
        j = self._off + (i >> 3)
        m = 1 << (i & 7)
        if value:
            seg[j] |= m
        else:
            seg[j] &= ~m

    set_int8 = _list_setter(I8, 1, "set_int8")
    set_int16 = _list_setter(I16, 2, "set_int16")
    set_int32 = _list_setter(I32, 4, "set_int32")
    set_int64 = _list_setter(I64, 8, "set_int64")
    set_uint8 = _list_setter(U8, 1, "set_uint8")
    set_uint16 = _list_setter(U16, 2, "set_uint16")
    set_uint32 = _list_setter(U32, 4, "set_uint32")
    set_uint64 = _list_setter(U64, 8, "set_uint64")
    set_float32 = _list_setter(F32, 4, "set_float32")
    set_float64 = _list_setter(F64, 8, "set_float64")

    def set_primitives(self, code, values):
        """Write all elements from ``values`` (exactly len() of them) with the ``struct``
        format code ``code`` ("i", "Q", "d", ...; "?" for a bit list) in one pack call."""
        n = self._count
        if len(values) != n:
            raise IndexOutOfRange("set_primitives got %d values for a list of %d"
                                  % (len(values), n))
        size = CODE_SIZES.get(code)
        if size is None:
            raise WrongType("unsupported primitive code %r" % (code,))
        seg = self._seg
        off = self._off
        if size == 0:
            if self._esize != BIT:
                raise IncompatibleListElement("set_primitives('?') on a %s list"
                                              % element_size_name(self._esize))
            acc = 0
            for i, v in enumerate(values):
                if v:
                    acc |= 1 << i
            nbytes = (n + 7) >> 3
            seg[off:off + nbytes] = acc.to_bytes(nbytes, "little")
            return
        if self._step != size * 8:
            raise IncompatibleListElement("set_primitives(%r) on a %s list"
                                          % (code, element_size_name(self._esize)))
        if n == 0:
            return
        try:
            _struct.pack_into("<%d%s" % (n, code), seg, off, *values)
        except _PACK_ERRORS as e:
            raise ValueOutOfRange("set_primitives(%r, ...): %s" % (code, e)) from None

    def element_bytes(self):
        """The size of one element in bytes (its data and pointer sections)."""
        return self._step >> 3

    def put_columns(self, fields, columns):
        """Write each field of ``fields`` ((struct code, byte position in the data
        section) pairs of numbers at their natural alignment) over every element, its
        values from the matching iterable of ``columns`` (the inverse of
        ``ListReader.columns``). False, with nothing written, when a field does not fit
        the elements or this machine is not little-endian (then write them one at a
        time). A value that does not fit its field raises OverflowError / TypeError,
        maybe after earlier fields were written."""
        if self._esize != INLINE_COMPOSITE or not COLUMNS_WORK:
            return False
        stride = self._step >> 3
        if not columns_fit(fields, stride, self._dbits >> 3):
            return False
        count = self._count
        off = self._off
        elements = memoryview(self._seg)[off:off + count * stride]
        try:
            for (code, pos), values in zip(fields, columns):
                packed = _array(code, values)
                if len(packed) != count:
                    raise IndexOutOfRange("put_columns got %d values for a list of %d"
                                          % (len(packed), count))
                size = COLUMN_SIZES[code]
                elements.cast(code)[pos // size::stride // size] = packed
        finally:
            elements.release()      # the segment may grow again once no view is left
        return True

    def pack_rows(self, packer, rows):
        """Write the data section of each struct element from ``rows`` (one tuple per
        element, in order) with ``packer`` (a ``struct.Struct`` no larger than the data
        section). Pack errors propagate as ``struct.error`` / OverflowError / TypeError."""
        if self._esize != INLINE_COMPOSITE or packer.size > (self._dbits >> 3):
            raise IncompatibleListElement("pack_rows needs a struct list whose data "
                                          "sections hold %d bytes" % packer.size)
        seg = self._seg
        off = self._off
        stride = self._step >> 3
        if stride == packer.size:
            # elements without padding after the packed fields: pack them all, then one
            # copy (about half the time of a pack_into per element)
            data = b"".join(_starmap(packer.pack, rows))
            if len(data) != self._count * stride:
                raise IndexOutOfRange("pack_rows got %d rows for a list of %d"
                                      % (len(data) // stride, self._count))
            seg[off:off + len(data)] = data
            return
        pack_into = packer.pack_into
        n = 0
        for row in rows:
            if n == self._count:
                raise IndexOutOfRange("pack_rows got more rows than the list's %d"
                                      % self._count)
            pack_into(seg, off, *row)
            off += stride
            n += 1

    def get_struct(self, i):
        if i >= self._count or i < 0:
            raise IndexOutOfRange("list index %r out of range (length %d)" % (i, self._count))
        if self._esize != INLINE_COMPOSITE:
            raise IncompatibleListElement("get_struct on a %s list"
                                          % element_size_name(self._esize))
        start = self._off + ((i * self._step) >> 3)
        d = self._dbits >> 3
        return StructBuilder(self._msg, self._seg, self._segi, start, d, start + d,
                             self._pcount)

    def _ref(self, i):
        if i >= self._count or i < 0:
            raise IndexOutOfRange("list index %r out of range (length %d)" % (i, self._count))
        if self._esize != POINTER:
            raise IncompatibleListElement("pointer element access on a %s list"
                                          % element_size_name(self._esize))
        return self._off + (i << 3)

    def get_pointer(self, i):
        return PointerBuilder(self._msg, self._segi, self._seg, self._ref(i))

    def set_text(self, i, s):
        _set_text(self._msg, self._segi, self._seg, self._ref(i), s)

    def set_data(self, i, b):
        _set_data(self._msg, self._segi, self._seg, self._ref(i), b)

    def init_list(self, i, element_size, count):
        return _init_list(self._msg, self._segi, self._seg, self._ref(i), element_size, count)

    def init_struct_list(self, i, count, data_words, ptr_count):
        return _init_struct_list(self._msg, self._segi, self._seg, self._ref(i), count,
                                 data_words, ptr_count)

    def init_struct(self, i, data_words, ptr_count):
        return _init_struct(self._msg, self._segi, self._seg, self._ref(i), data_words,
                            ptr_count)

    def set_capability(self, i, obj):
        _set_capability(self._msg, self._seg, self._ref(i), obj)

    def copy_pointer(self, i, src):
        copy_into(self._msg, self._segi, self._seg, self._ref(i), src)

    def __repr__(self):
        return "<ListBuilder %d x %s>" % (self._count, element_size_name(self._esize))


# ---------------------------------------------------------------------------------------
# PointerBuilder


class PointerBuilder:
    """One pointer slot of a builder (root pointer, AnyPointer field or list element)."""

    __slots__ = ("_msg", "_segi", "_seg", "_off")

    def __init__(self, msg, segi, seg, off):
        self._msg = msg
        self._segi = segi
        self._seg = seg
        self._off = off

    def is_null(self):
        return _unpack_u64(self._seg, self._off)[0] == 0

    def clear(self):
        _pack_word(self._seg, self._off, 0, 0)

    def init_struct(self, data_words, ptr_count):
        return _init_struct(self._msg, self._segi, self._seg, self._off, data_words, ptr_count)

    def init_list(self, element_size, count):
        return _init_list(self._msg, self._segi, self._seg, self._off, element_size, count)

    def init_struct_list(self, count, data_words, ptr_count):
        return _init_struct_list(self._msg, self._segi, self._seg, self._off, count,
                                 data_words, ptr_count)

    def set_text(self, s):
        _set_text(self._msg, self._segi, self._seg, self._off, s)

    def set_data(self, b):
        _set_data(self._msg, self._segi, self._seg, self._off, b)

    def set_capability(self, obj):
        _set_capability(self._msg, self._seg, self._off, obj)

    def copy_from(self, src):
        """Deep-copy a PointerReader / StructReader / ListReader (None clears)."""
        copy_into(self._msg, self._segi, self._seg, self._off, src)

    def __repr__(self):
        return "<PointerBuilder segment %d word %d>" % (self._segi, self._off >> 3)


# copy.py uses this module's allocation helpers, so it is imported once they exist.
from .copy import copy_into  # noqa: E402
