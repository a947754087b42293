"""Support code for generated modules (``*_capnp.py``), imported as ``_polyhost_gen``.

Owns what generated struct and interface code calls but does not spell out inline:
list readers and writers per element type (bulk for primitives), ``Codec`` objects
(how a value travels in one pointer slot: generic arguments, Sink items, pointer
constants), enum decoding that keeps unknown values, AnyPointer and capability fields,
pointer defaults decoded once per process, and the typing aliases of handler results.
It depends on ``polyhost.wire`` only, so ``rpc_capnp`` can use it; the RPC layer is
imported lazily where a capability needs it.
"""

from __future__ import annotations

import enum
import gc
import keyword
import math
import operator
import struct as _struct
import typing
from typing import (
    Any, Awaitable, Callable, Dict, List, Optional, Protocol, Sequence, Tuple, Type,
    TypeVar, Union, cast,
)

from polyhost import wire

if typing.TYPE_CHECKING:
    from polyhost.rpc import Capability, RpcError

__all__ = [
    "Builder", "Codec", "StructCodec", "ListCodec", "CapCodec", "TEXT", "DATA", "ANY",
    "AnyPointer", "AnyPointerArg", "Handled", "arg", "enum_value", "read_enums",
    "pointer", "write_any", "typed_cap", "as_client", "as_clients", "bind_read",
    "unimplemented", "lists_reader", "lists_writer", "caps_reader", "read_rows",
    "write_rows",
]

T = TypeVar("T")
R = TypeVar("R")
E = TypeVar("E", bound=enum.IntEnum)
C = TypeVar("C")

#: where a pointer is written: pointer ``i`` of a struct or of a pointer list
Builder = Union[wire.StructBuilder, wire.ListBuilder]
ListRead = Callable[[wire.ListReader], List[Any]]
ListWrite = Callable[[Builder, int, Sequence[Any]], None]

#: what a handler may return: the results instance, a dict of its fields, None
#: (empty results), or an awaitable of one of those
Handled = Union[R, Dict[str, Any], None, Awaitable[Union[R, Dict[str, Any], None]]]


class PointerWriter(Protocol):
    """A value that writes itself into a pointer slot (e.g. a Sink batch)."""

    def _polyhost_write_pointer(self, b: Builder, i: int) -> None: ...


class StructValue(Protocol):
    """A generated struct instance."""

    _polyhost_data_words: int
    _polyhost_ptr_count: int

    def _polyhost_write(self, b: wire.StructBuilder, *a: Codec) -> None: ...


#: an AnyPointer field: read as a PointerReader; written from a PointerReader, a
#: generated struct instance, a PointerWriter, or None
AnyPointer = Union[wire.PointerReader, StructValue, PointerWriter, None]
AnyPointerArg = AnyPointer


# ---------------------------------------------------------------------------------------
# Enums


def enum_value(cls: Type[E], value: int) -> E:
    """The member of ``cls`` with ``value``; an unknown value (a newer schema) stays the
    plain int."""
    return cast(E, cls._value2member_map_.get(value, value))


def read_enums(cls: Type[E], lr: wire.ListReader) -> List[E]:
    get = cls._value2member_map_.get
    return [cast(E, get(v, v)) for v in lr.primitives("H")]


# ---------------------------------------------------------------------------------------
# Lists: ``read(list_reader) -> list`` and ``write(builder, index, values)``


def _primitive(code: str, es: int) -> Tuple[ListRead, ListWrite]:
    def read(lr: wire.ListReader) -> List[Any]:
        return lr.primitives(code)

    def write(b: Builder, i: int, values: Sequence[Any]) -> None:
        b.init_list(i, es, len(values)).set_primitives(code, values)

    return read, write


read_bools, write_bools = _primitive("?", wire.BIT)
read_i8, write_i8 = _primitive("b", wire.BYTE)
read_i16, write_i16 = _primitive("h", wire.TWO_BYTES)
read_i32, write_i32 = _primitive("i", wire.FOUR_BYTES)
read_i64, write_i64 = _primitive("q", wire.EIGHT_BYTES)
read_u8, write_u8 = _primitive("B", wire.BYTE)
read_u16, write_u16 = _primitive("H", wire.TWO_BYTES)
read_u32, write_u32 = _primitive("I", wire.FOUR_BYTES)
read_u64, write_u64 = _primitive("Q", wire.EIGHT_BYTES)
read_f32, write_f32 = _primitive("f", wire.FOUR_BYTES)
read_f64, write_f64 = _primitive("d", wire.EIGHT_BYTES)


