//! The filter language of reports: the list API's operators (eq, ne, gt, gte, lt, lte, in,
//! nin, contains, starts_with, between, is_null; `or`/`and`; dot paths through links) plus
//! relative dates, compiled to a sea-query condition with every value bound.

use chrono::{Datelike, Duration, NaiveDate};
use defs::FieldKind;
use sea_query::{Cond, Condition, Expr, ExprTrait, Func, LikeExpr, Query};
use serde_json::{Map, Value};

use crate::Problem;
use crate::fields::{Context, FieldRef, ValueKind, column_sql, field_sql, from_source, kind_name, resolve};

const OPERATORS: &str = "eq, ne, gt, gte, lt, lte, in, nin, contains, starts_with, between, is_null, period, last_n_days, next_n_days, older_than_days, before_now";

/// The most field conditions (one a field and operator) a report's filter may hold, as for the
/// list API: an `or` of n conditions is an expression n deep in SQLite's parser, which refuses
/// depths past 1,000; the CRM's reports have three at most.
pub const MAX_FILTER_CONDITIONS: usize = 100;
/// The most values a report's filter may bind in all (`in` lists count each value), as for the
/// list API: SQLite binds at most 32,766 values a statement, and every statement of a report
/// (rows, totals) carries the filter, plus the row scopes.
pub const MAX_FILTER_VALUES: usize = 1_000;

/// Refuses a filter (at `pointer`) holding more than [`MAX_FILTER_CONDITIONS`] conditions or
/// [`MAX_FILTER_VALUES`] values, before any of it is compiled.
pub(crate) fn check_filter_size(map: &Map<String, Value>, pointer: &str) -> Result<(), Problem> {
    let (conditions, values) = filter_size(map);
    if conditions > MAX_FILTER_CONDITIONS {
        return Err(Problem::new(
            pointer,
            format!("a filter may hold at most {MAX_FILTER_CONDITIONS} conditions; this one has {conditions}"),
        ));
    }
    if values > MAX_FILTER_VALUES {
        return Err(Problem::new(pointer, format!("a filter may hold at most {MAX_FILTER_VALUES} values in all; this one has {values}")));
    }
    Ok(())
}

/// The conditions and values in `map`, `or`/`and` groups included. A group's part and a
/// field's conditions count as one at least even when empty: each compiles to a condition that
/// is always true, and an `or` of n of them is an expression n deep all the same.
fn filter_size(map: &Map<String, Value>) -> (usize, usize) {
    let mut size = (0, 0);
    for (key, cond) in map {
        let (conditions, values) = match (key.as_str(), cond) {
            ("or" | "and", Value::Array(parts)) => {
                parts.iter().map(|part| part.as_object().map_or((1, 0), filter_size)).fold((0, 0), |a, b| (a.0 + b.0.max(1), a.1 + b.1))
            }
            (_, Value::Object(ops)) => (ops.len().max(1), ops.values().map(value_count).sum()),
            (_, value) => (1, value_count(value)),
        };
        size = (size.0 + conditions, size.1 + values);
    }
    size
}

fn value_count(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.len(),
        _ => 1,
    }
}

/// The condition `map` puts on records of `form`, read through table alias `alias`.
pub(crate) fn filter_cond(
    ctx: &Context<'_>,
    form: &str,
    alias: Option<&str>,
    map: &Map<String, Value>,
    pointer: &str,
    reads: &mut Vec<FieldRef>,
) -> Result<Condition, Problem> {
    let mut all = Cond::all();
    for (key, cond) in map {
        let here = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
        match key.as_str() {
            "or" | "and" => {
                let Value::Array(parts) = cond else {
                    return Err(Problem::new(here, format!("`{key}` takes an array of filters")));
                };
                let mut group = if key == "or" { Cond::any() } else { Cond::all() };
                for (i, part) in parts.iter().enumerate() {
                    let Value::Object(part) = part else {
                        return Err(Problem::new(format!("{here}/{i}"), "a filter is an object of field conditions"));
                    };
                    group = group.add(filter_cond(ctx, form, alias, part, &format!("{here}/{i}"), reads)?);
                }
                all = all.add(group);
            }
            _ => all = all.add(condition(ctx, form, alias, key, cond, &here, reads)?),
        }
    }
    Ok(all)
}

