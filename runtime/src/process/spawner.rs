//! The thread process starts run on.
//!
//! Linux sends the parent-death signal when the spawning *thread* ends, not the
//! process, so workers and templates are started from one long-lived thread that
//! outlives them: the [`Spawner`].

use tokio::sync::oneshot;

use crate::process::launch::LaunchError;

/// Runs process starts (workers, templates) on one long-lived thread.
pub(crate) struct Spawner {
    jobs: std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>,
}

impl Spawner {
    pub(crate) fn start() -> std::io::Result<Spawner> {
        let (jobs, rx) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        std::thread::Builder::new()
            .name("polyhost-spawner".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
            })?;
        Ok(Spawner { jobs })
    }

    /// Runs `job` on the spawner thread and returns its result.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, LaunchError> {
        let (tx, rx) = oneshot::channel();
        let gone = || LaunchError::Socket(std::io::Error::other("the spawner thread is gone"));
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(job());
            }))
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())
    }
}
