# generated from capnp/rpc.capnp by polyhost (hand-written stand-in of the same shape).
# Do not edit: regenerate instead.
"""Cap'n Proto RPC protocol messages (capnp/rpc.capnp, file id 0xb312981b2552a250)."""

import enum as _polyhost_enum_mod

from polyhost import wire as _polyhost_wire


def _polyhost_enum(cls, value):
    try:
        return cls(value)
    except ValueError:
        return value


def _polyhost_structs(lst):
    return [lst.get_struct(i) for i in range(lst.len())]


def _polyhost_write_any(b, i, value):
    if value is None:
        return
    if isinstance(value, _polyhost_wire.PointerReader):
        b.copy_pointer(i, value)
    else:
        value._polyhost_write(b.init_struct(i, value._polyhost_data_words, value._polyhost_ptr_count))


class Exception_Type(_polyhost_enum_mod.IntEnum):
    FAILED = 0
    OVERLOADED = 1
    DISCONNECTED = 2
    UNIMPLEMENTED = 3


Exception_Type._polyhost_type_id = 0xb28c96e23f4cbd58


class Message:
    __slots__ = ("which", "unimplemented", "abort", "bootstrap", "call", "return_", "finish", "resolve", "release", "disembargo", "obsolete_save", "obsolete_delete", "provide", "accept", "join",)
    _polyhost_type_id = 0x91b79f1f808db032
    _polyhost_data_words = 1
    _polyhost_ptr_count = 1
    _polyhost_union = {"unimplemented": 0, "abort": 1, "bootstrap": 8, "call": 2, "return_": 3, "finish": 4, "resolve": 5, "release": 6, "disembargo": 13, "obsolete_save": 7, "obsolete_delete": 9, "provide": 10, "accept": 11, "join": 12}

    def __init__(self, *, which: "str | None" = None, unimplemented: "Message | None" = None, abort: "Exception_ | None" = None, bootstrap: "Bootstrap | None" = None, call: "Call | None" = None, return_: "Return | None" = None, finish: "Finish | None" = None, resolve: "Resolve | None" = None, release: "Release | None" = None, disembargo: "Disembargo | None" = None, obsolete_save: "_polyhost_wire.PointerReader | None" = None, obsolete_delete: "_polyhost_wire.PointerReader | None" = None, provide: "Provide | None" = None, accept: "Accept | None" = None, join: "Join | None" = None) -> None:
        if which is None:
            if unimplemented is not None:
                which = "unimplemented"
            elif abort is not None:
                which = "abort"
            elif bootstrap is not None:
                which = "bootstrap"
            elif call is not None:
                which = "call"
            elif return_ is not None:
                which = "return_"
            elif finish is not None:
                which = "finish"
            elif resolve is not None:
                which = "resolve"
            elif release is not None:
                which = "release"
            elif disembargo is not None:
                which = "disembargo"
            elif obsolete_save is not None:
                which = "obsolete_save"
            elif obsolete_delete is not None:
                which = "obsolete_delete"
            elif provide is not None:
                which = "provide"
            elif accept is not None:
                which = "accept"
            elif join is not None:
                which = "join"
            else:
                which = "unimplemented"
        elif which not in self._polyhost_union:
            raise ValueError("Message has no union member %r" % (which,))
        self.which = which
        self.unimplemented = unimplemented if which == "unimplemented" else None
        self.abort = abort if which == "abort" else None
        self.bootstrap = bootstrap if which == "bootstrap" else None
        self.call = call if which == "call" else None
        self.return_ = return_ if which == "return_" else None
        self.finish = finish if which == "finish" else None
        self.resolve = resolve if which == "resolve" else None
        self.release = release if which == "release" else None
        self.disembargo = disembargo if which == "disembargo" else None
        self.obsolete_save = obsolete_save if which == "obsolete_save" else None
        self.obsolete_delete = obsolete_delete if which == "obsolete_delete" else None
        self.provide = provide if which == "provide" else None
        self.accept = accept if which == "accept" else None
        self.join = join if which == "join" else None

    def __eq__(self, other) -> bool:
        if type(other) is not Message:
            return NotImplemented
        return self.which == other.which and self.unimplemented == other.unimplemented and self.abort == other.abort and self.bootstrap == other.bootstrap and self.call == other.call and self.return_ == other.return_ and self.finish == other.finish and self.resolve == other.resolve and self.release == other.release and self.disembargo == other.disembargo and self.obsolete_save == other.obsolete_save and self.obsolete_delete == other.obsolete_delete and self.provide == other.provide and self.accept == other.accept and self.join == other.join

    __hash__ = None

    def __repr__(self) -> str:
        parts = ["which=%r" % (self.which,)]
        for _n in self.__slots__[1:]:
            _v = getattr(self, _n)
            if _v is not None or _n == self.which:
                parts.append("%s=%r" % (_n, _v))
        return "Message(%s)" % ", ".join(parts)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "Message":
        self = cls.__new__(cls)
        self.unimplemented = None
        self.abort = None
        self.bootstrap = None
        self.call = None
        self.return_ = None
        self.finish = None
        self.resolve = None
        self.release = None
        self.disembargo = None
        self.obsolete_save = None
        self.obsolete_delete = None
        self.provide = None
        self.accept = None
        self.join = None
        _d = r.get_uint16(0, 0)
        if _d == 0:
            self.which = "unimplemented"
            self.unimplemented = Message._polyhost_read(r.get_struct(0))
        elif _d == 1:
            self.which = "abort"
            self.abort = Exception_._polyhost_read(r.get_struct(0))
        elif _d == 2:
            self.which = "call"
            self.call = Call._polyhost_read(r.get_struct(0))
        elif _d == 3:
            self.which = "return_"
            self.return_ = Return._polyhost_read(r.get_struct(0))
        elif _d == 4:
            self.which = "finish"
            self.finish = Finish._polyhost_read(r.get_struct(0))
        elif _d == 5:
            self.which = "resolve"
            self.resolve = Resolve._polyhost_read(r.get_struct(0))
        elif _d == 6:
            self.which = "release"
            self.release = Release._polyhost_read(r.get_struct(0))
        elif _d == 7:
            self.which = "obsolete_save"
            self.obsolete_save = r.get_pointer(0)
        elif _d == 8:
            self.which = "bootstrap"
            self.bootstrap = Bootstrap._polyhost_read(r.get_struct(0))
        elif _d == 9:
            self.which = "obsolete_delete"
            self.obsolete_delete = r.get_pointer(0)
        elif _d == 10:
            self.which = "provide"
            self.provide = Provide._polyhost_read(r.get_struct(0))
        elif _d == 11:
            self.which = "accept"
            self.accept = Accept._polyhost_read(r.get_struct(0))
        elif _d == 12:
            self.which = "join"
            self.join = Join._polyhost_read(r.get_struct(0))
        elif _d == 13:
            self.which = "disembargo"
            self.disembargo = Disembargo._polyhost_read(r.get_struct(0))
        else:
            self.which = None
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        _w = self.which
        if _w == "unimplemented":
            b.set_uint16(0, 0, 0)
            if self.unimplemented is not None:
                self.unimplemented._polyhost_write(b.init_struct(0, Message._polyhost_data_words, Message._polyhost_ptr_count))
        elif _w == "abort":
            b.set_uint16(0, 1, 0)
            if self.abort is not None:
                self.abort._polyhost_write(b.init_struct(0, Exception_._polyhost_data_words, Exception_._polyhost_ptr_count))
        elif _w == "call":
            b.set_uint16(0, 2, 0)
            if self.call is not None:
                self.call._polyhost_write(b.init_struct(0, Call._polyhost_data_words, Call._polyhost_ptr_count))
        elif _w == "return_":
            b.set_uint16(0, 3, 0)
            if self.return_ is not None:
                self.return_._polyhost_write(b.init_struct(0, Return._polyhost_data_words, Return._polyhost_ptr_count))
        elif _w == "finish":
            b.set_uint16(0, 4, 0)
            if self.finish is not None:
                self.finish._polyhost_write(b.init_struct(0, Finish._polyhost_data_words, Finish._polyhost_ptr_count))
        elif _w == "resolve":
            b.set_uint16(0, 5, 0)
            if self.resolve is not None:
                self.resolve._polyhost_write(b.init_struct(0, Resolve._polyhost_data_words, Resolve._polyhost_ptr_count))
        elif _w == "release":
            b.set_uint16(0, 6, 0)
            if self.release is not None:
                self.release._polyhost_write(b.init_struct(0, Release._polyhost_data_words, Release._polyhost_ptr_count))
        elif _w == "obsolete_save":
            b.set_uint16(0, 7, 0)
            _polyhost_write_any(b, 0, self.obsolete_save)
        elif _w == "bootstrap":
            b.set_uint16(0, 8, 0)
            if self.bootstrap is not None:
                self.bootstrap._polyhost_write(b.init_struct(0, Bootstrap._polyhost_data_words, Bootstrap._polyhost_ptr_count))
        elif _w == "obsolete_delete":
            b.set_uint16(0, 9, 0)
            _polyhost_write_any(b, 0, self.obsolete_delete)
        elif _w == "provide":
            b.set_uint16(0, 10, 0)
            if self.provide is not None:
                self.provide._polyhost_write(b.init_struct(0, Provide._polyhost_data_words, Provide._polyhost_ptr_count))
        elif _w == "accept":
            b.set_uint16(0, 11, 0)
            if self.accept is not None:
                self.accept._polyhost_write(b.init_struct(0, Accept._polyhost_data_words, Accept._polyhost_ptr_count))
        elif _w == "join":
            b.set_uint16(0, 12, 0)
            if self.join is not None:
                self.join._polyhost_write(b.init_struct(0, Join._polyhost_data_words, Join._polyhost_ptr_count))
        elif _w == "disembargo":
            b.set_uint16(0, 13, 0)
            if self.disembargo is not None:
                self.disembargo._polyhost_write(b.init_struct(0, Disembargo._polyhost_data_words, Disembargo._polyhost_ptr_count))


