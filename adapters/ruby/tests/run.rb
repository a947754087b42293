# frozen_string_literal: true

# Runs every unit test of the Ruby adapter: ruby adapters/ruby/tests/run.rb (or, from
# this folder, ruby tests/run.rb). After minitest's own report it prints two summary
# lines the test suite reads (adapter.json's development.unit_tests):
#
#   polyhost-ruby: ran <count> tests
#   polyhost-ruby: all passed            (or: polyhost-ruby: <n> failed)
require "minitest"

module Minitest
  # Counts the tests minitest ran and says whether they all passed.
  class PolyhostSummary < AbstractReporter
    def initialize(io)
      super()
      @io = io
      @ran = 0
      @failed = 0
    end

    def record(result)
      @ran += 1
      @failed += 1 unless result.passed? || result.skipped?
    end

    def report
      @io.puts "polyhost-ruby: ran #{@ran} tests"
      @io.puts(@failed.zero? ? "polyhost-ruby: all passed" : "polyhost-ruby: #{@failed} failed")
    end

    def passed? = @failed.zero?
  end

  def self.plugin_polyhost_summary_init(options)
    reporter << PolyhostSummary.new(options[:io])
  end
end
Minitest.extensions << "polyhost_summary"

Dir[File.join(__dir__, "test_*.rb")].sort.each { |f| require f }
