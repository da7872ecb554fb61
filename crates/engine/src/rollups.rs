//! Rollup fields: figures of a record aggregated from the records that link to it (a
//! contract's `paid_amount`, the sum of its payments). Whenever a record of a rolled-up form
//! is created, updated, deleted or restored — by a person, a rule, a flow or an import — the
//! rollups of the records it links to (before and after the change) are computed again in the
//! same transaction, and a parent whose figure changed is written as a new version (op
//! `rollup`), so its own rules follow. Rollups whose filter is relative to today are computed
//! again every day by the job worker.
//!
//! Each figure is one aggregate statement, compiled by the report engine (the same filter
//! language and the same sums as reports) and run with the app's authority: it does not depend
//! on who saved.

use std::collections::BTreeMap;

use ::reports::{Catalog, Context, Dialect, OutColumn, Role, ValueKind};
use chrono::{DateTime, Utc};
use defs::{Aggregate, Diagnostic, Dimension, FieldKind, Measure, Report, Rollup, RollupOp};
use serde_json::{Map, Value, json};
use store::{Backend, Conn, OutKind};

use crate::apps::{FormRuntime, LoadedApp};
use crate::command::{Cmd, MAX_EFFECT_DEPTH};
use crate::pages::Pages;
use crate::{Actor, Engine, EngineError, time};

/// The history op of a version written because a rollup's figure changed.
const ROLLUP_OP: &str = "rollup";

/// One rollup field: the form it belongs to, its id and what it aggregates.
struct RollupField<'a> {
    parent: &'a str,
    field: &'a str,
    rollup: &'a Rollup,
}

/// Whether `app` has a rollup whose filter is relative to today.
pub(crate) fn any_dated(app: &LoadedApp) -> bool {
    rollup_fields(app, None).any(|f| f.rollup.is_time_dependent())
}

/// Every rollup field of `app` aggregating records of form `source` (all of them when none).
fn rollup_fields<'a>(app: &'a LoadedApp, source: Option<&'a str>) -> impl Iterator<Item = RollupField<'a>> {
    app.defs.forms.iter().flat_map(move |(parent, form)| {
        form.fields.iter().filter_map(move |field| {
            let rollup = field.rollup.as_ref().filter(|r| field.kind == FieldKind::ROLLUP && source.is_none_or(|s| s == r.form))?;
            Some(RollupField { parent, field: &field.id, rollup })
        })
    })
}

/// The rollup fields of `app` grouped by the form they belong to.
fn by_parent<'a>(fields: impl Iterator<Item = RollupField<'a>>) -> BTreeMap<&'a str, Vec<RollupField<'a>>> {
    let mut grouped: BTreeMap<&str, Vec<RollupField>> = BTreeMap::new();
    for field in fields {
        grouped.entry(field.parent).or_default().push(field);
    }
    grouped
}

impl Engine {
    /// Computes again the rollups over `form` of the records that `versions` (the record's
    /// data before and after a change) link to, and writes the parents whose figures changed.
    /// `depth` is the depth of the change, as for rule effects.
    pub(crate) async fn refresh_rollups(
        &self,
        cmd: Cmd<'_, impl Conn>,
        rt: &FormRuntime,
        versions: &[&Map<String, Value>],
    ) -> Result<(), EngineError> {
        for (parent, fields) in by_parent(rollup_fields(cmd.app, Some(rt.id()))) {
            let mut ids: Vec<String> = fields
                .iter()
                .flat_map(|f| versions.iter().filter_map(|data| data.get(&f.rollup.link)?.as_str().map(str::to_owned)))
                .collect();
            ids.sort();
            ids.dedup();
            if !ids.is_empty() {
                self.write_rollups(cmd, cmd.form(parent)?, &fields, &ids, Utc::now()).await?;
            }
        }
        Ok(())
    }

    /// Computes every time-dependent rollup of `app` as of `now`, a page of parents a
    /// transaction (the daily job, [`crate::dated`]).
    pub(crate) async fn refresh_dated_rollups(&self, app: &str, now: DateTime<Utc>) -> Result<(), EngineError> {
        let loaded = &self.app(app)?;
        let system = Actor::system();
        let timely = rollup_fields(loaded, None).filter(|f| f.rollup.is_time_dependent());
        for (parent, fields) in by_parent(timely) {
            let parent = loaded.form(parent)?;
            let mut pages = Pages::of(&parent.table);
            while !pages.done() {
                let (turn, tx) = self.store.begin().await?;
                let ids = pages.next(&tx).await?;
                self.write_rollups(Cmd::new(&tx, &system, loaded), parent, &fields, &ids, now).await?;
                turn.commit(tx).await?;
            }
        }
        Ok(())
    }

