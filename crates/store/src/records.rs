//! Record tables: one per form, with system columns, a typed column per field that holds one
//! comparable value, and the document `data` for the rest ([`crate::layout`]).

use std::sync::Arc;

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, NullOrdering, Order, Query, SelectStatement, SimpleExpr};
use sea_orm::{ConnectionTrait, QueryResult, Statement};
use serde_json::{Map, Value};

use crate::connect::{Backend, backend_of};
use crate::query::{Deleted, ListQuery, Scalar, Target, after_cond, descending_ties, filter_cond, limited, target_expr};
use crate::{ColumnKind, StoreError, layout};

/// The table holding one form's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormTable {
    pub name: String,
    /// Fields kept as typed columns (`f_<field>`), with the kind of their values, in the
    /// form's order.
    typed: Arc<[(String, ColumnKind)]>,
    /// Their columns' names, in the same order (named once, not at every row read).
    columns: Arc<[String]>,
}

impl FormTable {
    /// `r_<app>__<form>`: both parts are snake_case identifiers, so the name is unique.
    pub fn new(app: &str, form: &str) -> FormTable {
        FormTable { name: format!("r_{app}__{form}"), typed: Arc::default(), columns: Arc::default() }
    }

    /// A record table named `name` (the store's own, while it rebuilds one).
    pub(crate) fn new_named(name: &str) -> FormTable {
        FormTable { name: name.to_owned(), typed: Arc::default(), columns: Arc::default() }
    }

    /// The same table with `fields` kept as typed columns: every read of them (filters, sorts,
    /// reports) uses the column, which the database reads without parsing the document, and
    /// their indexes are plain column indexes that cover queries.
    pub fn with_typed<'a>(self, fields: impl IntoIterator<Item = (&'a str, ColumnKind)>) -> FormTable {
        let typed: Arc<[(String, ColumnKind)]> = fields.into_iter().map(|(name, kind)| (name.to_owned(), kind)).collect();
        let columns = typed.iter().map(|(field, _)| layout::column_name(field)).collect();
        FormTable { typed, columns, ..self }
    }

    /// Whether `field` is kept as a typed column.
    pub fn is_typed(&self, field: &str) -> bool {
        self.typed.iter().any(|(name, _)| name == field)
    }

    /// The typed fields and their kinds, in the form's order.
    pub(crate) fn typed(&self) -> &[(String, ColumnKind)] {
        &self.typed
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
    /// The version of the form's definition the data was last validated against (`None` for a
    /// record written before records were stamped, or by an app loaded from a folder only).
    pub form_version: Option<i64>,
}

const COLUMNS: [&str; 11] =
    ["id", "version", "owner", "state", "created_by", "created_at", "updated_by", "updated_at", "deleted_at", "flow", "form_version"];

fn flow_text(flow: &Option<Value>) -> Option<String> {
    flow.as_ref().map(Value::to_string)
}

fn document_value(backend: Backend, document: Map<String, Value>) -> SimpleExpr {
    let text = Value::Object(document).to_string();
    match backend {
        Backend::Postgres => Func::cast_as(Expr::val(text), Alias::new("jsonb")).into(),
        Backend::Sqlite => Expr::val(text),
    }
}

/// The typed columns' names and values of `data` in `table`'s layout, and its document.
///
/// On PostgreSQL each typed value is cast to its column's type, which puts the type in the
/// statement's text: a connection reuses a statement it prepared for the same text, with the
/// parameter types it was prepared with, so after a field's type changed the old statement
/// would send the new kind's bytes as the old type's (silently wrong, or refused).
fn laid_out(backend: Backend, table: &FormTable, data: &Map<String, Value>) -> (Vec<(String, SimpleExpr)>, SimpleExpr) {
    let row = layout::split(table.typed(), data);
    let columns = table
        .columns
        .iter()
        .zip(table.typed())
        .zip(row.columns)
        .map(|((column, (_, kind)), value)| {
            let value = match backend {
                Backend::Postgres => Func::cast_as(Expr::val(value), Alias::new(layout::sql_type(backend, *kind))).into(),
                Backend::Sqlite => Expr::val(value),
            };
            (column.clone(), value)
        })
        .collect();
    (columns, document_value(backend, row.document))
}

fn select(backend: Backend, table: &FormTable) -> SelectStatement {
    let mut q = Query::select();
    q.columns(COLUMNS).from(Alias::new(table.name.as_str()));
    match backend {
        Backend::Sqlite => q.columns(table.columns.iter().map(Alias::new)),
        Backend::Postgres => {
            for (column, (_, kind)) in table.columns.iter().zip(table.typed()) {
                q.expr_as(Expr::cust(crate::query::typed_column_as(backend, column, *kind)), Alias::new(column));
            }
            &mut q
        }
    };
    match backend {
        Backend::Postgres => q.expr_as(Expr::cust("data::text"), "data"),
        Backend::Sqlite => q.column("data"),
    };
    q
}

