//! Statements run on rusqlite connections the store drives itself ([`crate::sqlite_writer`],
//! [`crate::sqlite_reader`]), with values and rows converted to and from sea-orm's, so the code
//! above sees one `ConnectionTrait` whichever connection ran the statement.

use std::collections::BTreeMap;

use rusqlite::types::{Value as Sql, ValueRef};
use sea_orm::{DbErr, RuntimeErr, Statement, Value};

/// Prepared statements kept per connection; a form's statements are few and repeat.
pub(crate) const STATEMENT_CACHE: usize = 256;

/// Runs the query `statement` on `conn` (prepared once per connection) and returns its rows,
/// each column by name as sea-orm's mock rows keep them.
pub(crate) fn rows_of(conn: &rusqlite::Connection, statement: &Statement) -> Result<Vec<BTreeMap<String, Value>>, DbErr> {
    let mut prepared = conn.prepare_cached(&statement.sql).map_err(error)?;
    let mut rows = prepared.query(rusqlite::params_from_iter(bound(statement)?)).map_err(error)?;
    let mut columns: Vec<(String, Option<String>)> = Vec::new();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(error)? {
        if columns.is_empty() {
            // Named after the first step, not before: a statement prepared while this
            // connection still knew an older schema (a table another connection rebuilt) is
            // prepared again by that step, and only then names its columns right.
            columns = row.as_ref().columns().iter().map(|c| (c.name().to_owned(), c.decl_type().map(str::to_ascii_uppercase))).collect();
        }
        let mut values = BTreeMap::new();
        for (i, (name, decl)) in columns.iter().enumerate() {
            values.insert(name.clone(), value_of(row.get_ref(i).map_err(error)?, decl.as_deref()));
        }
        out.push(values);
    }
    Ok(out)
}

/// The statement's values as SQLite values.
pub(crate) fn bound(statement: &Statement) -> Result<Vec<Sql>, DbErr> {
    let Some(values) = &statement.values else { return Ok(Vec::new()) };
    values.0.iter().map(sql_of).collect()
}

fn sql_of(value: &Value) -> Result<Sql, DbErr> {
    fn int(v: Option<impl Into<i64>>) -> Sql {
        v.map_or(Sql::Null, |v| Sql::Integer(v.into()))
    }
    Ok(match value {
        Value::Bool(v) => int(*v),
        Value::TinyInt(v) => int(*v),
        Value::SmallInt(v) => int(*v),
        Value::Int(v) => int(*v),
        Value::BigInt(v) => int(*v),
        Value::TinyUnsigned(v) => int(*v),
        Value::SmallUnsigned(v) => int(*v),
        Value::Unsigned(v) => int(*v),
        Value::BigUnsigned(v) => match v {
            None => Sql::Null,
            Some(v) => Sql::Integer(i64::try_from(*v).map_err(|_| DbErr::Custom(format!("{v} is too large for SQLite")))?),
        },
        Value::Float(v) => v.map_or(Sql::Null, |v| Sql::Real(v.into())),
        Value::Double(v) => v.map_or(Sql::Null, Sql::Real),
        Value::String(v) => v.clone().map_or(Sql::Null, Sql::Text),
        Value::Char(v) => v.map_or(Sql::Null, |c| Sql::Text(c.to_string())),
        Value::Bytes(v) => v.clone().map_or(Sql::Null, Sql::Blob),
        Value::Json(v) => v.as_ref().map_or(Sql::Null, |j| Sql::Text(j.to_string())),
        other => return Err(DbErr::Custom(format!("a statement on SQLite cannot bind {other:?}"))),
    })
}

/// A column value as sea-orm reads it: by the column's declared type where SQLite's value
/// does not say (NULL, and integers in boolean columns).
fn value_of(value: ValueRef<'_>, decl: Option<&str>) -> Value {
    let decl = decl.unwrap_or_default();
    let boolean = decl.contains("BOOL");
    match value {
        ValueRef::Null if boolean => Value::Bool(None),
        ValueRef::Null if decl.contains("INT") => Value::BigInt(None),
        ValueRef::Null if ["REAL", "FLOA", "DOUB"].iter().any(|t| decl.contains(t)) => Value::Double(None),
        ValueRef::Null => Value::String(None),
        ValueRef::Integer(i) if boolean => Value::Bool(Some(i != 0)),
        ValueRef::Integer(i) => Value::BigInt(Some(i)),
        ValueRef::Real(f) => Value::Double(Some(f)),
        ValueRef::Text(t) => Value::String(Some(String::from_utf8_lossy(t).into_owned())),
        ValueRef::Blob(b) => Value::Bytes(Some(b.to_vec())),
    }
}

pub(crate) fn error(e: rusqlite::Error) -> DbErr {
    DbErr::Query(RuntimeErr::Internal(e.to_string()))
}
