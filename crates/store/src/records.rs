//! Record tables: one per form, with system columns and the form's fields as JSON in `data`.

use std::collections::BTreeMap;
use std::sync::Arc;

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, NullOrdering, Order, Query, SelectStatement, SimpleExpr};
use sea_orm::{ConnectionTrait, QueryResult};
use serde_json::{Map, Value};

use crate::connect::{Backend, backend_of};
use crate::query::{Deleted, ListQuery, Scalar, Target, after_cond, field_sql, filter_cond, limited, target_expr};
use crate::{ColumnKind, Store, StoreError};

/// The table holding one form's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormTable {
    pub name: String,
    /// Fields kept as typed columns (`f_<field>`, generated from `data` and stored) beside the
    /// JSON, with the kind of their values.
    typed: Arc<BTreeMap<String, ColumnKind>>,
}

impl FormTable {
    /// `r_<app>__<form>`: both parts are snake_case identifiers, so the name is unique.
    pub fn new(app: &str, form: &str) -> FormTable {
        FormTable { name: format!("r_{app}__{form}"), typed: Arc::default() }
    }

    /// The same table with `fields` kept as typed columns: every read of them (filters, sorts,
    /// reports) uses the column, which the database reads without parsing the document, and
    /// their indexes are plain column indexes that cover queries.
    pub fn with_typed<'a>(self, fields: impl IntoIterator<Item = (&'a str, ColumnKind)>) -> FormTable {
        FormTable { typed: Arc::new(fields.into_iter().map(|(name, kind)| (name.to_owned(), kind)).collect()), ..self }
    }

    /// Whether `field` is kept as a typed column.
    pub fn is_typed(&self, field: &str) -> bool {
        self.typed.contains_key(field)
    }

    /// Creates the table with its typed columns, or reshapes it when they changed, and creates
    /// the given indexes (each a list of fields) if missing.
    pub async fn ensure(&self, store: &Store, indexes: &[Vec<(String, ColumnKind)>]) -> Result<(), StoreError> {
        let typed: Vec<(String, ColumnKind)> = self.typed.iter().map(|(name, kind)| (name.clone(), *kind)).collect();
        let exprs: Vec<Vec<String>> = indexes
            .iter()
            .map(|fields| fields.iter().map(|(name, kind)| field_sql(store.backend(), self, name, *kind)).collect())
            .collect();
        crate::schema::ensure_form_table(store, &self.name, &typed, &exprs).await
    }
}

/// One stored record: system columns plus the form's data.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: String,
    pub version: i64,
    pub owner: String,
    pub state: Option<String>,
    pub data: Map<String, Value>,
    pub created_by: String,
    pub created_at: String,
    pub updated_by: String,
    pub updated_at: String,
    pub deleted_at: Option<String>,
    /// Where the record stands in its form's flow (state, approval, log), kept by the engine.
    pub flow: Option<Value>,
}

const COLUMNS: [&str; 10] =
    ["id", "version", "owner", "state", "created_by", "created_at", "updated_by", "updated_at", "deleted_at", "flow"];

fn flow_text(flow: &Option<Value>) -> Option<String> {
    flow.as_ref().map(Value::to_string)
}

fn data_value(backend: Backend, data: &Map<String, Value>) -> SimpleExpr {
    let text = Value::Object(data.clone()).to_string();
    match backend {
        Backend::Postgres => Func::cast_as(Expr::val(text), Alias::new("jsonb")).into(),
        Backend::Sqlite => Expr::val(text),
    }
}

fn select(backend: Backend, table: &FormTable) -> SelectStatement {
    let mut q = Query::select();
    q.columns(COLUMNS).from(Alias::new(table.name.as_str()));
    match backend {
        Backend::Postgres => q.expr_as(Expr::cust("data::text"), "data"),
        Backend::Sqlite => q.column("data"),
    };
    q
}

fn decode(table: &FormTable, row: &QueryResult) -> Result<Record, StoreError> {
    let text: String = row.try_get("", "data")?;
    let data = match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(StoreError::corrupt(&table.name, "data is not an object")),
        Err(e) => return Err(StoreError::corrupt(&table.name, e)),
    };
    Ok(Record {
        id: row.try_get("", "id")?,
        version: row.try_get("", "version")?,
        owner: row.try_get("", "owner")?,
        state: row.try_get("", "state")?,
        data,
        created_by: row.try_get("", "created_by")?,
        created_at: row.try_get("", "created_at")?,
        updated_by: row.try_get("", "updated_by")?,
        updated_at: row.try_get("", "updated_at")?,
        deleted_at: row.try_get("", "deleted_at")?,
        flow: match row.try_get::<Option<String>>("", "flow")? {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| StoreError::corrupt(&table.name, e))?),
            None => None,
        },
    })
}