    /// Computes `fields` (rollups of form `parent`) for the live records `ids` as of `now`,
    /// and writes each record whose figures changed, as the platform, one effect deeper than
    /// `cmd`.
    async fn write_rollups(
        &self,
        cmd: Cmd<'_, impl Conn>,
        parent: &FormRuntime,
        fields: &[RollupField<'_>],
        ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let mut figures = Vec::new();
        for field in fields {
            figures.push(self.aggregate(cmd.tx, cmd.app, field.rollup, ids, now).await?);
        }
        for record in store::get_many(cmd.tx, &parent.table, ids).await?.into_iter().filter(|r| r.deleted_at.is_none()) {
            let mut patch = Map::new();
            for (field, values) in fields.iter().zip(&figures) {
                let figure = values.get(&record.id).cloned().unwrap_or_else(|| over_nothing(field.rollup.op));
                if !same_figure(record.data.get(field.field), &figure) {
                    patch.insert(field.field.to_owned(), figure);
                }
            }
            if patch.is_empty() {
                continue;
            }
            if cmd.depth >= MAX_EFFECT_DEPTH {
                let message = format!("rollups nested deeper than {MAX_EFFECT_DEPTH}; do two forms roll up each other?");
                return Err(EngineError::Rule(rules::RuleError::Failed { rule: format!("{} rollups", parent.id()), message }));
            }
            let system = Actor::system();
            Box::pin(self.update_in(cmd.by(&system).deeper(), parent, &record.id, None, Value::Object(patch), ROLLUP_OP)).await?;
        }
        Ok(())
    }

    /// The figure of `rollup` for each of the records `ids` that has one, as of `now`: one
    /// aggregate statement over the live records linking to them, whoever asks.
    async fn aggregate(
        &self,
        tx: &impl Conn,
        loaded: &LoadedApp,
        rollup: &Rollup,
        ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<String, Value>, EngineError> {
        // The context holds the catalog by a reference that is not `Send`: compiled before any await.
        let compiled = {
            let catalog = AppCatalog(loaded);
            ::reports::compile(&aggregate_report(rollup, ids), &context(dialect(self.backend()), &catalog, now))
        }
        .map_err(|problems| EngineError::Internal(format!("a rollup over `{}` does not compile: {problems:?}", rollup.form)))?;
        let rows = store::report_rows(tx, &compiled.statement, &out_kinds(&compiled.columns)).await?;
        let scale = summed_scale(loaded, rollup);
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let mut cells = row.into_iter();
                let id = cells.next()?.as_str()?.to_owned();
                let figure = cells.next().filter(|v| !v.is_null())?;
                Some((id, exact(figure, scale)))
            })
            .collect())
    }
}

/// A rollup as a report over its form: the records matching its filter and linking to one of
/// `ids`, grouped by that link, one measure.
fn aggregate_report(rollup: &Rollup, ids: &[String]) -> Report {
    let agg = match rollup.op {
        RollupOp::Count => Aggregate::Count,
        RollupOp::Sum => Aggregate::Sum,
        RollupOp::Min => Aggregate::Min,
        RollupOp::Max => Aggregate::Max,
    };
    // An `and` keeps the rollup's own filter whole, whatever names it uses.
    let mut filter = Map::new();
    filter.insert("and".into(), json!([rollup.filter, {&rollup.link: {"in": ids}}]));
    Report {
        schema: String::new(),
        label: None,
        description: None,
        source: rollup.form.clone(),
        rows: None,
        filter,
        dimensions: vec![Dimension { id: "parent".into(), field: rollup.link.clone(), bucket: None, label: None }],
        measures: vec![Measure {
            id: "figure".into(),
            label: None,
            agg: Some(agg),
            field: rollup.field.clone(),
            times: None,
            filter: Map::new(),
            calc: None,
            format: None,
        }],
        having: Map::new(),
        sort: Vec::new(),
        limit: Some(ids.len().max(1) as u32),
        pivot: None,
        totals: false,
        chart: None,
    }
}

/// The figure over no records: nothing counted is 0, nothing summed is 0, and there is no
/// least or greatest value.
fn over_nothing(op: RollupOp) -> Value {
    match op {
        RollupOp::Count | RollupOp::Sum => json!(0),
        RollupOp::Min | RollupOp::Max => Value::Null,
    }
}

/// Whether the stored value `stored` is the figure `figure` (a missing value is no figure).
fn same_figure(stored: Option<&Value>, figure: &Value) -> bool {
    match (stored.filter(|v| !v.is_null()), figure) {
        (None, figure) => figure.is_null(),
        (Some(stored), figure) => stored.as_f64().is_some_and(|s| figure.as_f64() == Some(s)),
    }
}

/// The scale and rounding of the decimal or currency field `rollup` aggregates, to which every
/// stored value was rounded, so the exact sum needs no more places; none for counts and other
/// numbers.
fn summed_scale(loaded: &LoadedApp, rollup: &Rollup) -> Option<(u32, defs::Rounding)> {
    let source = loaded.defs.forms.get(&rollup.form)?;
    forms::decimal::decimal_scale(source.field(rollup.field.as_deref()?)?)
}

