//! Running the read-only statements the report engine compiles and returning their rows as
//! JSON values, typed by what each column is known to hold.

use sea_orm::sea_query::{PostgresQueryBuilder, SelectStatement, SqliteQueryBuilder};
use sea_orm::{ConnectionTrait, QueryResult};
use serde_json::Value;

use crate::connect::Backend;
use crate::{ColumnKind, StoreError};

/// What a result column holds, so it is read back with the right type on both backends
/// (SQLite types values, not columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutKind {
    Text,
    Int,
    Float,
    Bool,
}

/// Runs `q` and returns each row's columns in select order.
pub async fn report_rows(db: &impl ConnectionTrait, q: &SelectStatement, kinds: &[OutKind]) -> Result<Vec<Vec<Value>>, StoreError> {
    let rows = db.query_all(q).await?;
    Ok(rows.iter().map(|row| kinds.iter().enumerate().map(|(i, k)| cell(row, i, *k)).collect()).collect())
}

/// Runs `q`, whose first column is a record id, and returns the ids.
pub async fn report_ids(db: &impl ConnectionTrait, q: &SelectStatement) -> Result<Vec<String>, StoreError> {
    let rows = db.query_all(q).await?;
    rows.iter().map(|row| Ok(row.try_get_by_index::<String>(0)?)).collect()
}

/// The SQL text and bound values of `q` for `backend`: what `explain` shows.
pub fn report_sql(backend: Backend, q: &SelectStatement) -> (String, Vec<Value>) {
    let (sql, values) = match backend {
        Backend::Sqlite => q.build(SqliteQueryBuilder),
        Backend::Postgres => q.build(PostgresQueryBuilder),
    };
    let values = values.0.iter().map(sea_orm::sea_query::sea_value_to_json_value).collect();
    (sql, values)
}

/// The text the store reads field `name` of `table` with (and indexes it on); the report
/// engine must write the same.
pub fn indexed_field_sql(backend: Backend, table: &crate::FormTable, name: &str, kind: ColumnKind) -> String {
    crate::query::field_sql(backend, table, name, kind)
}

fn cell(row: &QueryResult, i: usize, kind: OutKind) -> Value {
    let float = || row.try_get_by_index::<Option<f64>>(i).ok().map(|v| v.map_or(Value::Null, |f| serde_json::json!(f)));
    let int = || row.try_get_by_index::<Option<i64>>(i).ok().map(|v| v.map_or(Value::Null, Value::from));
    let text = || row.try_get_by_index::<Option<String>>(i).ok().map(|v| v.map_or(Value::Null, Value::String));
    let boolean = || row.try_get_by_index::<Option<bool>>(i).ok().map(|v| v.map_or(Value::Null, Value::Bool));
    let found = match kind {
        OutKind::Int => int().or_else(float),
        OutKind::Float => float().or_else(int),
        // JSON numbers grouped as text keep their own type on SQLite.
        OutKind::Text => text().or_else(int).or_else(float),
        // SQLite keeps booleans as 0/1.
        OutKind::Bool => boolean().or_else(|| int().map(|v| v.as_i64().map_or(Value::Null, |n| Value::Bool(n != 0)))),
    };
    found.unwrap_or(Value::Null)
}

/// `SELECT id FROM table WHERE filter`: the rows of a form a permission scope lets a user read,
/// for the report engine to restrict its queries with.
pub fn scope_select(backend: Backend, table: &crate::FormTable, filter: &crate::Filter) -> SelectStatement {
    let mut q = sea_orm::sea_query::Query::select();
    q.column("id").from(sea_orm::sea_query::Alias::new(table.name.as_str())).cond_where(crate::query::filter_cond(backend, table, filter));
    q
}
