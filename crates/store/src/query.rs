//! The list query model (filters, sort, keyset cursor) and its compilation to sea-query
//! expressions for each backend. Field values are read from the JSON `data` column with the
//! same expression text that the indexes are built on, so the planner can use them.

use sea_orm::sea_query::{Alias, BinOper, Cond, Condition, Expr, ExprTrait, Func, LikeExpr, SelectStatement, SimpleExpr};
use sea_orm::{ConnectionTrait, Statement};

use crate::connect::Backend;
use crate::{ColumnKind, FormTable};

/// `select` (without limit, offset or lock) for `db`, with `LIMIT limit` written into the SQL
/// rather than bound. SQLite plans a statement again whenever a value bound to it could change
/// the plan, and a bound LIMIT can: a cached statement with one was parsed and planned anew on
/// every run.
pub(crate) fn limited(db: &impl ConnectionTrait, select: &SelectStatement, limit: u64) -> Statement {
    let mut statement = db.get_database_backend().build(select);
    statement.sql.push_str(&format!(" LIMIT {limit}"));
    statement
}

/// A comparable value bound into a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Text(String),
    Number(f64),
    Bool(bool),
}

/// Columns every record table has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemColumn {
    Id,
    Version,
    Owner,
    State,
    CreatedBy,
    CreatedAt,
    UpdatedBy,
    UpdatedAt,
}

impl SystemColumn {
    pub fn name(self) -> &'static str {
        match self {
            SystemColumn::Id => "id",
            SystemColumn::Version => "version",
            SystemColumn::Owner => "owner",
            SystemColumn::State => "state",
            SystemColumn::CreatedBy => "created_by",
            SystemColumn::CreatedAt => "created_at",
            SystemColumn::UpdatedBy => "updated_by",
            SystemColumn::UpdatedAt => "updated_at",
        }
    }
}

/// What a condition or sort key reads: a system column or a field of `data`.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    System(SystemColumn),
    Field { name: String, kind: ColumnKind },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    /// Case-insensitive substring.
    Contains,
    /// Case-insensitive prefix.
    StartsWith,
}

/// A filter over one record table.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    All(Vec<Filter>),
    Any(Vec<Filter>),
    Cmp(Target, CmpOp, Scalar),
    In {
        target: Target,
        values: Vec<Scalar>,
        negate: bool,
    },
    Between(Target, Scalar, Scalar),
    IsNull(Target, bool),
    /// The list field `field` (tags, a multi-select) holds `value`.
    Has {
        field: String,
        value: String,
    },
    /// The link field `field` names a live record of `table` that matches `filter`.
    Link {
        field: String,
        table: FormTable,
        filter: Box<Filter>,
    },
    /// The record has a pending approval task of form `form` in app `app` assigned to `assignee`.
    PendingTaskOf {
        app: String,
        form: String,
        assignee: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub target: Target,
    pub descending: bool,
}

/// Where the previous page ended: the sort values and id of its last record.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub values: Vec<Option<Scalar>>,
    pub id: String,
}

/// Which records a list sees with respect to soft deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Deleted {
    #[default]
    Exclude,
    Only,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    pub sort: Vec<SortKey>,
    pub after: Option<Cursor>,
    pub limit: u64,
    pub deleted: Deleted,
}

/// SQL text reading field `name` of `table`: its typed column when the table keeps one, else
/// the value in `data`. Definitions allow only snake_case field ids; anything else is stripped
/// here as a second line of defence, since this text is not bound.
pub(crate) fn field_sql(backend: Backend, table: &FormTable, name: &str, kind: ColumnKind) -> String {
    if table.is_typed(name) {
        return typed_column_as(backend, &crate::layout::column_name(name), kind);
    }
    json_field_sql(backend, name, kind)
}

/// Typed column `column` as a statement reads it. On PostgreSQL it names its type (a no-op
/// cast, which indexes still serve): the text of every statement over a table then changes
/// when a publish changes a column's type, so no connection runs a statement prepared for the
/// old type, which PostgreSQL refuses ("cached plan must not change result type").
pub(crate) fn typed_column_as(backend: Backend, column: &str, kind: ColumnKind) -> String {
    match backend {
        Backend::Sqlite => format!("\"{column}\""),
        Backend::Postgres => format!("(\"{column}\"::{})", crate::layout::sql_type(backend, kind)),
    }
}

/// The name of the typed column of field `name`, quoted.
pub(crate) fn typed_column(name: &str) -> String {
    format!("\"{}\"", crate::layout::column_name(name))
}

/// SQL text reading field `name` from the JSON in `data`.
pub(crate) fn json_field_sql(backend: Backend, name: &str, kind: ColumnKind) -> String {
    let name: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    match (backend, kind) {
        (Backend::Sqlite, _) => format!("json_extract(data, '$.{name}')"),
        (Backend::Postgres, ColumnKind::Text) => format!("(data->>'{name}')"),
        (Backend::Postgres, ColumnKind::Number) => format!("((data->>'{name}')::float8)"),
        (Backend::Postgres, ColumnKind::Bool) => format!("((data->>'{name}')::boolean)"),
    }
}

pub(crate) fn target_expr(backend: Backend, table: &FormTable, target: &Target) -> SimpleExpr {
    match target {
        Target::System(col) => Expr::col(Alias::new(col.name())),
        Target::Field { name, kind } => Expr::cust(field_sql(backend, table, name, *kind)),
    }
}

fn value(v: &Scalar) -> SimpleExpr {
    match v {
        Scalar::Text(s) => Expr::val(s.clone()),
        Scalar::Number(n) => Expr::val(*n),
        Scalar::Bool(b) => Expr::val(*b),
    }
}

