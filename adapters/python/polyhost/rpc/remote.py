"""Hooks and pending calls for objects on the peer.

Owns :class:`ImportHook` (a capability the peer exported to us, by import id; its last
release sends ``Release`` with the number of times we received it),
:class:`PipelineTargetHook` (the not-yet-returned result of one of our questions at a
pointer path: calls go out with a ``promisedAnswer`` target) and :class:`Question`
(a call we sent, completed by the peer's ``Return``).
"""

from polyhost.rpc_capnp import MessageTarget, PromisedAnswer, PromisedAnswer_Op

from .hooks import Hook, Pending

__all__ = ["ImportHook", "PipelineTargetHook", "Question"]


class ImportHook(Hook):
    __slots__ = ("conn", "import_id", "remote_refs", "promise")

    def __init__(self, conn, import_id):
        super().__init__()
        self._refs = 0
        self.conn = conn
        self.import_id = import_id
        self.remote_refs = 0
        self.promise = None     # the PromiseHook to resolve, for a senderPromise import

    def __repr__(self):
        return "<ImportHook %d>" % self.import_id

    def call(self, interface_id, method_id, content, ctx=None):
        return self.conn._send_call(self.write_target(), interface_id, method_id, content)

    def write_target(self):
        return MessageTarget(imported_cap=self.import_id)

    def _dispose(self):
        self.conn._release_import(self)


class PipelineTargetHook(Hook):
    __slots__ = ("conn", "question", "ops")

    def __init__(self, conn, question, ops):
        super().__init__()
        self.conn = conn
        self.question = question
        self.ops = ops

    def __repr__(self):
        return "<PipelineTargetHook q%d %r>" % (self.question.id, list(self.ops))

    def call(self, interface_id, method_id, content, ctx=None):
        return self.conn._send_call(self.write_target(), interface_id, method_id, content)

    def promised_answer(self):
        return PromisedAnswer(question_id=self.question.id,
                              transform=[PromisedAnswer_Op(get_pointer_field=i)
                                         for i in self.ops])

    def write_target(self):
        return MessageTarget(promised_answer=self.promised_answer())


class Question(Pending):
    """A question we asked; lives in the question table until Return and Finish."""

    __slots__ = ("conn", "id", "param_exports", "returned", "finish_sent")

    def __init__(self, conn):
        super().__init__()
        self.conn = conn
        self.id = None
        self.param_exports = ()
        self.returned = False
        self.finish_sent = False

    def _pipeline_target(self, ops):
        return PipelineTargetHook(self.conn, self, ops)

    def cancel(self):
        self.conn._cancel_question(self)
