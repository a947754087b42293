# frozen_string_literal: true

# Polyhost::Wire: the Cap'n Proto encoding on Ruby's standard library only (readers,
# builders, framing, limits, canonical form). See adapters/ruby/README.md.
require_relative "wire/layout"
require_relative "wire/reader"
require_relative "wire/builder"
require_relative "wire/framing"
