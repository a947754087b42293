//! The `polyhost-codegen` command: a broken schema fails with the compiler's own
//! `file:line:col: message` and no panic.

use std::process::Command;

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_polyhost-codegen"))
}

#[test]
fn broken_schema_reports_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.capnp");
    std::fs::write(
        &path,
        "@0xd1e2f3a4b5c6d7e8;\nstruct Ok { a @0 :Int32; }\nstruct Bad { b @0 :NoSuchType; }\n",
    )
    .unwrap();
    let out = cli().arg("--ir").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("broken.capnp:3:20"),
        "names file, line and column: {stderr}"
    );
    assert!(
        stderr.contains("error:") && stderr.contains("NoSuchType"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn ir_is_printed_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.capnp");
    std::fs::write(&path, "@0xd1e2f3a4b5c6d7e9;\nenum E { a @0; b @1; }\n").unwrap();
    let out = cli().arg("--ir").arg(&path).output().unwrap();
    assert!(out.status.success());
    let ir: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ir["files"][0]["enums"][0]["enumerants"][1]["name"], "b");
}

#[test]
fn an_error_in_a_file_imported_from_a_sibling_folder_names_it() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["common", "main"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    std::fs::write(
        dir.path().join("common/types.capnp"),
        "@0xd1e2f3a4b5c6d7ed;\nstruct Pos { lat @0 :NoSuchType; }\n",
    )
    .unwrap();
    let app = dir.path().join("main/app.capnp");
    std::fs::write(
        &app,
        "@0xd1e2f3a4b5c6d7ee;\nusing T = import \"../common/types.capnp\";\nstruct Trip { from @0 :T.Pos; }\n",
    )
    .unwrap();
    let out = cli().arg("--ir").arg(&app).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("common/types.capnp:2:"),
        "names file and line: {stderr}"
    );
    assert!(stderr.contains("NoSuchType"), "{stderr}");
    assert!(
        !stderr.contains("break out of starting directory"),
        "{stderr}"
    );
}

#[test]
fn help_lists_every_option() {
    let out = cli().arg("--help").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    for option in [
        "--import-path",
        "--src-prefix",
        "--ir",
        "--rust-out",
        "--polyhost-crate",
        "--target",
        "--out",
    ] {
        assert!(stderr.contains(option), "{option} missing from:\n{stderr}");
    }
}
