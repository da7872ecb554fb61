//! Compiling a report: names resolved, dimensions (with joins through links and date buckets),
//! aggregates, calculated measures, having, sort and limit turned into sea-query statements;
//! and drill-down, which selects the ids of the records behind one cell.

use std::collections::BTreeMap;

use defs::{Aggregate, DateBucket, Report};
use sea_query::{Alias, Cond, Condition, Expr, ExprTrait, Func, IntoIden, JoinType, Order, Query, SelectStatement, TableRef};
use serde_json::{Map, Value};

use crate::fields::{
    Context, Dialect, FieldRef, ROW_ALIAS, Resolved, Target, ValueKind, column_sql, field_sql, from_source, resolve, rows_sql,
    source_select,
};
use crate::filter::{check_filter_size, filter_cond};
use crate::{MAX_PIVOT_CELLS, MAX_ROWS, Problem};

/// Most dimensions a report groups by. Each is an expression the database computes for every
/// record read (a dot path adds a join), and a result grouped by more is no longer a table
/// anyone reads; the CRM's reports use two at most.
pub const MAX_DIMENSIONS: usize = 8;
/// Most measures a report computes. Each is an aggregate, often with its own filter, evaluated
/// for every record read: with the dimensions bounded, a report's work is linear in the
/// records it reads with a bounded factor. The CRM's widest report has six.
pub const MAX_MEASURES: usize = 50;

/// Whether a result column groups or measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Dimension,
    Measure,
}

/// One column of a result, in select order.
#[derive(Debug, Clone, PartialEq)]
pub struct OutColumn {
    pub id: String,
    pub role: Role,
    pub kind: ValueKind,
    /// Counts come back as integers.
    pub integer: bool,
}

/// Which totals a statement computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TotalKind {
    /// Over every record the report counts.
    Grand,
    /// Per pivot row (grouped by the row dimensions only).
    Rows,
    /// Per pivot column (grouped by the column dimensions only).
    Columns,
}

/// A compiled report: the main statement and its columns, the totals statements, and every
/// field read (for permission checks).
#[derive(Debug, Clone)]
pub struct Compiled {
    pub statement: SelectStatement,
    pub columns: Vec<OutColumn>,
    /// The main statement asks for one row more than this, to tell a cut result.
    pub limit: u32,
    pub totals: Vec<(TotalKind, SelectStatement, Vec<OutColumn>)>,
    pub reads: Vec<FieldRef>,
}

/// The grand totals folded from the report's grouped rows (in the order of its measure columns),
/// when they equal what its totals statement computes: every measure a count or a sum (not a
/// calculation) and no `having` (totals count the records of groups it drops). The caller checks
/// the limit did not cut the rows. Saves a second pass over every record, which SQLite makes
/// without the index that serves the grouped statement.
pub fn grand_totals_from_rows(report: &Report, columns: &[OutColumn], rows: &[Vec<Value>]) -> Option<Vec<Value>> {
    if !report.having.is_empty() {
        return None;
    }
    let mut totals = Vec::new();
    for (i, column) in columns.iter().enumerate().filter(|(_, c)| c.role == Role::Measure) {
        let measure = report.measures.iter().find(|m| m.id == column.id)?;
        let cells = rows.iter().filter_map(|row| row.get(i).filter(|v| !v.is_null()));
        totals.push(match (measure.agg?, &measure.calc) {
            (Aggregate::Count, None) => Value::from(cells.filter_map(Value::as_i64).sum::<i64>()),
            // SUM over no values is NULL, in a group and in the totals alike.
            (Aggregate::Sum, None) => {
                let numbers: Vec<f64> = cells.filter_map(Value::as_f64).collect();
                if numbers.is_empty() { Value::Null } else { serde_json::json!(exact_sum(&numbers)) }
            }
            _ => return None,
        });
    }
    Some(totals)
}

/// The sum of the decimals `values` write (each group's sum is the `f64` nearest to an exact
/// decimal): 0.1 + 0.2 totals 0.3. Binary addition past rust_decimal's range (~7.9 × 10^28).
fn exact_sum(values: &[f64]) -> f64 {
    use forms::decimal::{nearest_f64, written};
    let total = values.iter().try_fold(rust_decimal::Decimal::ZERO, |sum, &x| sum.checked_add(written(x)?));
    total.map_or_else(|| values.iter().sum(), nearest_f64)
}