def read_voids(lr: wire.ListReader) -> List[None]:
    return [None] * lr.len()


def write_voids(b: Builder, i: int, values: Sequence[None]) -> None:
    b.init_list(i, wire.VOID, len(values))


def read_texts(lr: wire.ListReader) -> List[str]:
    get = lr.get_text
    return [get(j) for j in range(lr.len())]


def write_texts(b: Builder, i: int, values: Sequence[Optional[str]]) -> None:
    lb = b.init_list(i, wire.POINTER, len(values))
    for j, v in enumerate(values):
        if v is not None:
            lb.set_text(j, v)


def read_datas(lr: wire.ListReader) -> List[bytes]:
    get = lr.get_data
    return [get(j) for j in range(lr.len())]


def write_datas(b: Builder, i: int, values: Sequence[Optional[bytes]]) -> None:
    lb = b.init_list(i, wire.POINTER, len(values))
    for j, v in enumerate(values):
        if v is not None:
            lb.set_data(j, v)


def read_pointers(lr: wire.ListReader) -> List[wire.PointerReader]:
    return [lr.get_pointer(j) for j in range(lr.len())]


def write_pointers(b: Builder, i: int, values: Sequence[AnyPointer]) -> None:
    lb = b.init_list(i, wire.POINTER, len(values))
    for j, v in enumerate(values):
        write_any(lb, j, v)


def lists_reader(es: int, read: ListRead) -> ListRead:
    """Reader of a list of lists whose inner lists have element size ``es``."""
    def read_lists(lr: wire.ListReader) -> List[Any]:
        get = lr.get_list
        return [read(get(j, es)) for j in range(lr.len())]
    return read_lists


def lists_writer(es: int, write: ListWrite) -> ListWrite:
    def write_lists(b: Builder, i: int, values: Sequence[Any]) -> None:
        lb = b.init_list(i, wire.POINTER, len(values))
        for j, v in enumerate(values):
            if v is not None:
                write(lb, j, v)
    return write_lists


def caps_reader(cls: Type[C]) -> ListRead:
    def read_caps(lr: wire.ListReader) -> List[Any]:
        get = lr.get_capability
        return [typed_cap(get(j), cls) for j in range(lr.len())]
    return read_caps


def write_caps(b: Builder, i: int, values: Sequence[Any]) -> None:
    lb = b.init_list(i, wire.POINTER, len(values))
    for j, v in enumerate(values):
        if v is not None:
            lb.set_capability(j, v)


def bind_read(read: Callable[..., List[Any]], *args: Codec) -> ListRead:
    """``read`` (a struct class's ``_polyhost_read_list``) with generic arguments bound."""
    if not args:
        return read
    return lambda lr: read(lr, *args)


def bind_write(write: Callable[..., None], *args: Codec) -> ListWrite:
    if not args:
        return write
    return lambda b, i, values: write(b, i, values, *args)


# ---------------------------------------------------------------------------------------
# Lists of structs made only of numbers (stream items, typically): one struct.pack /
# unpack per element instead of a builder or reader object and one call per field


_CODE_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "q": 8, "Q": 8, "f": 4,
               "d": 8}


class _Rows:
    """A struct class's data section as one ``struct.Struct``, and as columns (see
    :func:`_rows`)."""

    __slots__ = ("packer", "get", "setters", "columns", "getters", "row")

    def __init__(self, cls: Any, fields: List[Tuple[str, str, int, Any]]) -> None:
        fmt = "<"
        pos = 0
        for _name, code, offset, _default in sorted(fields, key=lambda f: f[2] * _CODE_SIZES[f[1]]):
            at = offset * _CODE_SIZES[code]
            fmt += "%dx%s" % (at - pos, code) if at > pos else code
            pos = at + _CODE_SIZES[code]
        self.packer = _struct.Struct(fmt)
        names = [f[0] for f in sorted(fields, key=lambda f: f[2] * _CODE_SIZES[f[1]])]
        getter = operator.attrgetter(*names)
        # attrgetter of one name returns the value itself, not a 1-tuple
        self.get = getter if len(names) > 1 else (lambda v: (getter(v),))
        self.setters = [_setter(cls, n) for n in names]
        # a whole list read or written a field at a time (ListReader.columns,
        # ListBuilder.put_columns): each field's type code and byte position, and
        # its getter, in declaration order, the order of the generated _polyhost_row's
        # arguments
        self.columns = [(code, offset * _CODE_SIZES[code]) for _n, code, offset, _d in fields]
        self.getters = [operator.attrgetter(f[0]) for f in fields]
        self.row = getattr(cls, "_polyhost_row", None)      # (older generated code: None)