fn decode(table: &FormTable, row: &QueryResult) -> Result<Record, StoreError> {
    let text: String = row.try_get("", "data")?;
    let document = match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(StoreError::corrupt(&table.name, "data is not an object")),
        Err(e) => return Err(StoreError::corrupt(&table.name, e)),
    };
    let data = layout::join(table.typed(), document, |i| layout::read_column(row, &table.columns[i], table.typed()[i].1))?;
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
        form_version: row.try_get("", "form_version")?,
    })
}

pub async fn insert(db: &impl ConnectionTrait, table: &FormTable, r: &Record) -> Result<(), StoreError> {
    let (typed, document) = laid_out(backend_of(db), table, &r.data);
    let q = Query::insert()
        .into_table(Alias::new(table.name.as_str()))
        .columns(COLUMNS.into_iter().map(Alias::new).chain(typed.iter().map(|(column, _)| Alias::new(column))).chain([Alias::new("data")]))
        .values_panic(
            [
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
                Expr::val(r.form_version),
            ]
            .into_iter()
            .chain(typed.into_iter().map(|(_, value)| value))
            .chain([document]),
        )
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
    let (typed, document) = laid_out(backend_of(db), table, &r.data);
    let system = [
        ("version", Expr::val(r.version)),
        ("owner", Expr::val(r.owner.clone())),
        ("state", Expr::val(r.state.clone())),
        ("data", document),
        ("updated_by", Expr::val(r.updated_by.clone())),
        ("updated_at", Expr::val(r.updated_at.clone())),
        ("deleted_at", Expr::val(r.deleted_at.clone())),
        ("flow", Expr::val(flow_text(&r.flow))),
        ("form_version", Expr::val(r.form_version)),
    ]
    .map(|(column, value)| (Alias::new(column), value));
    let q = Query::update()
        .table(Alias::new(table.name.as_str()))
        .values(system.into_iter().chain(typed.into_iter().map(|(column, value)| (Alias::new(column), value))))
        .and_where(Expr::col("id").eq(r.id.clone()))
        .and_where(Expr::col("version").eq(expected_version))
        .to_owned();
    Ok(db.execute(&q).await?.rows_affected() == 1)
}

/// Copies every record of `from` into `to`, each read in `from`'s layout and written in
/// `to`'s; returns how many. Pages through `from` by id, so memory stays bounded.
pub(crate) async fn copy_all(db: &impl ConnectionTrait, from: &FormTable, to: &FormTable) -> Result<u64, StoreError> {
    let (mut copied, mut after) = (0, None);
    loop {
        let page = copy_page(db, from, to, after.take()).await?;
        copied += page.copied;
        match page.last {
            Some(last) => after = Some(last),
            None => return Ok(copied),
        }
    }
}

/// How many records a page of a copy holds.
const COPY_PAGE: u64 = 1000;

/// What [`copy_page`] did: how many records it copied, and the last one's id when more may follow.
pub(crate) struct CopiedPage {
    pub copied: u64,
    pub last: Option<String>,
}

/// Copies the page of `from`'s records after id `after` into `to`, each read in `from`'s layout
/// and written in `to`'s.
pub(crate) async fn copy_page(
    db: &impl ConnectionTrait,
    from: &FormTable,
    to: &FormTable,
    after: Option<String>,
) -> Result<CopiedPage, StoreError> {
    let mut q = select(backend_of(db), from);
    if let Some(id) = after {
        q.and_where(Expr::col("id").gt(id));
    }
    q.order_by("id", Order::Asc);
    let rows = db.query_all_raw(limited(db, &q, COPY_PAGE)).await?;
    let mut last = None;
    for row in &rows {
        let record = decode(from, row)?;
        insert(db, to, &record).await?;
        last = Some(record.id);
    }
    let copied = rows.len() as u64;
    Ok(CopiedPage { copied, last: last.filter(|_| copied == COPY_PAGE) })
}

/// Copies again into `to` each record of `from` that `to` lacks or holds at another version
/// (written since it was copied); returns how many.
pub(crate) async fn copy_changed(db: &impl ConnectionTrait, from: &FormTable, to: &FormTable) -> Result<u64, StoreError> {
    let (old, new) = (&from.name, &to.name);
    let changed = Statement::from_string(
        db.get_database_backend(),
        format!("SELECT o.id FROM \"{old}\" o LEFT JOIN \"{new}\" n ON n.id = o.id WHERE n.id IS NULL OR n.version <> o.version"),
    );
    let ids: Vec<String> = db.query_all_raw(changed).await?.iter().map(|row| row.try_get("", "id")).collect::<Result<_, _>>()?;
    for chunk in ids.chunks(COPY_PAGE as usize) {
        let stale = Query::delete().from_table(Alias::new(new.as_str())).and_where(Expr::col("id").is_in(chunk.iter().cloned())).to_owned();
        db.execute(&stale).await?;
        for record in get_many(db, from, chunk).await? {
            insert(db, to, &record).await?;
        }
    }
    Ok(ids.len() as u64)
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
    q.order_by("id", if descending_ties(&query.sort) { Order::Desc } else { Order::Asc });
    db.query_all_raw(limited(db, &q, query.limit)).await?.iter().map(|row| decode(table, row)).collect()
}

