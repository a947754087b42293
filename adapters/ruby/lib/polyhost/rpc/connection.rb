# frozen_string_literal: true

require_relative "../wire"
require_relative "errors"
require_relative "capability"
require_relative "messages"
require_relative "tables"

# One level-1 Cap'n Proto RPC connection over a stream socket.
#
# Event model: threads. One reader thread (the caller of #run) decodes frames and
# updates the tables under one lock; every call runs its handler in a thread of its
# own (calls to a serial server, such as a stream's consumer, run one at a time in a
# thread per server), so handlers are plain blocking Ruby. A Finish for a running call
# raises Polyhost::Cancelled in its thread (Thread#raise: the language's own
# interruption; the connection's own critical sections defer it). Writes are framed and
# written whole under a write lock. Imports are released by finalizers: a dropped
# client's Release is sent by a releaser thread.
#
# Owns the four tables (questions, answers, exports, imports), bootstrap, calls,
# returns, finish, resolve, release, disembargo, promise pipelining on answers,
# Unimplemented / Abort, and closing on a protocol or wire error.
module Polyhost
  module RPC
    Answer = Struct.new(:id, :thread, :running, :done, :finished, :release_result_caps,
                        :result_ptr, :result_exports, :pending, :error, keyword_init: true)

    class Connection
      include CapTables
      attr_reader :closed_reason

      def initialize(io, bootstrap, limits: nil, concurrency: nil, log: $stderr)
        @io = io
        @bootstrap = bootstrap
        @decoder = Wire::FrameDecoder.new(limits)
        @lock = Monitor.new
        @wlock = Mutex.new
        @questions = {}
        @cancelled_questions = {}
        @next_question = 0
        @answers = {}
        @exports = {}
        @export_of = {}.compare_by_identity
        @next_export = 0
        @imports = Hash.new(0)
        @serial = {}.compare_by_identity
        @slots = concurrency&.positive? ? SizedQueue.new(concurrency).tap { |q| concurrency.times { q << true } } : nil
        @running = 0
        @idle = ConditionVariable.new
        @idle_lock = Mutex.new
        @log = log
        @closed = false
        @releases = Queue.new
        @releaser = Thread.new { release_loop }
        @releaser.report_on_exception = false
      end

      def closed? = @closed

      # Reads and handles messages until the peer closes (returns :eof) or breaks the
      # protocol (returns the error after sending Abort and closing).
      def run
        loop do
          data = begin
            @io.readpartial(1 << 16)
          rescue EOFError, IOError, Errno::ECONNRESET
            nil
          end
          unless data
            unless @decoder.at_boundary?
              return fail_connection(Wire::MalformedFrame.new("the connection ended inside a frame (#{@decoder.buffered} bytes buffered)"))
            end

            close("the peer closed the connection")
            return :eof
          end
          @decoder.feed(data).each { |m| handle(m) }
        end
      rescue Wire::WireError, ProtocolError => e
        fail_connection(e)
      rescue DisconnectedError
        :closed
      end

      def fail_connection(err)
        @log&.puts("polyhost: closing the connection: #{err.class.name.split('::').last}: #{err.message}")
        @log&.flush
        begin
          mb, ex = Msg.start(Msg::ABORT, 1, 2)
          Msg.write_exception(ex, "#{err.class.name}: #{err.message}", FAILED, "")
          write(mb)
        rescue StandardError
          nil
        end
        close(err.message)
        err
      end

      def close(reason)
        pending = @lock.synchronize do
          return if @closed

          @closed = true
          @closed_reason = reason
          @questions.values.tap { @questions.clear }
        end
        err = DisconnectedError.new("the connection is closed: #{reason}")
        pending.each { |p, _| p.reject(err) }
        @releases << :stop
        @io.close rescue nil # rubocop:disable Style/RescueModifier
      end

      # Waits (at most `grace` seconds) for running handlers to finish.
      def drain(grace)
        deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + grace
        @idle_lock.synchronize do
          while @running.positive?
            left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
            break if left <= 0

            @idle.wait(@idle_lock, left)
          end
        end
      end

      # ---- writing ----
      def write(mb)
        bytes = Wire.frame(mb.segments)
        Thread.handle_interrupt(Exception => :never) do
          @wlock.synchronize do
            raise DisconnectedError, "the connection is closed: #{@closed_reason}" if @io.closed?

            @io.write(bytes)
          end
        end
      rescue Errno::EPIPE, Errno::ECONNRESET, IOError => e
        close(e.message)
        raise DisconnectedError, "the connection is closed: #{e.message}"
      end

      # ---- incoming ----
      def handle(msg)
        root = msg.root
        kind = root.get_uint16(0)
        case kind
        when Msg::CALL then on_call(msg, root.get_struct(0))
        when Msg::RETURN then on_return(msg, root.get_struct(0))
        when Msg::FINISH then on_finish(root.get_struct(0))
        when Msg::RELEASE then on_release(root.get_struct(0))
        when Msg::BOOTSTRAP then on_bootstrap(root.get_struct(0))
        when Msg::RESOLVE then on_resolve(msg, root.get_struct(0))
        when Msg::DISEMBARGO then on_disembargo(root.get_struct(0))
        when Msg::ABORT
          reason, = Msg.read_exception(root.get_struct(0))
          raise ProtocolError, "the peer aborted: #{reason}"
        when Msg::UNIMPLEMENTED then on_unimplemented(root)
        else
          send_unimplemented(msg, kind)
        end
      end

      # Echoes a message we do not know in an Unimplemented (copied within the limits).
      # One that holds a capability is dropped, said on the log: a kind we do not know
      # has no cap table to copy it from. Other wire errors abort the connection.
      def send_unimplemented(msg, kind)
        mb = Wire::MessageBuilder.new
        out = mb.init_root(1, 1)
        out.set_uint16(0, Msg::UNIMPLEMENTED)
        begin
          out.copy_pointer(0, msg.root_pointer)
        rescue Wire::InvalidCapability => e
          @log&.puts("polyhost: could not echo an unimplemented message (discriminant #{kind}): #{e.message}")
          return
        end
        write(mb)
      end

      def on_unimplemented(root)
        raise ProtocolError, "an Unimplemented message without a message" unless root.has_pointer?(0)

        inner = root.get_struct(0)
        kind = inner.get_uint16(0)
        raise ProtocolError, "the peer did not implement a #{Msg::KIND_NAMES.fetch(kind, kind)} message we never send" unless kind == Msg::CALL

        qid = inner.get_struct(0).get_uint32(0)
        entry = @lock.synchronize { @questions.delete(qid) }
        raise ProtocolError, "an Unimplemented call for question #{qid}, which is not asked" unless entry

        entry[0].reject(RemoteError.new("unimplemented: the peer does not implement the call", UNIMPLEMENTED))
      end

      def on_bootstrap(body)
        qid = body.get_uint32(0)
        answer = new_answer(qid)
        send_return(answer) { |payload| payload.set_capability(0, @bootstrap) }
      end

      def new_answer(qid)
        @lock.synchronize do
          raise ProtocolError, "question id #{qid} is already in use" if @answers.key?(qid)

          @answers[qid] = Answer.new(id: qid, running: false, done: false, finished: false,
                                     release_result_caps: false, result_exports: [], pending: [])
        end
      end

      def on_call(msg, call)
        qid = call.get_uint32(0)
        iid = call.get_uint64(1)
        mid = call.get_uint16(2)
        payload = call.get_struct(1)
        msg.cap_table = read_cap_table(payload.get_list(1, Wire::INLINE_COMPOSITE))
        content = payload.get_pointer(0)
        target = call.get_struct(0)
        raise ProtocolError, "call #{qid} has no target" unless call.has_pointer?(0)

        answer = new_answer(qid)
        case target.get_uint16(2)
        when 0
          id = target.get_uint32(0)
          server = @lock.synchronize { @exports[id]&.first }
          raise ProtocolError, "a call to export #{id}, which does not exist" unless server

          dispatch(answer, server, iid, mid, content)
        when 1
          pa = target.get_struct(0)
          on = pa.get_uint32(0)
          path = Msg.read_transform(pa.get_list(0, Wire::INLINE_COMPOSITE))
          ready = @lock.synchronize do
            base = @answers[on]
            raise ProtocolError, "a call pipelined on answer #{on}, which does not exist" unless base

            base.pending << [answer, path, iid, mid, content] unless base.done
            base.done ? base : nil
          end
          dispatch_pipelined(ready, answer, path, iid, mid, content) if ready
        else
          raise ProtocolError, "unsupported call target #{target.get_uint16(2)}"
        end
      end

      def dispatch_pipelined(base, answer, path, iid, mid, content)
        if base.error
          send_exception(answer, base.error)
          return
        end
        ptr = path.reduce(base.result_ptr) { |p, i| p.as_struct.get_pointer(i) }
        dispatch(answer, ptr.as_capability, iid, mid, content)
      rescue Wire::WireError => e
        send_exception(answer, RpcError.new("the pipelined target is not a capability: #{e.message}"))
      end

      def dispatch(answer, target, iid, mid, content)
        target = target.local if target.is_a?(Capability) && target.local
        unless target.is_a?(Server)
          send_exception(answer, RpcError.new("calls forwarded through this worker are not supported", UNIMPLEMENTED))
          return
        end
        entry = target._methods[[iid, mid]]
        unless entry && target._handles?(entry.name)
          send_exception(answer, RpcError.new(format("%s has no method %d of interface 0x%016x", target.class.name, mid, iid), UNIMPLEMENTED))
          return
        end
        job = -> { run_handler(answer, target, entry, content) }
        if entry.stream || target.serial_calls?
          serial_queue(target) << job
        else
          answer.thread = Thread.new(&job)
          answer.thread.report_on_exception = false
          settle(answer.thread)
        end
      end

      SETTLE_LIMIT = 0.05

      # Lets a new handler run until it first blocks (or returns, or SETTLE_LIMIT
      # passes) before the next message is handled, so handlers start in the order
      # their calls arrived, as they would on an event loop.
      def settle(thread)
        deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + SETTLE_LIMIT
        while thread.status == "run" && Process.clock_gettime(Process::CLOCK_MONOTONIC) < deadline
          Thread.pass
        end
      end

      def serial_queue(server)
        @lock.synchronize do
          @serial[server] ||= Queue.new.tap do |q|
            t = Thread.new do
              while (job = q.pop)
                Thread.current[:polyhost_job] = job
                job.()
              end
            end
            t.report_on_exception = false
          end
        end
      end

      def counted_enter(server)
        @idle_lock.synchronize { @running += 1 }
        @slots&.pop if server.counted?
      end

      def counted_leave(server)
        @slots&.push(true) if server.counted?
        @idle_lock.synchronize do
          @running -= 1
          @idle.broadcast if @running.zero?
        end
      end

      def run_handler(answer, server, entry, content)
        Thread.handle_interrupt(Cancelled => :never) do
          producers = []
          counted_enter(server)
          begin
            @lock.synchronize do
              answer.thread = Thread.current
              answer.running = true
            end
            result = nil
            Thread.handle_interrupt(Cancelled => :immediate) do
              raise Cancelled, "the caller dropped the call" if answer.finished

              params = entry.params ? entry.params._read(content.as_struct) : content.as_struct
              require_relative "../streams" unless entry.sinks.empty?
              producers = entry.sinks.map { |f, codec| Streams::Producer.new(params.instance_variable_get(:"@#{f}"), codec) }
              result = server._invoke(entry.name, params, *producers)
              producers.each(&:finish)
            end
            @lock.synchronize { answer.running = false }
            send_return(answer) { |payload| write_results(payload, entry.results, result) }
          rescue Exception => e # rubocop:disable Lint/RescueException
            @lock.synchronize { answer.running = false }
            producers.each { |p| p.fail(e) rescue nil } # rubocop:disable Style/RescueModifier
            send_exception(answer, e) unless @closed
          ensure
            counted_leave(server)
          end
        end
      end

      def write_results(payload, cls, result)
        result = cls.new(**result) if result.is_a?(Hash) && cls
        result = cls.new if result.nil? && cls
        if cls.nil? # `-> stream`: the results are empty
          payload.init_struct(0, 0, 0)
        else
          unless cls.nil? || result.is_a?(cls)
            raise TypeError, "a handler returned a #{result.class}, not #{cls.name}, a Hash of its fields or nil"
          end

          result._write(payload.init_struct(0, result.class::DATA_WORDS, result.class::PTR_COUNT))
        end
      end

      # Sends a Return with results written by the block into the Payload builder.
      def send_return(answer)
        mb, ret = Msg.start(Msg::RETURN, 2, 1)
        ret.set_uint32(0, answer.id)
        ret.set_bool(32, false, true) # releaseParamCaps = false: imports are released one by one
        payload = ret.init_struct(0, 0, 2)
        yield payload
        exports = []
        @lock.synchronize { write_cap_table(payload, mb.cap_table, exports) }
        answer.result_ptr = Wire::MessageReader.new([mb.buf], limits: Wire::Limits.new(traversal_words: nil),
                                                              cap_table: mb.cap_table).root.get_struct(0).get_struct(0).get_pointer(0)
        answer.result_exports = exports
        finish_answer(answer, mb)
      end

      def send_exception(answer, exc)
        reason, type, trace = RPC.describe_exception(exc)
        mb, ret = Msg.start(Msg::RETURN, 2, 1)
        ret.set_uint32(0, answer.id)
        ret.set_bool(32, false, true)
        ret.set_uint16(3, 1)
        Msg.write_exception(ret.init_struct(0, 1, 2), reason, type, trace)
        answer.error = RemoteError.new(reason, type, trace)
        finish_answer(answer, mb)
      end

      def finish_answer(answer, mb)
        pending = @lock.synchronize do
          answer.done = true
          cleanup_answer(answer) if answer.finished
          answer.pending.tap { answer.pending = [] }
        end
        write(mb) unless @closed
        pending.each { |a, path, iid, mid, content| dispatch_pipelined(answer, a, path, iid, mid, content) }
      rescue DisconnectedError
        nil
      end

      def cleanup_answer(answer)
        @answers.delete(answer.id)
        answer.result_exports.each { |id| release_export(id, 1) } if answer.release_result_caps
      end

      def on_finish(body)
        qid = body.get_uint32(0)
        release = body.get_bool(32, true)
        @lock.synchronize do
          answer = @answers[qid]
          return unless answer

          answer.finished = true
          answer.release_result_caps = release
          if answer.done
            cleanup_answer(answer)
          elsif answer.running && answer.thread
            answer.thread.raise(Cancelled, "the caller dropped the call")
          end
        end
      end

      def on_release(body)
        id = body.get_uint32(0)
        count = body.get_uint32(1)
        @lock.synchronize do
          raise ProtocolError, "a Release of export #{id}, which does not exist" unless @exports.key?(id)

          release_export(id, count)
        end
      end

      def release_export(id, count)
        entry = @exports[id]
        return unless entry

        entry[1] -= count
        return if entry[1].positive?

        @exports.delete(id)
        @export_of.delete(entry[0])
        entry[0].released
      end

      def on_return(msg, ret)
        qid = ret.get_uint32(0)
        promise, results_cls = @lock.synchronize { @questions.delete(qid) }
        return if !promise && @lock.synchronize { @cancelled_questions.delete(qid) }
        raise ProtocolError, "a Return for question #{qid}, which was never asked" unless promise

        read_return(msg, ret, promise, results_cls)
        mb, fin = Msg.start(Msg::FINISH, 1, 0)
        fin.set_uint32(0, qid)
        fin.set_bool(32, false, true) # releaseResultCaps = false: released one by one
        write(mb)
      end

      # Settles the question's promise with the Return; a malformed Return fails it
      # with the error (the connection then closes), so no caller waits forever.
      def read_return(msg, ret, promise, results_cls)
        case ret.get_uint16(3)
        when 0
          payload = ret.get_struct(0)
          msg.cap_table = read_cap_table(payload.get_list(1, Wire::INLINE_COMPOSITE))
          content = payload.get_pointer(0)
          promise.content = content
          promise.resolve(nil, nil, lambda do
            if results_cls.is_a?(BootstrapResult) then results_cls._read_pointer(content)
            elsif results_cls then results_cls._read(content.as_struct)
            end
          end)
        when 1
          reason, type, trace = Msg.read_exception(ret.get_struct(0))
          promise.reject(RemoteError.new(reason, type, trace))
        when 2 then promise.reject(RpcError.new("the call was cancelled"))
        else promise.reject(RpcError.new("unsupported Return kind #{ret.get_uint16(3)}", UNIMPLEMENTED))
        end
      rescue Wire::WireError, ProtocolError => e
        promise.reject(RpcError.new("a malformed Return: #{e.class.name.split('::').last}: #{e.message}"))
        raise
      end

      def on_resolve(msg, body)
        return unless body.get_uint16(2).zero?

        msg.cap_table = []
        desc = body.get_struct(0)
        list_holder = [desc]
        read_descriptors(list_holder) # imports it; released when dropped
      end

      def on_disembargo(body)
        ctx = body.get_uint16(2)
        raise ProtocolError, "unsupported Disembargo context #{ctx}" unless ctx.zero?

        mb, d = Msg.start(Msg::DISEMBARGO, 1, 1)
        d.copy_pointer(0, body.get_pointer(0))
        d.set_uint16(2, 1)
        d.set_uint32(0, body.get_uint32(0))
        write(mb)
      end

      # ---- outgoing calls ----
      def send_call(cap, iid, mid, params, results_cls, promise)
        mb, call = Msg.start(Msg::CALL, 3, 3)
        call.set_uint64(1, iid)
        call.set_uint16(2, mid)
        t = call.init_struct(0, 1, 1)
        t.set_uint32(0, cap.import_id)
        payload = call.init_struct(1, 0, 2)
        dw = params.respond_to?(:data_words) ? params.data_words : params.class::DATA_WORDS
        pc = params.respond_to?(:ptr_count) ? params.ptr_count : params.class::PTR_COUNT
        params._write(payload.init_struct(0, dw, pc))
        @lock.synchronize do
          raise DisconnectedError, "the connection is closed: #{@closed_reason}" if @closed

          qid = @next_question
          @next_question += 1
          @questions[qid] = [promise, results_cls]
          promise.question_id = qid
          call.set_uint32(0, qid)
          write_cap_table(payload, mb.cap_table, nil)
        end
        write(mb)
      end

      # Drops a call in flight: sends its Finish (the peer cancels the handler) and
      # fails the promise with Polyhost::RPC::RpcError("cancelled").
      def cancel(promise)
        qid = promise.question_id
        entry = @lock.synchronize { @questions.delete(qid) }
        return unless entry

        @lock.synchronize { @cancelled_questions[qid] = true }
        mb, fin = Msg.start(Msg::FINISH, 1, 0)
        fin.set_uint32(0, qid)
        fin.set_bool(32, false, true)
        write(mb)
        promise.reject(RpcError.new("cancelled: the call was dropped"))
      end

      # Asks the peer for its bootstrap capability: a promise of it as `cls`.
      def bootstrap(cls = Capability)
        promise = Promise.new(self)
        mb, body = Msg.start(Msg::BOOTSTRAP, 1, 1)
        @lock.synchronize do
          qid = @next_question
          @next_question += 1
          @questions[qid] = [promise, BootstrapResult.new(cls)]
          body.set_uint32(0, qid)
        end
        write(mb)
        promise
      end

      # Reads a bootstrap Return's content: the capability, as a client class.
      class BootstrapResult
        def initialize(cls)
          @cls = cls
        end

        def _read_pointer(ptr)
          cap = ptr.as_capability
          cap.is_a?(Capability) && !cap.is_a?(@cls) ? cap.cast_as(@cls) : cap
        end
      end

      # Sends a call whose target is the promised answer of question `on` (at `path`),
      # if that question has not returned yet (else false: the caller then calls the
      # results' capability). The check and the write happen under the table lock, so
      # the call always precedes the question's Finish.
      def send_pipelined_call(on, path, iid, mid, params, results_cls, promise)
        mb, call = Msg.start(Msg::CALL, 3, 3)
        call.set_uint64(1, iid)
        call.set_uint16(2, mid)
        target = call.init_struct(0, 1, 1)
        target.set_uint16(2, 1)
        Msg.write_promised_answer(target.init_struct(0, 1, 1), on, path)
        payload = call.init_struct(1, 0, 2)
        params._write(payload.init_struct(0, params.class::DATA_WORDS, params.class::PTR_COUNT))
        @lock.synchronize do
          return false if @closed || !@questions.key?(on)

          qid = @next_question
          @next_question += 1
          @questions[qid] = [promise, results_cls]
          promise.question_id = qid
          call.set_uint32(0, qid)
          write_cap_table(payload, mb.cap_table, nil)
          write(mb)
        end
        true
      end

      # A call on a local server through a client: runs it in a thread.
      def call_local(server, iid, mid, params, results_cls, promise)
        entry = server._methods[[iid, mid]]
        t = Thread.new do
          raise RpcError.new("#{server.class.name} has no method #{mid}", UNIMPLEMENTED) unless entry

          r = server._invoke(entry.name, params)
          r = results_cls.new(**r) if r.is_a?(Hash)
          r = results_cls&.new if r.nil?
          promise.resolve(r)
        rescue StandardError => e
          promise.reject(e)
        end
        t.report_on_exception = false
      end
    end
  end
end