/// The condition on one (possibly dotted) name. A dot path through a link becomes `link IN
/// (SELECT id FROM target WHERE …)`, as in the list API, so both answer the same question the
/// same way; any other dot path names a part of a field (a region's `province`).
fn condition(
    ctx: &Context<'_>,
    form: &str,
    alias: Option<&str>,
    name: &str,
    cond: &Value,
    pointer: &str,
    reads: &mut Vec<FieldRef>,
) -> Result<Condition, Problem> {
    let through_link = |link: &str| ctx.catalog.form(form).and_then(|(f, _)| f.field(link)).is_some_and(|f| f.kind == FieldKind::LINK);
    if let Some((link, rest)) = name.split_once('.').filter(|(link, _)| through_link(link)) {
        let resolved = resolve(ctx, form, &format!("{link}.id"), pointer, reads)?;
        let (target, table) = resolved.link_tables[0].clone();
        let inner = condition(ctx, &target, None, rest, cond, pointer, reads)?;
        let mut sub = Query::select();
        sub.column("id");
        from_source(ctx, &mut sub, &target, &table, "s");
        sub.and_where(Expr::col("deleted_at").is_null()).cond_where(inner);
        let link_expr = Expr::cust(field_sql(ctx.dialect, alias, link, ValueKind::Text, ctx.typed(form, link)));
        return Ok(Cond::all().add(link_expr.in_subquery(sub)));
    }
    let resolved = resolve(ctx, form, name, pointer, reads)?;
    let kind = resolved.kind;
    let e = Expr::cust(column_sql(ctx.dialect, alias, &resolved.column, kind));
    let ops = match cond {
        Value::Object(ops) => ops.clone(),
        other => [("eq".to_owned(), other.clone())].into_iter().collect(),
    };
    let mut out = Cond::all();
    for (op, arg) in &ops {
        let at = format!("{pointer}/{op}");
        let scalar = |v: &Value| -> Result<Expr, Problem> {
            match (kind, v) {
                (ValueKind::Text, Value::String(s)) => Ok(Expr::val(s.clone())),
                (ValueKind::Number, Value::Number(n)) => n.as_f64().map(Expr::val).ok_or_else(|| Problem::new(&at, "number out of range")),
                (ValueKind::Bool, Value::Bool(b)) => Ok(Expr::val(*b)),
                _ => Err(Problem::new(&at, format!("expected {} for `{name}`", kind_name(kind)))),
            }
        };
        let list = |v: &Value| -> Result<Vec<Expr>, Problem> {
            match v {
                Value::Array(items) => items.iter().map(scalar).collect(),
                _ => Err(Problem::new(&at, format!("`{op}` takes an array"))),
            }
        };
        let date_only = |what: &str| -> Result<(), Problem> {
            if resolved.is_date { Ok(()) } else { Err(Problem::new(&at, format!("`{what}` applies to date fields only"))) }
        };
        let days = |v: &Value| -> Result<i64, Problem> {
            v.as_u64()
                .filter(|n| (1..=36_600).contains(n))
                .map(|n| n as i64)
                .ok_or_else(|| Problem::new(&at, format!("`{op}` takes a number of days (1–36600)")))
        };
        let range = |(from, to): (NaiveDate, NaiveDate)| {
            // Dates and timestamps are ISO text, so a half-open text range on days covers both.
            e.clone().gte(from.to_string()).and(e.clone().lt(to.to_string()))
        };
        let expr = match op.as_str() {
            "eq" if arg.is_null() => e.clone().is_null(),
            "ne" if arg.is_null() => e.clone().is_not_null(),
            "eq" => e.clone().eq(scalar(arg)?),
            // A missing value is "not equal" too, as people mean it.
            "ne" => e.clone().is_null().or(e.clone().ne(scalar(arg)?)),
            "gt" => e.clone().gt(scalar(arg)?),
            "gte" => e.clone().gte(scalar(arg)?),
            "lt" => e.clone().lt(scalar(arg)?),
            "lte" => e.clone().lte(scalar(arg)?),
            "contains" | "starts_with" => {
                let Value::String(text) = arg else {
                    return Err(Problem::new(&at, format!("`{op}` takes a string")));
                };
                if kind != ValueKind::Text {
                    return Err(Problem::new(&at, format!("`{op}` applies to text fields only")));
                }
                let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                let pattern = if op == "starts_with" { format!("{escaped}%") } else { format!("%{escaped}%") };
                Expr::from(Func::lower(e.clone())).like(LikeExpr::new(pattern).escape('\\'))
            }
            "in" => e.clone().is_in(list(arg)?),
            "nin" => e.clone().is_null().or(e.clone().is_not_in(list(arg)?)),
            "between" => match list(arg)?.as_slice() {
                [low, high] => e.clone().between(low.clone(), high.clone()),
                _ => return Err(Problem::new(&at, "`between` takes [low, high]")),
            },
            "is_null" => match arg {
                Value::Bool(true) => e.clone().is_null(),
                Value::Bool(false) => e.clone().is_not_null(),
                _ => return Err(Problem::new(&at, "`is_null` takes true or false")),
            },
            "period" => {
                date_only(op)?;
                let name = arg.as_str().unwrap_or_default();
                range(period(ctx.today, name).ok_or_else(|| Problem::new(&at, format!("unknown period `{name}` ({PERIODS})")))?)
            }
            "last_n_days" => {
                date_only(op)?;
                range((ctx.today - Duration::days(days(arg)? - 1), ctx.today + Duration::days(1)))
            }
            "next_n_days" => {
                date_only(op)?;
                range((ctx.today, ctx.today + Duration::days(days(arg)? + 1)))
            }
            "older_than_days" => {
                date_only(op)?;
                // Not within the last n days: before the first day `last_n_days` would include.
                e.clone().lt((ctx.today - Duration::days(days(arg)? - 1)).to_string())
            }
            "before_now" => {
                date_only(op)?;
                match arg {
                    Value::Bool(true) => e.clone().lt(ctx.now.clone()),
                    Value::Bool(false) => e.clone().gte(ctx.now.clone()),
                    _ => return Err(Problem::new(&at, "`before_now` takes true or false")),
                }
            }
            _ => return Err(Problem::new(&at, format!("unknown operator `{op}` ({OPERATORS})"))),
        };
        out = out.add(expr);
    }
    Ok(out)
}

