//! Resolving the names a report uses (fields, dot paths through links, system columns) against
//! the app's forms, and the SQL text that reads them — the same text the store builds its
//! expression indexes on, so the planner matches them.

use chrono::NaiveDate;
use defs::{FieldKind, Form};
use forms::Column;
use sea_query::{Alias, Expr, ExprTrait, JoinType, Query, SelectStatement};

use crate::Problem;

/// The SQL dialect a report is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The forms of one app and their tables, as the engine knows them.
pub trait Catalog {
    /// The definition and table name of form `id`.
    fn form(&self, id: &str) -> Option<(&Form, &str)>;
}

/// A past moment to report on: records as they were then, read from `record_history`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsOf {
    pub app: String,
    /// ISO 8601 UTC, compared as text with `changed_at`.
    pub at: String,
}

/// Everything a compilation depends on besides the report.
#[derive(Clone)]
pub struct Context<'a> {
    pub dialect: Dialect,
    pub catalog: &'a dyn Catalog,
    /// The day relative dates (`this_month`, `last_n_days`) are computed from (UTC).
    pub today: NaiveDate,
    /// Now as stored timestamps read (ISO 8601 UTC), for `before_now`.
    pub now: String,
    pub as_of: Option<AsOf>,
    /// Per form, the ids of the rows the user may read (`SELECT id FROM …`); forms not listed
    /// are unrestricted.
    pub scopes: std::collections::BTreeMap<String, SelectStatement>,
    /// The source form and child table whose rows the report counts (its `rows`), set by the
    /// compiler.
    pub(crate) rows: Option<(String, String)>,
}

impl<'a> Context<'a> {
    /// A context for the live records, every row readable, dates relative to `today` and `now`.
    pub fn new(dialect: Dialect, catalog: &'a dyn Catalog, today: NaiveDate, now: String) -> Self {
        Context { dialect, catalog, today, now, as_of: None, scopes: Default::default(), rows: None }
    }

    /// This context for `report`: counting the rows of its child table, when it names one.
    pub(crate) fn for_report(&self, report: &defs::Report) -> Context<'a> {
        Context { rows: report.rows.clone().map(|table| (report.source.clone(), table)), ..self.clone() }
    }

    /// Whether field `field` of `form` is read from its typed column: the live table keeps one
    /// for every field holding one comparable value (the engine's `load`), and rows rebuilt
    /// from history (`as_of`) present the same columns ([`source_select`]).
    pub(crate) fn typed(&self, form: &str, field: &str) -> bool {
        let field = self.catalog.form(form).and_then(|(f, _)| f.field(field));
        field.and_then(|f| forms::find_field_type(&f.kind)).is_some_and(|t| t.column() != forms::Column::Opaque)
    }

    /// The fields of `form` with a typed column, and the kind of value each holds.
    fn typed_fields(&self, form: &str) -> Vec<(String, ValueKind)> {
        let Some((definition, _)) = self.catalog.form(form) else { return Vec::new() };
        definition.fields.iter().filter_map(|f| Some((f.id.clone(), value_kind(forms::find_field_type(&f.kind)?.column())?))).collect()
    }
}

/// A field of a form that a report reads: what a permission check must allow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldRef {
    pub form: String,
    pub field: String,
}

/// How a value compares and comes back from the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Text,
    Number,
    Bool,
}

/// A resolved name: the form it ends on, the link fields walked to get there, and what it reads.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// Link field ids from the source form, in order (empty for a field of the source).
    pub(crate) links: Vec<String>,
    /// Target table of each link, in order.
    pub(crate) link_tables: Vec<(String, String)>,
    /// Whether each link field is read from its typed column.
    pub(crate) links_typed: Vec<bool>,
    pub(crate) column: Target,
    pub(crate) kind: ValueKind,
    /// Whether the field holds a date or timestamp (date buckets and relative dates apply).
    pub(crate) is_date: bool,
    /// The scale of a decimal or currency field, whose sums are exact decimals.
    pub(crate) decimal_scale: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    System(&'static str),
    /// A field, read from its typed column or from `data`.
    Field {
        name: String,
        typed: bool,
    },
    /// A named part of an object field (a region's `province`), always read from `data`.
    Part {
        field: String,
        part: &'static str,
    },
    /// A field of the child-table row a report counts ([`ROW_ALIAS`]).
    Row {
        name: String,
    },
}

