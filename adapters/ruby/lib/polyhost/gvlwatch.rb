# frozen_string_literal: true

require "rbconfig"

# Tells the plugin's author when a handler stops the whole worker.
#
# A Ruby worker runs each handler in a thread of its own, and answers the host's health
# pings in its reader thread. Native code that keeps Ruby's GVL (a C extension that does
# not release it, a Fiddle call made with need_gvl: true) stops every thread: the worker
# answers nothing, and the host kills a worker that leaves a health ping unanswered for
# POLYHOST_PING_TIMEOUT_MS.
#
# No Ruby thread of the worker can notice that, so GvlWatch starts a small watcher
# process (the same Ruby, with only stderr and a pipe kept open): a worker thread writes
# a heartbeat into the pipe; when none arrives for half the ping timeout, the watcher
# writes to stderr what is happening and what to do instead (once per stall). The host
# forwards stderr and puts its last lines in the crash report of the calls that were
# running. The watcher ends when the pipe does (the worker has exited).
module Polyhost
  class GvlWatch
    WATCHER = <<~'RUBY'
      warn_after, ping_timeout = ARGV.map(&:to_f)
      period = [warn_after / 4, 0.005].max
      now = -> { Process.clock_gettime(Process::CLOCK_MONOTONIC) }
      last = now.()
      warned = false
      loop do
        if IO.select([$stdin], nil, nil, period)
          begin
            $stdin.read_nonblock(4096)
          rescue IO::WaitReadable
            next
          rescue EOFError, IOError, SystemCallError
            exit!(0)
          end
          last = now.()
          warned = false
        elsif !warned && (blocked = now.() - last) >= warn_after
          warned = true
          $stderr.write(format(
            "polyhost worker: the event loop has been blocked for %.1f s: no thread of this " \
            "worker has run since, so it answers no calls and no health pings; the host kills " \
            "a worker that leaves a ping unanswered for %.1f s. Native code is holding Ruby's " \
            "GVL (a C extension or a Fiddle call that does not release it).\n" \
            "polyhost worker: release the GVL around long native work (rb_thread_call_without_gvl " \
            "in a C extension, Fiddle without need_gvl: true), or run it in a subprocess.\n",
            blocked, ping_timeout
          ))
        end
      end
    RUBY

    # A started watch when the host named its ping timeout (POLYHOST_PING_TIMEOUT_MS),
    # else nil (also when the watcher cannot start: the worker runs without it).
    def self.from_environment
      ms = Integer(ENV.fetch("POLYHOST_PING_TIMEOUT_MS", "").strip, exception: false)
      return nil unless ms&.positive?

      new(ms / 1000.0).tap(&:start)
    rescue SystemCallError => e
      warn "polyhost worker: the GVL watch did not start: #{e.message}"
      nil
    end

    def initialize(ping_timeout)
      @ping_timeout = ping_timeout
      @warn_after = ping_timeout / 2
      @period = [@warn_after / 4, 0.005].max
    end

    def start
      reader, writer = IO.pipe
      pid = Process.spawn(RbConfig.ruby, "--disable-gems", "-e", WATCHER, @warn_after.to_s, @ping_timeout.to_s,
                          in: reader, out: File::NULL, close_others: true)
      reader.close
      Process.detach(pid)
      @thread = Thread.new { beat(writer) }
      @thread.report_on_exception = false
    end

    private

    def beat(writer)
      loop do
        begin
          writer.write_nonblock(".")
        rescue IO::WaitWritable
          nil # the watcher is behind: it has heartbeats to read anyway
        end
        Kernel.sleep(@period)
      end
    rescue IOError, SystemCallError
      nil # the watcher is gone
    end
  end
end
