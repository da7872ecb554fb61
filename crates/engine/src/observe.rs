//! What an operator watches: how much work waits (jobs, outbox messages) and how long writes
//! wait for their turn. The server turns these into metrics.

use crate::{Actor, Engine, EngineError, time};

/// Work waiting, over every app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueDepths {
    /// Jobs due now that the worker has not started yet.
    pub due_jobs: u64,
    /// Jobs waiting for a later time (flow timers, the next run of a schedule).
    pub later_jobs: u64,
    /// Outbox messages not delivered yet, by kind (`notify`, `webhook`).
    pub undelivered: Vec<(String, u64)>,
}

impl Engine {
    /// The queues' depths; admins only (the platform's own reader is [`Actor::system`]).
    pub async fn queue_depths(&self, actor: &Actor) -> Result<QueueDepths, EngineError> {
        if !actor.is_admin() {
            return Err(EngineError::Forbidden("only admins may read the queues".into()));
        }
        let jobs = store::job_queue_depth(self.store.db(), &time::now()).await?;
        let undelivered = store::undelivered_by_kind(self.store.db()).await?;
        Ok(QueueDepths { due_jobs: jobs.due, later_jobs: jobs.later, undelivered })
    }

    /// How long writes waited to begin, in seconds: on an SQLite file, where this process's
    /// writers queue for their turn; `None` elsewhere.
    pub fn write_waits(&self) -> Option<prometheus::Histogram> {
        self.store.write_waits().cloned()
    }
}
