//! Workers as processes: their children, process groups, module search path, and the
//! pids a template reports.

use super::*;

/// A child the plugin starts the way `os.system` or fork and exec do (inheriting every
/// fd not marked close-on-exec) does not get the worker's RPC socket (fd 3).
pub async fn children_of_a_worker_do_not_inherit_its_socket(adapter: &str) {
    let pool = pool(adapter, 1).start().await.unwrap();
    let faults: FaultsClient = pool.client();
    let probe = r#"if [ -e /proc/$$/fd/3 ]; then echo open; else echo closed; fi"#;
    let done = faults.shell(probe.into()).await.unwrap();
    assert_eq!(done.status, 0, "[{adapter}]");
    assert_eq!(done.output.trim(), "closed", "[{adapter}] the child's fd 3");
    pool.shutdown().await;
}

/// The host's process group (a terminal's Ctrl-C goes to it) holds no worker.
pub async fn workers_run_in_a_process_group_of_their_own(adapter: &str) {
    let pool = pool(adapter, 2).start().await.unwrap();
    let faults: FaultsClient = pool.client();
    // SAFETY: getpgrp(2) cannot fail.
    let host_group = unsafe { libc::getpgrp() } as u32;
    let seen = faults.pid().await.unwrap();
    assert_ne!(seen.pgid, host_group, "[{adapter}] as the worker sees it");
    let pids = pool.stats().pids;
    assert_eq!(pids.len(), 2, "[{adapter}]");
    for pid in pids {
        let group = process_group(pid).expect("a live worker");
        assert_ne!(group, host_group, "[{adapter}] worker {pid}");
    }
    pool.shutdown().await;
}

/// The process group of `pid`, from `/proc/<pid>/stat`.
pub fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// A `platform.py` in the host's working directory would shadow the standard module
/// in every worker (and the template) if that directory were on the module path.
pub async fn a_module_in_the_working_directory_is_not_imported(mode: StartMode) {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(
        cwd.path().join("platform.py"),
        "raise ImportError('platform.py from the working directory was imported')\n",
    )
    .unwrap();
    let pool = pool("python", 1)
        .cwd(cwd.path())
        .start_mode(mode)
        .start()
        .await
        .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
    let faults: FaultsClient = pool.client();
    faults.pid().await.unwrap();
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
pub async fn a_module_in_the_working_directory_is_not_imported_by_forked_workers() {
    a_module_in_the_working_directory_is_not_imported(StartMode::Template).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
pub async fn a_module_in_the_working_directory_is_not_imported_by_fresh_workers() {
    a_module_in_the_working_directory_is_not_imported(StartMode::Fresh).await
}

/// A template (or plugin code imported into one) that reports a pid that names no
/// single new process: 0 (the host's process group), 1 (init), 2^31 and u32::MAX (a
/// process group, or every process as a pid_t). The host refuses the report, stops
/// that template and never signals the pid; the start fails with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
pub async fn forged_pids_from_a_template_are_refused() {
    let script = std::path::Path::new(polyhost_tests::PLUGINS).join("forging_template.py");
    for forged in [0u64, 1, 1 << 31, u64::from(u32::MAX)] {
        let mut adapter = polyhost::Adapter::bundled("python").unwrap();
        adapter.definition.template = vec![script.display().to_string(), "{entry}".into()];
        let started = polyhost::Pool::builder(adapter, "fault_plugin:make")
            .size(1)
            .env("FORGED_PID", forged.to_string())
            .start_timeout(Duration::from_secs(10))
            .start()
            .await;
        let err = match started {
            Ok(_) => panic!("a pool started with a worker of forged pid {forged}"),
            Err(e) => e,
        };
        assert!(
            matches!(
                &err,
                polyhost::PoolError::Template(polyhost::TemplateError::Fork { .. })
            ),
            "pid {forged}: {err:?}"
        );
        assert!(err.to_string().contains(&format!("pid {forged}")), "{err}");
    }
}