class Bootstrap:
    __slots__ = ("question_id", "deprecated_object_id",)
    _polyhost_type_id = 0xe94ccf8031176ec4
    _polyhost_data_words = 1
    _polyhost_ptr_count = 1

    def __init__(self, *, question_id: int = 0, deprecated_object_id: "_polyhost_wire.PointerReader | None" = None) -> None:
        self.question_id = question_id
        self.deprecated_object_id = deprecated_object_id

    def __eq__(self, other) -> bool:
        if type(other) is not Bootstrap:
            return NotImplemented
        return self.question_id == other.question_id and self.deprecated_object_id == other.deprecated_object_id

    __hash__ = None

    def __repr__(self) -> str:
        return "Bootstrap(question_id=%r, deprecated_object_id=%r)" % (self.question_id, self.deprecated_object_id,)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "Bootstrap":
        self = cls.__new__(cls)
        self.question_id = r.get_uint32(0, 0)
        self.deprecated_object_id = r.get_pointer(0)
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        b.set_uint32(0, self.question_id, 0)
        _polyhost_write_any(b, 0, self.deprecated_object_id)


class Call:
    __slots__ = ("question_id", "target", "interface_id", "method_id", "allow_third_party_tail_call", "no_promise_pipelining", "only_promise_pipeline", "params", "send_results_to",)
    _polyhost_type_id = 0x836a53ce789d4cd4
    _polyhost_data_words = 3
    _polyhost_ptr_count = 3

    def __init__(self, *, question_id: int = 0, target: "MessageTarget | None" = None, interface_id: int = 0, method_id: int = 0, allow_third_party_tail_call: bool = False, no_promise_pipelining: bool = False, only_promise_pipeline: bool = False, params: "Payload | None" = None, send_results_to: "Call_SendResultsTo | None" = None) -> None:
        self.question_id = question_id
        self.target = target
        self.interface_id = interface_id
        self.method_id = method_id
        self.allow_third_party_tail_call = allow_third_party_tail_call
        self.no_promise_pipelining = no_promise_pipelining
        self.only_promise_pipeline = only_promise_pipeline
        self.params = params
        self.send_results_to = send_results_to

    def __eq__(self, other) -> bool:
        if type(other) is not Call:
            return NotImplemented
        return self.question_id == other.question_id and self.target == other.target and self.interface_id == other.interface_id and self.method_id == other.method_id and self.allow_third_party_tail_call == other.allow_third_party_tail_call and self.no_promise_pipelining == other.no_promise_pipelining and self.only_promise_pipeline == other.only_promise_pipeline and self.params == other.params and self.send_results_to == other.send_results_to

    __hash__ = None

    def __repr__(self) -> str:
        return "Call(question_id=%r, target=%r, interface_id=%r, method_id=%r, allow_third_party_tail_call=%r, no_promise_pipelining=%r, only_promise_pipeline=%r, params=%r, send_results_to=%r)" % (self.question_id, self.target, self.interface_id, self.method_id, self.allow_third_party_tail_call, self.no_promise_pipelining, self.only_promise_pipeline, self.params, self.send_results_to,)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "Call":
        self = cls.__new__(cls)
        self.question_id = r.get_uint32(0, 0)
        self.target = MessageTarget._polyhost_read(r.get_struct(0))
        self.interface_id = r.get_uint64(1, 0)
        self.method_id = r.get_uint16(2, 0)
        self.allow_third_party_tail_call = r.get_bool(128, False)
        self.no_promise_pipelining = r.get_bool(129, False)
        self.only_promise_pipeline = r.get_bool(130, False)
        self.params = Payload._polyhost_read(r.get_struct(1))
        self.send_results_to = Call_SendResultsTo._polyhost_read(r)
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        b.set_uint32(0, self.question_id, 0)
        if self.target is not None:
            self.target._polyhost_write(b.init_struct(0, MessageTarget._polyhost_data_words, MessageTarget._polyhost_ptr_count))
        b.set_uint64(1, self.interface_id, 0)
        b.set_uint16(2, self.method_id, 0)
        b.set_bool(128, self.allow_third_party_tail_call, False)
        b.set_bool(129, self.no_promise_pipelining, False)
        b.set_bool(130, self.only_promise_pipeline, False)
        if self.params is not None:
            self.params._polyhost_write(b.init_struct(1, Payload._polyhost_data_words, Payload._polyhost_ptr_count))
        if self.send_results_to is not None:
            self.send_results_to._polyhost_write(b)


