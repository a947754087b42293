//! A host process for the "workers die with the host" test: starts a pool of two
//! lab workers, prints their pids on one line, then waits to be killed.

use polyhost::{Adapter, Pool};
use polyhost_tests::{pool_lab, PLUGINS, PYTHON_MODULES};

#[tokio::main]
async fn main() {
    let pool = Pool::builder(
        Adapter::bundled("python").expect("python adapter"),
        "lab_plugin:make",
    )
    .size(2)
    .module_path(PYTHON_MODULES)
    .module_path(PLUGINS)
    .bindings(pool_lab::SCHEMA, pool_lab::FINGERPRINT)
    .start()
    .await
    .expect("pool starts");
    let pids: Vec<String> = pool.stats().pids.iter().map(u32::to_string).collect();
    println!("{}", pids.join(" "));
    std::future::pending::<()>().await;
}
