# frozen_string_literal: true

# The worker and template processes, as the host starts them: a socket on fd 3, the
# entry point on the command line (adapter.json's recipes), WorkerProcess spoken to by
# a Ruby Connection.
require_relative "support"
require "json"
require "rbconfig"
require "socket"
require "timeout"
require "polyhost/worker"
require "features_capnp"

class TestWorkerProcess < Minitest::Test
  LIB = File.expand_path("../lib", __dir__)
  RECIPE = JSON.parse(File.read(File.expand_path("../adapter.json", __dir__)))

  def env = { "RUBYLIB" => [LIB, File.join(__dir__, "generated"), __dir__].join(":"), "POLYHOST_FD" => "3" }

  def command(key, entry) = [RbConfig.ruby, *RECIPE.fetch(key).map { |a| a.gsub("{entry}", entry) }]

  def spawn_worker(entry)
    mine, theirs = UNIXSocket.pair
    err_r, err_w = IO.pipe
    pid = Process.spawn(env, *command("args", entry), 3 => theirs, err: err_w)
    theirs.close
    err_w.close
    [pid, mine, err_r]
  end

  def test_a_worker_starts_answers_and_exits_on_shutdown
    pid, sock, err = spawn_worker("plugin_calc:PluginEntry.make")
    conn = Polyhost::RPC::Connection.new(sock, nil, log: nil)
    reader = Thread.new { conn.run }
    worker = conn.bootstrap(Capnp_polyhost::WorkerProcessClient).wait(10)
    started = worker.start(callbacks: []).wait(10)
    assert_equal "ruby", started.info.language
    assert_equal pid, started.info.pid
    assert_includes started.info.fingerprints.map(&:schema), "features.capnp"
    calc = started.services[0].cap.cast_as(Capnp_features::CalculatorClient)
    assert_equal 9, calc.add(a: 4, b: 5).wait(10).sum
    assert_equal 77, worker.ping(nonce: 77).wait(10).nonce
    ctx = Capnp_polyhost::CallContext.new(session: "s1")
    scoped = worker.scoped(context: ctx, interface_id: Capnp_features::Calculator::INTERFACE_ID).wait(10)
    assert_equal "s1", scoped.service.cast_as(Capnp_features::CalculatorClient).name.wait(10).name
    assert_equal "plain", calc.name.wait(10).name
    worker.shutdown.wait(10)
    _, status = Timeout.timeout(10) { Process.wait2(pid) }
    assert_equal 0, status.exitstatus
    reader.join(5)
    err.close
  end

  def test_a_plugin_that_fails_to_load_exits_3_with_its_backtrace
    pid, sock, err = spawn_worker("no_such_plugin:make")
    _, status = Timeout.timeout(10) { Process.wait2(pid) }
    assert_equal 3, status.exitstatus
    assert_includes err.read, "no_such_plugin"
    sock.close
  end

  def test_garbage_closes_the_connection_and_says_why
    pid, sock, err = spawn_worker("plugin_calc:PluginEntry.make")
    sock.write("GET / HTTP/1.1\r\n\r\n")
    _, status = Timeout.timeout(10) { Process.wait2(pid) }
    refute_equal 0, status.exitstatus
    assert_includes err.read, "TooManySegments"
    sock.close
  end

  def test_the_template_forks_workers_and_reports_their_exit
    ctl, theirs = Socket.pair(:UNIX, :SEQPACKET)
    pid = Process.spawn(env, *command("template", "plugin_calc:PluginEntry.make"), 3 => theirs)
    theirs.close
    assert_equal({ "ready" => {} }, JSON.parse(Timeout.timeout(10) { ctl.recv(4096) }))
    mine, worker_sock = UNIXSocket.pair
    out_r, out_w = IO.pipe
    err_r, err_w = IO.pipe
    ctl.sendmsg(JSON.generate({ spawn: { id: 7 } }), 0, nil,
                Socket::AncillaryData.unix_rights(worker_sock, out_w, err_w))
    [worker_sock, out_w, err_w].each(&:close)
    spawned = JSON.parse(Timeout.timeout(10) { ctl.recv(4096) })
    assert_equal 7, spawned.dig("spawned", "id")
    child = spawned.dig("spawned", "pid")
    conn = Polyhost::RPC::Connection.new(mine, nil, log: nil)
    reader = Thread.new { conn.run }
    worker = conn.bootstrap(Capnp_polyhost::WorkerProcessClient).wait(10)
    assert_equal child, worker.start(callbacks: []).wait(10).info.pid
    conn.close("done") # the end of the connection: the worker exits 0
    exited = JSON.parse(Timeout.timeout(10) { ctl.recv(4096) })
    assert_equal({ "exited" => { "pid" => child, "code" => 0 } }, exited)
    ctl.close # the template exits when the host closes the control socket
    _, status = Timeout.timeout(10) { Process.wait2(pid) }
    assert_equal 0, status.exitstatus
    reader.join(5)
    [out_r, err_r].each(&:close)
  end
end