class Call_SendResultsTo:
    __slots__ = ("which", "caller", "yourself", "third_party",)
    _polyhost_type_id = 0xdae8b0f61aab5f99
    _polyhost_data_words = 3
    _polyhost_ptr_count = 3
    _polyhost_union = {"caller": 0, "yourself": 1, "third_party": 2}

    def __init__(self, *, which: "str | None" = None, caller: None = None, yourself: None = None, third_party: "_polyhost_wire.PointerReader | None" = None) -> None:
        if which is None:
            if third_party is not None:
                which = "third_party"
            else:
                which = "caller"
        elif which not in self._polyhost_union:
            raise ValueError("Call_SendResultsTo has no union member %r" % (which,))
        self.which = which
        self.caller = None
        self.yourself = None
        self.third_party = third_party if which == "third_party" else None

    def __eq__(self, other) -> bool:
        if type(other) is not Call_SendResultsTo:
            return NotImplemented
        return self.which == other.which and self.caller == other.caller and self.yourself == other.yourself and self.third_party == other.third_party

    __hash__ = None

    def __repr__(self) -> str:
        parts = ["which=%r" % (self.which,)]
        for _n in self.__slots__[1:]:
            _v = getattr(self, _n)
            if _v is not None or _n == self.which:
                parts.append("%s=%r" % (_n, _v))
        return "Call_SendResultsTo(%s)" % ", ".join(parts)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "Call_SendResultsTo":
        self = cls.__new__(cls)
        self.caller = None
        self.yourself = None
        self.third_party = None
        _d = r.get_uint16(3, 0)
        if _d == 0:
            self.which = "caller"
        elif _d == 1:
            self.which = "yourself"
        elif _d == 2:
            self.which = "third_party"
            self.third_party = r.get_pointer(2)
        else:
            self.which = None
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        _w = self.which
        if _w == "caller":
            b.set_uint16(3, 0, 0)
        elif _w == "yourself":
            b.set_uint16(3, 1, 0)
        elif _w == "third_party":
            b.set_uint16(3, 2, 0)
            _polyhost_write_any(b, 2, self.third_party)


