//! The store's one error type.

use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// A row the store wrote cannot be read back (e.g. data that is not JSON).
    #[error("corrupt row in {table}: {message}")]
    Corrupt { table: String, message: String },
}

impl StoreError {
    pub(crate) fn corrupt(table: &str, message: impl ToString) -> Self {
        StoreError::Corrupt { table: table.to_owned(), message: message.to_string() }
    }
}
