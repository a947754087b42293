# frozen_string_literal: true

# The benchmark's Ruby plugin (tests/schema/bench.capnp, driven by tests/src/bin/bench/):
# the same methods as bench_plugin.py. The pool names it `bench_plugin:make`.

require "bench_capnp"

API = Capnp_bench

class Bench < API::Bench
  def initialize(host)
    super()
    @feeder = host.has?(API::FeederClient) ? host.client(API::FeederClient) : nil
  end

  def echo_bytes(params) = { data: params.data }

  def produce(params, out)
    params.count.times { |i| out << API::Item.new(seq: i, value: i.to_f) }
    nil
  end

  def consume(params)
    raise KeyError, "the host passed no Feeder at start" unless @feeder

    received = 0
    @feeder.feed(count: params.count) { |_item| received += 1 }
    { received: received }
  end
end

def make(host) = Bench.new(host)
