"""The two-party RPC connection: message loop and protocol state machine.

Owns reading frames (``wire.FrameDecoder`` with the connection's limits; fed by
``transport.StreamProtocol``) and writing them (the frames written in
one event-loop pass go out in one write), the handling of every rpc ``Message``
(bootstrap, call, return, finish, resolve, release, disembargo, abort, unimplemented;
anything else is answered with Unimplemented), the question / answer / export / import / embargo tables, and the
connection's life: a malformed frame or a protocol violation is logged, answered with
Abort and closes the connection; EOF or the peer's Abort closes it; closing fails every
outstanding call with ``DisconnectedError`` and cancels running handlers.

    conn = await Connection.connect(sock, bootstrap=MyWorker(), max_concurrency=8)
    peer = conn.bootstrap()            # Capability
    ...
    await conn.close()

The messages of an ordinary call (Call without capabilities, Return with results) take
the fast paths in ``_fast.py``; everything else is decoded by ``rpc_capnp``.

Rules kept from the reference implementation (capnp-rpc rpc.rs): Return never sets
releaseParamCaps (param capabilities are released with Release as they are dropped);
a Return whose results hold no capability sets noFinishNeeded; Finish after a Return
uses releaseResultCaps=false (we imported the result caps), a Finish that cancels uses
true; a Return for a question we cancelled is dropped without importing its caps.
"""

import asyncio
import collections
import functools
import logging

from polyhost import wire
from polyhost.rpc_capnp import (
    Bootstrap, Call, CapDescriptor, Disembargo, Disembargo_Context, Exception_,
    Exception_Type, Finish, Message, Release, Resolve, Return,
)

from . import _fast
from .capabilities import CapabilityTables
from .content import CapContent, RawContent, builder_cap_table
from .errors import (
    DisconnectedError, ExceptionType, ProtocolError, RpcError, from_capnp_exception,
    from_python_exception, present, to_capnp_exception,
)
from .limiter import Limiter
from .transport import StreamProtocol, Writer
from .hooks import BrokenHook, Pending, canceled_error, hook_of
from .remote import Question
from .tables import Answer, IdTable

__all__ = ["Connection"]

log = logging.getLogger("polyhost.rpc")

# Payload.content is pointer 0, Payload.capTable pointer 1 (capnp/rpc.capnp layout).
_PAYLOAD_CONTENT = 0
_PAYLOAD_CAP_TABLE = 1
# Message union discriminants (capnp/rpc.capnp)
_MSG_CALL = 2
_MSG_RETURN = 3


# Message members that are structs (a null one is a protocol error).
_STRUCT_MEMBERS = frozenset(("call", "return_", "finish", "resolve", "release", "disembargo",
                             "bootstrap", "abort"))


class _OutPayload:
    """Written in place of an ``rpc_capnp.Payload``: the content first, then the cap
    table made from the capabilities the content put in the message's cap table."""

    __slots__ = ("conn", "content", "table", "exports", "ncaps")

    def __init__(self, conn, content):
        self.conn = conn
        self.content = content
        self.table = None
        self.exports = []
        self.ncaps = 0

    def _polyhost_write(self, b):
        self.content.write_into(b, _PAYLOAD_CONTENT)
        table = self.table
        n = self.ncaps = len(table)
        if n:
            lb = b.init_struct_list(_PAYLOAD_CAP_TABLE, n, CapDescriptor._polyhost_data_words,
                                    CapDescriptor._polyhost_ptr_count)
            for i, obj in enumerate(table):
                self.conn._write_descriptor(obj, self.exports)._polyhost_write(lb.get_struct(i))