/// How many records match `query`'s filter (and deletion), counting no further than `up_to`.
pub async fn count(db: &impl ConnectionTrait, table: &FormTable, query: &ListQuery, up_to: u64) -> Result<u64, StoreError> {
    let backend = backend_of(db);
    let mut matching = Query::select();
    matching.expr(Expr::val(1)).from(Alias::new(table.name.as_str()));
    match query.deleted {
        Deleted::Exclude => matching.and_where(Expr::col("deleted_at").is_null()),
        Deleted::Only => matching.and_where(Expr::col("deleted_at").is_not_null()),
    };
    if let Some(filter) = &query.filter {
        matching.cond_where(filter_cond(backend, table, filter));
    }
    let matching = limited(db, &matching, up_to);
    let sql = format!("SELECT COUNT(*) AS n FROM ({}) AS matching", matching.sql);
    let row = db
        .query_one_raw(sea_orm::Statement::from_sql_and_values(matching.db_backend, sql, matching.values.map(|v| v.0).unwrap_or_default()))
        .await?;
    let n: i64 = row.map(|r| r.try_get("", "n")).transpose()?.unwrap_or(0);
    Ok(u64::try_from(n).unwrap_or(0))
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
        let q = Query::select().expr(Func::cust("pg_advisory_xact_lock").arg(advisory_key(key))).to_owned();
        db.query_one(&q).await?;
    }
    Ok(())
}

/// Takes the lock of `key` until the transaction ends if nobody holds it, and answers whether
/// it did (PostgreSQL; on SQLite, always: its write lock is already held).
pub(crate) async fn try_lock_key(db: &impl ConnectionTrait, key: &str) -> Result<bool, StoreError> {
    if backend_of(db) != Backend::Postgres {
        return Ok(true);
    }
    let q = Query::select().expr_as(Func::cust("pg_try_advisory_xact_lock").arg(advisory_key(key)), "taken").to_owned();
    let row = db.query_one(&q).await?.ok_or_else(|| StoreError::corrupt("pg_try_advisory_xact_lock", "no row"))?;
    Ok(row.try_get("", "taken")?)
}

/// The advisory lock number of `key`: its FNV-1a hash.
fn advisory_key(key: &str) -> i64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)) as i64
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectOptions, ConnectionTrait, Database};
    use serde_json::json;

    use super::{FormTable, Record, get, insert, update};
    use crate::ColumnKind;

    /// A connection keeps the statements it prepared; one prepared for a column's old type
    /// must not be reused once the column has another (PostgreSQL refused the bytes of the new
    /// kind: "insufficient data left in message", a protocol error read as the database down).
    #[tokio::test]
    async fn a_write_after_a_columns_type_changed_prepares_its_statement_anew() {
        let Ok(base) = std::env::var("TESSERA_TEST_PG") else {
            eprintln!("note: TESSERA_TEST_PG is not set; skipping PostgreSQL for this test");
            return;
        };
        // One connection: every statement below goes through the same statement cache.
        let mut options = ConnectOptions::new(format!("{}/postgres", base.trim_end_matches('/')));
        options.max_connections(1).sqlx_logging(false);
        let db = Database::connect(options).await.unwrap();
        let name = format!("r_retype_{}", uuid::Uuid::now_v7().simple());
        db.execute_unprepared(&format!(
            "CREATE TABLE \"{name}\" (id varchar PRIMARY KEY, version bigint NOT NULL, owner varchar NOT NULL, state varchar, \
             f_size double precision, data jsonb NOT NULL, created_by varchar NOT NULL, created_at varchar NOT NULL, \
             updated_by varchar NOT NULL, updated_at varchar NOT NULL, deleted_at varchar, flow text, form_version bigint)"
        ))
        .await
        .unwrap();
        let record = |version: i64, size: serde_json::Value| Record {
            id: "r1".into(),
            version,
            owner: "u".into(),
            state: None,
            data: json!({ "size": size }).as_object().unwrap().clone(),
            created_by: "u".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_by: "u".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            deleted_at: None,
            flow: None,
            form_version: None,
        };
        let as_number = FormTable::new_named(&name).with_typed([("size", ColumnKind::Number)]);
        insert(&db, &as_number, &record(1, json!(12))).await.unwrap();
        assert!(update(&db, &as_number, &record(2, json!(13)), 1).await.unwrap());

        db.execute_unprepared(&format!("ALTER TABLE \"{name}\" ALTER COLUMN f_size TYPE text USING f_size::text")).await.unwrap();
        let as_text = FormTable::new_named(&name).with_typed([("size", ColumnKind::Text)]);
        let written = update(&db, &as_text, &record(3, json!("thirteen")), 2).await;
        let read = get(&db, &as_text, "r1").await;
        db.execute_unprepared(&format!("DROP TABLE \"{name}\"")).await.unwrap();
        assert!(written.unwrap(), "the update found its row");
        assert_eq!(read.unwrap().unwrap().data["size"], json!("thirteen"));
    }
}
