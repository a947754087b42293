# frozen_string_literal: true

# The fault-injection plugin (tests/schema/faults.capnp), Ruby side. The pool names it
# `fault_plugin:make`.
#
# A Ruby worker runs each call's handler in a thread of its own, so plain blocking Ruby
# (Kernel.sleep, a loop) stops nothing else. What stops a Ruby worker the way blocking
# code stops an event loop is native code that keeps the GVL: `block` and `ignoreTerm`
# call usleep(3) through Fiddle with the GVL held.

require "fiddle"
require "socket"
require "faults_capnp"
require "polyhost/rpc"

F = Capnp_faults

# usleep(3), called without releasing the GVL: no other Ruby thread runs meanwhile.
HOLD_GVL = Fiddle::Function.new(Fiddle::Handle::DEFAULT["usleep"], [Fiddle::TYPE_INT], Fiddle::TYPE_INT,
                                need_gvl: true)

def hold_gvl(ms) = HOLD_GVL.call(ms * 1000)

class Nest < F::Nest
  def initialize(depth)
    super()
    @level = depth
  end

  def child(_params) = { nest: Nest.new(@level + 1) }
  def depth(_params) = { depth: @level }

  def sleep(params)
    Kernel.sleep(params.ms / 1000.0)
    nil
  end
end

class Faults < F::Faults
  def initialize(gate)
    super()
    @gate = gate
  end

  def pid(_params) = { pid: Process.pid, pgid: Process.getpgrp }

  def sleep(params)
    Kernel.sleep(params.ms / 1000.0)
    { pid: Process.pid }
  end

  def sleep_timed(params)
    Kernel.sleep(params.ms / 1000.0)
    nil
  end

  def block(params)
    hold_gvl(params.ms) # deliberately stops every thread of the worker
    nil
  end

  def ignore_term(params)
    Signal.trap("TERM", "IGNORE")
    hold_gvl(params.ms)
    nil
  end

  def write(params)
    io = { "stdout" => $stdout, "stderr" => $stderr }.fetch(params.stream)
    io.write(params.data)
    io.flush
    nil
  end

  def shell(params)
    # close_others: false: the child inherits what a fork and exec's child would.
    output = IO.popen(["/bin/sh", "-c", params.command], close_others: false, &:read)
    { status: $?.exitstatus || -1, output: output.force_encoding(Encoding::UTF_8).scrub }
  end

  def exit(params)
    Kernel.exit!(params.code)
  end

  def nest(params) = { nest: Nest.new(params.depth) }

  def flood(params)
    ended = Queue.new
    params.calls.times { @gate.hold.on_done { |p| ended << p.error } }
    ok = overloaded = 0
    other = ""
    params.settled.times do
      e = ended.pop
      if e.nil?
        ok += 1
      elsif e.is_a?(Polyhost::RPC::RpcError) && e.type == Polyhost::RPC::OVERLOADED
        overloaded += 1
      elsif other.empty?
        other = "#{e.class}: #{e.message}"
      end
    end
    { ok: ok, overloaded: overloaded, other: other }
  end

  def host_panic(_params)
    @gate.panic.wait
    { message: "" }
  rescue Polyhost::RPC::RemoteError => e
    { message: "#{e.remote_type}: #{e.message}" }
  end

  def socket(params)
    sock = Socket.for_fd(Integer(ENV.fetch("POLYHOST_FD", "3")))
    sock.autoclose = false
    case params.action
    when "half-close" then sock.shutdown(Socket::SHUT_WR)
    when "oversize" then sock.write([0, 0x7FFFFFFF].pack("VV")) # one segment of 2^31 - 1 words, no more
    else raise ArgumentError, "the Ruby fault plugin does not do #{params.action.inspect}"
    end
    Kernel.sleep(60) # stays alive: the host must deal with it
    nil
  end
end

# The entry point: `fault_plugin:make`.
def make(host)
  Faults.new(host.has?(F::HostGateClient) ? host.client(F::HostGateClient) : nil)
end
