//! The registry: the suite runs whatever adapter folders it finds, with no Rust edit.
//! A copy of the Python adapter under a new name, with a copy of its conformance guest,
//! in an adapters root of the test's own, is discovered and passes every scenario; an
//! adapter folder there without a conformance guest is reported, naming the file to
//! write.

use std::path::Path;

use polyhost_tests::adapters::{self, discover, DiscoveryError};

use crate::support::{run_guest, start, within, Guest};
use crate::{CALL, SCENARIOS};

/// Copies the folder `from` to `to`, leaving out the adapter's own tests and caches.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if ["tests", "__pycache__", "node_modules"].contains(&name.to_string_lossy().as_ref()) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_copied_adapter_folder_is_discovered_and_runs_every_scenario() {
    const COPY: &str = "copied_python";
    let temp = tempfile::tempdir().unwrap();
    let (adapters_root, guests_root) = (temp.path().join("adapters"), temp.path().join("guests"));
    copy_dir(
        &adapters::repo_root().join("adapters/python"),
        &adapters_root.join(COPY),
    );
    copy_dir(
        &adapters::guests_root().join("python"),
        &guests_root.join(COPY),
    );
    // An adapter without a conformance guest.
    copy_dir(
        &adapters::repo_root().join("adapters/node"),
        &adapters_root.join("guestless"),
    );
    std::fs::create_dir_all(adapters_root.join("not_an_adapter")).unwrap();

    let found = discover(&adapters_root).unwrap();
    let names: Vec<&str> = found.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, [COPY, "guestless"]);
    assert!(
        !adapters::BUILT_WITH.contains(&COPY),
        "the copy is no adapter the build knows"
    );

    let missing = Guest::of(&found[1], &guests_root).unwrap_err();
    assert!(
        matches!(missing, DiscoveryError::NoGuest { .. }),
        "{missing}"
    );
    let expected = guests_root.join("guestless/conformance_guest.mjs");
    assert!(
        missing
            .to_string()
            .contains(&expected.display().to_string()),
        "the error names the file to write: {missing}"
    );

    let guest = Guest::of(&found[0], &guests_root).unwrap();
    assert_eq!(guest.adapter, COPY);
    assert_eq!(guest.loaded.dir, adapters_root.join(COPY));
    assert_eq!(guest.guest_dir, guests_root.join(COPY));

    // The worker runs the copied guest: its traceback names the copy's file.
    let g = start(&guest).await;
    let err = within(CALL, "fail", g.client.fail("copy".into()))
        .await
        .expect_err("fail() fails");
    let copied_file = guests_root.join(COPY).join("conformance_guest.py");
    assert!(
        format!("{err:?}").contains(&copied_file.display().to_string()),
        "the traceback names {}: {err:?}",
        copied_file.display()
    );
    g.stop().await;

    for (name, scenario) in SCENARIOS {
        eprintln!("{COPY}::{name}");
        run_guest(guest.clone(), scenario).await;
    }
}
