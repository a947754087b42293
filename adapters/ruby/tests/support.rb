# frozen_string_literal: true

# Shared by the Ruby adapter's unit tests: load paths and a round-trip helper.
$LOAD_PATH.unshift(File.expand_path("../lib", __dir__), File.expand_path("generated", __dir__))
require "minitest/autorun"
require "polyhost/wire"

module Support
  W = Polyhost::Wire

  # value -> framed bytes -> a fresh value of the same class
  def round_trip(value)
    cls = value.class
    mb = W::MessageBuilder.new
    value._write(mb.init_root(cls::DATA_WORDS, cls::PTR_COUNT))
    cls._read(W.read_message(mb.to_bytes).root)
  end
end