class Return:
    __slots__ = ("which", "answer_id", "release_param_caps", "no_finish_needed", "results", "exception", "canceled", "results_sent_elsewhere", "take_from_other_question", "accept_from_third_party",)
    _polyhost_type_id = 0x9e19b28d3db3573a
    _polyhost_data_words = 2
    _polyhost_ptr_count = 1
    _polyhost_union = {"results": 0, "exception": 1, "canceled": 2, "results_sent_elsewhere": 3, "take_from_other_question": 4, "accept_from_third_party": 5}

    def __init__(self, *, which: "str | None" = None, answer_id: int = 0, release_param_caps: bool = True, no_finish_needed: bool = False, results: "Payload | None" = None, exception: "Exception_ | None" = None, canceled: None = None, results_sent_elsewhere: None = None, take_from_other_question: int = None, accept_from_third_party: "_polyhost_wire.PointerReader | None" = None) -> None:
        if which is None:
            if results is not None:
                which = "results"
            elif exception is not None:
                which = "exception"
            elif take_from_other_question is not None:
                which = "take_from_other_question"
            elif accept_from_third_party is not None:
                which = "accept_from_third_party"
            else:
                which = "results"
        elif which not in self._polyhost_union:
            raise ValueError("Return has no union member %r" % (which,))
        self.which = which
        self.answer_id = answer_id
        self.release_param_caps = release_param_caps
        self.no_finish_needed = no_finish_needed
        self.results = results if which == "results" else None
        self.exception = exception if which == "exception" else None
        self.canceled = None
        self.results_sent_elsewhere = None
        self.take_from_other_question = take_from_other_question if which == "take_from_other_question" else None
        self.accept_from_third_party = accept_from_third_party if which == "accept_from_third_party" else None

    def __eq__(self, other) -> bool:
        if type(other) is not Return:
            return NotImplemented
        return self.which == other.which and self.answer_id == other.answer_id and self.release_param_caps == other.release_param_caps and self.no_finish_needed == other.no_finish_needed and self.results == other.results and self.exception == other.exception and self.canceled == other.canceled and self.results_sent_elsewhere == other.results_sent_elsewhere and self.take_from_other_question == other.take_from_other_question and self.accept_from_third_party == other.accept_from_third_party

    __hash__ = None

    def __repr__(self) -> str:
        parts = ["which=%r" % (self.which,)]
        for _n in self.__slots__[1:]:
            _v = getattr(self, _n)
            if _v is not None or _n == self.which:
                parts.append("%s=%r" % (_n, _v))
        return "Return(%s)" % ", ".join(parts)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "Return":
        self = cls.__new__(cls)
        self.answer_id = r.get_uint32(0, 0)
        self.release_param_caps = r.get_bool(32, True)
        self.no_finish_needed = r.get_bool(33, False)
        self.results = None
        self.exception = None
        self.canceled = None
        self.results_sent_elsewhere = None
        self.take_from_other_question = None
        self.accept_from_third_party = None
        _d = r.get_uint16(3, 0)
        if _d == 0:
            self.which = "results"
            self.results = Payload._polyhost_read(r.get_struct(0))
        elif _d == 1:
            self.which = "exception"
            self.exception = Exception_._polyhost_read(r.get_struct(0))
        elif _d == 2:
            self.which = "canceled"
        elif _d == 3:
            self.which = "results_sent_elsewhere"
        elif _d == 4:
            self.which = "take_from_other_question"
            self.take_from_other_question = r.get_uint32(2, 0)
        elif _d == 5:
            self.which = "accept_from_third_party"
            self.accept_from_third_party = r.get_pointer(0)
        else:
            self.which = None
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        b.set_uint32(0, self.answer_id, 0)
        b.set_bool(32, self.release_param_caps, True)
        b.set_bool(33, self.no_finish_needed, False)
        _w = self.which
        if _w == "results":
            b.set_uint16(3, 0, 0)
            if self.results is not None:
                self.results._polyhost_write(b.init_struct(0, Payload._polyhost_data_words, Payload._polyhost_ptr_count))
        elif _w == "exception":
            b.set_uint16(3, 1, 0)
            if self.exception is not None:
                self.exception._polyhost_write(b.init_struct(0, Exception_._polyhost_data_words, Exception_._polyhost_ptr_count))
        elif _w == "canceled":
            b.set_uint16(3, 2, 0)
        elif _w == "results_sent_elsewhere":
            b.set_uint16(3, 3, 0)
        elif _w == "take_from_other_question":
            b.set_uint16(3, 4, 0)
            b.set_uint32(2, self.take_from_other_question, 0)
        elif _w == "accept_from_third_party":
            b.set_uint16(3, 5, 0)
            _polyhost_write_any(b, 0, self.accept_from_third_party)


class Finish:
    __slots__ = ("question_id", "release_result_caps", "require_early_cancellation_workaround",)
    _polyhost_type_id = 0xd37d2eb2c2f80e63
    _polyhost_data_words = 1
    _polyhost_ptr_count = 0

    def __init__(self, *, question_id: int = 0, release_result_caps: bool = True, require_early_cancellation_workaround: bool = True) -> None:
        self.question_id = question_id
        self.release_result_caps = release_result_caps
        self.require_early_cancellation_workaround = require_early_cancellation_workaround

    def __eq__(self, other) -> bool:
        if type(other) is not Finish:
            return NotImplemented
        return self.question_id == other.question_id and self.release_result_caps == other.release_result_caps and self.require_early_cancellation_workaround == other.require_early_cancellation_workaround

    __hash__ = None

    def __repr__(self) -> str:
        return "Finish(question_id=%r, release_result_caps=%r, require_early_cancellation_workaround=%r)" % (self.question_id, self.release_result_caps, self.require_early_cancellation_workaround,)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "Finish":
        self = cls.__new__(cls)
        self.question_id = r.get_uint32(0, 0)
        self.release_result_caps = r.get_bool(32, True)
        self.require_early_cancellation_workaround = r.get_bool(33, True)
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        b.set_uint32(0, self.question_id, 0)
        b.set_bool(32, self.release_result_caps, True)
        b.set_bool(33, self.require_early_cancellation_workaround, True)


class Resolve:
    __slots__ = ("which", "promise_id", "cap", "exception",)
    _polyhost_type_id = 0xbbc29655fa89086e
    _polyhost_data_words = 1
    _polyhost_ptr_count = 1
    _polyhost_union = {"cap": 0, "exception": 1}

    def __init__(self, *, which: "str | None" = None, promise_id: int = 0, cap: "CapDescriptor | None" = None, exception: "Exception_ | None" = None) -> None:
        if which is None:
            if cap is not None:
                which = "cap"
            elif exception is not None:
                which = "exception"
            else:
                which = "cap"
        elif which not in self._polyhost_union:
            raise ValueError("Resolve has no union member %r" % (which,))
        self.which = which
        self.promise_id = promise_id
        self.cap = cap if which == "cap" else None
        self.exception = exception if which == "exception" else None

    def __eq__(self, other) -> bool:
        if type(other) is not Resolve:
            return NotImplemented
        return self.which == other.which and self.promise_id == other.promise_id and self.cap == other.cap and self.exception == other.exception

    __hash__ = None

    def __repr__(self) -> str:
        parts = ["which=%r" % (self.which,)]
        for _n in self.__slots__[1:]:
            _v = getattr(self, _n)
            if _v is not None or _n == self.which:
                parts.append("%s=%r" % (_n, _v))
        return "Resolve(%s)" % ", ".join(parts)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "Resolve":
        self = cls.__new__(cls)
        self.promise_id = r.get_uint32(0, 0)
        self.cap = None
        self.exception = None
        _d = r.get_uint16(2, 0)
        if _d == 0:
            self.which = "cap"
            self.cap = CapDescriptor._polyhost_read(r.get_struct(0))
        elif _d == 1:
            self.which = "exception"
            self.exception = Exception_._polyhost_read(r.get_struct(0))
        else:
            self.which = None
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        b.set_uint32(0, self.promise_id, 0)
        _w = self.which
        if _w == "cap":
            b.set_uint16(2, 0, 0)
            if self.cap is not None:
                self.cap._polyhost_write(b.init_struct(0, CapDescriptor._polyhost_data_words, CapDescriptor._polyhost_ptr_count))
        elif _w == "exception":
            b.set_uint16(2, 1, 0)
            if self.exception is not None:
                self.exception._polyhost_write(b.init_struct(0, Exception_._polyhost_data_words, Exception_._polyhost_ptr_count))


