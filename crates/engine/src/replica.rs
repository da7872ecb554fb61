//! Reads that may go to a PostgreSQL read replica (`Settings::read_replica`): lists and
//! searches (and so exports), reports and their drill-downs. Permissions, sessions and every
//! read a write depends on stay on the primary, so a revoked grant takes effect at once.
//!
//! Read-your-writes: when a command of a user commits a write, the primary's log position is
//! noted for them, and their reads go to the primary until the replica has replayed past it.
//! Others see a change once the replica's lag has passed. A replica that cannot be reached is
//! passed over: the read is made on the primary, and the log says so.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use store::{DatabaseConnection, StoreError};

use crate::{Actor, Engine, EngineError};

/// Users whose last write the replica may not have yet, noted per process: a balancer that
/// keeps a client on one server (`ip_hash`, as `deploy/` sets) keeps their reads consistent.
pub(crate) struct Replica {
    db: DatabaseConnection,
    /// Each user's last write, as the primary's log position once it had committed.
    written: Mutex<HashMap<String, u64>>,
}

impl Replica {
    pub(crate) async fn connect(url: &str) -> Result<Replica, EngineError> {
        Ok(Replica { db: store::connect_replica(url).await?, written: Default::default() })
    }
}

impl Engine {
    /// Runs `work`, a command of `actor`; when it committed a write and reads may go to a
    /// replica, notes how far the primary had written, for [`Engine::read_replicated`]. The work
    /// comes boxed: a command's future is deep, and a debug build's stack holds it inline once
    /// more for every layer that takes it by value.
    pub(crate) async fn noting_writes<T, F>(&self, actor: &Actor, work: Pin<Box<F>>) -> Result<T, EngineError>
    where
        F: Future<Output = Result<T, EngineError>>,
    {
        let Some(replica) = &self.replica else { return work.await };
        let (out, wrote) = store::noting_commits(work).await;
        if wrote {
            match store::wal_written(self.store.db()).await {
                Ok(position) => {
                    let mut written = replica.written.lock().unwrap_or_else(|e| e.into_inner());
                    written.insert(actor.username.clone(), position);
                }
                // The write stands; only its writer's next reads may miss it for the replica's lag.
                Err(e) => tracing::warn!(error = %e, user = %actor.username, "cannot read the primary's log position after a write"),
            }
        }
        out
    }

    /// Runs `read` — reads only — on the replica when there is one and it has every write of
    /// `actor`'s; otherwise, or when the replica cannot be reached, as [`store::Store::read`].
    pub(crate) async fn read_replicated<T, F, Fut>(&self, actor: &Actor, read: F) -> Result<T, StoreError>
    where
        F: Fn(DatabaseConnection) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        if let Some(replica) = self.replica_for(actor).await {
            match read(replica).await {
                Err(e) if e.is_unavailable() => tracing::warn!(error = %e, "the read replica cannot be reached; reading the primary"),
                done => return done,
            }
        }
        self.store.read(read).await
    }

    /// The replica, when there is one and it has every write of `actor`'s.
    pub(crate) async fn replica_for(&self, actor: &Actor) -> Option<DatabaseConnection> {
        let replica = self.replica.as_ref()?;
        self.replica_has_writes_of(replica, actor).await.then(|| replica.db.clone())
    }

    /// Whether the replica has replayed the last write `actor` made (an unreachable one has not).
    async fn replica_has_writes_of(&self, replica: &Replica, actor: &Actor) -> bool {
        let waiting = replica.written.lock().unwrap_or_else(|e| e.into_inner()).get(&actor.username).copied();
        let Some(position) = waiting else { return true };
        match store::wal_replayed(&replica.db).await {
            Ok(replayed) if replayed.is_none_or(|replayed| replayed >= position) => {
                let mut written = replica.written.lock().unwrap_or_else(|e| e.into_inner());
                // Unless a newer write came meanwhile.
                if written.get(&actor.username) == Some(&position) {
                    written.remove(&actor.username);
                }
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(error = %e, "the read replica cannot be reached; reading the primary");
                false
            }
        }
    }
}
