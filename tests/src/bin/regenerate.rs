//! Rewrites the generated modules checked into adapter folders (each adapter's
//! `development.generated_modules` in its `adapter.json`) from their schemas, with the
//! adapter's templates as they are now.
//!
//! ```sh
//! cargo run -p polyhost-tests --bin regenerate            # every adapter
//! cargo run -p polyhost-tests --bin regenerate -- python  # the ones named
//! ```
//!
//! `tests/tests/guest_modules_current.rs` fails while one is stale.

use polyhost_tests::adapters::{adapters_root, discover, repo_root};

fn main() {
    let only: Vec<String> = std::env::args().skip(1).collect();
    let root = adapters_root();
    let found = discover(&root).unwrap_or_else(|e| fail(&e.to_string()));
    for name in &only {
        if !found.iter().any(|a| &a.name == name) {
            let names: Vec<&str> = found.iter().map(|a| a.name.as_str()).collect();
            fail(&format!(
                "no adapter `{name}` under {} (there are: {})",
                root.display(),
                names.join(", ")
            ));
        }
    }
    let repo = repo_root();
    for adapter in found
        .iter()
        .filter(|a| only.is_empty() || only.contains(&a.name))
    {
        let files = adapter
            .render_generated_modules()
            .unwrap_or_else(|e| fail(&e));
        let mut changed = 0;
        for (path, _, contents) in &files {
            let full = repo.join(path);
            if std::fs::read_to_string(&full).ok().as_deref() == Some(contents.as_str()) {
                continue;
            }
            if let Some(dir) = full.parent() {
                std::fs::create_dir_all(dir)
                    .unwrap_or_else(|e| fail(&format!("creating {}: {e}", dir.display())));
            }
            std::fs::write(&full, contents)
                .unwrap_or_else(|e| fail(&format!("writing {}: {e}", full.display())));
            println!("wrote {}", path.display());
            changed += 1;
        }
        println!(
            "{}: {} generated modules, {changed} rewritten",
            adapter.name,
            files.len()
        );
    }
}

fn fail(message: &str) -> ! {
    eprintln!("regenerate: {message}");
    std::process::exit(1)
}
