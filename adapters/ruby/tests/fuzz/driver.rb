# frozen_string_literal: true

# Fuzz driver for the Ruby guest runtime (run by the polyhost-fuzz crate).
#
#     ruby driver.rb KIND        # KIND: framing | reader | rpc
#
# Writes one byte ("R") once it is ready, then reads batches from stdin: a little-endian
# u32 count, then that many inputs, each a u32 length and its bytes. Answers each input
# with one record: a status byte (0: handled, 1: refused with a typed error, 2:
# failure), a u32 length and a UTF-8 detail (empty unless it failed). A failure is an
# exception that is not the runtime's typed error (Polyhost::Wire::WireError; for RPC
# also ProtocolError / RpcError where the API promises them), an exception escaping
# Connection#run (an internal error: run turns wire and protocol errors into an Abort),
# an exception that ended a thread the connection started, our own call failing with
# anything but an RpcError or a WireError (its results are decoded when waited for), a
# thread still running after the connection closed, or the process's peak memory
# (VmHWM) growing by more than MEMORY_SLACK. A hang is detected by the caller, which
# gives each input a time limit (an input still running after STACK_DUMP_S seconds has
# the backtraces of every thread written to stderr, which the caller reports). The
# process stays alive across inputs.
#
# - framing: the input is a byte stream fed to a FrameDecoder whole and again in small
#   chunks, and passed to Wire.read_message;
# - reader: the input is one framed message, read with the default limits: every
#   pointer followed (structs, lists of every element size, text), the root
#   canonicalized, and decoded as an rpc Message (through the connection's Msg
#   helpers) and as each struct of the worker protocol;
# - rpc: the input is the bytes a peer sends: a fresh Connection serving a small
#   WorkerProcess (that returns capabilities and raises) with a bootstrap question and
#   a call of its own outstanding reads them (half, then the rest, then end of
#   stream), and is closed; its threads must all end.

$LOAD_PATH.unshift(File.expand_path("../../lib", __dir__))
require "stringio"
require "polyhost/wire"
require "polyhost/rpc"
require "polyhost/gen"
require "polyhost/polyhost_capnp"

