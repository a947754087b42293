//! The guest runtimes this binary carries, as they reach the disk: written to the cache
//! folder, verified at every use, repaired when tampered with, and refused from a
//! folder other users may write to. (Concurrent hosts and a deployed binary are
//! covered by outside_crate.rs; the cache's own unit tests cover each check.)

use std::os::unix::fs::PermissionsExt;

use polyhost::{Adapter, AdapterError, CacheError, Pool};
use polyhost_tests::pool_lab::{self, LabClient};
use polyhost_tests::{LAB_ENTRY, PLUGINS};

fn set_mode(path: &std::path::Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_runtime_file_is_rewritten_before_a_worker_runs_it() {
    let cache = tempfile::tempdir().unwrap();
    let adapter = Adapter::bundled_in("python", cache.path()).unwrap();
    let worker = adapter.runtime_dir().join("polyhost/worker.py");
    let genuine = std::fs::read(&worker).unwrap();
    set_mode(worker.parent().unwrap(), 0o700);
    set_mode(&worker, 0o600);
    std::fs::write(&worker, "raise SystemExit('the tampered runtime ran')\n").unwrap();
    set_mode(&worker, 0o400);
    set_mode(worker.parent().unwrap(), 0o500);

    let adapter = Adapter::bundled_in("python", cache.path()).unwrap();
    assert_eq!(
        std::fs::read(&worker).unwrap(),
        genuine,
        "rewritten from the embedded copy"
    );
    let pool = Pool::builder(adapter, LAB_ENTRY)
        .size(1)
        .module_path(PLUGINS)
        .bindings(&pool_lab::BINDINGS)
        .start()
        .await
        .expect("workers start on the repaired runtime");
    let lab: LabClient = pool.client();
    assert_eq!(lab.echo(7).await.unwrap(), 7);
    pool.shutdown().await;
}

#[test]
fn a_cache_folder_other_users_may_write_to_is_refused_by_name() {
    let cache = tempfile::tempdir().unwrap();
    set_mode(cache.path(), 0o777);
    let err = Adapter::bundled_in("node", cache.path()).unwrap_err();
    match &err {
        AdapterError::Cache {
            source: CacheError::Insecure { path, .. },
            ..
        } => assert_eq!(path, cache.path()),
        other => panic!("expected an insecure-cache error, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(&cache.path().display().to_string()), "{text}");
    assert!(text.contains("POLYHOST_CACHE_DIR"), "{text}");
}

/// The child half of the full-disk test: runs with a file-size limit that stops every
/// write past 4 KiB (what a full disk does to a write), and reports what happened.
const FULL_DISK_CHILD: &str = "POLYHOST_TEST_FULL_DISK_CACHE";

#[test]
fn a_full_cache_folder_is_a_typed_error_naming_it_and_nothing_half_written_stays() {
    if let Some(cache) = std::env::var_os(FULL_DISK_CHILD) {
        let err = Adapter::bundled_in("python", &cache).unwrap_err();
        let AdapterError::Cache {
            source: CacheError::Io { path, message, .. },
            ..
        } = &err
        else {
            panic!("expected a cache write error, got {err:?}");
        };
        assert!(path.starts_with(&cache), "{err}");
        assert!(message.contains("too large"), "{err}");
        println!("refused: {err}");
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child
        .args([
            "--exact",
            "a_full_cache_folder_is_a_typed_error_naming_it_and_nothing_half_written_stays",
            "--nocapture",
        ])
        .env(FULL_DISK_CHILD, cache.path());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        child.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: 4096,
                rlim_max: 4096,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = child.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("refused: cannot put the python runtime in place"),
        "{stdout}"
    );
    let left: Vec<_> = std::fs::read_dir(cache.path().join("runtimes"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != ".lock")
        .collect();
    assert!(left.is_empty(), "nothing half-written stays: {left:?}");
    // With room again, the same cache folder takes the runtime.
    let adapter = Adapter::bundled_in("python", cache.path()).unwrap();
    assert!(adapter.runtime_dir().join("polyhost/worker.py").is_file());
}