/// The alias of the child-table row a report with `rows` counts, beside its record's `t`.
pub(crate) const ROW_ALIAS: &str = "r";

const SYSTEM: &[(&str, ValueKind, bool)] = &[
    ("id", ValueKind::Text, false),
    ("version", ValueKind::Number, false),
    ("owner", ValueKind::Text, false),
    ("state", ValueKind::Text, false),
    ("created_by", ValueKind::Text, false),
    ("created_at", ValueKind::Text, true),
    ("updated_by", ValueKind::Text, false),
    ("updated_at", ValueKind::Text, true),
];

/// SQL text reading field `name` of `qualifier` (a table alias, or none for the innermost
/// table): its typed column `f_<name>` when `typed`, else its value in `data`. Mirrors the
/// store's `field_sql`; a test in the engine holds them equal.
pub fn field_sql(dialect: Dialect, qualifier: Option<&str>, name: &str, kind: ValueKind, typed: bool) -> String {
    // Names come from definitions (snake_case); anything else is stripped as a second defence.
    let name: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    if typed {
        let column = match qualifier {
            Some(q) => format!("{q}.\"f_{name}\""),
            None => format!("\"f_{name}\""),
        };
        // On PostgreSQL the column is read naming its type, as the store reads it
        // (`store::query::typed_column_as`): a changed type changes the statement's text.
        return match (dialect, kind) {
            (Dialect::Sqlite, _) => column,
            (Dialect::Postgres, ValueKind::Text) => format!("({column}::text)"),
            (Dialect::Postgres, ValueKind::Number) => format!("({column}::double precision)"),
            (Dialect::Postgres, ValueKind::Bool) => format!("({column}::boolean)"),
        };
    }
    let data = match qualifier {
        Some(q) => format!("{q}.data"),
        None => "data".to_owned(),
    };
    member_sql(dialect, &data, &name, kind)
}

/// SQL text reading member `name` (snake_case) of the JSON object `object`.
fn member_sql(dialect: Dialect, object: &str, name: &str, kind: ValueKind) -> String {
    match (dialect, kind) {
        (Dialect::Sqlite, _) => format!("json_extract({object}, '$.{name}')"),
        (Dialect::Postgres, ValueKind::Text) => format!("({object}->>'{name}')"),
        (Dialect::Postgres, ValueKind::Number) => format!("(({object}->>'{name}')::float8)"),
        (Dialect::Postgres, ValueKind::Bool) => format!("(({object}->>'{name}')::boolean)"),
    }
}

/// The rows of child table `table` of the record `t` as a table reference aliased
/// [`ROW_ALIAS`], whose `value` is one row's object; nothing when the record has no rows.
pub(crate) fn rows_sql(dialect: Dialect, table: &str) -> (String, String) {
    let table: String = table.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    match dialect {
        // SQLite's json_each of a value that is not an array yields that value as one row: the
        // caller keeps only objects.
        Dialect::Sqlite => ("json_each".to_owned(), format!("t.data, '$.{table}'")),
        // PostgreSQL refuses to take the elements of anything but an array.
        Dialect::Postgres => {
            ("jsonb_array_elements".to_owned(), format!("CASE WHEN jsonb_typeof(t.data->'{table}') = 'array' THEN t.data->'{table}' END"))
        }
    }
}

/// SQL text reading the text part `part` of object field `field` from `data`.
fn part_sql(dialect: Dialect, qualifier: Option<&str>, field: &str, part: &str) -> String {
    // As in `field_sql`: names from definitions, stripped to snake_case as a second defence.
    let clean = |name: &str| name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    let (field, part) = (clean(field), clean(part));
    let data = qualifier.map_or_else(|| "data".to_owned(), |q| format!("{q}.data"));
    match dialect {
        Dialect::Sqlite => format!("json_extract({data}, '$.{field}.{part}')"),
        Dialect::Postgres => format!("({data}->'{field}'->>'{part}')"),
    }
}

