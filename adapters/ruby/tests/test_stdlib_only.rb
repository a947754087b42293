# frozen_string_literal: true

# The Ruby adapter requires nothing outside Ruby's standard library: with RubyGems
# disabled, every runtime file loads, and every file Ruby loaded comes from the
# standard library's folders or from the adapter itself.
require_relative "support"
require "open3"
require "rbconfig"

class TestStdlibOnly < Minitest::Test
  ROOT = File.expand_path("..", __dir__)
  LIB = File.join(ROOT, "lib")

  def test_every_runtime_file_loads_from_the_standard_library_alone
    files = Dir[File.join(LIB, "**", "*.rb")].sort
    refute_empty files
    script = <<~RUBY
      #{files.map { |f| "require #{f.delete_suffix('.rb').inspect}" }.join("\n")}
      Polyhost::Worker.die_with_parent
      puts $LOADED_FEATURES
    RUBY
    out, err, status = Open3.capture3(RbConfig.ruby, "--disable-gems", "-I", LIB, "-e", script)
    assert status.success?, err
    stdlib = [RbConfig::CONFIG["rubylibdir"], RbConfig::CONFIG["rubyarchdir"]].map { |d| File.realpath(d) }
    outside = out.lines.map(&:chomp).reject do |f|
      path = File.exist?(f) ? File.realpath(f) : f
      path.start_with?(File.realpath(LIB)) || stdlib.any? { |d| path.start_with?(d) } || !path.start_with?("/")
    end
    assert_empty outside, "files from outside the standard library: #{outside.join(', ')}"
  end

  def test_the_runtime_names_no_gem
    sources = Dir[File.join(LIB, "**", "*.rb")].map { |f| File.read(f) }.join("\n")
    refute_match(/^\s*gem\s+["']/, sources)
    refute_match(/require\s+["']bundler/, sources)
  end
end
