//! The store's one error type.

use sea_orm::{DbErr, RuntimeErr, SqlxError};

/// PostgreSQL's SQLSTATEs for text it cannot hold: a NUL byte in text (`22021`,
/// `character_not_in_repertoire`) and `\u0000` in JSON (`22P05`, `untranslatable_character`).
const REFUSED_TEXT: [&str; 2] = ["22021", "22P05"];
/// PostgreSQL's SQLSTATE for a statement it cancelled.
const QUERY_CANCELED: &str = "57014";
/// SQLSTATE classes of a database that cannot serve: connection exceptions (`08…`) and an
/// operator's intervention such as a shutdown or a server still starting (`57P…`).
const UNAVAILABLE_CLASSES: [&str; 2] = ["08", "57P"];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// A row the store wrote cannot be read back (e.g. data that is not JSON).
    #[error("corrupt row in {table}: {message}")]
    Corrupt { table: String, message: String },
    /// A command that only reads found no database to read ([`crate::Store::connect_existing`]).
    #[error("no database at {0}")]
    Missing(String),
    /// A command that only reads found a database this build would migrate first.
    #[error(
        "the database's schema is at version {found} and this build's at {wanted}: start `tessera serve` on it once to bring it up to date"
    )]
    Outdated { found: i64, wanted: i64 },
    /// A newer build contracted the database's schema: this one would write it the old way.
    #[error(
        "the database's schema is at version {found}, changed by a newer build in a way this build ({known}) cannot serve: run the newer build"
    )]
    Newer { found: i64, known: i64 },
    /// A database URL asks for what the store does not know.
    #[error("database URL: {0}")]
    Url(String),
    /// What was asked is done another way on this database.
    #[error("{0}")]
    Unsupported(String),
    /// A file or database that would be overwritten.
    #[error("{0} exists already: nothing is overwritten")]
    Exists(String),
    /// A database file SQLite's integrity check finds fault with.
    #[error("{file} is damaged: {problems}")]
    Damaged { file: String, problems: String },
    /// A file could not be read or written.
    #[error("{0}")]
    Io(String),
}

impl StoreError {
    /// Whether PostgreSQL cancelled the statement (SQLSTATE 57014, `query_canceled`): past
    /// `statement_timeout`, or at an administrator's request. The code, unlike the message, is
    /// the same whatever language the server writes its messages in (`lc_messages`).
    pub fn is_query_cancelled(&self) -> bool {
        self.sqlstate().as_deref() == Some(QUERY_CANCELED)
    }

    /// Whether PostgreSQL refused a text value for a character it cannot store (NUL): a fault
    /// of the input, not of the server.
    pub fn is_refused_text(&self) -> bool {
        self.sqlstate().is_some_and(|code| REFUSED_TEXT.contains(&code.as_str()))
    }

    /// Whether the database could not be reached or is not serving (down, restarting, every
    /// connection lost, none to be had in time), rather than refusing what was asked: a
    /// condition to try again after, not a fault of the request.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Db(DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) => true,
            StoreError::Db(DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) => match e.as_ref() {
                SqlxError::Io(_) | SqlxError::PoolTimedOut | SqlxError::PoolClosed | SqlxError::WorkerCrashed => true,
                SqlxError::Database(_) => self.sqlstate().is_some_and(|code| UNAVAILABLE_CLASSES.iter().any(|c| code.starts_with(c))),
                _ => false,
            },
            _ => false,
        }
    }

    /// The SQLSTATE code of the database's error, when the database refused a statement.
    fn sqlstate(&self) -> Option<String> {
        let StoreError::Db(DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = self else {
            return None;
        };
        match e.as_ref() {
            SqlxError::Database(e) => e.code().map(String::from),
            _ => None,
        }
    }

    pub(crate) fn corrupt(table: &str, message: impl ToString) -> Self {
        StoreError::Corrupt { table: table.to_owned(), message: message.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Database, TransactionTrait};

    use super::StoreError;

    #[tokio::test]
    async fn a_statement_past_its_timeout_is_told_by_its_code() {
        let Ok(base) = std::env::var("TESSERA_TEST_PG") else {
            eprintln!("note: TESSERA_TEST_PG is not set; skipping PostgreSQL for this test");
            return;
        };
        let db = Database::connect(format!("{}/postgres", base.trim_end_matches('/'))).await.unwrap();
        let tx = db.begin().await.unwrap();
        tx.execute_unprepared("SET LOCAL statement_timeout = 1").await.unwrap();
        let timed_out = StoreError::from(tx.execute_unprepared("SELECT pg_sleep(1)").await.unwrap_err());
        assert!(timed_out.is_query_cancelled(), "{timed_out}");
        tx.rollback().await.unwrap();

        let refused = StoreError::from(db.execute_unprepared("SELECT 1 / 0").await.unwrap_err());
        assert!(!refused.is_query_cancelled(), "{refused}");
        db.close().await.unwrap();
    }
}