pub(crate) fn value_kind(column: Column) -> Option<ValueKind> {
    match column {
        Column::Text => Some(ValueKind::Text),
        Column::Number => Some(ValueKind::Number),
        Column::Bool => Some(ValueKind::Bool),
        Column::Opaque => None,
    }
}

/// Resolves `path` (`amount`, `owner`, `account.industry`) from form `source`, recording every
/// field read in `reads`.
pub(crate) fn resolve(ctx: &Context<'_>, source: &str, path: &str, pointer: &str, reads: &mut Vec<FieldRef>) -> Result<Resolved, Problem> {
    let mut form_id = source.to_owned();
    let mut links = Vec::new();
    let mut link_tables = Vec::new();
    let mut links_typed = Vec::new();
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let (form, _) = ctx.catalog.form(&form_id).ok_or_else(|| Problem::new(pointer, format!("no form `{form_id}`")))?;
        if let Some(table) = form.field(part).filter(|f| f.kind == FieldKind::TABLE && links.is_empty()) {
            return resolve_row(ctx, &form_id, table, parts.next(), parts.next().is_none(), pointer, reads);
        }
        if let Some(field) = form.field(part).filter(|f| f.kind != FieldKind::LINK)
            && let Some(next) = parts.next()
        {
            let known = forms::field_type(&field.kind).parts();
            let named = known.iter().find(|p| **p == next).filter(|_| parts.peek().is_none()).ok_or_else(|| {
                let message = match known {
                    [] => format!("`{part}` is not a link field of {form_id}"),
                    _ => format!("`{part}` of {form_id} has no part `{next}` (its parts: {})", known.join(", ")),
                };
                Problem::new(pointer, message)
            })?;
            reads.push(FieldRef { form: form_id.clone(), field: part.to_owned() });
            let column = Target::Part { field: part.to_owned(), part: named };
            return Ok(Resolved { links, link_tables, links_typed, column, kind: ValueKind::Text, is_date: false, decimal_scale: None });
        }
        if parts.peek().is_some() {
            let field = form
                .field(part)
                .filter(|f| f.kind == FieldKind::LINK)
                .ok_or_else(|| Problem::new(pointer, format!("`{part}` is not a link field of {form_id}")))?;
            reads.push(FieldRef { form: form_id.clone(), field: part.to_owned() });
            let target = field.form.clone().unwrap_or_default();
            let (_, table) = ctx.catalog.form(&target).ok_or_else(|| Problem::new(pointer, format!("no form `{target}`")))?;
            links.push(part.to_owned());
            links_typed.push(ctx.typed(&form_id, part));
            link_tables.push((target.clone(), table.to_owned()));
            form_id = target;
            continue;
        }
        if let Some(field) = form.field(part) {
            let field_type = forms::field_type(&field.kind);
            let kind = value_kind(field_type.column()).filter(|_| field_type.groupable()).ok_or_else(|| {
                Problem::new(pointer, format!("`{part}` of {form_id} holds a list or object and cannot be grouped or compared"))
            })?;
            reads.push(FieldRef { form: form_id.clone(), field: part.to_owned() });
            let is_date = field_type.date_like();
            let column = Target::Field { name: part.to_owned(), typed: ctx.typed(&form_id, part) };
            let decimal_scale = forms::decimal::decimal_scale(field).map(|(scale, _)| scale);
            return Ok(Resolved { links, link_tables, links_typed, column, kind, is_date, decimal_scale });
        }
        if let Some((name, kind, is_date)) = SYSTEM.iter().find(|(n, _, _)| *n == part) {
            let column = Target::System(name);
            return Ok(Resolved { links, link_tables, links_typed, column, kind: *kind, is_date: *is_date, decimal_scale: None });
        }
        return Err(Problem::new(pointer, format!("unknown field `{part}` in {form_id}")));
    }
    Err(Problem::new(pointer, "empty field name"))
}

