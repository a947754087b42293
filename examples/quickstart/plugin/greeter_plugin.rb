# frozen_string_literal: true

# The quickstart's Ruby plugin: implements `Greeter` and `Counter` from
# schema/greeter.capnp, and calls the host's `HostLog` callback. A Ruby worker runs each
# call in a thread of its own, so a handler is plain blocking Ruby: `.wait` on a call
# into the host returns its results.

require "greeter_capnp"

API = Capnp_greeter

# A capability that lives in this worker; the host holds a handle to it.
class Counter < API::Counter
  def initialize(start)
    super()
    @value = start
  end

  def next_(_params) # `next` is a Ruby keyword: the generated name is next_
    @value += 1
    { value: @value }
  end
end

class Greeter < API::Greeter
  def initialize(host)
    super()
    @log = host.client(API::HostLogClient)
  end

  def greet(params) = { greeting: "Hello, #{params.name}! (from Ruby pid #{Process.pid})" }

  def counter(params) = { counter: Counter.new(params.start) }

  def shout(params)
    loud = params.text.upcase
    logged = @log.log(line: "worker #{Process.pid} shouts '#{loud}'").wait
    { echoed: logged.accepted ? loud : "(the host refused)" }
  end
end

# The entry point the pool names: `greeter_plugin:make`.
def make(host) = Greeter.new(host)
