//! Backups of an SQLite database: a consistent copy taken while servers write it, and the
//! checks a copy passes before it becomes a database again. PostgreSQL has its own tools, which
//! do this better than an application could (`docs/reliability.md`).

use std::path::Path;

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

use crate::connect::{Backend, sqlite_file};
use crate::{Store, StoreError};

/// What to use on PostgreSQL instead.
const POSTGRES_TOOLS: &str = "a PostgreSQL database is backed up and restored with PostgreSQL's own tools: \
    `pg_dump -Fc` and `pg_restore`, or base backups with WAL archiving for point-in-time recovery (docs/reliability.md)";

impl Store {
    /// Writes a copy of this SQLite database to `out`, a new file, while it is in use:
    /// `VACUUM INTO` reads one snapshot of the whole database, so the copy is consistent (every
    /// commit before it, none after) and writers go on meanwhile.
    pub async fn backup_to(&self, out: &Path) -> Result<(), StoreError> {
        if self.backend() == Backend::Postgres {
            return Err(StoreError::Unsupported(POSTGRES_TOOLS.into()));
        }
        if out.exists() {
            return Err(StoreError::Exists(out.display().to_string()));
        }
        let into = Statement::from_sql_and_values(DatabaseBackend::Sqlite, "VACUUM INTO ?", [out.display().to_string().into()]);
        self.db().execute_raw(into).await?;
        Ok(())
    }

    /// SQLite's check of every page, index and constraint (`PRAGMA integrity_check`): what it
    /// found, nothing when the file holds.
    pub async fn integrity_problems(&self) -> Result<Vec<String>, StoreError> {
        let check = Statement::from_string(DatabaseBackend::Sqlite, "PRAGMA integrity_check");
        let found: Vec<String> =
            self.db().query_all_raw(check).await?.iter().map(|row| row.try_get_by_index(0)).collect::<Result<_, _>>()?;
        Ok(found.into_iter().filter(|line| line != "ok").collect())
    }
}

/// Puts the SQLite backup `backup` in place as the database at `url`, which must not exist
/// yet (a restore never overwrites a database). The backup is copied beside the target and
/// checked there — a database this build reads as it is, whose every page holds — and only
/// then takes the target's name; the backup itself is left as it was.
pub async fn restore(backup: &Path, url: &str) -> Result<(), StoreError> {
    let Some(target) = sqlite_file(url) else {
        return Err(StoreError::Unsupported(POSTGRES_TOOLS.into()));
    };
    if Path::new(target).exists() {
        return Err(StoreError::Exists(target.to_owned()));
    }
    let checking = format!("{target}.restoring");
    std::fs::copy(backup, &checking).map_err(|e| StoreError::Io(format!("copying {} to {checking}: {e}", backup.display())))?;
    // A file SQLite cannot even open or read is as damaged as one its check finds fault with;
    // one of another build's schema is not damaged, and says so.
    let checked = check_restored(&checking).await.map_err(|e| match e {
        e @ (StoreError::Outdated { .. } | StoreError::Newer { .. }) => e,
        StoreError::Damaged { problems, .. } => StoreError::Damaged { file: backup.display().to_string(), problems },
        other => StoreError::Damaged { file: backup.display().to_string(), problems: other.to_string() },
    });
    if checked.is_err() {
        for leftover in ["", "-wal", "-shm"] {
            std::fs::remove_file(format!("{checking}{leftover}")).ok();
        }
        return checked;
    }
    std::fs::rename(&checking, target).map_err(|e| StoreError::Io(format!("renaming {checking} to {target}: {e}")))
}

/// Whether the SQLite file at `path` is a database this build reads as it is, every page of
/// which holds.
async fn check_restored(path: &str) -> Result<(), StoreError> {
    let store = Store::connect_existing(&format!("sqlite://{path}")).await?;
    let problems = store.integrity_problems().await;
    store.close().await?;
    match problems? {
        problems if problems.is_empty() => Ok(()),
        problems => Err(StoreError::Damaged { file: path.to_owned(), problems: problems.join("; ") }),
    }
}