fn like_pattern(s: &str, prefix_only: bool) -> LikeExpr {
    let escaped = s.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let pattern = if prefix_only { format!("{escaped}%") } else { format!("%{escaped}%") };
    LikeExpr::new(pattern).escape('\\')
}

/// The condition of `filter` over rows of `table`.
pub(crate) fn filter_cond(backend: Backend, table: &FormTable, filter: &Filter) -> Condition {
    match filter {
        Filter::All(parts) => parts.iter().fold(Cond::all(), |c, f| c.add(filter_cond(backend, table, f))),
        Filter::Any(parts) => parts.iter().fold(Cond::any(), |c, f| c.add(filter_cond(backend, table, f))),
        Filter::Cmp(target, op, v) => {
            let e = target_expr(backend, table, target);
            let expr = match op {
                CmpOp::Eq => e.eq(value(v)),
                // A missing value is "not equal" too, as people mean it.
                CmpOp::Ne => e.clone().is_null().or(e.ne(value(v))),
                CmpOp::Gt => e.gt(value(v)),
                CmpOp::Gte => e.gte(value(v)),
                CmpOp::Lt => e.lt(value(v)),
                CmpOp::Lte => e.lte(value(v)),
                CmpOp::Contains | CmpOp::StartsWith => {
                    let text = match v {
                        Scalar::Text(s) => s.clone(),
                        Scalar::Number(n) => n.to_string(),
                        Scalar::Bool(b) => b.to_string(),
                    };
                    SimpleExpr::from(Func::lower(e)).like(like_pattern(&text, *op == CmpOp::StartsWith))
                }
            };
            Cond::all().add(expr)
        }
        Filter::In { target, values, negate } => {
            let e = target_expr(backend, table, target);
            let list: Vec<SimpleExpr> = values.iter().map(value).collect();
            let expr = if *negate { e.clone().is_null().or(e.is_not_in(list)) } else { e.is_in(list) };
            Cond::all().add(expr)
        }
        Filter::Between(target, low, high) => Cond::all().add(target_expr(backend, table, target).between(value(low), value(high))),
        Filter::IsNull(target, is_null) => {
            let e = target_expr(backend, table, target);
            Cond::all().add(if *is_null { e.is_null() } else { e.is_not_null() })
        }
        Filter::Has { field, value } => {
            // Lists are kept in `data` only; field ids are snake_case (stripped again here).
            let name: String = field.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let value = Expr::val(value.clone());
            Cond::all().add(match backend {
                Backend::Sqlite => {
                    let items = Func::cust("json_each").arg(Expr::col("data")).arg(format!("$.{name}"));
                    let mut one = sea_orm::sea_query::Query::select();
                    one.expr(Expr::val(1)).from_function(items, "item").and_where(Expr::cust("\"item\".\"value\"").eq(value));
                    Expr::exists(one)
                }
                // A JSON array contains a JSON string: the value as `jsonb`.
                Backend::Postgres => {
                    Expr::cust(format!("(data->'{name}')")).binary(BinOper::Custom("@>"), Func::cust("to_jsonb").arg(value.cast_as("text")))
                }
            })
        }
        Filter::Link { field, table: target, filter } => {
            let mut sub = sea_orm::sea_query::Query::select();
            sub.column("id")
                .from(Alias::new(target.name.as_str()))
                .and_where(Expr::col("deleted_at").is_null())
                .cond_where(filter_cond(backend, target, filter));
            let link = Expr::cust(field_sql(backend, table, field, ColumnKind::Text));
            Cond::all().add(link.in_subquery(sub))
        }
        Filter::PendingTaskOf { app, form, assignee } => {
            let mut sub = sea_orm::sea_query::Query::select();
            sub.column("record_id")
                .from("tasks")
                .and_where(Expr::col("assignee").eq(assignee.as_str()))
                .and_where(Expr::col("status").eq("pending"))
                .and_where(Expr::col("app").eq(app.as_str()))
                .and_where(Expr::col("form").eq(form.as_str()));
            Cond::all().add(Expr::col("id").in_subquery(sub))
        }
    }
}

/// The keyset condition "comes after `cursor`" for `sort` (then id ascending). Ascending keys
/// sort missing values first and descending keys last, so the order is a strict reverse.
pub(crate) fn after_cond(backend: Backend, table: &FormTable, sort: &[SortKey], cursor: &Cursor) -> Condition {
    let mut any = Cond::any();
    let mut equal_so_far = Cond::all();
    for (key, v) in sort.iter().zip(&cursor.values) {
        let e = target_expr(backend, table, &key.target);
        let after = match (key.descending, v) {
            (false, None) => Some(e.clone().is_not_null()),
            (false, Some(v)) => Some(e.clone().gt(value(v))),
            (true, None) => None,
            (true, Some(v)) => Some(e.clone().lt(value(v)).or(e.clone().is_null())),
        };
        if let Some(after) = after {
            any = any.add(equal_so_far.clone().add(after));
        }
        equal_so_far = equal_so_far.add(match v {
            None => e.is_null(),
            Some(v) => e.eq(value(v)),
        });
    }
    let id = Expr::col("id");
    any.add(equal_so_far.add(if descending_ties(sort) { id.lt(cursor.id.clone()) } else { id.gt(cursor.id.clone()) }))
}

/// Whether records that tie on every sort key follow each other by descending id: they do when
/// the last key descends, so one index on the sort fields and `id`, read backwards, gives the
/// whole order and a page reads only its own rows (ties in ascending id would need a sort).
pub(crate) fn descending_ties(sort: &[SortKey]) -> bool {
    sort.last().is_some_and(|key| key.descending)
}
