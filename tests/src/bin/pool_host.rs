//! A host process for the "workers die with the host" test: starts a pool of two
//! lab workers, prints their pids on one line, then waits to be killed.

#[tokio::main]
async fn main() {
    let pool = polyhost_tests::lab_pool(2)
        .start()
        .await
        .expect("pool starts");
    let pids: Vec<String> = pool.stats().pids.iter().map(u32::to_string).collect();
    println!("{}", pids.join(" "));
    std::future::pending::<()>().await;
}
