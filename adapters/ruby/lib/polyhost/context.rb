# frozen_string_literal: true

# The per-call context handlers see: Polyhost.context is the CallContext
# (trace_parent, deadline_unix_ms, session) of the call running in this thread, for
# calls made through WorkerProcess.scoped; nil for direct calls.
module Polyhost
  def self.context = Thread.current[:polyhost_context]

  def self.with_context(ctx)
    prev = Thread.current[:polyhost_context]
    Thread.current[:polyhost_context] = ctx
    yield
  ensure
    Thread.current[:polyhost_context] = prev
  end
end