module FuzzDriver
  W = Polyhost::Wire
  R = Polyhost::RPC
  PROTO = Capnp_polyhost

  OK = 0
  TYPED = 1
  FAILURE = 2
  MEMORY_SLACK = 256 * 1024 * 1024
  STACK_DUMP_S = 3
  THREAD_GRACE_S = 2.0

  # What the driver reports as a failure of the input.
  class Failure < StandardError; end

  # ---- framing ----------------------------------------------------------------------

  CHUNKS = [1, 3, 8, 13, 64].freeze

  def self.run_framing(data)
    typed = false
    begin
      W.read_message(data)
    rescue W::WireError
      typed = true
    end
    [data.bytesize.positive? ? data.bytesize : 1, CHUNKS[data.bytesize % CHUNKS.size]].each do |size|
      decoder = W::FrameDecoder.new
      messages = []
      begin
        (0...data.bytesize).step(size) { |i| messages.concat(decoder.feed(data.byteslice(i, size))) }
        decoder.at_boundary?
        decoder.buffered
      rescue W::WireError
        typed = true
        # a failed decoder keeps failing, with a typed error
        begin
          decoder.feed("\0".b * 8)
          raise Failure, "a failed FrameDecoder accepted more bytes"
        rescue W::WireError
          nil
        end
      end
      messages.each do |mr|
        mr.root_pointer.null?
      rescue W::WireError
        typed = true
      end
    end
    typed
  end

  # ---- reader -----------------------------------------------------------------------

  def self.walk_pointer(ptr)
    t = ptr.target
    case t
    when nil, W::Capability then nil
    when W::StructReader then walk_struct(t)
    when W::ListReader then walk_list(t, ptr)
    else raise Failure, "PointerReader#target returned a #{t.class}"
    end
  end

  def self.walk_struct(s)
    s.seg.byteslice(s.data_off, s.data_bytes)
    s.get_bool(0)
    s.get_uint64(0)
    s.ptr_count.times { |i| walk_pointer(s.get_pointer(i)) }
  end

  def self.walk_list(lr, ptr)
    n = lr.len
    case lr.element_size
    when W::POINTER then n.times { |i| walk_pointer(lr.get_pointer(i)) }
    when W::INLINE_COMPOSITE then n.times { |i| walk_struct(lr.get_struct(i)) }
    when W::BIT then lr.primitives(:bool)
    when W::BYTE
      lr.primitives(:uint8)
      begin
        ptr.as_text
      rescue W::MalformedText
        nil
      end
      ptr.as_data
    when W::TWO_BYTES then lr.primitives(:uint16)
    when W::FOUR_BYTES then lr.primitives(:uint32)
    when W::EIGHT_BYTES then lr.primitives(:uint64)
    end
  end

  # rpc.capnp's Message as the connection reads it: the union, each member's fields,
  # payloads with their cap tables, promised answers' transforms and exceptions.
  def self.read_rpc_message(root)
    body = root.get_struct(0)
    case root.get_uint16(0)
    when R::Msg::CALL
      body.get_uint32(0)
      body.get_uint64(1)
      body.get_uint16(2)
      read_target(body.get_struct(0))
      read_payload(body.get_struct(1))
    when R::Msg::RETURN
      body.get_uint32(0)
      body.get_bool(32, true)
      case body.get_uint16(3)
      when 0 then read_payload(body.get_struct(0))
      when 1 then R::Msg.read_exception(body.get_struct(0))
      end
    when R::Msg::FINISH then [body.get_uint32(0), body.get_bool(32, true)]
    when R::Msg::RELEASE then [body.get_uint32(0), body.get_uint32(1)]
    when R::Msg::BOOTSTRAP then body.get_uint32(0)
    when R::Msg::RESOLVE
      body.get_uint32(0)
      body.get_uint16(2).zero? ? read_descriptor(body.get_struct(0)) : R::Msg.read_exception(body.get_struct(0))
    when R::Msg::DISEMBARGO
      read_target(body.get_struct(0))
      body.get_uint32(0)
    when R::Msg::ABORT then R::Msg.read_exception(body)
    when R::Msg::UNIMPLEMENTED then read_rpc_message(body) if root.has_pointer?(0) && root.nest > 1
    end
  end

  def self.read_target(t)
    t.get_uint16(2).zero? ? t.get_uint32(0) : read_promised(t.get_struct(0))
  end

  def self.read_promised(pa)
    pa.get_uint32(0)
    R::Msg.read_transform(pa.get_list(0, W::INLINE_COMPOSITE))
  rescue R::ProtocolError
    nil
  end

  def self.read_payload(p)
    walk_pointer(p.get_pointer(0))
    caps = p.get_list(1, W::INLINE_COMPOSITE)
    caps.len.times { |i| read_descriptor(caps.get_struct(i)) }
  end

  def self.read_descriptor(d)
    d.get_uint16(0)
    d.get_uint32(1)
    read_promised(d.get_struct(0)) if d.get_uint16(0) == 4
  end

  # Every struct of the worker protocol.
  STRUCTS = PROTO.constants.sort.filter_map do |name|
    c = PROTO.const_get(name)
    c if c.is_a?(Class) && c < Polyhost::Gen::Struct && c.respond_to?(:_read)
  end

  def self.run_reader(data)
    typed = false
    begin
      mr = W.read_message(data)
    rescue W::WireError
      return true
    end
    begin
      walk_pointer(mr.root_pointer)
    rescue W::WireError
      typed = true
    end
    begin
      W.canonicalize(W.read_message(data).root)
    rescue W::WireError
      typed = true
    end
    begin
      read_rpc_message(W.read_message(data).root)
    rescue W::WireError
      typed = true
    end
    STRUCTS.each do |cls|
      cls._read(W.read_message(data).root)
    rescue W::WireError
      typed = true
    end
    typed
  end

  # ---- rpc --------------------------------------------------------------------------

  # The bytes of the peer: half the input, the rest, then end of stream. Writes are
  # dropped.
  class FakeIO
    def initialize(chunks)
      @chunks = chunks
      @closed = false
    end

    def readpartial(_max)
      raise IOError, "closed stream" if @closed

      @chunks.shift or raise EOFError, "end of file reached"
    end

    def write(bytes) = bytes.bytesize
    def flush = self
    def close = (@closed = true)
    def closed? = @closed
  end

  def self.define_worker(mod)
    Class.new(mod::WorkerProcess) do
      define_method(:initialize) do |depth = 0|
        super()
        @depth = depth
        @mod = mod
      end

      define_method(:start) do |params|
        (params.callbacks || []).each { |s| [s.name, s.interface_id] }
        mod::WorkerProcess_StartResults.new(
          info: mod::WorkerInfo.new(language: "fuzz"),
          services: [mod::Service.new(interface_id: 1, name: "self", cap: self)]
        )
      end

      define_method(:scoped) do |params|
        raise ArgumentError, "odd interface id" if params.interface_id.odd?

        { service: @depth < 4 ? self.class.new(@depth + 1) : self }
      end

      define_method(:ping) do |params|
        raise R::RpcError, "odd nonce" if params.nonce.odd?

        Thread.pass if (params.nonce & 2) != 0
        { nonce: params.nonce }
      end

      define_method(:shutdown) { |_params| nil }
    end
  end

  def self.rpc_setup
    @mod = PROTO
    @worker_class = define_worker(@mod)
  end

  def self.run_rpc(data)
    before = Thread.list
    cut = (data.bytesize % 3).zero? ? data.bytesize / 2 : data.bytesize
    chunks = [data.byteslice(0, cut), data.byteslice(cut, data.bytesize - cut)].reject(&:empty?)
    log = StringIO.new
    conn = R::Connection.new(FakeIO.new(chunks), @worker_class.new, limits: W::Limits.new, log: log)
    peer = conn.bootstrap(@mod::WorkerProcessClient)                       # question 0
    call = @mod::WorkerProcess_PingPromise.new(conn)                      # question 1, pipelined
    sent = conn.send_pipelined_call(0, [], @mod::WorkerProcess::INTERFACE_ID, 2,
                                    @mod::WorkerProcess_PingParams.new(nonce: 4),
                                    @mod::WorkerProcess_PingResults, call)
    raise Failure, "the pipelined call on the bootstrap question was not sent" unless sent
    result = conn.run
    typed = result.is_a?(Exception)
    conn.close("the fuzz input ended")
    conn.drain(THREAD_GRACE_S)
    [peer, call].each do |p|
      raise Failure, "our call is still pending after the connection closed" unless p.done?

      e = p.error
      next if e.nil? || e.is_a?(R::RpcError) || e.is_a?(W::WireError)

      raise Failure, "our call failed with #{e.class}: #{e.message}\n#{e.backtrace&.first(12)&.join("\n")}"
    end
    check_threads(Thread.list - before)
    typed
  end

  # Every thread the connection started must end, and none by an exception.
  def self.check_threads(threads)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + THREAD_GRACE_S
    left = []
    threads.each do |t|
      wait = [deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC), 0].max
      begin
        left << t unless t.join(wait)
      rescue Polyhost::Cancelled
        nil # a Finish arriving as the handler ended: the thread was ending anyway
      rescue Exception => e # rubocop:disable Lint/RescueException
        raise Failure, "a connection thread ended with #{e.class}: #{e.message}\n#{e.backtrace&.first(12)&.join("\n")}"
      end
    end
    return if left.empty?

    desc = left.first(3).map { |t| "#{t.inspect}\n  #{(t.backtrace || []).first(8).join("\n  ")}" }
    left.each(&:kill)
    raise Failure, "#{left.size} thread(s) still running after the connection closed:\n#{desc.join("\n")}"
  end

  # ---- main -------------------------------------------------------------------------

  def self.peak_memory
    File.foreach("/proc/self/status") { |l| return l.split[1].to_i * 1024 if l.start_with?("VmHWM:") }
    0
  rescue SystemCallError
    0
  end

  # Writes every thread's backtrace to stderr when one input runs too long.
  def self.start_watchdog
    @started = nil
    @dumped = true
    Thread.new do
      loop do
        sleep 0.5
        s = @started
        next if @dumped || s.nil? || Process.clock_gettime(Process::CLOCK_MONOTONIC) - s < STACK_DUMP_S

        @dumped = true
        Thread.list.each { |t| warn "#{t.inspect}\n  #{(t.backtrace || []).join("\n  ")}" }
        $stderr.flush
      end
    end
  end

  def self.record(status, detail)
    detail = detail.b
    [status, detail.bytesize].pack("CL<") + detail
  end

  def self.main(kind)
    begin
      Process.setrlimit(:AS, 4 << 30, 4 << 30)
    rescue StandardError
      nil
    end
    run = case kind
          when "framing" then method(:run_framing)
          when "reader" then method(:run_reader)
          when "rpc"
            rpc_setup
            method(:run_rpc)
          else abort "usage: driver.rb framing|reader|rpc"
          end
    stdin = $stdin.binmode
    stdout = $stdout.binmode
    start_watchdog
    peak = peak_memory
    stdout.write("R")
    stdout.flush
    loop do
      head = stdin.read(4)
      return if head.nil? || head.bytesize < 4

      out = []
      head.unpack1("L<").times do
        n = stdin.read(4).unpack1("L<")
        data = n.zero? ? "".b : stdin.read(n)
        @dumped = false
        @started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
        status = OK
        detail = +""
        begin
          status = run.(data) ? TYPED : OK
        rescue Exception => e # rubocop:disable Lint/RescueException
          raise if e.is_a?(Interrupt) || e.is_a?(SignalException)

          status = FAILURE
          detail = "#{e.class}: #{e.message}\n#{(e.backtrace || []).join("\n")}"
        end
        @started = nil
        now = peak_memory
        if now > peak + MEMORY_SLACK
          status = FAILURE
          detail << "peak memory grew by #{(now - peak) >> 20} MiB on this input"
        end
        peak = [peak, now].max
        out << record(status, detail)
      end
      stdout.write(out.join)
      stdout.flush
    end
  end
end

FuzzDriver.main(ARGV[0]) if $PROGRAM_NAME == __FILE__
