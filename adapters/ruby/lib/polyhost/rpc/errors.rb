# frozen_string_literal: true

# Errors of the RPC layer and their conversion to and from capnp's Exception.
#
# Owns Polyhost::Cancelled (raised in a handler's thread when its caller drops the
# call: the language's own interruption, Thread#raise), RpcError (a capnp exception:
# reason, type, trace), RemoteError (one the peer sent: remote_type and message split
# from the reason), DisconnectedError, ProtocolError (the peer broke the protocol: the
# connection aborts) and the reason format shared with the Rust runtime: "Type:
# message", then the traceback after TRACEBACK_MARKER.
module Polyhost
  # Raised inside a handler whose call was cancelled. It is an Exception, not a
  # StandardError, so a plain `rescue => e` does not swallow it.
  class Cancelled < Exception # rubocop:disable Lint/InheritException
  end

  module RPC
    FAILED = 0
    OVERLOADED = 1
    DISCONNECTED = 2
    UNIMPLEMENTED = 3
    TYPE_NAMES = %w[failed overloaded disconnected unimplemented].freeze

    TRACEBACK_MARKER = "\n--- polyhost traceback ---\n"

    # A capnp exception. Raise one from a handler to choose the type the caller sees.
    class RpcError < StandardError
      attr_reader :reason, :type, :trace

      def initialize(reason, type = FAILED, trace = "")
        super(reason)
        @reason = reason
        @type = type
        @trace = trace
      end
    end

    # An exception the peer sent: `remote_type` is its type name in the raising
    # language ("HostRefused"), `message` the rest of its reason.
    class RemoteError < RpcError
      attr_reader :remote_type, :remote_message

      def initialize(reason, type = FAILED, trace = "")
        super
        head, sep, rest = reason.partition(": ")
        if !sep.empty? && !head.empty? && head !~ /\s/
          @remote_type = head
          @remote_message = rest
        else
          @remote_type = TYPE_NAMES[type] || "failed"
          @remote_message = reason
        end
      end

      def message = @remote_message
    end

    class DisconnectedError < RpcError
      def initialize(reason, trace = "")
        super(reason, DISCONNECTED, trace)
      end
    end

    # The peer violated the protocol: the connection sends Abort and closes.
    class ProtocolError < StandardError; end

    def self.format_backtrace(exc)
      lines = ["#{exc.class.name}: #{exc.message}"]
      (exc.backtrace || []).each { |l| lines << "\tfrom #{l}" }
      lines.join("\n")
    end

    # [reason, type, trace] of an exception as the peer should see it.
    def self.describe_exception(exc)
      trace = format_backtrace(exc)
      case exc
      when RemoteError
        trace = "#{trace}\n#{exc.trace}" unless exc.trace.to_s.empty?
        [exc.reason, exc.type, trace]
      when RpcError
        [exc.reason, exc.type, exc.trace.to_s.empty? ? trace : exc.trace]
      when Cancelled
        ["Cancelled: #{exc.message}", FAILED, trace]
      else
        ["#{exc.class.name}: #{exc.message}", FAILED, trace]
      end
    end

    # [reason, trace] of a received reason: the traceback after the marker is taken off.
    def self.split_reason(reason, trace = "")
      head, marker, tail = reason.partition(TRACEBACK_MARKER)
      return [reason, trace] if marker.empty?

      [head.rstrip, trace.to_s.empty? ? tail.sub(/\A\n+/, "") : trace]
    end
  end
end
