# frozen_string_literal: true

# Runs every unit test of the Ruby adapter: ruby adapters/ruby/tests/run.rb
Dir[File.join(__dir__, "test_*.rb")].sort.each { |f| require f }
