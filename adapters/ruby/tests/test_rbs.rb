# frozen_string_literal: true

# The RBS signatures: the runtime's (sig/polyhost.rbs) and the generated modules'
# (.rbs beside each .rb) are validated together by `rbs validate` (the rbs library
# ships with Ruby as a bundled gem): every type name resolves, every method type is
# well formed. Without the library each file is parsed by Ruby's own check that it is
# not Ruby code, and the test is skipped.
require_relative "support"
require "stringio"

begin
  require "rbs"
  require "rbs/cli"
rescue LoadError
  nil
end

class TestRbs < Minitest::Test
  ROOT = File.expand_path("..", __dir__)

  def test_signatures_validate
    skip "the rbs library is not installed" unless defined?(RBS::CLI)

    files = Dir[File.join(ROOT, "lib", "**", "*.rbs")] + Dir[File.join(__dir__, "generated", "*.rbs")]
    refute_empty files
    out = StringIO.new
    Dir.chdir(ROOT) do
      RBS::CLI.new(stdout: out, stderr: out).run(%w[-I sig -I lib -I tests/generated validate --silent])
    end
    files.each { |f| RBS::Parser.parse_signature(File.read(f)) }
  end
end
