//! A queue drained by a task of its own: the store's background writers (the activity logs'
//! group commit, the run notifier) are each one.

use std::future::Future;
use std::sync::Mutex;
use tokio::sync::mpsc;

/// Started by the first item sent, since a store is opened before a runtime may exist; a task
/// whose runtime has ended is started again on the sender's.
pub(super) struct TaskQueue<T> {
    sender: Mutex<Option<mpsc::UnboundedSender<T>>>,
}

impl<T> std::fmt::Debug for TaskQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskQueue").finish_non_exhaustive()
    }
}

impl<T: Send + 'static> TaskQueue<T> {
    pub(super) fn new() -> TaskQueue<T> {
        TaskQueue { sender: Mutex::new(None) }
    }

    /// Queues `item` for the running task, or starts `drain` on this runtime with it. The item
    /// comes back when there is no runtime to start the task on.
    pub(super) fn send<Drain, Draining>(&self, mut item: T, drain: Drain) -> Result<(), T>
    where
        Drain: FnOnce(mpsc::UnboundedReceiver<T>) -> Draining,
        Draining: Future<Output = ()> + Send + 'static,
    {
        let mut sender = self.sender.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(running) = sender.as_ref() {
            match running.send(item) {
                Ok(()) => return Ok(()),
                Err(mpsc::error::SendError(back)) => item = back,
            }
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return Err(item) };
        let (started, receiver) = mpsc::unbounded_channel();
        runtime.spawn(drain(receiver));
        let sent = started.send(item).map_err(|mpsc::error::SendError(back)| back);
        *sender = Some(started);
        sent
    }
}