/// Compiles `report` for `ctx`; every problem is returned with its JSON pointer.
pub fn compile(report: &Report, ctx: &Context<'_>) -> Result<Compiled, Vec<Problem>> {
    let ctx = &ctx.for_report(report);
    let plan = Plan::new(report, ctx)?;
    let limit = Ord::min(report.limit.unwrap_or(MAX_ROWS), MAX_ROWS);
    let all: Vec<usize> = (0..plan.dims.len()).collect();
    let mut statement = plan.select(ctx, &all, true);
    for key in &plan.sort {
        statement.order_by_expr(key.0.clone(), key.1.clone());
    }
    statement.limit(u64::from(limit) + 1);
    let mut columns: Vec<OutColumn> = plan.dims.iter().map(|d| d.column.clone()).collect();
    columns.extend(plan.measures.iter().map(|m| m.column.clone()));
    let mut totals = Vec::new();
    if report.totals {
        let measures: Vec<OutColumn> = plan.measures.iter().map(|m| m.column.clone()).collect();
        totals.push((TotalKind::Grand, plan.select(ctx, &[], false), measures));
        if let Some(pivot) = &report.pivot {
            for (kind, ids) in [(TotalKind::Rows, &pivot.rows), (TotalKind::Columns, &pivot.columns)] {
                let dims: Vec<usize> = ids.iter().filter_map(|id| plan.dims.iter().position(|d| &d.column.id == id)).collect();
                let mut cols: Vec<OutColumn> = dims.iter().map(|&i| plan.dims[i].column.clone()).collect();
                cols.extend(plan.measures.iter().map(|m| m.column.clone()));
                // A cross table shows at most MAX_PIVOT_CELLS rows or columns: more totals
                // than that could not all be placed, and would only fill memory.
                let mut statement = plan.select(ctx, &dims, false);
                statement.limit(MAX_PIVOT_CELLS as u64);
                totals.push((kind, statement, cols));
            }
        }
    }
    Ok(Compiled { statement, columns, limit, totals, reads: plan.reads })
}

