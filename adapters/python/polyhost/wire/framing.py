"""The standard Cap'n Proto stream framing.

A frame is: a little-endian u32 holding the segment count minus one, one u32 per segment
holding its size in words, zero padding to a word boundary, then the segments in order.
Owns ``frame`` (segments -> bytes), ``read_message`` (one whole frame -> MessageReader) and
``FrameDecoder`` (an incremental decoder over a byte stream that checks the segment count
and declared size against the limits as soon as the header arrives, before buffering
the body).
"""

import struct as _struct

from .errors import MalformedFrame, MessageTooLarge, TooManySegments, WrongType
from .layout import MAX_SEGMENT_WORDS, U32
from .limits import DEFAULT_LIMITS, UNLIMITED_TRAVERSAL
from .reader import MessageReader

__all__ = ["frame", "read_message", "FrameDecoder"]

_u32_from = U32.unpack_from
_header_from = _struct.Struct("<II").unpack_from


def frame(segments):
    """Serialise ``segments`` (bytes-like, each a whole number of words) with the stream
    framing and return the bytes."""
    views = []
    for s in segments:
        try:
            mv = memoryview(s)
        except TypeError:
            raise WrongType("segment must be bytes-like, got %s" % type(s).__name__) from None
        if mv.format != "B" or mv.ndim != 1:
            mv = mv.cast("B")
        if len(mv) % 8:
            raise MalformedFrame("segment %d is %d bytes, not a whole number of words"
                                 % (len(views), len(mv)))
        if (len(mv) >> 3) > MAX_SEGMENT_WORDS:
            raise MalformedFrame("segment %d is too large to frame" % len(views))
        views.append(mv)
    n = len(views)
    if n == 0:
        raise MalformedFrame("a message needs at least one segment")
    header = _struct.pack("<%dI" % (n + 1), n - 1, *[len(v) >> 3 for v in views])
    if not n & 1:
        header += b"\0\0\0\0"
    return b"".join([header] + views)


def _parse_header(buf, start, avail, limits):
    """Parse a frame header at ``buf[start:]`` with ``avail`` bytes available.
    Returns None when more bytes are needed, else (header_bytes, sizes_in_words)."""
    if avail < 4:
        return None
    count = _u32_from(buf, start)[0] + 1
    if count == 1 and avail >= 8 and limits.max_segments >= 1:
        # one segment (nearly every message): no format string to build
        size = _u32_from(buf, start + 4)[0]
        if size * 8 > limits.max_message_bytes or (
                limits.traversal_words is not None and size > limits.traversal_words):
            return _parse_header_slow(buf, start, avail, limits)
        return 8, (size,)
    return _parse_header_slow(buf, start, avail, limits)


def _parse_header_slow(buf, start, avail, limits):
    count = _u32_from(buf, start)[0] + 1
    if count > limits.max_segments:
        raise TooManySegments("frame declares %d segments, the limit is %d"
                              % (count, limits.max_segments))
    hdr = (4 + 4 * count + 7) & ~7
    if avail < hdr:
        return None
    sizes = _struct.unpack_from("<%dI" % count, buf, start + 4)
    words = sum(sizes)
    if words * 8 > limits.max_message_bytes:
        raise MessageTooLarge("frame declares %d bytes of segments, the limit is %d"
                              % (words * 8, limits.max_message_bytes))
    tw = limits.traversal_words
    if tw is not None and words > tw:
        raise MessageTooLarge("frame declares %d words, more than the traversal limit of %d"
                              % (words, tw))
    return hdr, sizes


def _split(body, sizes):
    mv = memoryview(body)
    segs = []
    pos = 0
    for s in sizes:
        end = pos + (s << 3)
        segs.append(mv[pos:end])
        pos = end
    return segs


