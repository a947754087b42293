# frozen_string_literal: true

require_relative "errors"

# Capabilities as plugin code sees them: Server (the base of generated server
# classes), Capability (the base of generated clients: a capability the peer hosts),
# Promise (a call in flight: wait / value, pipeline) and MethodEntry (one row of a
# server's dispatch table).
module Polyhost
  module RPC
    # name: handler method; params/results: generated classes (nil params: the
    # handler gets the raw StructReader); stream: `-> stream`; sinks: [[field, codec]].
    MethodEntry = Struct.new(:name, :params, :results, :stream, :sinks)

    # Base of generated server classes: subclass one, override its methods.
    class Server
      def _methods = self.class::METHODS

      # Calls to this object run one at a time, in arrival order (streams need it).
      def serial_calls? = false

      # Called when the peer dropped its last reference to this object.
      def released; end

      # Runs the handler `name` (a public method: never a private Kernel one).
      def _invoke(name, *args) = public_send(name, *args)

      def _handles?(name) = respond_to?(name)
    end

    # Params given as a block that writes them (for hand-made calls).
    class RawParams
      attr_reader :data_words, :ptr_count

      def initialize(data_words, ptr_count, &write)
        @data_words = data_words
        @ptr_count = ptr_count
        @write = write
      end

      def _write(b) = @write.(b)
    end

    # A call in flight. `wait` returns the results (raising the call's error);
    # `value` is the same.
    class Promise
      # question_id: the call's question; content: the results' pointer once returned
      attr_accessor :question_id, :content

      # Drops the call: the peer cancels its handler.
      def cancel = @connection&.cancel(self)

      def initialize(connection = nil)
        @connection = connection
        @lock = Mutex.new
        @cond = ConditionVariable.new
        @done = false
        @callbacks = []
      end

      def done? = @lock.synchronize { @done }

      def resolve(value = nil, error = nil, decode = nil)
        cbs = @lock.synchronize do
          return if @done

          @value = value
          @error = error
          @decode = decode
          @done = true
          @cond.broadcast
          @callbacks.tap { @callbacks = [] }
        end
        cbs.each { |cb| cb.(self) }
      end

      def reject(error) = resolve(nil, error)

      # Runs the block (with this promise) once the call is done.
      def on_done(&blk)
        now = @lock.synchronize do
          @callbacks << blk unless @done
          @done
        end
        blk.(self) if now
      end

      def wait(timeout = nil)
        @lock.synchronize do
          deadline = timeout && (Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout)
          until @done
            left = deadline && (deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC))
            raise RpcError.new("no answer within #{timeout} s", FAILED) if left && left <= 0

            @cond.wait(@lock, left)
          end
          if @decode
            begin
              @value = @decode.()
            rescue StandardError => e
              @error = e
            end
            @decode = nil
          end
        end
        raise @error if @error

        @value
      end
      alias value wait

      def error
        wait
        nil
      rescue StandardError => e
        e
      end

      # The capability at a pointer path of the results, as `cls` (waits for the call:
      # calls on it are sent once the results are in).
      def pipeline(*path, cls)
        target = PipelinedCapability.new(self, path, cls)
        client = (cls || Capability).allocate
        client.instance_variable_set(:@pipelined, target)
        client.instance_variable_set(:@stream_window, [])
        client
      end
    end

    # A capability the peer hosts (an import), or a local Server wrapped as one.
    class Capability
      attr_reader :connection, :import_id, :local, :pipelined

      def initialize(connection = nil, import_id = nil, local: nil)
        @connection = connection
        @import_id = import_id
        @local = local
        @stream_window = []
      end

      # The same capability as another generated client class.
      def cast_as(cls)
        return self if is_a?(cls)

        c = cls.allocate
        c.instance_variable_set(:@connection, @connection)
        c.instance_variable_set(:@import_id, @import_id)
        c.instance_variable_set(:@local, @local)
        c.instance_variable_set(:@pipelined, @pipelined)
        c.instance_variable_set(:@stream_window, [])
        c.instance_variable_set(:@holder, self) # keeps this reference (and its release) alive
        c
      end

      # The capability a pipelined client stands for, once its call has returned.
      def resolved = @pipelined ? @pipelined.resolved : self

      def _call(iid, mid, params, results_cls, promise_cls = Promise)
        return @pipelined._call(iid, mid, params, results_cls, promise_cls) if @pipelined

        promise = promise_cls.new(@connection)
        if @local
          @connection.call_local(@local, iid, mid, params, results_cls, promise)
        else
          raise DisconnectedError, "this capability has no connection" unless @connection

          @connection.send_call(self, iid, mid, params, results_cls, promise)
        end
        promise
      end

      STREAM_WINDOW = 16

      # A `-> stream` call: at most STREAM_WINDOW in flight; an earlier failure raises.
      def _stream(iid, mid, params)
        return @pipelined._stream(iid, mid, params) if @pipelined

        while @stream_window.size >= STREAM_WINDOW
          @stream_window.shift.wait
        end
        @stream_window.reject! { |p| p.done? && (p.wait || true) }
        p = _call(iid, mid, params, nil)
        @stream_window << p
        nil
      end

      # Waits for every `-> stream` call in flight (raising the first failure).
      def _stream_sync
        @stream_window.shift.wait until @stream_window.empty?
      end

      def _call_with_sinks(iid, mid, params, results_cls, promise_cls, sinks, &block)
        require_relative "../streams"
        inbounds = sinks.map do |field, codec|
          inbound = Streams::Inbound.new(codec)
          params.instance_variable_set(:"@#{field}", inbound)
          inbound
        end
        promise = _call(iid, mid, params, results_cls, promise_cls)
        inbounds.each { |i| i._attach(promise) }
        if block
          inbounds.each { |i| i.each(&block) }
          return promise.wait
        end
        inbounds.size == 1 ? inbounds[0] : inbounds
      end
    end

    # A capability in the results of a call in flight: calls wait for the results.
    class PipelinedCapability < Capability
      def initialize(promise, path, cls)
        super(nil, nil)
        @promise = promise
        @path = path
        @cls = cls
      end

      def resolved
        @resolved ||= begin
          @promise.wait
          ptr = @promise.content
          raise RpcError.new("pipelining on a local call is not supported", UNIMPLEMENTED) unless ptr

          cap = @path.reduce(ptr) { |p, i| p.as_struct.get_pointer(i) }.as_capability
          raise RpcError, "the pipelined result is a null capability" unless cap

          @cls && cap.respond_to?(:cast_as) ? cap.cast_as(@cls) : cap
        end
      end

      # Sent at once, targeting the promised answer, while the call has not returned;
      # after that, to the capability of its results.
      def _call(iid, mid, params, results_cls, promise_cls = Promise)
        conn = @promise.instance_variable_get(:@connection)
        if conn && @promise.question_id
          promise = promise_cls.new(conn)
          return promise if conn.send_pipelined_call(@promise.question_id, @path, iid, mid, params, results_cls, promise)
        end
        resolved._call(iid, mid, params, results_cls, promise_cls)
      end

      def _stream(iid, mid, params)
        p = _call(iid, mid, params, nil)
        @stream_window << p
        @stream_window.shift.wait while @stream_window.size > STREAM_WINDOW
        nil
      end
    end
  end
end
