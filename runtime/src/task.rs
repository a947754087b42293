//! Tasks that end with their owner: [`AbortOnDrop`], used by the RPC layer (a host
//! handler's task, cancelled with its call) and the pool (the task of a pipelined
//! call, cancelled with its last capability).

/// Aborts a task when dropped.
pub(crate) struct AbortOnDrop<T>(pub(crate) tokio::task::JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    /// Waits for the task's outcome (aborting it if this future is dropped first).
    pub(crate) async fn wait(mut self) -> Result<T, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
