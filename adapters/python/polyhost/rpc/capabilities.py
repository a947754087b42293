"""The capability side of a Connection: exports, imports, descriptors, targets, Resolve
and Disembargo (``CapabilityTables``, a base class of ``connection.Connection``).

Owns what a capability becomes on the wire (``_write_descriptor``: an export, or the
peer's own import / promised answer handed back), what a received CapDescriptor and
MessageTarget name (``_receive_cap``, ``_target_hook``), the export and import tables'
reference counts (Release), promise resolution both ways (Resolve) and embargoes
(Disembargo). Its methods use the connection's tables and ``_send``.
"""

import functools

from polyhost.rpc_capnp import (
    CapDescriptor, Disembargo, Disembargo_Context, Message, Release, Resolve,
)

from . import hooks
from .errors import ProtocolError, RpcError, from_capnp_exception, present, to_capnp_exception
from .hooks import BrokenHook, PromiseHook, hook_of, innermost
from .remote import ImportHook, PipelineTargetHook
from .tables import Export

__all__ = ["CapabilityTables"]


class CapabilityTables:
    """Mixed into Connection (see the module docstring)."""

    __slots__ = ()

    # -- capabilities ---------------------------------------------------------------------

    def _write_descriptor(self, obj, exports):
        """The CapDescriptor for a capability being sent (exporting it if needed)."""
        if obj is None:
            return CapDescriptor(which="none")
        h = hook_of(obj)
        while isinstance(h, PromiseHook) and h._inner is not None:
            h.mark_received_call()
            h = h._inner
        if h.conn is self:
            if isinstance(h, ImportHook):
                return CapDescriptor(receiver_hosted=h.import_id)
            if isinstance(h, PipelineTargetHook):
                return CapDescriptor(receiver_answer=h.promised_answer())
        eid = self._exports_by_hook.get(id(h))
        if eid is not None:
            e = self._exports.get(eid)
            e.refcount += 1
        else:
            e = Export(h.add_ref(), isinstance(h, PromiseHook) and not h.is_resolved)
            eid = self._exports.alloc(e)
            self._exports_by_hook[id(h)] = eid
            if e.is_promise:
                h.when_resolved(functools.partial(self._resolve_export, eid, e))
        exports.append(eid)
        if e.is_promise:
            return CapDescriptor(sender_promise=eid)
        return CapDescriptor(sender_hosted=eid)

    def _resolve_export(self, eid, e, promise):
        """A promise we exported resolved: send Resolve, retarget the export."""
        if self.closed or self._exports.get(eid) is not e:
            return
        target = innermost(promise)
        if self._exports_by_hook.get(id(promise)) == eid:
            del self._exports_by_hook[id(promise)]
        if isinstance(target, BrokenHook):
            msg = Resolve(promise_id=eid, exception=to_capnp_exception(target.error))
        else:
            msg = Resolve(promise_id=eid, cap=self._write_descriptor(promise, []))
        e.hook = target.add_ref()
        e.is_promise = False
        promise.release()
        self._send(Message(resolve=msg))

    def _release_export(self, eid, count):
        e = self._exports.get(eid)
        if e is None:
            raise ProtocolError("Release of unknown export id %d" % eid)
        if count > e.refcount:
            raise ProtocolError("Release of export %d by %d exceeds its reference count %d"
                                % (eid, count, e.refcount))
        e.refcount -= count
        if e.refcount == 0:
            self._exports.pop(eid)
            if self._exports_by_hook.get(id(e.hook)) == eid:
                del self._exports_by_hook[id(e.hook)]
            e.hook.release()

    def _release_exports(self, eids):
        for eid in eids:
            e = self._exports.get(eid)
            if e is not None:
                self._release_export(eid, 1)

    def _import(self, import_id, is_promise):
        imp = self._imports.get(import_id)
        if imp is None:
            imp = self._imports[import_id] = ImportHook(self, import_id)
        imp.remote_refs += 1
        if is_promise:
            ph = imp.promise
            if ph is None or ph._dead:
                ph = imp.promise = PromiseHook(imp.add_ref())
                return ph
            return ph.add_ref()
        return imp.add_ref()

    def _release_import(self, imp):
        if self._imports.get(imp.import_id) is imp:
            del self._imports[imp.import_id]
        n, imp.remote_refs = imp.remote_refs, 0
        if n and not self.closed:
            self._send(Message(release=Release(id=imp.import_id, reference_count=n)))

    def _receive_cap(self, d):
        w = d.which
        if w == "none":
            return None
        if w == "sender_hosted":
            return self._import(d.sender_hosted, False)
        if w == "sender_promise":
            return self._import(d.sender_promise, True)
        if w == "receiver_hosted":
            e = self._exports.get(d.receiver_hosted)
            if e is None:
                return BrokenHook(RpcError("invalid receiverHosted export id %d"
                                           % d.receiver_hosted))
            return e.hook.add_ref()
        if w == "receiver_answer":
            pa = present(d.receiver_answer, "CapDescriptor.receiverAnswer")
            a = self._answers.get(pa.question_id)
            if a is None or a.pending is None:
                return BrokenHook(RpcError("invalid receiverAnswer question id %d"
                                           % pa.question_id))
            return a.pending.pipelined_hook(self._ops(pa.transform))
        raise ProtocolError("unsupported CapDescriptor kind %r" % (w,))

    def _receive_caps(self, descriptors):
        new = hooks.new_capability
        caps = []
        try:
            for d in descriptors:
                h = self._receive_cap(d)
                caps.append(None if h is None else new(h))
        except Exception:
            for c in caps:
                if c is not None:
                    c.close()
            raise
        return caps

    @staticmethod
    def _ops(transform):
        ops = []
        for op in transform:
            if op.which == "get_pointer_field":
                ops.append(op.get_pointer_field)
            elif op.which != "noop":
                raise ProtocolError("unknown PromisedAnswer.Op")
        return tuple(ops)

    def _export_target(self, eid):
        e = self._exports.get(eid)
        if e is None:
            raise ProtocolError("message target %d is not a current export id" % eid)
        return e.hook.add_ref()

    def _target_hook(self, t):
        """A new reference to the hook a MessageTarget names."""
        w = present(t, "MessageTarget").which
        if w == "imported_cap":
            return self._export_target(t.imported_cap)
        if w == "promised_answer":
            pa = present(t.promised_answer, "MessageTarget.promisedAnswer")
            a = self._answers.get(pa.question_id)
            if a is None or a.pending is None:
                return BrokenHook(RpcError(
                    "pipelined call on question %d, which returned no capabilities or was "
                    "already finished" % pa.question_id))
            return a.pending.pipelined_hook(self._ops(pa.transform))
        raise ProtocolError("unknown MessageTarget kind")

    # -- resolve and embargoes ------------------------------------------------------------

    def _on_resolve(self, r):
        pid = r.promise_id
        if r.which == "cap":
            new = self._receive_cap(present(r.cap, "Resolve.cap"))
            if new is None:
                raise ProtocolError("Resolve to CapDescriptor.none")
        elif r.which == "exception":
            new = BrokenHook(from_capnp_exception(present(r.exception, "Resolve.exception")))
        else:
            raise ProtocolError("unknown Resolve kind")
        imp = self._imports.get(pid)
        if imp is not None and imp.promise is None:
            new.release()
            raise ProtocolError("Resolve for import %d, which is not a promise" % pid)
        if imp is None or imp.promise.is_resolved:
            new.release()       # we released the promise already
            return
        imp.promise.resolve(new)

    def _start_embargo(self, old, cb):
        """Send Disembargo(senderLoopback) to ``old``'s target; ``cb(None)`` runs when it
        echoes back (``cb(error)`` if the connection dies first)."""
        eid = self._embargoes.alloc(cb)
        self._send(Message(disembargo=Disembargo(
            target=old.write_target(), context=Disembargo_Context(sender_loopback=eid))))

    def _on_disembargo(self, d, root):
        ctx = d.context
        w = ctx.which
        if w == "sender_loopback":
            target = self._target_hook(d.target)
            try:
                h = innermost(target)
                if h.conn is not self or not isinstance(h, (ImportHook, PipelineTargetHook)):
                    raise ProtocolError("Disembargo senderLoopback target does not resolve "
                                        "to a capability of the sender")
                self._send(Message(disembargo=Disembargo(
                    target=h.write_target(),
                    context=Disembargo_Context(receiver_loopback=ctx.sender_loopback))))
            finally:
                target.release()
        elif w == "receiver_loopback":
            cb = self._embargoes.pop(ctx.receiver_loopback)
            if cb is None:
                raise ProtocolError("Disembargo receiverLoopback with unknown embargo id %d"
                                    % ctx.receiver_loopback)
            cb(None)
        else:
            self._send_unimplemented(root)
