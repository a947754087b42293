# frozen_string_literal: true

# The Ruby guest of the adapter conformance suite: implements `Conformance` of
# tests/conformance/schema/conformance.capnp (entry point `conformance_guest:make`).
#
# Each method does what the schema's comment says, with the adapter's ordinary API only:
# generated classes from conformance_capnp, Polyhost::Wire for the canonical form,
# Sink producers (`out << item`) and inbound streams (a block), and Polyhost::Cancelled,
# the interruption a dropped call raises in its handler's thread.

require "conformance_capnp"
require "polyhost/wire"

C = Capnp_conformance

# The exception `fail` raises: its class name is what the host must see.
class ConformanceError < StandardError; end

# A method of its own, so the backtrace names this file.
def raise_for(kind)
  raise ConformanceError, "failure: #{kind}"
end

# Things the host still references (a Thing leaves when the host releases it).
module Things
  @lock = Mutex.new
  @live = {}.compare_by_identity
  @serial = 0

  def self.add(thing) = @lock.synchronize { @live[thing] = true; @serial += 1 }
  def self.remove(thing) = @lock.synchronize { @live.delete(thing) }
  def self.count = @lock.synchronize { @live.size }
end

class Thing < C::Thing
  def initialize(label, guest)
    super()
    @label = label
    @guest = guest
    @serial = Things.add(self)
  end

  def get(_params)
    @guest.note("get:#{@label}")
    C::Thing_GetResults.new(label: @label, serial: @serial)
  end

  def released = Things.remove(self)
end

PATTERN = Array.new(256) { |i| (i * 7 + 3) & 0xFF }.pack("C*")

class Conformance < C::Conformance
  def initialize(callback)
    super()
    @callback = callback
    @lock = Mutex.new
    @gate = ConditionVariable.new
    @open = true
    @log = []
    @cancelled = 0
  end

  def note(event) = @lock.synchronize { @log << event }

  def echo(params) = C::Conformance_EchoResults.new(value: params.value)

  def canonical(params)
    value = params.value || C::Everything.new
    mb = Polyhost::Wire::MessageBuilder.new
    value._write(mb.init_root(C::Everything::DATA_WORDS, C::Everything::PTR_COUNT))
    fresh = Polyhost::Wire::MessageReader.new(mb.segments)
    { bytes: Polyhost::Wire.canonicalize(fresh.root) }
  end

  def fail(params)
    raise_for(params.kind)
  end

  def sleep(params)
    note("sleep:#{params.ms}:start")
    begin
      Kernel.sleep(params.ms / 1000.0)
    rescue Polyhost::Cancelled
      @lock.synchronize { @cancelled += 1 }
      raise
    end
    { completed: true }
  end

  def cancelled_count(_params) = { count: @lock.synchronize { @cancelled } }

  def call_host(params)
    raise KeyError, "the host passed no Callback at start" unless @callback

    { y: @callback.call(x: params.x).wait.y }
  end

  def apply_to(params)
    raise ArgumentError, "applyTo needs a callback" unless params.callback

    { y: params.callback.call(x: params.x).wait.y }
  end

  def make(params)
    note("make:#{params.label}:start")
    @lock.synchronize { @gate.wait(@lock) until @open }
    note("make:#{params.label}:return")
    { thing: Thing.new(params.label, self) }
  end

  def live_things(_params)
    GC.start
    { count: Things.count }
  end

  def close_gate(_params)
    @lock.synchronize do
      @log.clear
      @open = false
    end
    nil
  end

  def open_gate(_params)
    @lock.synchronize do
      @log << "gate:open"
      @open = true
      @gate.broadcast
    end
    nil
  end

  def events(_params) = { log: @lock.synchronize { @log.dup } }

  def big(params)
    whole, rest = params.size.divmod(256)
    { data: (PATTERN * whole) + PATTERN.byteslice(0, rest) }
  end

  def measure(params)
    data = params.data
    { size: data.bytesize, checksum: data.sum(64) }
  end

  def numbers(params, out)
    params.count.times { |i| out << C::Point.new(x: i.to_f, y: -i.to_f) }
    { sent: params.count }
  end

  def drain(params)
    raise KeyError, "the host passed no Callback at start" unless @callback

    received = 0
    sum_x = 0.0
    @callback.produce(count: params.count) do |p|
      received += 1
      sum_x += p.x
    end
    { received: received, sum_x: sum_x }
  end
end

# The entry point: `conformance_guest:make`.
def make(host)
  Conformance.new(host.has?(C::CallbackClient) ? host.client(C::CallbackClient) : nil)
end