def _setter(cls: Any, name: str) -> Callable[[Any, Any], None]:
    for c in cls.__mro__:
        d = c.__dict__.get(name)
        if d is not None and hasattr(d, "__set__"):
            return cast(Callable[[Any, Any], None], d.__set__)  # a __slots__ member
    return lambda obj, v: setattr(obj, name, v)


def _rows(cls: Any) -> Optional[_Rows]:
    """The bulk codec of ``cls`` when every field is an int or float with a zero
    default, no field is a pointer and no fields overlap (else None); cached."""
    cached = cls.__dict__.get("_polyhost_rows", False)
    if cached is not False:
        return cast(Optional[_Rows], cached)
    layout: Sequence[Any] = getattr(cls, "_polyhost_layout", None) or ()
    ok = (bool(layout) and cls._polyhost_ptr_count == 0
          and all(f is not None and not f[3] and math.copysign(1.0, f[3]) > 0
                  for f in layout))
    r: Optional[_Rows] = _Rows(cls, list(layout)) if ok else None
    if r is not None and r.packer.size > cls._polyhost_data_words * 8:
        r = None
    setattr(cls, "_polyhost_rows", r)
    return r


def rows_of(cls: Any) -> _Rows:
    """The bulk codec of ``cls``, which has one (see :func:`_rows`)."""
    r = _rows(cls)
    if r is None:
        raise TypeError("%s is not a struct made only of numbers" % cls.__name__)
    return r


def column_sender(cls: Any) -> Optional[Callable[..., Callable[[Any], Any]]]:
    """What makes a stream's ``send`` for items of ``cls`` kept as columns
    (``streams._ColumnProducer``): ``make(cls, last, limit, ready, slow, *appends)``
    returns a ``send`` that appends each field, read by name, with the matching
    ``appends`` (one per field, in declaration order), and returns ``ready`` while
    ``0 < len(last) < limit[0]``; otherwise, or when an append raises, it returns
    ``slow(item)``. None when ``cls`` has no bulk codec, this machine cannot write
    columns, or a field name is not a plain identifier. Compiled once per class."""
    cached = cls.__dict__.get("_polyhost_column_sender", False)
    if cached is not False:
        return cast(Optional[Callable[..., Callable[[Any], Any]]], cached)
    made: Optional[Callable[..., Callable[[Any], Any]]] = None
    names = [f[0] for f in getattr(cls, "_polyhost_layout", None) or ()]
    if (_rows(cls) is not None and wire.COLUMNS_WORK
            and all(n.isidentifier() and not keyword.iskeyword(n) for n in names)):
        appends = ["append%d" % k for k in range(len(names))]
        source = ("def make(cls, last, limit, ready, slow, %s):\n"
                  "    def send(item):\n"
                  "        if type(item) is cls and 0 < len(last) < limit[0]:\n"
                  "            try:\n"
                  "                %s\n"
                  "            except Exception:\n"
                  "                return slow(item)\n"
                  "            return ready\n"
                  "        return slow(item)\n"
                  "    return send\n"
                  % (", ".join(appends),
                     "; ".join("%s(item.%s)" % (a, n) for a, n in zip(appends, names))))
        scope: Dict[str, Any] = {}
        exec(source, scope)
        made = scope["make"]
    setattr(cls, "_polyhost_column_sender", made)
    return made