class Release:
    __slots__ = ("id", "reference_count",)
    _polyhost_type_id = 0xad1a6c0d7dd07497
    _polyhost_data_words = 1
    _polyhost_ptr_count = 0

    def __init__(self, *, id: int = 0, reference_count: int = 0) -> None:
        self.id = id
        self.reference_count = reference_count

    def __eq__(self, other) -> bool:
        if type(other) is not Release:
            return NotImplemented
        return self.id == other.id and self.reference_count == other.reference_count

    __hash__ = None

    def __repr__(self) -> str:
        return "Release(id=%r, reference_count=%r)" % (self.id, self.reference_count,)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "Release":
        self = cls.__new__(cls)
        self.id = r.get_uint32(0, 0)
        self.reference_count = r.get_uint32(1, 0)
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        b.set_uint32(0, self.id, 0)
        b.set_uint32(1, self.reference_count, 0)


class Disembargo:
    __slots__ = ("target", "context",)
    _polyhost_type_id = 0xf964368b0fbd3711
    _polyhost_data_words = 1
    _polyhost_ptr_count = 1

    def __init__(self, *, target: "MessageTarget | None" = None, context: "Disembargo_Context | None" = None) -> None:
        self.target = target
        self.context = context

    def __eq__(self, other) -> bool:
        if type(other) is not Disembargo:
            return NotImplemented
        return self.target == other.target and self.context == other.context

    __hash__ = None

    def __repr__(self) -> str:
        return "Disembargo(target=%r, context=%r)" % (self.target, self.context,)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "Disembargo":
        self = cls.__new__(cls)
        self.target = MessageTarget._polyhost_read(r.get_struct(0))
        self.context = Disembargo_Context._polyhost_read(r)
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        if self.target is not None:
            self.target._polyhost_write(b.init_struct(0, MessageTarget._polyhost_data_words, MessageTarget._polyhost_ptr_count))
        if self.context is not None:
            self.context._polyhost_write(b)


class Disembargo_Context:
    __slots__ = ("which", "sender_loopback", "receiver_loopback", "accept", "provide",)
    _polyhost_type_id = 0xd562b4df655bdd4d
    _polyhost_data_words = 1
    _polyhost_ptr_count = 1
    _polyhost_union = {"sender_loopback": 0, "receiver_loopback": 1, "accept": 2, "provide": 3}

    def __init__(self, *, which: "str | None" = None, sender_loopback: int = None, receiver_loopback: int = None, accept: None = None, provide: int = None) -> None:
        if which is None:
            if sender_loopback is not None:
                which = "sender_loopback"
            elif receiver_loopback is not None:
                which = "receiver_loopback"
            elif provide is not None:
                which = "provide"
            else:
                which = "sender_loopback"
        elif which not in self._polyhost_union:
            raise ValueError("Disembargo_Context has no union member %r" % (which,))
        self.which = which
        self.sender_loopback = sender_loopback if which == "sender_loopback" else None
        self.receiver_loopback = receiver_loopback if which == "receiver_loopback" else None
        self.accept = None
        self.provide = provide if which == "provide" else None

    def __eq__(self, other) -> bool:
        if type(other) is not Disembargo_Context:
            return NotImplemented
        return self.which == other.which and self.sender_loopback == other.sender_loopback and self.receiver_loopback == other.receiver_loopback and self.accept == other.accept and self.provide == other.provide

    __hash__ = None

    def __repr__(self) -> str:
        parts = ["which=%r" % (self.which,)]
        for _n in self.__slots__[1:]:
            _v = getattr(self, _n)
            if _v is not None or _n == self.which:
                parts.append("%s=%r" % (_n, _v))
        return "Disembargo_Context(%s)" % ", ".join(parts)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "Disembargo_Context":
        self = cls.__new__(cls)
        self.sender_loopback = None
        self.receiver_loopback = None
        self.accept = None
        self.provide = None
        _d = r.get_uint16(2, 0)
        if _d == 0:
            self.which = "sender_loopback"
            self.sender_loopback = r.get_uint32(0, 0)
        elif _d == 1:
            self.which = "receiver_loopback"
            self.receiver_loopback = r.get_uint32(0, 0)
        elif _d == 2:
            self.which = "accept"
        elif _d == 3:
            self.which = "provide"
            self.provide = r.get_uint32(0, 0)
        else:
            self.which = None
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        _w = self.which
        if _w == "sender_loopback":
            b.set_uint16(2, 0, 0)
            b.set_uint32(0, self.sender_loopback, 0)
        elif _w == "receiver_loopback":
            b.set_uint16(2, 1, 0)
            b.set_uint32(0, self.receiver_loopback, 0)
        elif _w == "accept":
            b.set_uint16(2, 2, 0)
        elif _w == "provide":
            b.set_uint16(2, 3, 0)
            b.set_uint32(0, self.provide, 0)


