"""Resource limits applied while decoding frames and reading messages.

The defaults match the reference implementation (capnp's ``ReaderOptions``): a traversal
limit of 8 Mi words, a nesting limit of 64, at most 512 segments, and a frame of at most
64 MiB of segment data. One limit is polyhost's own: at most 64 Ki elements of lists
of zero-sized structs per message. They take no bytes on the wire, so the traversal
limit alone let a 32-byte frame claim 8 Mi of them, each decoded into an object. A
``List(Void)`` element decodes to one reference (8 bytes) and counts 1/16, so a message
holds at most 1 Mi of them.
"""

__all__ = ["Limits", "DEFAULT_LIMITS", "UNLIMITED_TRAVERSAL"]

#: Budget used when the traversal limit is disabled (``traversal_words=None``).
UNLIMITED_TRAVERSAL = 1 << 62


class Limits:
    """Limits for one reader / frame decoder.

    ``traversal_words``: words a MessageReader may read in total (each struct, list,
    text, data and far landing pad read counts its size; zero-sized list elements
    count one word each). ``None`` disables the limit.
    ``nesting``: how deep struct/list pointers may nest.
    ``max_segments``: most segments a message may have.
    ``max_message_bytes``: most bytes of segment data one frame may declare.
    ``zero_sized_structs``: most zero-sized struct list elements a MessageReader may read in
    total (beyond the traversal words they also count); ``None`` disables the limit.
    """

    __slots__ = ("traversal_words", "nesting", "max_segments", "max_message_bytes",
                 "zero_sized_structs")

    def __init__(self, traversal_words=8 * 1024 * 1024, nesting=64, max_segments=512,
                 max_message_bytes=64 * 1024 * 1024, zero_sized_structs=64 * 1024):
        if traversal_words is not None and (not isinstance(traversal_words, int)
                                            or traversal_words < 0):
            raise ValueError("traversal_words must be a non-negative int or None, got %r"
                             % (traversal_words,))
        if zero_sized_structs is not None and (not isinstance(zero_sized_structs, int)
                                                or zero_sized_structs < 0):
            raise ValueError("zero_sized_structs must be a non-negative int or None, got %r"
                             % (zero_sized_structs,))
        for name, value in (("nesting", nesting), ("max_segments", max_segments),
                            ("max_message_bytes", max_message_bytes)):
            if not isinstance(value, int) or value < 0:
                raise ValueError("%s must be a non-negative int, got %r" % (name, value))
        self.traversal_words = traversal_words
        self.nesting = nesting
        self.max_segments = max_segments
        self.max_message_bytes = max_message_bytes
        self.zero_sized_structs = zero_sized_structs

    def traversal_budget(self):
        """The initial traversal budget in words (a large number when unlimited)."""
        t = self.traversal_words
        return UNLIMITED_TRAVERSAL if t is None else t

    def zero_sized_budget(self):
        """The initial zero-sized struct budget (a large number when unlimited)."""
        z = self.zero_sized_structs
        return UNLIMITED_TRAVERSAL if z is None else z

    def __repr__(self):
        return ("Limits(traversal_words=%r, nesting=%r, max_segments=%r, "
                "max_message_bytes=%r, zero_sized_structs=%r)"
                % (self.traversal_words, self.nesting, self.max_segments,
                   self.max_message_bytes, self.zero_sized_structs))

    def __eq__(self, other):
        if not isinstance(other, Limits):
            return NotImplemented
        return (self.traversal_words, self.nesting, self.max_segments,
                self.max_message_bytes, self.zero_sized_structs) == (
                    other.traversal_words, other.nesting, other.max_segments,
                    other.max_message_bytes, other.zero_sized_structs)

    __hash__ = None


DEFAULT_LIMITS = Limits()
