# frozen_string_literal: true

require "json"
require "socket"
require "fcntl"
require_relative "worker"
require_relative "streams"

# The template process: `ruby -e "require 'polyhost/template'; Polyhost::Template.main(ARGV)"
# feature:factory` (adapter.json's `template` recipe).
#
# Forks workers for the host. Starting Ruby and requiring the polyhost runtime is paid
# once here; each worker the host asks for is a fork of this process, which already
# has them. With POLYHOST_PRELOAD=1 the plugin file is required here too (an exception
# there prints its backtrace and exits with status 3, like a worker). No thread runs
# here, so forking is safe.
#
# The protocol (the host side is runtime/src/template.rs) runs on the SOCK_SEQPACKET
# socket in POLYHOST_FD, one JSON object per message:
# - to the host: {"ready": {}} once the requires are done;
# - from the host: {"spawn": {"id": N}} with three descriptors (SCM_RIGHTS): the
#   worker's socket, stdout and stderr. The child makes them its fd 3, 1 and 2, sets
#   its parent-death signal and serves like a worker;
# - to the host: {"spawned": {"id": N, "pid": P}} or {"failed": {"id": N, "error": "..."}};
# - to the host, whenever a worker ends: {"exited": {"pid": P, "code": C}} or
#   {"exited": {"pid": P, "signal": S}}.
# The template exits when the host closes the socket; its workers die with it.
module Polyhost
  module Template
    MAX_REQUEST = 4096
    EXIT_INTERNAL = 70

    def self.report(ctl, obj)
      ctl.send(JSON.generate(obj), 0)
    end

    # Reports every worker that has ended.
    def self.reap(ctl)
      loop do
        pid, status = Process.waitpid2(-1, Process::WNOHANG)
        return unless pid

        if status.signaled?
          report(ctl, { exited: { pid: pid, signal: status.termsig } })
        else
          report(ctl, { exited: { pid: pid, code: status.exitstatus } })
        end
      end
    rescue Errno::ECHILD
      nil
    end

    # In the forked worker: takes the host's descriptors, then serves. Never returns.
    def self.child(entry, worker_id, ios, template_pid, close, factory)
      code = EXIT_INTERNAL
      begin
        trap("CHLD", "DEFAULT")
        close.each { |io| io.close unless io.closed? }
        sock, out, err = ios
        $stdout.reopen(out)
        $stderr.reopen(err)
        out.close
        err.close
        fd = sock.fcntl(Fcntl::F_DUPFD, 3)
        sock.close
        Worker.die_with_parent
        Worker.exit_now(Worker::EXIT_OK) if Process.ppid != template_pid
        ENV["POLYHOST_FD"] = fd.to_s
        ENV["POLYHOST_WORKER_ID"] = worker_id.to_s
        factory ||= Worker.load_factory(entry)
        Worker.run(Worker.inherited_socket, factory)
      rescue Exception => e # rubocop:disable Lint/RescueException
        warn RPC.format_backtrace(e)
      ensure
        Worker.exit_now(code)
      end
    end

    # Answers spawn requests until the host closes the socket.
    def self.serve(ctl, entry, factory)
      wake_r, wake_w = IO.pipe
      trap("CHLD") do
        wake_w.write_nonblock(".")
      rescue IO::WaitWritable, IOError
        nil
      end
      template_pid = Process.pid
      GC.start
      report(ctl, { ready: {} })
      loop do
        ready, = IO.select([ctl, wake_r])
        if ready.include?(wake_r)
          begin
            loop { wake_r.read_nonblock(512) }
          rescue IO::WaitReadable, EOFError
            nil
          end
          reap(ctl)
        end
        next unless ready.include?(ctl)

        msg, _addr, _flags, *controls = ctl.recvmsg(MAX_REQUEST, 0, nil, scm_rights: true)
        ios = controls.flat_map { |c| c.cmsg_is?(:SOCKET, :RIGHTS) ? c.unix_rights : [] }
        return Worker::EXIT_OK if msg.nil? || msg.empty?

        worker_id = begin
          Integer(JSON.parse(msg).fetch("spawn").fetch("id"))
        rescue StandardError => e
          ios.each(&:close)
          warn "polyhost template: bad request #{msg[0, 200].inspect}: #{e.message}"
          return Worker::EXIT_USAGE
        end
        if ios.size != 3
          ios.each(&:close)
          report(ctl, { failed: { id: worker_id, error: "expected 3 file descriptors, got #{ios.size}" } })
          next
        end
        $stdout.flush
        $stderr.flush
        pid = begin
          Process.fork
        rescue SystemCallError => e
          report(ctl, { failed: { id: worker_id, error: "fork: #{e.message}" } })
          -1
        end
        child(entry, worker_id, ios, template_pid, [ctl, wake_r, wake_w], factory) if pid.nil?
        ios.each(&:close)
        report(ctl, { spawned: { id: worker_id, pid: pid } }) if pid.positive?
      end
    end

    def self.main(argv)
      if argv.size != 1
        warn "usage: ruby -e \"require 'polyhost/template'; Polyhost::Template.main(ARGV)\" feature:factory"
        Worker.exit_now(Worker::EXIT_USAGE)
      end
      Worker.die_with_parent
      factory = nil
      if ENV["POLYHOST_PRELOAD"] == "1"
        begin
          factory = Worker.load_factory(argv[0])
        rescue Exception => e # rubocop:disable Lint/RescueException
          warn "polyhost: cannot load the plugin #{argv[0]}:\n#{RPC.format_backtrace(e)}"
          Worker.exit_now(Worker::EXIT_IMPORT)
        end
      end
      ctl = Socket.for_fd(Integer(ENV.fetch("POLYHOST_FD", "3")))
      ctl.close_on_exec = true
      code = serve(ctl, argv[0], factory)
      Worker.exit_now(code)
    end
  end
end