/// The ids of the records behind one cell: `cell` gives dimension values by id (dimensions it
/// leaves out are not constrained); `measure`, when given, adds that measure's own filter.
/// Ids come in ascending order after `after`, at most `limit + 1` of them.
pub fn drill(
    report: &Report,
    ctx: &Context<'_>,
    cell: &Map<String, Value>,
    measure: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<(SelectStatement, Vec<FieldRef>), Vec<Problem>> {
    let ctx = &ctx.for_report(report);
    let plan = Plan::new(report, ctx)?;
    let mut q = plan.base(ctx);
    q.expr_as(Expr::cust("t.id"), "id");
    if report.rows.is_some() {
        // A record holding several rows of the cell is one record behind it.
        q.distinct();
    }
    for (id, value) in cell {
        let at = format!("/cell/{id}");
        let dim = plan
            .dims
            .iter()
            .find(|d| &d.column.id == id)
            .ok_or_else(|| vec![Problem::new(&at, format!("no dimension `{id}` in this report"))])?;
        let e = dim.expr.clone();
        let cond = match (dim.column.kind, value) {
            (_, Value::Null) => e.is_null(),
            (ValueKind::Text, Value::String(s)) => e.eq(s.clone()),
            (ValueKind::Number, Value::Number(n)) => e.eq(n.as_f64().unwrap_or_default()),
            (ValueKind::Bool, Value::Bool(b)) => e.eq(*b),
            (kind, _) => return Err(vec![Problem::new(at, format!("expected {} or null", crate::fields::kind_name(kind)))]),
        };
        q.and_where(cond);
    }
    if let Some(id) = measure {
        let m = plan
            .measures
            .iter()
            .find(|m| m.column.id == id)
            .ok_or_else(|| vec![Problem::new("/measure", format!("no measure `{id}` in this report"))])?;
        if let Some(cond) = &m.only {
            q.cond_where(cond.clone());
        }
        if let Some(field) = &m.counted_field {
            q.and_where(field.clone().is_not_null());
        }
    }
    if let Some(after) = after {
        q.and_where(Expr::cust("t.id").gt(after.to_owned()));
    }
    q.order_by_expr(Expr::cust("t.id"), Order::Asc).limit(limit + 1);
    Ok((q, plan.reads))
}

struct Dim {
    column: OutColumn,
    expr: Expr,
    /// Select options in order, so a funnel sorts by stage rather than alphabetically.
    options: Vec<String>,
}

struct Meas {
    column: OutColumn,
    expr: Expr,
    /// The measure's own filter, for drill-down.
    only: Option<Condition>,
    /// For counts of a field: only records where it has a value count.
    counted_field: Option<Expr>,
}

struct Join {
    alias: String,
    form: String,
    table: String,
    on: String,
}

struct Plan {
    source_table: String,
    source: String,
    joins: Vec<Join>,
    filter: Condition,
    dims: Vec<Dim>,
    measures: Vec<Meas>,
    having: Condition,
    sort: Vec<(Expr, Order)>,
    reads: Vec<FieldRef>,
}

impl Plan {
    fn new(report: &Report, ctx: &Context<'_>) -> Result<Plan, Vec<Problem>> {
        check_width(report)?;
        check_filter_size(&report.filter, "/filter").map_err(|p| vec![p])?;
        let mut problems = Vec::new();
        let mut reads = Vec::new();
        let Some((source, table)) = ctx.catalog.form(&report.source) else {
            return Err(vec![Problem::new("/source", format!("no form `{}`", report.source))]);
        };
        if let Some(rows) = &report.rows
            && !source.field(rows).is_some_and(|f| f.kind == defs::FieldKind::TABLE)
        {
            return Err(vec![Problem::new("/rows", format!("`{rows}` is not a child table of {}", report.source))]);
        }
        let mut plan = Plan {
            source_table: table.to_owned(),
            source: report.source.clone(),
            joins: Vec::new(),
            filter: Cond::all(),
            dims: Vec::new(),
            measures: Vec::new(),
            having: Cond::all(),
            sort: Vec::new(),
            reads: Vec::new(),
        };
        match filter_cond(ctx, &report.source, Some("t"), &report.filter, "/filter", &mut reads) {
            Ok(c) => plan.filter = c,
            Err(p) => problems.push(p),
        }
        let mut ids = BTreeMap::new();
        for (i, d) in report.dimensions.iter().enumerate() {
            let at = format!("/dimensions/{i}");
            if ids.insert(d.id.clone(), at.clone()).is_some() {
                problems.push(Problem::new(format!("{at}/id"), format!("`{}` is used twice", d.id)));
            }
            match plan.dimension(ctx, report, d, &at, &mut reads) {
                Ok(dim) => plan.dims.push(dim),
                Err(p) => problems.push(p),
            }
        }
        if report.measures.is_empty() {
            problems.push(Problem::new("/measures", "a report needs at least one measure"));
        }
        for (i, m) in report.measures.iter().enumerate() {
            let at = format!("/measures/{i}");
            if ids.insert(m.id.clone(), at.clone()).is_some() {
                problems.push(Problem::new(format!("{at}/id"), format!("`{}` is used twice", m.id)));
            }
            match plan.measure(ctx, report, m, &at, &mut reads) {
                Ok(meas) => plan.measures.push(meas),
                Err(p) => problems.push(p),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        for (id, cond) in &report.having {
            let at = format!("/having/{id}");
            match plan.having_cond(id, cond, &at) {
                Ok(c) => plan.having = plan.having.clone().add(c),
                Err(p) => problems.push(p),
            }
        }
        plan.sort_keys(report, &mut problems);
        check_layout(report, &plan, &mut problems);
        if let Some(chart) = &report.chart {
            problems.extend(crate::chart_problems(report, chart.kind, ctx));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        reads.sort();
        reads.dedup();
        plan.reads = reads;
        Ok(plan)
    }

    /// The SQL text of `path` on the main query, adding the joins its links need.
    fn expr_of(&mut self, ctx: &Context<'_>, r: &Resolved) -> String {
        let mut alias = "t".to_owned();
        let mut key = String::new();
        for ((link, (form, table)), typed) in r.links.iter().zip(&r.link_tables).zip(&r.links_typed) {
            key = if key.is_empty() { link.clone() } else { format!("{key}.{link}") };
            let link_sql = field_sql(ctx.dialect, Some(&alias), link, ValueKind::Text, *typed);
            let on = format!("{{j}}.id = {link_sql} AND {{j}}.deleted_at IS NULL|{key}");
            alias = match self.joins.iter().find(|j| j.on == on) {
                Some(j) => j.alias.clone(),
                None => {
                    let j = format!("j{}", self.joins.len() + 1);
                    self.joins.push(Join { alias: j.clone(), form: form.clone(), table: table.clone(), on });
                    j
                }
            };
        }
        column_sql(ctx.dialect, Some(&alias), &r.column, r.kind)
    }

    fn dimension(
        &mut self,
        ctx: &Context<'_>,
        report: &Report,
        d: &defs::Dimension,
        at: &str,
        reads: &mut Vec<FieldRef>,
    ) -> Result<Dim, Problem> {
        let r = resolve(ctx, &report.source, &d.field, &format!("{at}/field"), reads)?;
        let x = self.expr_of(ctx, &r);
        let (sql, kind) = match d.bucket {
            None => (x, r.kind),
            Some(_) if !r.is_date => {
                return Err(Problem::new(format!("{at}/bucket"), format!("`{}` is not a date; buckets apply to dates", d.field)));
            }
            Some(b) => (bucket_sql(ctx.dialect, b, &x), ValueKind::Text),
        };
        let options = match (&r.column, d.bucket) {
            (Target::Field { name, .. }, None) => target_form(ctx, &report.source, &d.field)
                .and_then(|f| f.field(name).cloned())
                .filter(|f| forms::field_type(&f.kind).holds_options())
                .map(|f| f.options.iter().map(|o| o.value.clone()).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        Ok(Dim { column: OutColumn { id: d.id.clone(), role: Role::Dimension, kind, integer: false }, expr: Expr::cust(sql), options })
    }

    fn measure(
        &mut self,
        ctx: &Context<'_>,
        report: &Report,
        m: &defs::Measure,
        at: &str,
        reads: &mut Vec<FieldRef>,
    ) -> Result<Meas, Problem> {
        let column = |integer| OutColumn { id: m.id.clone(), role: Role::Measure, kind: ValueKind::Number, integer };
        if let Some(calc) = &m.calc {
            if m.agg.is_some() || m.field.is_some() || m.times.is_some() || !m.filter.is_empty() {
                return Err(Problem::new(format!("{at}/calc"), "a calculated measure has no `agg`, `field`, `times` or `filter`"));
            }
            let known: BTreeMap<&str, Expr> = self.measures.iter().map(|x| (x.column.id.as_str(), x.expr.clone())).collect();
            let expr = crate::compile::calc::parse(calc, &known).map_err(|e| Problem::new(format!("{at}/calc"), e))?;
            return Ok(Meas { column: column(false), expr: real(expr), only: None, counted_field: None });
        }
        let Some(agg) = m.agg else {
            return Err(Problem::new(format!("{at}/agg"), "a measure needs `agg` (count, count_distinct, sum, avg, min, max) or `calc`"));
        };
        let only = if m.filter.is_empty() {
            None
        } else {
            check_filter_size(&m.filter, &format!("{at}/filter"))?;
            Some(filter_cond(ctx, &report.source, Some("t"), &m.filter, &format!("{at}/filter"), reads)?)
        };
        let mut decimal_scale = None;
        let field = match &m.field {
            Some(path) => {
                let r = resolve(ctx, &report.source, path, &format!("{at}/field"), reads)?;
                decimal_scale = r.decimal_scale;
                Some((Expr::cust(self.expr_of(ctx, &r)), r.kind))
            }
            None => None,
        };
        let field = match (&m.times, field) {
            (None, field) => field,
            (Some(path), Some((e, ValueKind::Number))) if matches!(agg, Aggregate::Sum | Aggregate::Avg) => {
                let r = resolve(ctx, &report.source, path, &format!("{at}/times"), reads)?;
                if r.kind != ValueKind::Number {
                    return Err(Problem::new(format!("{at}/times"), format!("`{path}` is not a number field")));
                }
                Some((e.mul(Expr::cust(self.expr_of(ctx, &r))), ValueKind::Number))
            }
            (Some(_), _) => return Err(Problem::new(format!("{at}/times"), "`times` weights a sum or avg of a number field")),
        };
        // Exact only for the field's own values: a weighted figure (amount × probability) has
        // no scale of its own and is summed as a float.
        let decimal_scale = decimal_scale.filter(|_| m.times.is_none());
        let when = |e: Expr| match &only {
            Some(c) => Expr::Case(Box::new(Expr::case(c.clone(), e))),
            None => e,
        };
        let need_number = |field: &Option<(Expr, ValueKind)>| match field {
            Some((e, ValueKind::Number)) => Ok(e.clone()),
            Some(_) => Err(Problem::new(format!("{at}/field"), format!("`{:?}` needs a number field", agg).to_lowercase())),
            None => Err(Problem::new(format!("{at}/field"), "this aggregate needs a `field`")),
        };
        let (expr, integer, counted) = match agg {
            Aggregate::Count => match (&field, &only) {
                (None, None) => (Expr::cust("COUNT(*)"), true, None),
                (None, Some(_)) => (Func::count(when(Expr::val(1))).into(), true, None),
                (Some((e, _)), _) => (Func::count(when(e.clone())).into(), true, Some(e.clone())),
            },
            Aggregate::CountDistinct => {
                let (e, _) = field.clone().ok_or_else(|| Problem::new(format!("{at}/field"), "count_distinct needs a `field`"))?;
                (Func::count_distinct(when(e.clone())).into(), true, Some(e))
            }
            Aggregate::Sum | Aggregate::Avg => {
                let value = need_number(&field)?;
                let expr = match decimal_scale {
                    Some(scale) => exact::aggregate(ctx.dialect, agg, scale, value, when),
                    None if agg == Aggregate::Sum => real(Func::sum(when(value)).into()),
                    None => real(Func::avg(when(value)).into()),
                };
                // A sum of nothing is 0 (SQL says NULL): a campaign that won nothing has won 0,
                // and its return on cost is −100 %, not unknown. An average of nothing has none.
                let expr = if agg == Aggregate::Sum { Func::coalesce([expr, Expr::val(0.0)]).into() } else { expr };
                (expr, false, None)
            }
            Aggregate::Min | Aggregate::Max => {
                let (e, kind) = field.clone().ok_or_else(|| Problem::new(format!("{at}/field"), "min and max need a `field`"))?;
                let f = if agg == Aggregate::Min { Func::min(when(e)) } else { Func::max(when(e)) };
                match kind {
                    ValueKind::Number => (real(f.into()), false, None),
                    _ => {
                        // Dates and text: the smallest value as text.
                        return Ok(Meas {
                            column: OutColumn { id: m.id.clone(), role: Role::Measure, kind: ValueKind::Text, integer: false },
                            expr: f.into(),
                            only,
                            counted_field: None,
                        });
                    }
                }
            }
        };
        Ok(Meas { column: column(integer), expr, only, counted_field: counted })
    }

    fn having_cond(&self, id: &str, cond: &Value, at: &str) -> Result<Condition, Problem> {
        let m = self.measures.iter().find(|m| m.column.id == id).ok_or_else(|| Problem::new(at, format!("no measure `{id}`")))?;
        let ops = match cond {
            Value::Object(ops) => ops.clone(),
            other => [("eq".to_owned(), other.clone())].into_iter().collect(),
        };
        let mut out = Cond::all();
        for (op, arg) in &ops {
            let n = arg.as_f64().ok_or_else(|| Problem::new(format!("{at}/{op}"), "having compares with a number"))?;
            let e = m.expr.clone();
            out = out.add(match op.as_str() {
                "eq" => e.eq(n),
                "ne" => e.ne(n),
                "gt" => e.gt(n),
                "gte" => e.gte(n),
                "lt" => e.lt(n),
                "lte" => e.lte(n),
                _ => return Err(Problem::new(format!("{at}/{op}"), format!("unknown operator `{op}` (eq, ne, gt, gte, lt, lte)"))),
            });
        }
        Ok(out)
    }

    fn sort_keys(&mut self, report: &Report, problems: &mut Vec<Problem>) {
        let keys: Vec<(String, bool)> = if report.sort.is_empty() {
            self.dims.iter().map(|d| (d.column.id.clone(), false)).collect()
        } else {
            report
                .sort
                .iter()
                .map(|k| match k.strip_prefix('-') {
                    Some(id) => (id.to_owned(), true),
                    None => (k.clone(), false),
                })
                .collect()
        };
        for (i, (id, desc)) in keys.into_iter().enumerate() {
            let order = if desc { Order::Desc } else { Order::Asc };
            if let Some(pos) = self.dims.iter().position(|d| d.column.id == id) {
                let d = &self.dims[pos];
                if !d.options.is_empty() {
                    // Select values sort in the order the form lists them; unknown values last.
                    let mut case = sea_query::CaseStatement::new();
                    for (n, v) in d.options.iter().enumerate() {
                        case = case.case(d.expr.clone().eq(v.clone()), Expr::val(n as i64));
                    }
                    self.sort.push((Expr::Case(Box::new(case.finally(Expr::val(d.options.len() as i64)))), order.clone()));
                }
                self.sort.push((Expr::cust((pos + 1).to_string()), order));
            } else if let Some(pos) = self.measures.iter().position(|m| m.column.id == id) {
                self.sort.push((Expr::cust((self.dims.len() + pos + 1).to_string()), order));
            } else {
                problems.push(Problem::new(format!("/sort/{i}"), format!("`{id}` is not a dimension or measure of this report")));
            }
        }
    }

    /// `FROM <source> AS t` (with each of its rows as `r`, when the report counts rows) with the
    /// joins, the deleted filter and the report's filter.
    fn base(&self, ctx: &Context<'_>) -> SelectStatement {
        let mut q = Query::select();
        from_source(ctx, &mut q, &self.source, &self.source_table, "t");
        if let Some((_, table)) = &ctx.rows {
            let (function, args) = rows_sql(ctx.dialect, table);
            q.cross_join(TableRef::FunctionCall(Func::cust(Alias::new(function)).arg(Expr::cust(args)), Alias::new(ROW_ALIAS).into_iden()));
            if ctx.dialect == Dialect::Sqlite {
                q.and_where(Expr::cust(format!("{ROW_ALIAS}.type = 'object'")));
            }
        }
        for j in &self.joins {
            let mut on = Expr::cust(j.on.split('|').next().unwrap_or_default().replace("{j}", &j.alias));
            if let Some(scope) = ctx.scopes.get(&j.form) {
                // A linked record the user may not read shows as no value.
                on = on.and(Expr::cust(format!("{}.id", j.alias)).in_subquery(scope.clone()));
            }
            match source_select(ctx, &j.form) {
                Some(sub) => q.join_subquery(JoinType::LeftJoin, sub, Alias::new(j.alias.as_str()), on.clone()),
                None => q.join_as(JoinType::LeftJoin, Alias::new(j.table.as_str()), Alias::new(j.alias.as_str()), on.clone()),
            };
        }
        q.and_where(Expr::cust("t.deleted_at").is_null()).cond_where(self.filter.clone());
        q
    }

    /// The aggregate over `dims` (indexes into `self.dims`), with `having` when asked.
    fn select(&self, ctx: &Context<'_>, dims: &[usize], having: bool) -> SelectStatement {
        let mut q = self.base(ctx);
        for &i in dims {
            q.expr_as(self.dims[i].expr.clone(), Alias::new(self.dims[i].column.id.as_str()));
        }
        for m in &self.measures {
            q.expr_as(m.expr.clone(), Alias::new(m.column.id.as_str()));
        }
        // By position: PostgreSQL would read a bare name as an input column first.
        q.add_group_by((1..=dims.len()).map(|n| Expr::cust(n.to_string())));
        if having {
            q.cond_having(self.having.clone());
        }
        q
    }
}

/// Refuses a report with more dimensions or measures than [`MAX_DIMENSIONS`] and
/// [`MAX_MEASURES`], before anything of it is compiled.
fn check_width(report: &Report) -> Result<(), Vec<Problem>> {
    let mut problems = Vec::new();
    for (pointer, count, most) in
        [("/dimensions", report.dimensions.len(), MAX_DIMENSIONS), ("/measures", report.measures.len(), MAX_MEASURES)]
    {
        if count > most {
            let what = &pointer[1..];
            problems.push(Problem::new(pointer, format!("a report has at most {most} {what}; this one has {count}")));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// Checks that pivot and chart name this report's dimensions and measures.
fn check_layout(report: &Report, plan: &Plan, problems: &mut Vec<Problem>) {
    let is_dim = |id: &str| plan.dims.iter().any(|d| d.column.id == id);
    let is_measure = |id: &str| plan.measures.iter().any(|m| m.column.id == id);
    if let Some(pivot) = &report.pivot {
        for (what, ids) in [("rows", &pivot.rows), ("columns", &pivot.columns)] {
            for (i, id) in ids.iter().enumerate() {
                if !is_dim(id) {
                    problems.push(Problem::new(format!("/pivot/{what}/{i}"), format!("`{id}` is not a dimension of this report")));
                }
            }
        }
        if pivot.rows.len() + pivot.columns.len() != plan.dims.len() {
            problems.push(Problem::new("/pivot", "rows and columns together must name every dimension once"));
        }
    }
    if let Some(chart) = &report.chart {
        for (what, id) in [("x", &chart.x), ("series", &chart.series)] {
            if let Some(id) = id.as_ref().filter(|id| !is_dim(id)) {
                problems.push(Problem::new(format!("/chart/{what}"), format!("`{id}` is not a dimension of this report")));
            }
        }
        for (i, id) in chart.y.iter().enumerate() {
            if !is_measure(id) {
                problems.push(Problem::new(format!("/chart/y/{i}"), format!("`{id}` is not a measure of this report")));
            }
        }
    }
}

/// The form a dot path ends on.
fn target_form<'a>(ctx: &Context<'a>, source: &str, path: &str) -> Option<&'a defs::Form> {
    let mut form = ctx.catalog.form(source)?.0;
    let parts: Vec<&str> = path.split('.').collect();
    for link in &parts[..parts.len().saturating_sub(1)] {
        form = ctx.catalog.form(form.field(link)?.form.as_deref()?)?.0;
    }
    Some(form)
}

/// Floating point on both backends: SQLite sums integers as integers, PostgreSQL counts in bigint.
pub(crate) fn real(e: Expr) -> Expr {
    // Not `cust_with_exprs`: its placeholders differ per backend.
    Func::cast_as(e, Alias::new("DOUBLE PRECISION")).into()
}

mod exact {
    //! Sums and averages of decimal and currency fields, exact on both backends. A stored value
    //! has at most `forms::decimal::MAX_SIGNIFICANT_DIGITS` digits at its scale, so its `f64`
    //! is the nearest to the decimal and both backends recover the decimal from it: SQLite as
    //! an integer count of units of the scale (cents), PostgreSQL as `numeric` (its float8 cast
    //! keeps 15 digits). The exact total then becomes the `f64` nearest to it, whose shortest
    //! text is the total: 0.1 + 0.1 + 0.1 reports 0.3, not 0.30000000000000004.

    use defs::Aggregate;
    use sea_query::{Alias, Expr, ExprTrait, Func};

    use super::real;
    use crate::fields::Dialect;

    /// `SUM` or `AVG` (`agg`) of `value`, a field of `scale`, each value passed through `when`
    /// (the measure's own filter).
    pub(super) fn aggregate(dialect: Dialect, agg: Aggregate, scale: u32, value: Expr, when: impl Fn(Expr) -> Expr) -> Expr {
        let exact = match dialect {
            // Whole units of the scale: SQLite sums integers exactly (and fails rather than
            // wraps past i64), where it would add REALs with rounding at every step.
            Dialect::Sqlite => {
                let units = Func::round(value.mul(10f64.powi(scale as i32)));
                Func::cast_as(units, Alias::new("INTEGER")).into()
            }
            Dialect::Postgres => Func::cast_as(value, Alias::new("numeric")).into(),
        };
        let total: Expr = if agg == Aggregate::Sum { Func::sum(when(exact)).into() } else { Func::avg(when(exact)).into() };
        match dialect {
            // One division of an exact integer: the f64 nearest to the decimal.
            Dialect::Sqlite => real(total).div(10f64.powi(scale as i32)),
            Dialect::Postgres => real(total),
        }
    }
}

/// Date buckets as text, from ISO dates and timestamps (`2026-11-23T…`).
fn bucket_sql(dialect: Dialect, bucket: DateBucket, x: &str) -> String {
    match (bucket, dialect) {
        (DateBucket::Day, _) => format!("substr({x}, 1, 10)"),
        (DateBucket::Month, _) => format!("substr({x}, 1, 7)"),
        (DateBucket::Year, _) => format!("substr({x}, 1, 4)"),
        (DateBucket::Quarter, _) => format!("(substr({x}, 1, 4) || '-Q' || ((CAST(substr({x}, 6, 2) AS INTEGER) + 2) / 3))"),
        // The Monday of the week: SQLite moves to the next Sunday (or stays) and back six days.
        (DateBucket::Week, Dialect::Sqlite) => format!("date(substr({x}, 1, 10), 'weekday 0', '-6 days')"),
        (DateBucket::Week, Dialect::Postgres) => format!("to_char(date_trunc('week', CAST(substr({x}, 1, 10) AS date)), 'YYYY-MM-DD')"),
    }
}

mod calc {
    //! Calculated measures: `+ - * /`, parentheses, numbers and other measures' ids.

    use std::collections::BTreeMap;

    use sea_query::{Expr, ExprTrait, Func};

    pub(super) fn parse(text: &str, known: &BTreeMap<&str, Expr>) -> Result<Expr, String> {
        let tokens = tokenize(text)?;
        let mut p = Parser { tokens, pos: 0, known };
        let e = p.sum()?;
        match p.tokens.get(p.pos) {
            None => Ok(e),
            Some(t) => Err(format!("unexpected `{t}`")),
        }
    }

    fn tokenize(text: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
            } else if "+-*/()".contains(c) {
                out.push(c.to_string());
                chars.next();
            } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                let mut word = String::new();
                while let Some(&c) = chars.peek().filter(|c| c.is_ascii_alphanumeric() || **c == '_' || **c == '.') {
                    word.push(c);
                    chars.next();
                }
                out.push(word);
            } else {
                return Err(format!("unexpected character `{c}`"));
            }
        }
        if out.len() > 200 {
            return Err("the expression is too long".into());
        }
        Ok(out)
    }

    struct Parser<'a> {
        tokens: Vec<String>,
        pos: usize,
        known: &'a BTreeMap<&'a str, Expr>,
    }

    impl Parser<'_> {
        fn next(&mut self) -> Option<String> {
            let t = self.tokens.get(self.pos).cloned();
            self.pos += 1;
            t
        }

        fn sum(&mut self) -> Result<Expr, String> {
            let mut left = self.product()?;
            while let Some(op) = self.tokens.get(self.pos).filter(|t| *t == "+" || *t == "-").cloned() {
                self.pos += 1;
                let right = self.product()?;
                left = if op == "+" { left.add(right) } else { left.sub(right) };
            }
            Ok(left)
        }

        fn product(&mut self) -> Result<Expr, String> {
            let mut left = self.atom()?;
            while let Some(op) = self.tokens.get(self.pos).filter(|t| *t == "*" || *t == "/").cloned() {
                self.pos += 1;
                let right = self.atom()?;
                left = if op == "*" {
                    left.mul(right)
                } else {
                    // No value rather than an error when the denominator is zero.
                    super::real(left).div(Expr::from(Func::cust("NULLIF").arg(right).arg(0)))
                };
            }
            Ok(left)
        }

        fn atom(&mut self) -> Result<Expr, String> {
            match self.next() {
                Some(t) if t == "(" => {
                    let e = self.sum()?;
                    match self.next() {
                        // sea-query parenthesises by precedence itself.
                        Some(t) if t == ")" => Ok(e),
                        _ => Err("missing `)`".into()),
                    }
                }
                Some(t) if t == "-" => Ok(Expr::val(0.0).sub(self.atom()?)),
                Some(t) if t.starts_with(|c: char| c.is_ascii_digit()) => {
                    t.parse::<f64>().map(Expr::val).map_err(|_| format!("`{t}` is not a number"))
                }
                Some(t) => match self.known.get(t.as_str()) {
                    Some(e) => Ok(e.clone()),
                    None => Err(format!("`{t}` is not a measure defined before this one")),
                },
                None => Err("the expression ends too early".into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn report(extra: Value) -> Report {
        let mut r = json!({"source": "deal", "dimensions": [{"id": "stage", "field": "stage"}],
                           "measures": [{"id": "n", "agg": "count"}, {"id": "total", "agg": "sum", "field": "amount"}]});
        r.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        serde_json::from_value(r).unwrap()
    }

    fn columns(ids: &[(&str, Role)]) -> Vec<OutColumn> {
        ids.iter().map(|(id, role)| OutColumn { id: (*id).into(), role: *role, kind: ValueKind::Number, integer: false }).collect()
    }

    #[test]
    fn a_report_wider_than_the_bounds_is_refused_at_its_lists() {
        let dimensions: Vec<Value> = (0..=MAX_DIMENSIONS).map(|i| json!({"id": format!("d{i}"), "field": "stage"})).collect();
        let measures: Vec<Value> = (0..=MAX_MEASURES).map(|i| json!({"id": format!("m{i}"), "agg": "count"})).collect();
        let problems = check_width(&report(json!({"dimensions": dimensions, "measures": measures}))).unwrap_err();
        let pointers: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
        assert_eq!(pointers, ["/dimensions", "/measures"]);
        assert_eq!(problems[1].message, "a report has at most 50 measures; this one has 51");
        assert!(check_width(&report(json!({}))).is_ok());
    }

    #[test]
    fn grand_totals_fold_counts_and_sums_but_not_past_having_or_other_aggregates() {
        let cols = columns(&[("stage", Role::Dimension), ("n", Role::Measure), ("total", Role::Measure)]);
        let rows = vec![vec![json!("won"), json!(2), json!(150.5)], vec![json!(null), json!(1), json!(null)]];
        assert_eq!(grand_totals_from_rows(&report(json!({})), &cols, &rows), Some(vec![json!(3), json!(150.5)]));
        assert_eq!(grand_totals_from_rows(&report(json!({})), &cols, &[]), Some(vec![json!(0), Value::Null]));
        assert_eq!(grand_totals_from_rows(&report(json!({"having": {"n": {"gte": 2}}})), &cols, &rows), None);
        let avg = report(json!({"measures": [{"id": "n", "agg": "count"}, {"id": "total", "agg": "avg", "field": "amount"}]}));
        assert_eq!(grand_totals_from_rows(&avg, &cols, &rows), None);
    }
}
