# frozen_string_literal: true

# A plugin for the worker-process tests: a Calculator (features.capnp).
require "features_capnp"

class PluginCalc < Capnp_features::Calculator
  def add(params) = { sum: params.a + params.b }
  def name(_params) = { name: Polyhost.context&.session || "plain" }
end

module PluginEntry
  def self.make(_host) = PluginCalc.new
end