def write_rows(cls: Any, lb: wire.ListBuilder, values: Sequence[Any]) -> bool:
    """Write ``values`` (instances of ``cls``) into the struct list ``lb`` in bulk;
    False when ``cls`` has no bulk codec or a value is not exactly a ``cls`` or does
    not pack (the caller then writes them one at a time, raising the usual error)."""
    r = _rows(cls)
    if r is None:
        return False
    if not values:
        return True
    if type(values[0]) is not cls or len(set(map(type, values))) != 1:
        return False
    try:
        if lb.put_columns(r.columns, [map(get, values) for get in r.getters]):
            return True
        lb.pack_rows(r.packer, map(r.get, values))
    except (_struct.error, OverflowError, TypeError, ValueError):
        return False
    return True


def read_rows(cls: Any, lr: wire.ListReader) -> Optional[List[Any]]:
    """The struct list ``lr`` as instances of ``cls``, in bulk; None when ``cls`` has
    no bulk codec or the elements are smaller than its data section."""
    r = _rows(cls)
    if r is None:
        return None
    # The cycle collector is held off while the list is built: every new element is
    # alive and holds only numbers, yet each 700 allocations would trace the young
    # ones again (a third of the time of a 4096-item batch). The next allocation
    # after it is back on runs one collection over all of them.
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        columns = lr.columns(r.columns) if r.row is not None else None
        if columns is not None:
            return list(map(r.row, *columns))
        rows = lr.unpack_rows(r.packer)
        if rows is None:
            return None
        new = cls.__new__
        setters = r.setters
        out = []
        for row in rows:
            obj = new(cls)
            for set_, value in zip(setters, row):
                set_(obj, value)
            out.append(obj)
        return out
    finally:
        if paused:
            gc.enable()


# ---------------------------------------------------------------------------------------
# Codecs: one type in one pointer slot (generic arguments, Sink items, constants)


class Codec:
    """How values of one pointer type travel in a pointer slot.

    ``read(pointer_reader)`` and ``write(builder, index, value)`` for one value;
    ``es`` (the element size of a list of them), ``read_list`` and ``write_list`` for a
    list of them (a Sink batch is such a list)."""

    __slots__ = ("es", "read_list", "write_list")

    def __init__(self, es: int, read_list: ListRead, write_list: ListWrite) -> None:
        self.es = es
        self.read_list = read_list
        self.write_list = write_list

    def read(self, p: Optional[wire.PointerReader]) -> Any:
        return p

    def write(self, b: Builder, i: int, value: Any) -> None:
        write_any(b, i, value)

    def __repr__(self) -> str:
        return "<%s>" % type(self).__name__


class _TextCodec(Codec):
    __slots__ = ()

    def read(self, p: Optional[wire.PointerReader]) -> str:
        return "" if p is None else p.as_text()

    def write(self, b: Builder, i: int, value: Optional[str]) -> None:
        if value is not None:
            b.set_text(i, value)


class _DataCodec(Codec):
    __slots__ = ()

    def read(self, p: Optional[wire.PointerReader]) -> bytes:
        return b"" if p is None else p.as_data()

    def write(self, b: Builder, i: int, value: Optional[bytes]) -> None:
        if value is not None:
            b.set_data(i, value)


TEXT: Codec = _TextCodec(wire.POINTER, read_texts, write_texts)
DATA: Codec = _DataCodec(wire.POINTER, read_datas, write_datas)
ANY: Codec = Codec(wire.POINTER, read_pointers, write_pointers)


class StructCodec(Codec):
    """A generated struct class (with its generic arguments, if any)."""

    __slots__ = ("cls", "args")

    def __init__(self, cls: Any, *args: Codec) -> None:
        super().__init__(wire.INLINE_COMPOSITE, bind_read(cls._polyhost_read_list, *args),
                         bind_write(cls._polyhost_write_list, *args))
        self.cls = cls
        self.args = args

    def read(self, p: Optional[wire.PointerReader]) -> Any:
        if p is None:
            return self.cls()
        return self.cls._polyhost_read(p.as_struct(), *self.args)

    def write(self, b: Builder, i: int, value: Any) -> None:
        if value is not None:
            cls = self.cls
            value._polyhost_write(b.init_struct(i, cls._polyhost_data_words,
                                                cls._polyhost_ptr_count), *self.args)