const PERIODS: &str = "today, yesterday, this_week, last_week, this_month, last_month, next_month, this_quarter, last_quarter, next_quarter, this_year, last_year";

/// The half-open day range `[from, to)` of a named period around `today` (weeks start Monday).
pub(crate) fn period(today: NaiveDate, name: &str) -> Option<(NaiveDate, NaiveDate)> {
    let month_start = |y: i32, m: i32| {
        let (y, m) = (y + (m - 1).div_euclid(12), (m - 1).rem_euclid(12) + 1);
        NaiveDate::from_ymd_opt(y, m as u32, 1)
    };
    let (y, m) = (today.year(), today.month() as i32);
    let q = (m - 1) / 3 * 3 + 1;
    let week = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    Some(match name {
        "today" => (today, today + Duration::days(1)),
        "yesterday" => (today - Duration::days(1), today),
        "this_week" => (week, week + Duration::days(7)),
        "last_week" => (week - Duration::days(7), week),
        "this_month" => (month_start(y, m)?, month_start(y, m + 1)?),
        "last_month" => (month_start(y, m - 1)?, month_start(y, m)?),
        "next_month" => (month_start(y, m + 1)?, month_start(y, m + 2)?),
        "this_quarter" => (month_start(y, q)?, month_start(y, q + 3)?),
        "last_quarter" => (month_start(y, q - 3)?, month_start(y, q)?),
        "next_quarter" => (month_start(y, q + 3)?, month_start(y, q + 6)?),
        "this_year" => (month_start(y, 1)?, month_start(y + 1, 1)?),
        "last_year" => (month_start(y - 1, 1)?, month_start(y, 1)?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn periods_are_half_open_day_ranges() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let today = d("2026-11-25"); // a Wednesday
        assert_eq!(period(today, "this_week"), Some((d("2026-11-23"), d("2026-11-30"))));
        assert_eq!(period(today, "this_month"), Some((d("2026-11-01"), d("2026-12-01"))));
        assert_eq!(period(today, "next_month"), Some((d("2026-12-01"), d("2027-01-01"))));
        assert_eq!(period(today, "this_quarter"), Some((d("2026-10-01"), d("2027-01-01"))));
        assert_eq!(period(today, "last_quarter"), Some((d("2026-07-01"), d("2026-10-01"))));
        assert_eq!(period(d("2026-01-10"), "last_month"), Some((d("2025-12-01"), d("2026-01-01"))));
        assert_eq!(period(today, "someday"), None);
    }

    fn size(filter: Value) -> (usize, usize) {
        filter_size(filter.as_object().unwrap())
    }

    #[test]
    fn conditions_and_values_are_counted_through_groups() {
        assert_eq!(size(json!({"stage": "won", "amount": {"gt": 1, "lt": 9}})), (3, 3));
        assert_eq!(size(json!({"or": [{"stage": {"in": ["a", "b", "c"]}}, {"and": [{"x": 1}, {"y": {"between": [1, 2]}}]}]})), (3, 6));
        assert_eq!(size(json!({"or": [{}, {}, {"and": []}, 7], "stage": {}})), (5, 0));
        let many: Vec<usize> = (0..=MAX_FILTER_VALUES).collect();
        let problem = check_filter_size(json!({"n": {"in": many}}).as_object().unwrap(), "/filter").unwrap_err();
        assert_eq!((problem.pointer.as_str(), problem.message.contains("1000 values")), ("/filter", true));
    }
}
