# frozen_string_literal: true

# The RPC layer end to end in one process: two Connections over a socket pair, one
# serving a Calculator (tests/generated/features_capnp.rb), the other calling it.
require_relative "support"
require "socket"
require "timeout"
require "features_capnp"
require "polyhost/rpc"
require "polyhost/streams"

F = Capnp_features

class BoomError < StandardError; end

class MyCounter < F::Counter
  RELEASED = Queue.new

  def initialize(start)
    super()
    @value = start
  end

  def increment(params) = { value: @value += params.by }
  def released = RELEASED << @value
end

class MyCalculator < F::Calculator
  attr_reader :ticks, :cancelled, :started, :gate

  # Holds `counter` calls while closed.
  class Gate
    def initialize
      @lock = Mutex.new
      @cond = ConditionVariable.new
      @open = true
    end

    def close = @lock.synchronize { @open = false }

    def open
      @lock.synchronize do
        @open = true
        @cond.broadcast
      end
    end

    def wait_open = @lock.synchronize { @cond.wait(@lock) until @open }
  end

  def initialize
    super()
    @gate = Gate.new
    @ticks = Queue.new
    @cancelled = Queue.new
    @started = Queue.new
  end

  def name(_params) = { name: "calc" }
  def add(params) = F::Calculator_AddResults.new(sum: params.a + params.b)
  def counter(params)
    @gate.wait_open
    { counter: MyCounter.new(params.start) }
  end

  def describe(params)
    raise BoomError, "no area for #{params.shape.name}" if params.shape.name == "boom"

    if params.shape.name == "slow"
      @started << params.shape.name
      Kernel.sleep(600) # until the host drops the call
    end
    { area: 1.0, label: params.shape.name }
  rescue Polyhost::Cancelled
    @cancelled << params.shape.name
    raise
  end

  def numbers(params, out)
    params.count.times { |i| out << F::Point.new(x: i.to_f, y: -i.to_f) }
    nil
  end

  def tick(params) = @ticks << params.n
end

class TestRpc < Minitest::Test
  def setup
    a, b = UNIXSocket.pair
    @server = MyCalculator.new
    @served = Polyhost::RPC::Connection.new(a, @server, log: nil)
    @caller = Polyhost::RPC::Connection.new(b, nil, log: nil)
    @threads = [Thread.new { @served.run }, Thread.new { @caller.run }]
    @calc = @caller.bootstrap(F::CalculatorClient).wait(5)
  end

  def teardown
    @caller.close("the test is over")
    @threads.each { |t| t.join(5) }
  end

  def test_calls_return_results_and_inherited_methods_work
    assert_equal 5, @calc.add(a: 2, b: 3).wait(5).sum
    assert_equal "calc", @calc.name.wait(5).name
  end

  def test_an_exception_reaches_the_caller_with_type_message_and_backtrace
    err = assert_raises(Polyhost::RPC::RemoteError) { @calc.describe(shape: F::Shape.new(name: "boom")).wait(5) }
    assert_equal "BoomError", err.remote_type
    assert_equal "no area for boom", err.message
    assert_includes err.trace, "test_rpc.rb"
  end

  def test_a_method_not_overridden_is_unimplemented
    err = assert_raises(Polyhost::RPC::RemoteError) { @calc.holder.wait(5) }
    assert_equal Polyhost::RPC::UNIMPLEMENTED, err.type
  end

  def test_returned_capabilities_work_and_are_released_when_dropped
    counter = @calc.counter(start: 10).wait(5).counter
    assert_equal 13, counter.increment(by: 3).wait(5).value
    counter = nil # rubocop:disable Lint/UselessAssignment
    released = Timeout.timeout(10) do
      loop do
        GC.start
        break MyCounter::RELEASED.pop(timeout: 0.05) unless MyCounter::RELEASED.empty?

        Thread.pass
      end
    end
    assert_equal 13, released
  end

  def test_a_result_capability_is_usable_from_the_promise
    assert_equal 6, @calc.counter(start: 5).counter.increment(by: 1).wait(5).value
  end

  def test_a_call_on_a_pending_result_targets_the_promised_answer
    @server.gate.close
    promise = @calc.counter(start: 5)
    increment = promise.counter.increment(by: 2)
    sent = @caller.instance_variable_get(:@questions).size
    assert_equal 2, sent, "both calls are in flight before the first returns"
    @server.gate.open
    assert_equal 7, increment.wait(5).value
    assert_equal 7, promise.counter.increment(by: 0).wait(5).value
  end

  def test_a_dropped_call_raises_cancelled_in_its_handler
    promise = @calc.describe(shape: F::Shape.new(name: "slow"))
    assert_equal "slow", Timeout.timeout(10) { @server.started.pop }
    promise.cancel
    assert_equal "slow", Timeout.timeout(10) { @server.cancelled.pop }
    assert_raises(Polyhost::RPC::RpcError) { promise.wait(5) }
    assert_equal 3, @calc.add(a: 1, b: 2).wait(5).sum
  end

  def test_sink_streams_deliver_every_item_in_order
    points = @calc.numbers(count: 700)
    got = points.to_a
    assert_equal 700, got.size
    assert_equal (0...700).map(&:to_f), got.map(&:x)
    assert_instance_of F::Calculator_NumbersResults, points.result
    seen = []
    @calc.numbers(count: 3) { |p| seen << p.y }
    assert_equal [-0.0, -1.0, -2.0], seen
  end

  def test_leaving_a_stream_early_cancels_it_and_the_connection_carries_on
    first = []
    @calc.numbers(count: 100_000).each do |p|
      first << p.x
      break if first.size == 5
    end
    assert_equal [0.0, 1.0, 2.0, 3.0, 4.0], first
    assert_equal 3, @calc.add(a: 1, b: 2).wait(5).sum
  end

  def test_stream_calls_run_in_order
    50.times { |n| @calc.tick(n: n) }
    assert_equal (0...50).to_a, Array.new(50) { Timeout.timeout(5) { @server.ticks.pop } }
  end
end
