# frozen_string_literal: true

module Polyhost
  VERSION = "0.1.0"
end
