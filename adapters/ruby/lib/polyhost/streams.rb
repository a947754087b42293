# frozen_string_literal: true

require_relative "rpc"

# Sink(T) streams (polyhost.capnp): Producer, the callee's side of a Sink parameter
# (it pushes batches into the caller's Sink), and Inbound, the caller's side (a local
# Sink server the callee pushes into, read as an Enumerable or with a block).
module Polyhost
  module Streams
    SINK_ID = 0x950d47d539ceb3b3
    PUSH = 0
    FINISH = 1 # Sink.end

    # A stream that ended with a Failure: remote_type, reason and trace of the
    # producer's exception.
    class StreamError < RPC::RpcError
      attr_reader :remote_type

      def initialize(remote_type, message, trace)
        super("#{remote_type}: #{message}", RPC::FAILED, trace)
        @remote_type = remote_type
        @remote_message = message
      end

      def message = @remote_message
    end

    # The producing side: `out << item` (or `push`), `concat(items)`, `flush`. Items
    # go out in batches of at most `max_batch`; a batch is pushed when it is full or
    # on `flush`; `-> stream` flow control bounds the pushes in flight (a slow
    # consumer holds `<<` back). The handler's return flushes and ends the stream; an
    # exception ends it with a Failure.
    class Producer
      attr_reader :sent

      def initialize(sink, codec, max_batch: 256)
        @sink = sink
        @codec = codec
        @max_batch = max_batch
        @batch = []
        @sent = 0
        @ended = false
      end

      def <<(item)
        raise RPC::RpcError, "the stream has ended" if @ended

        @batch << item
        flush if @batch.size >= @max_batch
        self
      end
      alias push <<

      def concat(items)
        items.each { |i| self << i }
        self
      end

      def flush
        return if @batch.empty? || @sink.nil?

        items = @batch
        @batch = []
        codec = @codec
        @sink._stream(SINK_ID, PUSH, RPC::RawParams.new(0, 1) { |b| codec.write_list(b, 0, items) })
        @sent += items.size
      end

      # Flushes and ends the stream (the connection calls it when the handler returns).
      def finish
        return if @ended || @sink.nil?

        flush
        @sink._stream_sync
        @ended = true
        @sink._call(SINK_ID, FINISH, RPC::RawParams.new(0, 1) { |_b| nil }, nil).wait
      end

      # Ends the stream with a Failure describing `exc`.
      def fail(exc)
        return if @ended || @sink.nil?

        @ended = true
        reason, _type, trace = RPC.describe_exception(exc)
        type, _, message = reason.partition(": ")
        params = RPC::RawParams.new(0, 1) do |b|
          f = b.init_struct(0, 0, 3)
          f.set_text(0, type)
          f.set_text(1, message)
          f.set_text(2, trace)
        end
        @sink._call(SINK_ID, FINISH, params, nil).wait
      end
    end

    # The consuming side: a Sink server the peer pushes into. `each { |item| }` reads
    # the items (an Enumerable); `result` / `wait` returns the call's results. Its queue
    # holds at most 16 batches, so a slow consumer holds the producer back. A stream
    # that ends with a Failure raises StreamError after the items pushed before it.
    class Inbound < RPC::Server
      include Enumerable

      METHODS = {
        [SINK_ID, PUSH] => RPC::MethodEntry.new(:_push, nil, nil, true, []),
        [SINK_ID, FINISH] => RPC::MethodEntry.new(:_end, nil, nil, false, [])
      }.freeze

      def initialize(codec, depth: 16)
        super()
        @codec = codec
        @queue = SizedQueue.new(depth)
        @promise = nil
        @finished = false
      end

      def serial_calls? = true
      def counted? = false

      def _attach(promise)
        @promise = promise
        promise.on_done do |p|
          err = p.error
          # from the connection's reader thread: never block it on a full queue
          Thread.new { @queue << [:failed, err] } if err
        end
      end

      def _push(params)
        raise RPC::RpcError, "the stream's consumer stopped reading" if @closed

        items = @codec.read_list(params.get_pointer(0).as_list(nil))
        @queue << [:items, items] unless @finished
        nil
      end

      def _end(params)
        failure = nil
        if params.has_pointer?(0)
          f = params.get_struct(0)
          failure = StreamError.new(f.get_text(0), f.get_text(1), f.get_text(2))
        end
        @queue << [:end, failure]
        nil
      end

      # Stops reading early: later pushes fail and the call is cancelled. Leaving
      # `each` early (break, an exception) closes the stream.
      def close
        return if @finished

        @finished = true
        @closed = true
        @queue.clear
        @promise&.cancel
      end

      def each(&block)
        return enum_for(:each) unless block
        return if @finished

        read_items(&block)
      ensure
        close if block && !@finished
      end

      def read_items(&block)
        loop do
          kind, value = @queue.pop
          case kind
          when :items then value.each(&block)
          when :end
            @finished = true
            raise value if value

            return
          when :failed
            @finished = true
            raise value
          end
        end
      end

      # Every batch as an Array, in order.
      def each_batch
        return enum_for(:each_batch) unless block_given?

        loop do
          kind, value = @queue.pop
          case kind
          when :items then yield value
          when :end
            @finished = true
            raise value if value

            return
          when :failed
            @finished = true
            raise value
          end
        end
      end

      # The call's results (after the items, which are skipped if unread).
      def result
        each { |_| nil } unless @finished
        @promise.wait
      end
      alias wait result

      def promise = @promise
    end
  end
end