class ListCodec(Codec):
    """A list type, from its element's element size, list reader and list writer."""

    __slots__ = ("elem_es", "read_elems", "write_elems")

    def __init__(self, elem_es: int, read_elems: ListRead, write_elems: ListWrite) -> None:
        super().__init__(wire.POINTER, lists_reader(elem_es, read_elems),
                         lists_writer(elem_es, write_elems))
        self.elem_es = elem_es
        self.read_elems = read_elems
        self.write_elems = write_elems

    def read(self, p: Optional[wire.PointerReader]) -> List[Any]:
        if p is None:
            return []
        return self.read_elems(p.as_list(self.elem_es))

    def write(self, b: Builder, i: int, value: Optional[Sequence[Any]]) -> None:
        if value is not None:
            self.write_elems(b, i, value)


class CapCodec(Codec):
    """An interface type, read as its typed client class."""

    __slots__ = ("cls",)

    def __init__(self, cls: Any) -> None:
        super().__init__(wire.POINTER, caps_reader(cls), write_caps)
        self.cls = cls

    def read(self, p: Optional[wire.PointerReader]) -> Any:
        return None if p is None else typed_cap(p.as_capability(), self.cls)

    def write(self, b: Builder, i: int, value: Any) -> None:
        if value is not None:
            b.set_capability(i, as_client(value, self.cls))


def arg(args: Tuple[Codec, ...], index: int) -> Codec:
    """Generic argument ``index`` of a struct being read or written (``ANY`` when the
    struct is used without arguments: the field is then a PointerReader)."""
    return args[index] if index < len(args) else ANY


# ---------------------------------------------------------------------------------------
# Pointer fields


_DEFAULTS: Dict[str, wire.PointerReader] = {}


def pointer(hex_message: str) -> wire.PointerReader:
    """The root of a canonical single-segment message given in hex (a schema's struct or
    list default), decoded once per process."""
    p = _DEFAULTS.get(hex_message)
    if p is None:
        p = _DEFAULTS[hex_message] = wire.MessageReader([bytes.fromhex(hex_message)]).root_pointer()
    return p


def write_any(b: Builder, i: int, value: Any) -> None:
    """Write an AnyPointer value: None (null), a reader (deep copy), an object with
    ``_polyhost_write_pointer`` or a generated struct instance."""
    if value is None:
        return
    if isinstance(value, (wire.PointerReader, wire.StructReader, wire.ListReader)):
        b.copy_pointer(i, value)
        return
    w = getattr(value, "_polyhost_write_pointer", None)
    if w is not None:
        w(b, i)
    else:
        value._polyhost_write(b.init_struct(i, value._polyhost_data_words,
                                            value._polyhost_ptr_count))


def typed_cap(obj: Any, cls: Type[C]) -> Optional[C]:
    """A capability read from a message, as the typed client ``cls`` (a new reference
    of the same capability); objects that are not capabilities are returned as is."""
    if obj is None or isinstance(obj, cls):
        return obj
    cast_as = getattr(obj, "cast_as", None)
    return cast(C, cast_as(cls) if cast_as is not None else obj)


@typing.overload
def as_client(obj: Any, cls: Type[C]) -> Optional[C]: ...
@typing.overload  # noqa: E302
def as_client(obj: Any, cls: None) -> Optional[Capability]: ...
def as_client(obj: Any, cls: Any) -> Any:  # noqa: E302
    """A capability field's value: a Server object becomes a client of it (a local
    capability), a capability of another class is cast to ``cls``; None stays None."""
    if obj is None or (cls is not None and isinstance(obj, cls)):
        return obj
    from polyhost.rpc import Capability, Server
    if cls is None:
        cls = Capability
    if isinstance(obj, Capability):
        return obj if isinstance(obj, cls) else obj.cast_as(cls)
    if isinstance(obj, Server):
        return cls(obj)
    return obj


def as_clients(values: Optional[Sequence[Any]], cls: Any) -> Optional[List[Any]]:
    if values is None:
        return None
    return [as_client(v, cls) for v in values]


# ---------------------------------------------------------------------------------------
# Servers


def unimplemented(server: object, method: str) -> RpcError:
    """The error a server base class's default method raises (the caller sees
    ``unimplemented``)."""
    from polyhost.rpc import ExceptionType, RpcError
    return RpcError("%s does not implement %s" % (type(server).__name__, method),
                    ExceptionType.UNIMPLEMENTED)