def read_message(data, limits=None, cap_table=None):
    """Decode exactly one framed message from ``data`` (bytes-like). Raises
    MalformedFrame when it is truncated or followed by extra bytes. The segments are
    views of ``data`` (bytes and memoryview inputs are not copied)."""
    if limits is None:
        limits = DEFAULT_LIMITS
    if isinstance(data, bytearray):
        data = bytes(data)  # the readers keep views; don't pin a mutable buffer
    mv = data if isinstance(data, bytes) else memoryview(data).cast("B")
    parsed = _parse_header(mv, 0, len(mv), limits)
    if parsed is None:
        raise MalformedFrame("truncated frame header (%d bytes)" % len(mv))
    hdr, sizes = parsed
    total = hdr + (sum(sizes) << 3)
    if len(mv) < total:
        raise MalformedFrame("truncated frame: header declares %d bytes, got %d"
                             % (total, len(mv)))
    if len(mv) > total:
        raise MalformedFrame("%d unexpected bytes after the frame" % (len(mv) - total))
    return MessageReader(_split(memoryview(mv)[hdr:total], sizes), limits, cap_table)


class FrameDecoder:
    """Incremental decoder: ``feed(chunk)`` returns the MessageReaders completed by it.

    Chunks may split frames anywhere. Limits are checked as soon as a header is
    complete; after an error the decoder is unusable and raises again on every feed.
    """

    __slots__ = ("limits", "_buf", "_need", "_hdr", "_sizes", "_failed")

    def __init__(self, limits=None):
        self.limits = DEFAULT_LIMITS if limits is None else limits
        self._buf = bytearray()
        self._need = 0      # total bytes of the current frame once its header is parsed
        self._hdr = 0
        self._sizes = ()
        self._failed = None

    @property
    def buffered(self):
        """Bytes received but not yet part of a returned message."""
        return len(self._buf)

    def at_boundary(self):
        """True when no partial frame is buffered (a clean place for the stream to end)."""
        return not self._buf

    def feed(self, data):
        if self._failed is not None:
            raise MalformedFrame("frame decoder already failed: %s" % self._failed)
        buf = self._buf
        if buf:
            buf += data
            if len(buf) < self._need:
                return []           # still inside a large frame: don't copy it yet
            data = bytes(buf)
            buf.clear()
        elif type(data) is not bytes:
            data = bytes(data)      # the readers keep views: don't pin a caller's buffer
        # Every complete frame of the chunk is cut from one bytes object: the messages'
        # segments are views of it (no copy per frame); only a trailing partial frame
        # is buffered.
        mv = memoryview(data)
        end = len(data)
        pos = 0
        out = []
        limits = self.limits
        # a one-segment frame within the limits (nearly every one) is read inline
        one = limits.max_segments >= 1
        max_words = limits.max_message_bytes >> 3
        tw = limits.traversal_words
        if tw is not None and tw < max_words:
            max_words = tw
        budget = UNLIMITED_TRAVERSAL if tw is None else tw     # (limits.traversal_budget())
        zero = limits.zero_sized_structs                        # (limits.zero_sized_budget())
        if zero is None:
            zero = UNLIMITED_TRAVERSAL
        of_segment = MessageReader._of_segment
        try:
            while pos < end:
                avail = end - pos
                need = self._need
                if not need:
                    if avail >= 8 and one:
                        count, size = _header_from(data, pos)
                        if count == 0 and size <= max_words:
                            need = 8 + (size << 3)
                            if avail < need:
                                self._need, self._hdr, self._sizes = need, 8, (size,)
                                break
                            out.append(of_segment(mv[pos + 8:pos + need], limits, budget, zero))
                            pos += need
                            continue
                    parsed = _parse_header(data, pos, avail, limits)
                    if parsed is None:
                        break
                    self._hdr, self._sizes = parsed
                    need = self._need = self._hdr + (sum(self._sizes) << 3)
                if avail < need:
                    break
                sizes = self._sizes
                if len(sizes) == 1:
                    segs = [mv[pos + self._hdr:pos + need]]
                else:
                    segs = _split(mv[pos + self._hdr:pos + need], sizes)
                out.append(MessageReader(segs, limits))
                pos += need
                self._need = 0
        except MalformedFrame as e:
            self._failed = str(e)
            raise
        if pos < end:
            buf += mv[pos:]
        return out