class Provide:
    __slots__ = ("question_id", "target", "recipient",)
    _polyhost_type_id = 0x9c6a046bfbc1ac5a
    _polyhost_data_words = 1
    _polyhost_ptr_count = 2

    def __init__(self, *, question_id: int = 0, target: "MessageTarget | None" = None, recipient: "_polyhost_wire.PointerReader | None" = None) -> None:
        self.question_id = question_id
        self.target = target
        self.recipient = recipient

    def __eq__(self, other) -> bool:
        if type(other) is not Provide:
            return NotImplemented
        return self.question_id == other.question_id and self.target == other.target and self.recipient == other.recipient

    __hash__ = None

    def __repr__(self) -> str:
        return "Provide(question_id=%r, target=%r, recipient=%r)" % (self.question_id, self.target, self.recipient,)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "Provide":
        self = cls.__new__(cls)
        self.question_id = r.get_uint32(0, 0)
        self.target = MessageTarget._polyhost_read(r.get_struct(0))
        self.recipient = r.get_pointer(1)
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        b.set_uint32(0, self.question_id, 0)
        if self.target is not None:
            self.target._polyhost_write(b.init_struct(0, MessageTarget._polyhost_data_words, MessageTarget._polyhost_ptr_count))
        _polyhost_write_any(b, 1, self.recipient)


class Accept:
    __slots__ = ("question_id", "provision", "embargo",)
    _polyhost_type_id = 0xd4c9b56290554016
    _polyhost_data_words = 1
    _polyhost_ptr_count = 1

    def __init__(self, *, question_id: int = 0, provision: "_polyhost_wire.PointerReader | None" = None, embargo: bool = False) -> None:
        self.question_id = question_id
        self.provision = provision
        self.embargo = embargo

    def __eq__(self, other) -> bool:
        if type(other) is not Accept:
            return NotImplemented
        return self.question_id == other.question_id and self.provision == other.provision and self.embargo == other.embargo

    __hash__ = None

    def __repr__(self) -> str:
        return "Accept(question_id=%r, provision=%r, embargo=%r)" % (self.question_id, self.provision, self.embargo,)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "Accept":
        self = cls.__new__(cls)
        self.question_id = r.get_uint32(0, 0)
        self.provision = r.get_pointer(0)
        self.embargo = r.get_bool(32, False)
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        b.set_uint32(0, self.question_id, 0)
        _polyhost_write_any(b, 0, self.provision)
        b.set_bool(32, self.embargo, False)


class Join:
    __slots__ = ("question_id", "target", "key_part",)
    _polyhost_type_id = 0xfbe1980490e001af
    _polyhost_data_words = 1
    _polyhost_ptr_count = 2

    def __init__(self, *, question_id: int = 0, target: "MessageTarget | None" = None, key_part: "_polyhost_wire.PointerReader | None" = None) -> None:
        self.question_id = question_id
        self.target = target
        self.key_part = key_part

    def __eq__(self, other) -> bool:
        if type(other) is not Join:
            return NotImplemented
        return self.question_id == other.question_id and self.target == other.target and self.key_part == other.key_part

    __hash__ = None

    def __repr__(self) -> str:
        return "Join(question_id=%r, target=%r, key_part=%r)" % (self.question_id, self.target, self.key_part,)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "Join":
        self = cls.__new__(cls)
        self.question_id = r.get_uint32(0, 0)
        self.target = MessageTarget._polyhost_read(r.get_struct(0))
        self.key_part = r.get_pointer(1)
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        b.set_uint32(0, self.question_id, 0)
        if self.target is not None:
            self.target._polyhost_write(b.init_struct(0, MessageTarget._polyhost_data_words, MessageTarget._polyhost_ptr_count))
        _polyhost_write_any(b, 1, self.key_part)


class MessageTarget:
    __slots__ = ("which", "imported_cap", "promised_answer",)
    _polyhost_type_id = 0x95bc14545813fbc1
    _polyhost_data_words = 1
    _polyhost_ptr_count = 1
    _polyhost_union = {"imported_cap": 0, "promised_answer": 1}

    def __init__(self, *, which: "str | None" = None, imported_cap: int = None, promised_answer: "PromisedAnswer | None" = None) -> None:
        if which is None:
            if imported_cap is not None:
                which = "imported_cap"
            elif promised_answer is not None:
                which = "promised_answer"
            else:
                which = "imported_cap"
        elif which not in self._polyhost_union:
            raise ValueError("MessageTarget has no union member %r" % (which,))
        self.which = which
        self.imported_cap = imported_cap if which == "imported_cap" else None
        self.promised_answer = promised_answer if which == "promised_answer" else None

    def __eq__(self, other) -> bool:
        if type(other) is not MessageTarget:
            return NotImplemented
        return self.which == other.which and self.imported_cap == other.imported_cap and self.promised_answer == other.promised_answer

    __hash__ = None

    def __repr__(self) -> str:
        parts = ["which=%r" % (self.which,)]
        for _n in self.__slots__[1:]:
            _v = getattr(self, _n)
            if _v is not None or _n == self.which:
                parts.append("%s=%r" % (_n, _v))
        return "MessageTarget(%s)" % ", ".join(parts)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "MessageTarget":
        self = cls.__new__(cls)
        self.imported_cap = None
        self.promised_answer = None
        _d = r.get_uint16(2, 0)
        if _d == 0:
            self.which = "imported_cap"
            self.imported_cap = r.get_uint32(0, 0)
        elif _d == 1:
            self.which = "promised_answer"
            self.promised_answer = PromisedAnswer._polyhost_read(r.get_struct(0))
        else:
            self.which = None
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        _w = self.which
        if _w == "imported_cap":
            b.set_uint16(2, 0, 0)
            b.set_uint32(0, self.imported_cap, 0)
        elif _w == "promised_answer":
            b.set_uint16(2, 1, 0)
            if self.promised_answer is not None:
                self.promised_answer._polyhost_write(b.init_struct(0, PromisedAnswer._polyhost_data_words, PromisedAnswer._polyhost_ptr_count))