class Connection(CapabilityTables):
    """One end of a two-party RPC connection over a stream socket: made and started by
    :meth:`connect`.

    ``bootstrap``: the object served to the peer's Bootstrap (a Server or Capability),
    or None. ``limits``: ``wire.Limits`` for incoming frames. ``max_concurrency``: most
    handlers running at once for calls from this connection (None: unlimited).
    ``executor``: where sync handlers run (None: the loop's default executor).
    """

    def __init__(self, writer, *, bootstrap=None, limits=None, max_concurrency=None,
                 executor=None, name="rpc"):
        # ``writer``: ``write`` / ``close`` / ``wait_closed`` (``transport.Writer``); bytes
        # come in through ``_on_data`` / ``_on_eof`` / ``_on_lost``.
        self._writer = writer
        self._write_out = writer.write  # (connect() binds the transport's own write)
        self.name = name
        self._decoder = wire.FrameDecoder(limits if limits is not None else wire.Limits())
        self._questions = IdTable()
        self._answers = {}
        self._exports = IdTable()
        self._exports_by_hook = {}
        self._imports = {}
        self._embargoes = IdTable()
        self._bootstrap_hook = hook_of(bootstrap).add_ref() if bootstrap is not None else None
        self._limiter = Limiter(max_concurrency) if max_concurrency else None
        self._executor = executor
        self.stats = collections.Counter()
        self.closed = False
        self.error = None
        self._closed_event = asyncio.Event()
        self._out = []              # frames not written yet (see _write)
        self._protocol = None       # set by connect() until start()
        self._calls_running = 0     # calls from the peer not answered yet
        self._reading = False       # inside _on_data
        self._handler_context = None    # handlers' base context (server.run_direct)
        self._loop = None               # the loop it runs on, once known
        self._call_layout = None        # how the peer lays out a Call (_fast.direct_call)
        self._encoders = {}             # _fast.encode_direct's, per results class

    @classmethod
    async def connect(cls, sock, **kwargs):
        """A started Connection over a connected stream socket (e.g. a socketpair end).
        It reads through a Protocol (see ``transport.py``), not a reader task."""
        loop = asyncio.get_running_loop()
        proto = StreamProtocol(loop)
        await loop.create_connection(lambda: proto, sock=sock)
        conn = cls(Writer(proto), **kwargs)
        conn._write_out = proto.transport.write
        conn._loop = loop
        conn._protocol = proto
        conn.start()
        return conn

    def start(self):
        """Start the message loop (once)."""
        if self._protocol is not None:
            proto, self._protocol = self._protocol, None
            proto.attach(self)
        return self

    async def wait_closed(self):
        """Wait until the connection is closed (by either side or an error)."""
        await self._closed_event.wait()

    async def close(self):
        """Close the connection: outstanding calls fail with DisconnectedError."""
        self._disconnect(DisconnectedError("connection closed"))
        try:
            await self._writer.wait_closed()
        except Exception:
            pass

    def bootstrap(self):
        """The peer's bootstrap capability (usable at once: calls are pipelined)."""
        from .client import Capability
        q = Question(self)
        if self.closed:
            q._complete(error=self.error)
        else:
            q.id = self._questions.alloc(q)
            self._send(Message(bootstrap=Bootstrap(question_id=q.id)))
        return Capability._from_hook(q.pipelined_hook(()))

    def table_sizes(self):
        """Sizes of the protocol tables (for tests and diagnostics)."""
        return {"questions": len(self._questions), "answers": len(self._answers),
                "exports": len(self._exports), "imports": len(self._imports),
                "embargoes": len(self._embargoes)}

    def __repr__(self):
        return "<Connection %s%s>" % (self.name, " closed" if self.closed else "")

    # -- the loop -------------------------------------------------------------------------

    def _on_data(self, data):
        """Decode and handle a chunk of bytes; False once the connection is closed."""
        if self.closed:
            return False
        self._reading = True
        try:
            try:
                messages = self._decoder.feed(data)
            except wire.WireError as e:
                self._abort("malformed frame: %s: %s" % (type(e).__name__, e))
                return False
            direct_call = _fast.direct_call
            for mr in messages:
                if self.closed:
                    return False
                try:
                    if not direct_call(self, mr):
                        self._handle(mr)
                except ProtocolError as e:
                    self._abort("protocol error: %s" % e)
                    return False
                except wire.WireError as e:
                    self._abort("malformed message: %s: %s" % (type(e).__name__, e))
                    return False
                except Exception as e:
                    log.exception("%s: internal error handling a message", self.name)
                    self._abort("internal error: %s: %s" % (type(e).__name__, e))
                    return False
            if self._out:
                self._flush()   # answers given while handling this chunk
            return not self.closed
        finally:
            self._reading = False

    def _on_eof(self):
        decoder = self._decoder
        if not decoder.at_boundary():
            log.warning("%s: the peer closed the connection in the middle of a frame (%d "
                        "bytes of it received)", self.name, decoder.buffered)
        self._disconnect(DisconnectedError("the peer closed the connection"))

    def _on_lost(self, exc):
        self._disconnect(DisconnectedError("connection lost: %s" % exc))

    def _write(self, data):
        # Frames written during one pass of the event loop go out in one write (one
        # send() syscall instead of one per message): the first one schedules _flush.
        if self.closed:
            self._writer.write(data)
            return
        out = self._out
        out.append(data)
        if len(out) == 1 and not self._reading:
            # (while a chunk is handled, _on_data flushes at its end)
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self):
        out = self._out
        if out:
            data = out[0] if len(out) == 1 else b"".join(out)
            out.clear()
            self._write_out(data)

    def _send(self, msg, payload=None):
        """Encode and write one Message; returns its size in bytes."""
        table = []
        mb = wire.MessageBuilder(cap_table=table)
        if payload is not None:
            payload.table = builder_cap_table(mb, table)
        msg._polyhost_write(mb.init_root(Message._polyhost_data_words,
                                         Message._polyhost_ptr_count))
        data = mb.to_bytes()
        self._write(data)
        self.stats["sent." + msg.which] += 1
        return len(data)

    def _abort(self, reason):
        if self.closed:
            return
        log.error("%s: aborting the connection: %s", self.name, reason)
        try:
            self._send(Message(abort=Exception_(reason=reason, type=Exception_Type.FAILED)))
        except Exception:
            log.exception("%s: could not send Abort", self.name)
        self._disconnect(DisconnectedError("connection aborted: %s" % reason))

    def _disconnect(self, error):
        if self.closed:
            return
        self.closed = True
        self.error = error
        questions = self._questions.values()
        self._questions.clear()
        for q in questions:
            q._complete(error=error)
        answers = list(self._answers.values())
        self._answers.clear()
        for a in answers:
            if a.pending is not None:
                a.pending.cancel()
        embargoes = self._embargoes.values()
        self._embargoes.clear()
        for cb in embargoes:
            cb(error)
        for imp in list(self._imports.values()):
            if imp.promise is not None and not imp.promise.is_resolved:
                imp.promise.resolve(BrokenHook(error))
        self._imports.clear()
        exports = self._exports.values()
        self._exports.clear()
        self._exports_by_hook.clear()
        for e in exports:
            e.hook.release()
        if self._bootstrap_hook is not None:
            self._bootstrap_hook.release()
            self._bootstrap_hook = None
        try:
            self._flush()
            self._writer.close()
        except Exception:
            pass
        self._closed_event.set()

    # -- dispatch -------------------------------------------------------------------------

    def _handle(self, mr):
        # (a Call of the common shape was handled by _fast.direct_call already)
        root = mr.root()
        d = root.get_uint16(0, 0)
        # Fast paths for the common shapes of Call and Return (no capabilities, plain
        # targets): they read the same fields in the same order as the generated
        # decoder, so errors are the same, without building the Message objects.
        if d == _MSG_CALL:
            if _fast.handle_call(self, mr, root):
                return
        elif d == _MSG_RETURN:
            if _fast.handle_return(self, mr, root):
                return
        msg = Message._polyhost_read(root)
        w = msg.which
        self.stats["recv.%s" % w] += 1
        if w in _STRUCT_MEMBERS:
            present(getattr(msg, w), "Message.%s" % w)
        if w == "call":
            self._on_call(msg.call, mr, msg)
        elif w == "return_":
            self._on_return(msg.return_, mr, msg)
        elif w == "finish":
            self._on_finish(msg.finish)
        elif w == "resolve":
            self._on_resolve(msg.resolve)
        elif w == "release":
            self._release_export(msg.release.id, msg.release.reference_count)
        elif w == "disembargo":
            self._on_disembargo(msg.disembargo, root)
        elif w == "bootstrap":
            self._on_bootstrap(msg.bootstrap)
        elif w == "abort":
            a = msg.abort
            log.warning("%s: the peer aborted the connection: %s", self.name, a.reason)
            self._disconnect(DisconnectedError("connection aborted by the peer: %s"
                                               % a.reason, a.trace))
        elif w == "unimplemented":
            if msg.unimplemented is None:
                # A null root reads as an empty `unimplemented`: nothing to act on.
                raise ProtocolError("an Unimplemented message that holds no message "
                                    "(a null root, or a null unimplemented field)")
            self._on_unimplemented(msg.unimplemented)
        else:
            self._send_unimplemented(root)

    def _send_unimplemented(self, root):
        # rpc.capnp: Unimplemented echoes the message received, exactly as received
        # (a kind this side cannot decode included), so it is copied as raw words.
        try:
            self._send(_Echo(root))
        except wire.InvalidCapability as e:
            # capability pointers of a kind we do not know have no table to copy from
            log.warning("%s: could not echo an unimplemented message (discriminant %d): "
                        "%s", self.name, root.get_uint16(0, 0), e)
        except wire.WireError:
            raise   # a message that cannot be copied is malformed: the connection aborts
        except Exception as e:
            log.warning("%s: could not echo an unimplemented message (discriminant %d): "
                        "%s", self.name, root.get_uint16(0, 0), e)

    # -- calls we answer ------------------------------------------------------------------

    def _on_bootstrap(self, b):
        qid = b.question_id
        if qid in self._answers:
            raise ProtocolError("Bootstrap reuses question id %d still in use" % qid)
        a = Answer(qid)
        self._answers[qid] = a
        p = Pending()
        if self._bootstrap_hook is None:
            p._complete(error=RpcError("this peer serves no bootstrap capability"))
        else:
            p._complete(content=CapContent(self._bootstrap_hook))
        a.pending = p
        self._on_answer_done(a, p)

    def _on_call(self, c, mr, msg):
        qid = c.question_id
        if qid in self._answers:
            raise ProtocolError("Call reuses question id %d still in use" % qid)
        if c.send_results_to.which != "caller":
            self._send_unimplemented(mr.root())
            return
        params = present(c.params, "Call.params")
        self._answer_call(qid, self._target_hook(c.target), c.interface_id, c.method_id,
                          params.content, params.cap_table, mr)

    def _answer_call(self, qid, target, interface_id, method_id, content, descriptors, mr):
        """Start answering a Call (``target``: a new hook reference, released here)."""
        try:
            caps = self._receive_caps(descriptors) if descriptors else []
            mr.cap_table = caps
            a = Answer(qid)
            self._answers[qid] = a
            p = target.call(interface_id, method_id, RawContent(content, caps), self)
        finally:
            target.release()
        a.pending = p
        if p.done:
            # answered while the call was started (a handler that did not suspend): the
            # Return joins the others of this read (_on_data flushes at its end)
            self._on_answer_done(a, p)
            return
        self._calls_running += 1
        p.add_listener(functools.partial(self._on_call_done, a))

    def _on_call_done(self, a, p):
        self._calls_running -= 1
        self._on_answer_done(a, p)
        if not self._calls_running and self._out and not self._reading:
            # The last call in progress answered (in a handler task): nothing else is
            # about to be written in this pass, so write now instead of one loop pass
            # later (_write). While a chunk is handled, _on_data flushes at its end.
            self._flush()

    def _on_answer_done(self, a, p):
        if self.closed or self._answers.get(a.id) is not a or a.return_sent:
            return
        if a.finish_received or isinstance(p.error, asyncio.CancelledError):
            self._send(Message(return_=Return(answer_id=a.id, release_param_caps=False,
                                              which="canceled")))
        elif p.error is not None:
            self._send_exception_return(a, p.error)
        else:
            payload = _OutPayload(self, p.content)
            try:
                self._write(_fast.encode_results(a.id, payload))
                self.stats["sent.return_"] += 1
            except Exception as e:
                self._release_exports(payload.exports)
                log.warning("%s: could not encode the results of answer %d: %s",
                            self.name, a.id, e)
                self._send_exception_return(a, from_python_exception(e))
            else:
                a.result_exports = payload.exports
                if payload.ncaps == 0:
                    a.finish_received = True     # we said noFinishNeeded
        a.return_sent = True
        if a.finish_received:
            del self._answers[a.id]

    def _send_exception_return(self, a, err):
        self._send(Message(return_=Return(answer_id=a.id, release_param_caps=False,
                                          exception=to_capnp_exception(err))))

    def _on_finish(self, f):
        a = self._answers.get(f.question_id)
        if a is None:
            return      # we said noFinishNeeded, or the Finish crossed our Return
        a.finish_received = True
        if f.release_result_caps:
            exports, a.result_exports = a.result_exports, ()
            self._release_exports(exports)
        if a.return_sent:
            del self._answers[a.id]
        elif a.pending is not None:
            a.pending.cancel()

    # -- calls we ask ---------------------------------------------------------------------

    def _send_call(self, target, interface_id, method_id, content):
        q = Question(self)
        if self.closed:
            q._complete(error=self.error)
            return q
        q.id = self._questions.alloc(q)
        payload = _OutPayload(self, content)
        msg = Message(call=Call(question_id=q.id, target=target, interface_id=interface_id,
                                method_id=method_id, params=payload))
        try:
            q.size = self._send(msg, payload)
        except Exception as e:
            self._questions.pop(q.id)
            self._release_exports(payload.exports)
            q._complete(error=from_python_exception(e))
            return q
        q.param_exports = payload.exports
        return q

    def _cancel_question(self, q):
        if q.done or q.returned:
            return
        if not self.closed and not q.finish_sent:
            q.finish_sent = True
            self._send(Message(finish=Finish(question_id=q.id, release_result_caps=True)))
        q._complete(error=canceled_error())

    def _returned_question(self, answer_id, release_param_caps):
        """The question a Return answers, or None when it was cancelled (then dropped)."""
        q = self._questions.get(answer_id)
        if q is None:
            raise ProtocolError("Return for unknown question id %d" % answer_id)
        q.returned = True
        if release_param_caps and q.param_exports:
            self._release_exports(q.param_exports)
        q.param_exports = ()
        if q.done:      # cancelled: Finish (releaseResultCaps) already sent
            self._questions.pop(q.id)
            return None
        return q

    def _complete_question(self, q, content, descriptors, mr):
        caps = self._receive_caps(descriptors) if descriptors else []
        mr.cap_table = caps
        q._complete(content=RawContent(content, caps))

    def _on_return(self, r, mr, msg):
        q = self._returned_question(r.answer_id, r.release_param_caps)
        if q is None:
            return
        w = r.which
        if w == "results":
            results = present(r.results, "Return.results")
            self._complete_question(q, results.content, results.cap_table, mr)
        elif w == "exception":
            q._complete(error=from_capnp_exception(present(r.exception, "Return.exception")))
        elif w == "canceled":
            q._complete(error=RpcError("the call was canceled by the callee"))
        else:
            q._complete(error=RpcError("unsupported Return kind %r" % (w,),
                                       ExceptionType.UNIMPLEMENTED))
            self._send_unimplemented(mr.root())
        self._after_return(q, r.no_finish_needed)

    def _after_return(self, q, no_finish_needed):
        if not q.finish_sent and not no_finish_needed and not self.closed:
            q.finish_sent = True
            self._send(Message(finish=Finish(question_id=q.id, release_result_caps=False)))
        self._questions.pop(q.id)

    def _on_unimplemented(self, m):
        w = m.which
        if w in _STRUCT_MEMBERS:
            present(getattr(m, w), "Unimplemented.%s" % w)
        if w == "resolve" and m.resolve.which == "cap":
            d = present(m.resolve.cap, "Unimplemented.resolve.cap")
            if d.which in ("sender_hosted", "sender_promise"):
                self._release_exports([getattr(d, d.which)])
        elif w in ("call", "bootstrap"):
            qid = getattr(m, w).question_id
            q = self._questions.pop(qid)
            if q is not None:
                q._complete(error=RpcError("the peer does not implement this %s" % w,
                                           ExceptionType.UNIMPLEMENTED))
        else:
            log.warning("%s: the peer does not implement %s messages", self.name, w)


class _Echo:
    """An Unimplemented message whose content is a received message's root, copied
    word for word (so a kind this side does not know is echoed as it arrived)."""

    __slots__ = ("root",)
    which = "unimplemented"

    def __init__(self, root):
        self.root = root

    def _polyhost_write(self, b):
        # Message's union discriminant is its first 16 bits; `unimplemented` is 0
        # and its Message is pointer 0.
        b.set_uint16(0, 0, 0)
        b.copy_pointer(0, self.root)
