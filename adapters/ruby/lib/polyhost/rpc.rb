# frozen_string_literal: true

# Polyhost::RPC: level-1 Cap'n Proto RPC on Ruby's standard library (threads).
require "monitor"
require_relative "rpc/errors"
require_relative "rpc/capability"
require_relative "rpc/connection"

module Polyhost
  module RPC
    class Server
      # Whether calls to this server count against POLYHOST_CONCURRENCY.
      def counted? = true
    end
  end
end
