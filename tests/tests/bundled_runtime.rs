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
    assert_eq!(std::fs::read(&worker).unwrap(), genuine, "rewritten from the embedded copy");
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
