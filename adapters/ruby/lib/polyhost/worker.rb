# frozen_string_literal: true

require "socket"
require_relative "version"
require_relative "context"
require_relative "rpc"
require_relative "polyhost_capnp"
require_relative "gvlwatch"

# The worker process: `ruby -e "require 'polyhost/worker'; Polyhost::Worker.main(ARGV)"
# feature:factory` (adapter.json's recipe).
#
# Owns one worker's life. It requires the plugin file (an exception there prints its
# backtrace to stderr and exits with status 3; bad usage exits 2), dies with its parent
# (Linux prctl(PR_SET_PDEATHSIG, SIGKILL) through Fiddle), takes its end of the host's
# socketpair from the descriptor in POLYHOST_FD (default 3) and serves WorkerProcess
# (polyhost.capnp) on it: `start` calls the factory with a Host, `scoped` gives a view
# of a service whose calls see Polyhost.context, `ping` echoes, `shutdown` lets running
# calls finish (at most POLYHOST_SHUTDOWN_GRACE seconds, default 10) and exits 0, as
# does the end of the connection. A GvlWatch (gvlwatch.rb) explains on stderr a worker
# stopped by native code that holds the GVL.
module Polyhost
  module Worker
    EXIT_OK = 0
    EXIT_PROTOCOL = 1
    EXIT_USAGE = 2
    EXIT_IMPORT = 3

    # The host as the factory sees it: the callbacks it passed to `start`.
    class Host
      attr_reader :client_classes

      def initialize(callbacks)
        @callbacks = {}
        callbacks.each { |s| @callbacks[s.interface_id] = s }
        @client_classes = []
      end

      # interface id -> schema name of every callback the host passed
      def services = @callbacks.transform_values(&:name)

      def has?(cls) = @callbacks.key?(cls::INTERFACE_ID)
      alias has has?

      # A typed client (a generated <Name>Client class) of the host's callback.
      def client(cls)
        svc = @callbacks[cls::INTERFACE_ID]
        if svc.nil? || svc.cap.nil?
          offered = @callbacks.map { |i, s| format("%s (0x%016x)", s.name, i) }.join(", ")
          raise KeyError, "the host passed no #{cls::INTERFACE_NAME} callback (it passed: #{offered.empty? ? 'none' : offered})"
        end

        @client_classes << cls
        svc.cap.cast_as(cls)
      end
    end

    # A service seen through a call context: its handlers run with the context set.
    class Scoped < RPC::Server
      def initialize(target, context)
        super()
        @target = target
        @context = context
      end

      def _methods = @target._methods
      def counted? = @target.counted?
      def serial_calls? = @target.serial_calls?
      def _handles?(name) = @target._handles?(name)
      def _invoke(name, *args) = Polyhost.with_context(@context) { @target._invoke(name, *args) }
    end

    # The most derived generated server class of an object.
    def self.interface_class(obj)
      obj.class.ancestors.find { |c| c.is_a?(Class) && c < RPC::Server && c.const_defined?(:INTERFACE_ID, false) }
    end

    # WorkerProcess, the bootstrap capability.
    class Service < Capnp_polyhost::WorkerProcess
      attr_accessor :connection

      def initialize(factory)
        super()
        @factory = factory
        @served = {}
      end

      def counted? = false

      def start(params)
        host = Host.new(params.callbacks || [])
        objs = Array(@factory.(host))
        raise TypeError, "the factory returned no service" if objs.empty?

        classes = []
        services = objs.map do |obj|
          cls = Worker.interface_class(obj)
          raise TypeError, "#{obj.class} does not subclass a generated server class" unless cls

          classes << cls
          @served[cls::INTERFACE_ID] = obj
          Capnp_polyhost::Service.new(interface_id: cls::INTERFACE_ID, name: cls::INTERFACE_NAME, cap: obj)
        end
        prints = (classes + host.client_classes).map { |c| [c.schema, c.fingerprint] }
        prints << [Capnp_polyhost::SCHEMA, Capnp_polyhost::FINGERPRINT]
        info = Capnp_polyhost::WorkerInfo.new(
          language: "ruby", runtime_version: "#{RUBY_ENGINE} #{RUBY_VERSION}", adapter_version: VERSION,
          pid: Process.pid,
          fingerprints: prints.uniq.map { |s, f| Capnp_polyhost::SchemaFingerprint.new(schema: s, fingerprint: f) }
        )
        Capnp_polyhost::WorkerProcess_StartResults.new(info: info, services: services)
      end

      def scoped(params)
        target = @served[params.interface_id]
        raise KeyError, format("this worker serves no interface 0x%016x", params.interface_id) unless target

        { service: Scoped.new(target, params.context) }
      end

      def ping(params) = { nonce: params.nonce }

      def shutdown(_params)
        grace = Float(ENV.fetch("POLYHOST_SHUTDOWN_GRACE", "10"))
        conn = @connection
        Thread.new do
          conn.drain(grace)
          Worker.exit_now(EXIT_OK)
        end
        nil
      end
    end

    def self.exit_now(code)
      $stdout.flush
      $stderr.flush
      Kernel.exit!(code)
    end

    # Loads `feature:factory` (or `feature:Const.method`) and returns a callable.
    def self.load_factory(entry)
      feature, sep, name = entry.rpartition(":")
      raise ArgumentError, "the entry point must be feature:factory, got #{entry.inspect}" if sep.empty? || feature.empty? || name.empty?

      require feature.delete_suffix(".rb")
      if name.include?(".")
        const, _, meth = name.rpartition(".")
        Object.const_get(const).method(meth)
      else
        TOPLEVEL_BINDING.receiver.method(name)
      end
    end

    PR_SET_PDEATHSIG = 1

    def self.die_with_parent
      return unless RUBY_PLATFORM.include?("linux")

      require "fiddle"
      prctl = Fiddle::Function.new(Fiddle::Handle::DEFAULT["prctl"],
                                   [Fiddle::TYPE_INT, Fiddle::TYPE_LONG, Fiddle::TYPE_LONG, Fiddle::TYPE_LONG, Fiddle::TYPE_LONG],
                                   Fiddle::TYPE_INT)
      prctl.call(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    rescue LoadError, Fiddle::DLError
      nil
    end

    # The host's socket, from POLYHOST_FD, not inherited by processes the plugin starts.
    def self.inherited_socket
      fd = Integer(ENV.fetch("POLYHOST_FD", "3"))
      sock = Socket.for_fd(fd)
      sock.close_on_exec = true
      sock.sync = true
      sock
    end

    # Serves WorkerProcess on `io` until the connection ends; exits the process.
    def self.run(io, factory)
      GvlWatch.from_environment
      service = Service.new(factory)
      conc = ENV["POLYHOST_CONCURRENCY"].to_i
      conn = RPC::Connection.new(io, service, concurrency: conc.positive? ? conc : nil)
      service.connection = conn
      result = conn.run
      exit_now(result == :eof ? EXIT_OK : EXIT_PROTOCOL)
    end

    def self.main(argv)
      if argv.size != 1
        warn "usage: ruby -e \"require 'polyhost/worker'; Polyhost::Worker.main(ARGV)\" feature:factory"
        exit_now(EXIT_USAGE)
      end
      $stdout.sync = true
      $stderr.sync = true
      die_with_parent
      factory = begin
        load_factory(argv[0])
      rescue ArgumentError => e
        warn "polyhost: #{e.message}"
        exit_now(EXIT_USAGE)
      rescue Exception => e # rubocop:disable Lint/RescueException
        warn "polyhost: cannot load the plugin #{argv[0]}:\n#{RPC.format_backtrace(e)}"
        exit_now(EXIT_IMPORT)
      end
      run(inherited_socket, factory)
    end
  end
end
