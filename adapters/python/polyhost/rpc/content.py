"""Payload contents: what a call carries as params or results.

Three shapes, all with ``write_into(struct_builder, pointer_index)`` (copy into an
outgoing message, capabilities going to the builder's cap table), ``struct()`` (a
StructReader whose capability pointers read as ``Capability`` objects) and
``cap_hook(ops)`` (a new reference to the capability at a pointer path):

- :class:`RawContent`: read from a message (a PointerReader plus its cap table);
- :class:`ObjContent`: a generated struct instance (or None for an empty struct);
- :class:`CapContent`: a single capability as the root (Bootstrap results).
"""

from polyhost import wire

from . import hooks
from .errors import RpcError

__all__ = ["RawContent", "ObjContent", "CapContent", "builder_cap_table"]


def builder_cap_table(mb, table):
    """The list a MessageBuilder appends capabilities to."""
    t = getattr(mb, "cap_table", None)
    return table if t is None else t


class RawContent:
    __slots__ = ("pointer", "caps")

    def __init__(self, pointer, caps):
        self.pointer = pointer
        self.caps = caps

    def struct(self):
        return self.pointer.as_struct()

    def write_into(self, b, i):
        b.copy_pointer(i, self.pointer)

    def cap_hook(self, ops):
        p = self.pointer
        for i in ops:
            p = p.as_struct().get_pointer(i)
        cap = p.as_capability()
        if cap is None:
            return hooks.BrokenHook(RpcError("the pipelined capability is null"))
        return hooks.hook_of(cap).add_ref()


class ObjContent:
    __slots__ = ("obj", "_raw")

    def __init__(self, obj):
        self.obj = obj
        self._raw = None

    def write_into(self, b, i):
        obj = self.obj
        if obj is not None:
            obj._polyhost_write(b.init_struct(i, obj._polyhost_data_words,
                                              obj._polyhost_ptr_count))

    def raw(self):
        """This content encoded into its own message (capabilities as Capability)."""
        if self._raw is None:
            table = []
            mb = wire.MessageBuilder(cap_table=table)
            obj = self.obj
            if obj is None:
                mb.init_root(0, 0)
            else:
                obj._polyhost_write(mb.init_root(obj._polyhost_data_words,
                                                 obj._polyhost_ptr_count))
            table = builder_cap_table(mb, table)
            new = hooks.new_capability
            caps = [None if o is None else new(hooks.hook_of(o).add_ref()) for o in table]
            mr = wire.MessageReader(mb.segments(), cap_table=caps)
            self._raw = RawContent(mr.root_pointer(), caps)
        return self._raw

    def struct(self):
        return self.raw().struct()

    def cap_hook(self, ops):
        return self.raw().cap_hook(ops)


class CapContent:
    __slots__ = ("hook",)

    def __init__(self, hook):
        self.hook = hook

    def write_into(self, b, i):
        b.set_capability(i, self.hook)

    def struct(self):
        raise RpcError("the content is a capability, not a struct")

    def cap_hook(self, ops):
        return self.hook.add_ref()