/// Resolves `<table>.<field>`, a field of the child-table rows the report counts.
fn resolve_row(
    ctx: &Context<'_>,
    form_id: &str,
    table: &defs::Field,
    name: Option<&str>,
    last: bool,
    pointer: &str,
    reads: &mut Vec<FieldRef>,
) -> Result<Resolved, Problem> {
    let table_id = &table.id;
    if ctx.rows.as_ref().is_none_or(|(source, rows)| source != form_id || rows != table_id) {
        let message = format!(
            "`{table_id}` of {form_id} is a child table: a report reads its rows' fields when it counts them, with `rows: \"{table_id}\"`"
        );
        return Err(Problem::new(pointer, message));
    }
    let field = name
        .filter(|_| last)
        .and_then(|name| table.fields.iter().find(|f| f.id == name))
        .ok_or_else(|| Problem::new(pointer, format!("name a field of the rows of `{table_id}`: `{table_id}.<field>`")))?;
    let field_type = forms::field_type(&field.kind);
    let kind = value_kind(field_type.column()).filter(|_| field_type.groupable()).ok_or_else(|| {
        Problem::new(pointer, format!("`{table_id}.{}` holds a list or object and cannot be grouped or compared", field.id))
    })?;
    reads.push(FieldRef { form: form_id.to_owned(), field: table_id.clone() });
    Ok(Resolved {
        links: Vec::new(),
        link_tables: Vec::new(),
        links_typed: Vec::new(),
        column: Target::Row { name: field.id.clone() },
        kind,
        is_date: field_type.date_like(),
        decimal_scale: forms::decimal::decimal_scale(field).map(|(scale, _)| scale),
    })
}

/// SQL text reading the resolved column on table alias `qualifier` (or the innermost table).
pub(crate) fn column_sql(dialect: Dialect, qualifier: Option<&str>, column: &Target, kind: ValueKind) -> String {
    match column {
        Target::Field { name, typed } => field_sql(dialect, qualifier, name, kind, *typed),
        Target::Part { field, part } => part_sql(dialect, qualifier, field, part),
        Target::Row { name } => member_sql(dialect, &format!("{ROW_ALIAS}.value"), name, kind),
        Target::System(name) => match qualifier {
            Some(q) => format!("{q}.{name}"),
            None => (*name).to_owned(),
        },
    }
}

/// The system columns of a record table that a report may read, in the table's order.
const SYSTEM_COLUMNS: [&str; 8] = ["owner", "state", "created_by", "created_at", "updated_by", "updated_at", "deleted_at", "version"];

/// The rows of a form as a table reference: the live table, or — for `as_of` — every record's
/// last version written at or before that time, with the live table's columns (`deleted_at`
/// set when that version was a deletion). A version still live has no snapshot in
/// `record_history`: its columns are the live row's. An older one's are read from its
/// snapshot, a typed column as the store lays a value out (its value when of the column's
/// type, else NULL, the value then being in `data`).
pub(crate) fn source_select(ctx: &Context<'_>, form: &str) -> Option<SelectStatement> {
    let as_of = ctx.as_of.as_ref()?;
    let (_, table) = ctx.catalog.form(form)?;
    let snapshot = Snapshot(ctx.dialect);
    let mut q = Query::select();
    q.expr_as(Expr::cust("h.record_id"), "id");
    for column in SYSTEM_COLUMNS {
        q.expr_as(Expr::cust(snapshot.or_live(&format!("l.{column}"), &snapshot.system(column))), column);
    }
    q.expr_as(Expr::cust(snapshot.or_live("l.data", &snapshot.data())), "data");
    for (field, kind) in ctx.typed_fields(form) {
        let live = field_sql(ctx.dialect, Some("l"), &field, kind, true);
        q.expr_as(Expr::cust(snapshot.or_live(&live, &snapshot.typed(&field, kind))), Alias::new(format!("f_{field}")));
    }
    let mut latest = Query::select();
    latest
        .expr(Expr::cust("MAX(h2.version)"))
        .from_as("record_history", "h2")
        .and_where(Expr::cust("h2.record_id = h.record_id"))
        .and_where(Expr::cust("h2.changed_at").lte(as_of.at.clone()));
    q.from_as("record_history", "h")
        .join_as(JoinType::LeftJoin, Alias::new(table), Alias::new("l"), Expr::cust("l.id = h.record_id"))
        .and_where(Expr::cust("h.app").eq(as_of.app.clone()))
        .and_where(Expr::cust("h.form").eq(form.to_owned()))
        .and_where(Expr::cust("h.changed_at").lte(as_of.at.clone()))
        .and_where(Expr::cust("h.version").in_subquery(latest));
    Some(q)
}