/// `figure` as stored: at the summed field's scale (a binary sum of cents is a hair off the
/// exact one), and a whole number as an integer, as every save stores one (`forms::decimal`).
fn exact(figure: Value, scale: Option<(u32, defs::Rounding)>) -> Value {
    let Some(number) = figure.as_f64() else { return figure };
    let Some(decimal) = forms::decimal::written(number) else { return figure };
    forms::decimal::to_json(scale.map_or(decimal, |(scale, rounding)| forms::decimal::round(decimal, scale, rounding)))
}

/// The app's forms and tables, as the report compiler asks for them.
struct AppCatalog<'a>(&'a LoadedApp);

impl Catalog for AppCatalog<'_> {
    fn form(&self, id: &str) -> Option<(&defs::Form, &str)> {
        self.0.forms.get(id).map(|rt| (&rt.compiled.def, rt.table.name.as_str()))
    }
}

fn dialect(backend: Backend) -> Dialect {
    match backend {
        Backend::Sqlite => Dialect::Sqlite,
        Backend::Postgres => Dialect::Postgres,
    }
}

/// A compilation context with the app's authority (no row scopes), with relative dates as of `now`.
fn context<'a>(dialect: Dialect, catalog: &'a dyn Catalog, now: DateTime<Utc>) -> Context<'a> {
    Context::new(dialect, catalog, now.date_naive(), time::format(now))
}

fn out_kinds(columns: &[OutColumn]) -> Vec<OutKind> {
    columns
        .iter()
        .map(|c| match (c.role, c.kind, c.integer) {
            (Role::Dimension, _, _) => OutKind::Text,
            (_, _, true) => OutKind::Int,
            (_, ValueKind::Text, false) => OutKind::Text,
            (_, ValueKind::Bool, false) => OutKind::Bool,
            (_, ValueKind::Number, false) => OutKind::Float,
        })
        .collect()
}

/// Compiles every rollup of `app` for both databases, so a filter naming an unknown field or
/// comparing a date with a number stops the app from loading (and `tessera check`) with the
/// rollup's pointer, instead of failing the saves of its linked records.
pub(crate) fn check_rollups(app: &LoadedApp) -> Vec<Diagnostic> {
    let catalog = AppCatalog(app);
    let mut diags = Vec::new();
    for (form_id, form) in &app.defs.forms {
        let file = app.defs.dir.join("forms").join(format!("{form_id}.json"));
        for (i, field) in form.fields.iter().enumerate() {
            let Some(rollup) = field.rollup.as_ref() else { continue };
            for dialect in [Dialect::Sqlite, Dialect::Postgres] {
                let ctx = context(dialect, &catalog, Utc::now());
                let Err(problems) = ::reports::compile(&aggregate_report(rollup, &["id".into()]), &ctx) else { continue };
                let at = |pointer: &str| rollup_pointer(i, pointer);
                diags.extend(problems.into_iter().map(|p| Diagnostic::new(&file, at(&p.pointer), p.message)));
            }
        }
    }
    diags.sort();
    diags.dedup();
    diags
}

/// Where in the form file a problem of the report [`aggregate_report`] builds lies.
fn rollup_pointer(field: usize, pointer: &str) -> String {
    let base = format!("/fields/{field}/rollup");
    let moved = [("/filter/and/0", "/where"), ("/filter/and/1", "/link"), ("/dimensions/0/field", "/link"), ("/measures/0", "")];
    for (from, to) in moved {
        if let Some(rest) = pointer.strip_prefix(from) {
            return format!("{base}{to}{rest}");
        }
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_stored_as_the_rules_store_them() {
        assert_eq!(exact(json!(0.1 + 0.2), Some((2, defs::Rounding::HalfUp))), json!(0.3));
        assert_eq!(exact(json!(250_000.0), Some((2, defs::Rounding::HalfUp))), json!(250_000));
        assert_eq!(exact(json!(3), None), json!(3));
        assert_eq!(exact(json!(2.5), None), json!(2.5));
    }

    #[test]
    fn a_missing_figure_is_the_same_as_none_and_numbers_compare_by_value() {
        assert!(same_figure(None, &Value::Null));
        assert!(same_figure(Some(&Value::Null), &Value::Null));
        assert!(same_figure(Some(&json!(250_000.0)), &json!(250_000)));
        assert!(!same_figure(None, &json!(0)));
        assert!(!same_figure(Some(&json!(1)), &Value::Null));
    }

    #[test]
    fn problems_of_the_aggregate_point_into_the_rollup() {
        assert_eq!(rollup_pointer(3, "/filter/and/0/paid_on/gt"), "/fields/3/rollup/where/paid_on/gt");
        assert_eq!(rollup_pointer(3, "/measures/0/field"), "/fields/3/rollup/field");
        assert_eq!(rollup_pointer(3, "/dimensions/0/field"), "/fields/3/rollup/link");
    }
}