class Payload:
    __slots__ = ("content", "cap_table",)
    _polyhost_type_id = 0x9a0e61223d96743b
    _polyhost_data_words = 0
    _polyhost_ptr_count = 2

    def __init__(self, *, content: "_polyhost_wire.PointerReader | None" = None, cap_table: "list[CapDescriptor] | None" = None) -> None:
        self.content = content
        self.cap_table = cap_table

    def __eq__(self, other) -> bool:
        if type(other) is not Payload:
            return NotImplemented
        return self.content == other.content and self.cap_table == other.cap_table

    __hash__ = None

    def __repr__(self) -> str:
        return "Payload(content=%r, cap_table=%r)" % (self.content, self.cap_table,)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "Payload":
        self = cls.__new__(cls)
        self.content = r.get_pointer(0)
        self.cap_table = [CapDescriptor._polyhost_read(_e) for _e in _polyhost_structs(r.get_list(1, _polyhost_wire.INLINE_COMPOSITE))]
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        _polyhost_write_any(b, 0, self.content)
        if self.cap_table is not None:
            _l = b.init_struct_list(1, len(self.cap_table), CapDescriptor._polyhost_data_words, CapDescriptor._polyhost_ptr_count)
            for _i, _e in enumerate(self.cap_table):
                _e._polyhost_write(_l.get_struct(_i))


class CapDescriptor:
    __slots__ = ("which", "none", "sender_hosted", "sender_promise", "receiver_hosted", "receiver_answer", "third_party_hosted", "attached_fd",)
    _polyhost_type_id = 0x8523ddc40b86b8b0
    _polyhost_data_words = 1
    _polyhost_ptr_count = 1
    _polyhost_union = {"none": 0, "sender_hosted": 1, "sender_promise": 2, "receiver_hosted": 3, "receiver_answer": 4, "third_party_hosted": 5}

    def __init__(self, *, which: "str | None" = None, none: None = None, sender_hosted: int = None, sender_promise: int = None, receiver_hosted: int = None, receiver_answer: "PromisedAnswer | None" = None, third_party_hosted: "ThirdPartyCapDescriptor | None" = None, attached_fd: int = 255) -> None:
        if which is None:
            if sender_hosted is not None:
                which = "sender_hosted"
            elif sender_promise is not None:
                which = "sender_promise"
            elif receiver_hosted is not None:
                which = "receiver_hosted"
            elif receiver_answer is not None:
                which = "receiver_answer"
            elif third_party_hosted is not None:
                which = "third_party_hosted"
            else:
                which = "none"
        elif which not in self._polyhost_union:
            raise ValueError("CapDescriptor has no union member %r" % (which,))
        self.which = which
        self.none = None
        self.sender_hosted = sender_hosted if which == "sender_hosted" else None
        self.sender_promise = sender_promise if which == "sender_promise" else None
        self.receiver_hosted = receiver_hosted if which == "receiver_hosted" else None
        self.receiver_answer = receiver_answer if which == "receiver_answer" else None
        self.third_party_hosted = third_party_hosted if which == "third_party_hosted" else None
        self.attached_fd = attached_fd

    def __eq__(self, other) -> bool:
        if type(other) is not CapDescriptor:
            return NotImplemented
        return self.which == other.which and self.none == other.none and self.sender_hosted == other.sender_hosted and self.sender_promise == other.sender_promise and self.receiver_hosted == other.receiver_hosted and self.receiver_answer == other.receiver_answer and self.third_party_hosted == other.third_party_hosted and self.attached_fd == other.attached_fd

    __hash__ = None

    def __repr__(self) -> str:
        parts = ["which=%r" % (self.which,)]
        for _n in self.__slots__[1:]:
            _v = getattr(self, _n)
            if _v is not None or _n == self.which:
                parts.append("%s=%r" % (_n, _v))
        return "CapDescriptor(%s)" % ", ".join(parts)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "CapDescriptor":
        self = cls.__new__(cls)
        self.attached_fd = r.get_uint8(2, 255)
        self.none = None
        self.sender_hosted = None
        self.sender_promise = None
        self.receiver_hosted = None
        self.receiver_answer = None
        self.third_party_hosted = None
        _d = r.get_uint16(0, 0)
        if _d == 0:
            self.which = "none"
        elif _d == 1:
            self.which = "sender_hosted"
            self.sender_hosted = r.get_uint32(1, 0)
        elif _d == 2:
            self.which = "sender_promise"
            self.sender_promise = r.get_uint32(1, 0)
        elif _d == 3:
            self.which = "receiver_hosted"
            self.receiver_hosted = r.get_uint32(1, 0)
        elif _d == 4:
            self.which = "receiver_answer"
            self.receiver_answer = PromisedAnswer._polyhost_read(r.get_struct(0))
        elif _d == 5:
            self.which = "third_party_hosted"
            self.third_party_hosted = ThirdPartyCapDescriptor._polyhost_read(r.get_struct(0))
        else:
            self.which = None
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        b.set_uint8(2, self.attached_fd, 255)
        _w = self.which
        if _w == "none":
            b.set_uint16(0, 0, 0)
        elif _w == "sender_hosted":
            b.set_uint16(0, 1, 0)
            b.set_uint32(1, self.sender_hosted, 0)
        elif _w == "sender_promise":
            b.set_uint16(0, 2, 0)
            b.set_uint32(1, self.sender_promise, 0)
        elif _w == "receiver_hosted":
            b.set_uint16(0, 3, 0)
            b.set_uint32(1, self.receiver_hosted, 0)
        elif _w == "receiver_answer":
            b.set_uint16(0, 4, 0)
            if self.receiver_answer is not None:
                self.receiver_answer._polyhost_write(b.init_struct(0, PromisedAnswer._polyhost_data_words, PromisedAnswer._polyhost_ptr_count))
        elif _w == "third_party_hosted":
            b.set_uint16(0, 5, 0)
            if self.third_party_hosted is not None:
                self.third_party_hosted._polyhost_write(b.init_struct(0, ThirdPartyCapDescriptor._polyhost_data_words, ThirdPartyCapDescriptor._polyhost_ptr_count))