/// SQL text reading a history row `h`'s snapshot, in one dialect.
struct Snapshot(Dialect);

impl Snapshot {
    /// `live` when the row is the live version (no snapshot), else `stored`.
    fn or_live(&self, live: &str, stored: &str) -> String {
        format!("CASE WHEN h.snapshot = '' THEN {live} ELSE {stored} END")
    }

    /// The snapshot as JSON; never parsed when empty.
    fn json(&self) -> &'static str {
        match self.0 {
            Dialect::Sqlite => "NULLIF(h.snapshot, '')",
            Dialect::Postgres => "(NULLIF(h.snapshot, '')::jsonb)",
        }
    }

    /// A system member, as the live table's column holds it.
    fn system(&self, column: &str) -> String {
        let json = self.json();
        match (self.0, column) {
            (Dialect::Sqlite, "version") => format!("CAST(json_extract({json}, '$.version') AS INTEGER)"),
            (Dialect::Sqlite, _) => format!("json_extract({json}, '$.{column}')"),
            (Dialect::Postgres, "version") => format!("(({json}->>'version')::bigint)"),
            (Dialect::Postgres, _) => format!("({json}->>'{column}')"),
        }
    }

    /// The record's fields (`data`), as the live table's column holds them.
    fn data(&self) -> String {
        let json = self.json();
        match self.0 {
            Dialect::Sqlite => format!("json_extract({json}, '$.data')"),
            Dialect::Postgres => format!("({json}->'data')"),
        }
    }

    /// Field `name` as its typed column holds it: its value when of the column's JSON type,
    /// else NULL (as the store's `layout` puts it).
    fn typed(&self, name: &str, kind: ValueKind) -> String {
        let name: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        let json = self.json();
        let (is_of_type, value) = match (self.0, kind) {
            (Dialect::Sqlite, ValueKind::Text) => ("= 'text'", format!("json_extract({json}, '$.data.{name}')")),
            (Dialect::Sqlite, ValueKind::Number) => ("IN ('integer', 'real')", format!("json_extract({json}, '$.data.{name}')")),
            (Dialect::Sqlite, ValueKind::Bool) => ("IN ('true', 'false')", format!("json_extract({json}, '$.data.{name}')")),
            (Dialect::Postgres, ValueKind::Text) => ("= 'string'", format!("({json}->'data'->>'{name}')")),
            (Dialect::Postgres, ValueKind::Number) => ("= 'number'", format!("(({json}->'data'->>'{name}')::float8)")),
            (Dialect::Postgres, ValueKind::Bool) => ("= 'boolean'", format!("(({json}->'data'->>'{name}')::boolean)")),
        };
        let json_type = match self.0 {
            Dialect::Sqlite => format!("json_type({json}, '$.data.{name}')"),
            Dialect::Postgres => format!("jsonb_typeof({json}->'data'->'{name}')"),
        };
        format!("CASE WHEN {json_type} {is_of_type} THEN {value} END")
    }
}

/// Adds `FROM <form's rows> AS alias` to `q`.
pub(crate) fn from_source(ctx: &Context<'_>, q: &mut SelectStatement, form: &str, table: &str, alias: &str) {
    match source_select(ctx, form) {
        Some(sub) => q.from_subquery(sub, Alias::new(alias)),
        None => q.from_as(Alias::new(table), Alias::new(alias)),
    };
    if let Some(scope) = ctx.scopes.get(form) {
        q.and_where(Expr::cust(format!("{alias}.id")).in_subquery(scope.clone()));
    }
}

pub(crate) fn kind_name(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::Text => "a string",
        ValueKind::Number => "a number",
        ValueKind::Bool => "true or false",
    }
}