pub async fn insert(db: &impl ConnectionTrait, table: &FormTable, r: &Record) -> Result<(), StoreError> {
    let backend = backend_of(db);
    let q = Query::insert()
        .into_table(Alias::new(table.name.as_str()))
        .columns(COLUMNS.into_iter().chain(["data"]))
        .values_panic([
            Expr::val(r.id.clone()),
            Expr::val(r.version),
            Expr::val(r.owner.clone()),
            Expr::val(r.state.clone()),
            Expr::val(r.created_by.clone()),
            Expr::val(r.created_at.clone()),
            Expr::val(r.updated_by.clone()),
            Expr::val(r.updated_at.clone()),
            Expr::val(r.deleted_at.clone()),
            Expr::val(flow_text(&r.flow)),
            data_value(backend, &r.data),
        ])
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// The record with `id`, deleted or not.
pub async fn get(db: &impl ConnectionTrait, table: &FormTable, id: &str) -> Result<Option<Record>, StoreError> {
    let q = select(backend_of(db), table).and_where(Expr::col("id").eq(id)).to_owned();
    db.query_one(&q).await?.map(|row| decode(table, &row)).transpose()
}

/// The records with these ids, deleted or not, in no particular order.
pub async fn get_many(db: &impl ConnectionTrait, table: &FormTable, ids: &[String]) -> Result<Vec<Record>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let q = select(backend_of(db), table).and_where(Expr::col("id").is_in(ids.iter().cloned())).to_owned();
    db.query_all(&q).await?.iter().map(|row| decode(table, row)).collect()
}

/// Writes `r` over the stored record if that is still at `expected_version`. Returns false
/// when it is not (someone else wrote first), leaving the row untouched.
pub async fn update(db: &impl ConnectionTrait, table: &FormTable, r: &Record, expected_version: i64) -> Result<bool, StoreError> {
    let backend = backend_of(db);
    let q = Query::update()
        .table(Alias::new(table.name.as_str()))
        .values([
            ("version", Expr::val(r.version)),
            ("owner", Expr::val(r.owner.clone())),
            ("state", Expr::val(r.state.clone())),
            ("data", data_value(backend, &r.data)),
            ("updated_by", Expr::val(r.updated_by.clone())),
            ("updated_at", Expr::val(r.updated_at.clone())),
            ("deleted_at", Expr::val(r.deleted_at.clone())),
            ("flow", Expr::val(flow_text(&r.flow))),
        ])
        .and_where(Expr::col("id").eq(r.id.clone()))
        .and_where(Expr::col("version").eq(expected_version))
        .to_owned();
    Ok(db.execute(&q).await?.rows_affected() == 1)
}

/// Sets the flow state of a record without making a version: the caller writes the version
/// (with [`update`]) in the same transaction.
pub async fn set_flow(db: &impl ConnectionTrait, table: &FormTable, id: &str, state: &str, flow: &Value) -> Result<(), StoreError> {
    let q = Query::update()
        .table(Alias::new(table.name.as_str()))
        .values([("state", Expr::val(state)), ("flow", Expr::val(flow.to_string()))])
        .and_where(Expr::col("id").eq(id))
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// One page of records.
pub async fn list(db: &impl ConnectionTrait, table: &FormTable, query: &ListQuery) -> Result<Vec<Record>, StoreError> {
    let backend = backend_of(db);
    let mut q = select(backend, table);
    match query.deleted {
        Deleted::Exclude => q.and_where(Expr::col("deleted_at").is_null()),
        Deleted::Only => q.and_where(Expr::col("deleted_at").is_not_null()),
    };
    if let Some(filter) = &query.filter {
        q.cond_where(filter_cond(backend, table, filter));
    }
    if let Some(cursor) = &query.after {
        q.cond_where(after_cond(backend, table, &query.sort, cursor));
    }
    for key in &query.sort {
        let (order, nulls) = if key.descending { (Order::Desc, NullOrdering::Last) } else { (Order::Asc, NullOrdering::First) };
        q.order_by_expr_with_nulls(target_expr(backend, table, &key.target), order, nulls);
    }
    q.order_by("id", Order::Asc);
    db.query_all_raw(limited(db, &q, query.limit)).await?.iter().map(|row| decode(table, row)).collect()
}

/// Whether a live (not deleted) record with `id` exists.
pub async fn exists(db: &impl ConnectionTrait, table: &FormTable, id: &str) -> Result<bool, StoreError> {
    let q = Query::select()
        .expr(Expr::val(1))
        .from(Alias::new(table.name.as_str()))
        .and_where(Expr::col("id").eq(id))
        .and_where(Expr::col("deleted_at").is_null())
        .to_owned();
    Ok(db.query_one(&q).await?.is_some())
}

/// The id of a live record (other than `exclude`) whose fields equal all of `key`.
pub async fn find_duplicate(
    db: &impl ConnectionTrait,
    table: &FormTable,
    key: &[(String, ColumnKind, Scalar)],
    exclude: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let backend = backend_of(db);
    let mut q = Query::select();
    q.column("id").from(Alias::new(table.name.as_str())).and_where(Expr::col("deleted_at").is_null());
    for (name, kind, v) in key {
        let target = Target::Field { name: name.clone(), kind: *kind };
        q.cond_where(filter_cond(backend, table, &crate::Filter::Cmp(target, crate::CmpOp::Eq, v.clone())));
    }
    if let Some(id) = exclude {
        q.and_where(Expr::col("id").ne(id));
    }
    Ok(db.query_one_raw(limited(db, &q, 1)).await?.map(|row| row.try_get("", "id")).transpose()?)
}

/// Serialises writers that check-then-insert on the same key (dedupe) until the transaction
/// ends. PostgreSQL takes an advisory lock; SQLite's IMMEDIATE transactions already hold the one
/// write lock.
pub async fn lock_key(db: &impl ConnectionTrait, key: &str) -> Result<(), StoreError> {
    if backend_of(db) == Backend::Postgres {
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
        let q = Query::select().expr(Func::cust("pg_advisory_xact_lock").arg(hash as i64)).to_owned();
        db.query_one(&q).await?;
    }
    Ok(())
}