class PromisedAnswer:
    __slots__ = ("question_id", "transform",)
    _polyhost_type_id = 0xd800b1d6cd6f1ca0
    _polyhost_data_words = 1
    _polyhost_ptr_count = 1

    def __init__(self, *, question_id: int = 0, transform: "list[PromisedAnswer_Op] | None" = None) -> None:
        self.question_id = question_id
        self.transform = transform

    def __eq__(self, other) -> bool:
        if type(other) is not PromisedAnswer:
            return NotImplemented
        return self.question_id == other.question_id and self.transform == other.transform

    __hash__ = None

    def __repr__(self) -> str:
        return "PromisedAnswer(question_id=%r, transform=%r)" % (self.question_id, self.transform,)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "PromisedAnswer":
        self = cls.__new__(cls)
        self.question_id = r.get_uint32(0, 0)
        self.transform = [PromisedAnswer_Op._polyhost_read(_e) for _e in _polyhost_structs(r.get_list(0, _polyhost_wire.INLINE_COMPOSITE))]
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        b.set_uint32(0, self.question_id, 0)
        if self.transform is not None:
            _l = b.init_struct_list(0, len(self.transform), PromisedAnswer_Op._polyhost_data_words, PromisedAnswer_Op._polyhost_ptr_count)
            for _i, _e in enumerate(self.transform):
                _e._polyhost_write(_l.get_struct(_i))


class PromisedAnswer_Op:
    __slots__ = ("which", "noop", "get_pointer_field",)
    _polyhost_type_id = 0xf316944415569081
    _polyhost_data_words = 1
    _polyhost_ptr_count = 0
    _polyhost_union = {"noop": 0, "get_pointer_field": 1}

    def __init__(self, *, which: "str | None" = None, noop: None = None, get_pointer_field: int = None) -> None:
        if which is None:
            if get_pointer_field is not None:
                which = "get_pointer_field"
            else:
                which = "noop"
        elif which not in self._polyhost_union:
            raise ValueError("PromisedAnswer_Op has no union member %r" % (which,))
        self.which = which
        self.noop = None
        self.get_pointer_field = get_pointer_field if which == "get_pointer_field" else None

    def __eq__(self, other) -> bool:
        if type(other) is not PromisedAnswer_Op:
            return NotImplemented
        return self.which == other.which and self.noop == other.noop and self.get_pointer_field == other.get_pointer_field

    __hash__ = None

    def __repr__(self) -> str:
        parts = ["which=%r" % (self.which,)]
        for _n in self.__slots__[1:]:
            _v = getattr(self, _n)
            if _v is not None or _n == self.which:
                parts.append("%s=%r" % (_n, _v))
        return "PromisedAnswer_Op(%s)" % ", ".join(parts)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "PromisedAnswer_Op":
        self = cls.__new__(cls)
        self.noop = None
        self.get_pointer_field = None
        _d = r.get_uint16(0, 0)
        if _d == 0:
            self.which = "noop"
        elif _d == 1:
            self.which = "get_pointer_field"
            self.get_pointer_field = r.get_uint16(1, 0)
        else:
            self.which = None
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        _w = self.which
        if _w == "noop":
            b.set_uint16(0, 0, 0)
        elif _w == "get_pointer_field":
            b.set_uint16(0, 1, 0)
            b.set_uint16(1, self.get_pointer_field, 0)


class ThirdPartyCapDescriptor:
    __slots__ = ("id", "vine_id",)
    _polyhost_type_id = 0xd37007fde1f0027d
    _polyhost_data_words = 1
    _polyhost_ptr_count = 1

    def __init__(self, *, id: "_polyhost_wire.PointerReader | None" = None, vine_id: int = 0) -> None:
        self.id = id
        self.vine_id = vine_id

    def __eq__(self, other) -> bool:
        if type(other) is not ThirdPartyCapDescriptor:
            return NotImplemented
        return self.id == other.id and self.vine_id == other.vine_id

    __hash__ = None

    def __repr__(self) -> str:
        return "ThirdPartyCapDescriptor(id=%r, vine_id=%r)" % (self.id, self.vine_id,)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "ThirdPartyCapDescriptor":
        self = cls.__new__(cls)
        self.id = r.get_pointer(0)
        self.vine_id = r.get_uint32(0, 0)
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        _polyhost_write_any(b, 0, self.id)
        b.set_uint32(0, self.vine_id, 0)


class Exception_:
    __slots__ = ("reason", "type", "obsolete_is_callers_fault", "obsolete_durability", "trace",)
    _polyhost_type_id = 0xd625b7063acf691a
    _polyhost_data_words = 1
    _polyhost_ptr_count = 2

    def __init__(self, *, reason: str = '', type: "Exception_Type" = Exception_Type.FAILED, obsolete_is_callers_fault: bool = False, obsolete_durability: int = 0, trace: str = '') -> None:
        self.reason = reason
        self.type = type
        self.obsolete_is_callers_fault = obsolete_is_callers_fault
        self.obsolete_durability = obsolete_durability
        self.trace = trace

    def __eq__(self, other) -> bool:
        if type(other) is not Exception_:
            return NotImplemented
        return self.reason == other.reason and self.type == other.type and self.obsolete_is_callers_fault == other.obsolete_is_callers_fault and self.obsolete_durability == other.obsolete_durability and self.trace == other.trace

    __hash__ = None

    def __repr__(self) -> str:
        return "Exception_(reason=%r, type=%r, obsolete_is_callers_fault=%r, obsolete_durability=%r, trace=%r)" % (self.reason, self.type, self.obsolete_is_callers_fault, self.obsolete_durability, self.trace,)

    @classmethod
    def _polyhost_read(cls, r: "_polyhost_wire.StructReader") -> "Exception_":
        self = cls.__new__(cls)
        self.reason = r.get_text(0, '')
        self.type = _polyhost_enum(Exception_Type, r.get_uint16(2, 0))
        self.obsolete_is_callers_fault = r.get_bool(0, False)
        self.obsolete_durability = r.get_uint16(1, 0)
        self.trace = r.get_text(1, '')
        return self

    def _polyhost_write(self, b: "_polyhost_wire.StructBuilder") -> None:
        if self.reason is not None:
            b.set_text(0, self.reason)
        b.set_uint16(2, int(self.type), 0)
        b.set_bool(0, self.obsolete_is_callers_fault, False)
        b.set_uint16(1, self.obsolete_durability, 0)
        if self.trace is not None:
            b.set_text(1, self.trace)


PromisedAnswer.Op = PromisedAnswer_Op
Exception_.Type = Exception_Type
