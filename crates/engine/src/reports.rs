//! Reports: saved and ad-hoc queries, exports and drill-down. Every one of them passes through
//! [`Engine::prepare_report`], the single place that resolves which forms and fields a report
//! reads and checks the user may read them (form access, hidden fields, row scopes).

use std::collections::BTreeMap;
use std::time::Duration;

use ::reports::{Catalog, Compiled, Context, Dialect, FieldRef, OutColumn, Role, TotalKind, ValueKind};
use defs::{Action, DefKind, Diagnostic, Report};
use forms::{FieldCode, FieldError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use store::{Backend, Conn, Deleted, Filter, ListQuery, OutKind, Scalar, StoreError, SystemColumn, Target, TransactionTrait};

use crate::access::Access;
use crate::apps::LoadedApp;
use crate::audit::Subject;
use crate::{Actor, AppId, Engine, EngineError, Envelope, Page};

/// What a report request adds to the definition.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// Extra conditions (e.g. a dashboard's filters), in the report filter language.
    #[serde(default)]
    pub filter: Map<String, Value>,
    /// Report over the records as they were at this time (ISO 8601, UTC).
    pub as_of: Option<String>,
    /// Also return the SQL and its bound values.
    #[serde(default)]
    pub explain: bool,
    /// The language of export headers (`zh-CN`, `en`; English by default).
    pub locale: Option<String>,
}

/// The body of a drill-down: a cell of the report and a page of its records.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillParams {
    /// Dimension values by dimension id; dimensions left out are not constrained.
    #[serde(default)]
    pub cell: Map<String, Value>,
    /// A measure of the report whose own filter applies too (e.g. `won`).
    pub measure: Option<String>,
    #[serde(default)]
    pub filter: Map<String, Value>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// A report's result.
#[derive(Debug, Clone, Serialize)]
pub struct ReportResult {
    /// The saved report's label (none for ad-hoc queries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<defs::Label>,
    /// `{id, role, label}` per column; a dimension over a select field also has `values`, the
    /// label of each option, so clients show 商务谈判 rather than `negotiation`.
    pub columns: Vec<Value>,
    /// One object per group, keyed by dimension and measure ids.
    pub rows: Vec<Map<String, Value>>,
    /// True when the limit cut the result.
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pivot: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart: Option<defs::Chart>,
    /// With `explain`: each statement's SQL and bound values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<Vec<Value>>,
}

/// Export formats of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

struct AppCatalog<'a>(&'a LoadedApp);

impl Catalog for AppCatalog<'_> {
    fn form(&self, id: &str) -> Option<(&defs::Form, &str)> {
        self.0.forms.get(id).map(|rt| (&rt.compiled.def, rt.table.name.as_str()))
    }
}

const DEFAULT_DRILL_LIMIT: u64 = 50;
const MAX_DRILL_LIMIT: u64 = 500;

impl Engine {
    /// Runs an ad-hoc report (what the report builder sends).
    pub async fn query(&self, actor: &Actor, app: &AppId, body: &Value, params: &ReportParams) -> Result<ReportResult, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "query", app, form: "", id: "" }, async {
            self.run_report(actor, app, &parse_report(body)?, params).await
        })
        .await
    }

    /// Runs the saved report `id`.
    pub async fn report(&self, actor: &Actor, app: &AppId, id: &str, params: &ReportParams) -> Result<ReportResult, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "report", app, form: "", id }, async {
            self.run_report(actor, app, &self.saved_report(app, id)?, params).await
        })
        .await
    }

    /// The saved report `id` as a file: its rows (no pivot), labelled columns.
    pub async fn report_export(
        &self,
        actor: &Actor,
        app: &AppId,
        id: &str,
        params: &ReportParams,
        format: ExportFormat,
    ) -> Result<Vec<u8>, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "export", app, form: "", id }, self.report_export_unaudited(actor, app, id, params, format))
            .await
    }

    async fn report_export_unaudited(
        &self,
        actor: &Actor,
        app: &str,
        id: &str,
        params: &ReportParams,
        format: ExportFormat,
    ) -> Result<Vec<u8>, EngineError> {
        let report = self.saved_report(app, id)?;
        let loaded = &self.app(app)?;
        Access::of(actor, loaded.form(&report.source)?).require(Action::Export, &report.source)?;
        let result = self.run_report(actor, app, &report, params).await?;
        let ids: Vec<String> = result.columns.iter().map(|c| c["id"].as_str().unwrap_or_default().to_owned()).collect();
        let locale = params.locale.as_deref().unwrap_or("en");
        let headers: Vec<String> = result
            .columns
            .iter()
            .map(|c| serde_json::from_value::<defs::Label>(c["label"].clone()).map(|l| l.text(locale).to_owned()).unwrap_or_default())
            .collect();
        let sheet = id.to_owned();
        on_blocking_pool(move || {
            let rows: Vec<Vec<Value>> =
                result.rows.iter().map(|r| ids.iter().map(|id| r.get(id).cloned().unwrap_or(Value::Null)).collect()).collect();
            match format {
                ExportFormat::Csv => Ok(::reports::to_csv(&headers, &rows)),
                ExportFormat::Xlsx => {
                    ::reports::to_xlsx(&sheet, &headers, &rows).map_err(|e| EngineError::Internal(format!("export failed: {e}")))
                }
            }
        })
        .await
    }

    /// The records behind one cell of the saved report `id`, as a list page.
    pub async fn drill(&self, actor: &Actor, app: &AppId, id: &str, params: &DrillParams) -> Result<Page, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "drill", app, form: "", id }, self.drill_unaudited(actor, app, id, params)).await
    }

    async fn drill_unaudited(&self, actor: &Actor, app: &str, id: &str, params: &DrillParams) -> Result<Page, EngineError> {
        let mut report = self.saved_report(app, id)?;
        let limit = params.limit.unwrap_or(DEFAULT_DRILL_LIMIT);
        if !(1..=MAX_DRILL_LIMIT).contains(&limit) {
            return Err(EngineError::malformed_at("/limit", format!("limit must be between 1 and {MAX_DRILL_LIMIT}")));
        }
        report.filter.extend(params.filter.clone());
        let loaded = &self.app(app)?;
        let rt = loaded.form(&report.source)?;
        let (ctx_parts, access) = self
            .prepare_report(actor, loaded, &report, None, |ctx| {
                ::reports::drill(&report, ctx, &params.cell, params.measure.as_deref(), params.cursor.as_deref(), limit)
            })
            .await?;
        let ctx_parts = &ctx_parts;
        let mut ids = self.read_replicated(actor, |db| async move { store::report_ids(&db, ctx_parts).await }).await?;
        let more = ids.len() as u64 > limit;
        ids.truncate(limit as usize);
        let next_cursor = if more { ids.last().cloned() } else { None };
        let query = ListQuery {
            filter: Some(Filter::In {
                target: Target::System(SystemColumn::Id),
                values: ids.into_iter().map(Scalar::Text).collect(),
                negate: false,
            }),
            sort: Vec::new(),
            after: None,
            limit: limit + 1,
            deleted: Deleted::Exclude,
        };
        let (table, query) = (&rt.table, &query);
        let records = self.read_replicated(actor, |db| async move { store::list(&db, table, query).await }).await?;
        let items: Vec<Envelope> = records
            .into_iter()
            .map(|r| {
                let mut e = Envelope::new(&report.source, r);
                access.redact_record(loaded, actor, &mut e);
                e
            })
            .collect();
        Ok(Page { items, next_cursor, total: None })
    }

    /// The saved report `id` of `app`.
    /// Dashboard `id`: every tile's report run with the dashboard filters the viewer set
    /// (`values`: filter id → a period name such as `this_month`, a list of values, or any
    /// condition of the report filter language), each applied to the tiles whose form has its field. A tile
    /// the viewer may not read carries its error instead of a result; the rest still show.
    pub async fn dashboard(&self, actor: &Actor, app: &AppId, id: &str, values: &Map<String, Value>) -> Result<Value, EngineError> {
        let loaded = &self.app(app.as_str())?;
        // A dashboard not shown to the viewer does not exist for them.
        let dashboard = (loaded.defs.dashboards.get(id))
            .filter(|d| d.shown_to(&actor.roles_in(app.as_str())))
            .ok_or_else(|| EngineError::NotFound(format!("dashboard `{id}` in app `{app}`")))?;
        for name in values.keys() {
            if !dashboard.filters.iter().any(|f| &f.id == name) {
                return Err(EngineError::malformed_at(format!("/filter/{name}"), format!("dashboard `{id}` has no filter `{name}`")));
            }
        }
        let mut tiles = Vec::new();
        for tile in &dashboard.tiles {
            let report = self.saved_report(app.as_str(), &tile.report)?;
            let form = loaded.form(&report.source)?;
            let mut filter = Map::new();
            let applies = |field: &str| form.compiled.def.field(field).is_some() || crate::filter::system_column(field).is_some();
            for f in dashboard.filters.iter().filter(|f| applies(&f.field)) {
                if let Some(condition) = values.get(&f.id) {
                    let condition = match (f.input, condition) {
                        (defs::FilterInput::Period, Value::String(period)) => json!({"period": period}),
                        (defs::FilterInput::Values, Value::Array(list)) => json!({"in": list}),
                        (_, other) => other.clone(),
                    };
                    filter.insert(f.field.clone(), condition);
                }
            }
            let outcome = self.report(actor, app, &tile.report, &ReportParams { filter, ..Default::default() }).await;
            let mut entry = serde_json::to_value(tile).map_err(|e| EngineError::Internal(e.to_string()))?;
            match outcome {
                Ok(result) => entry["result"] = serde_json::to_value(result).map_err(|e| EngineError::Internal(e.to_string()))?,
                Err(
                    e @ (EngineError::Forbidden(_)
                    | EngineError::ForbiddenFields(_)
                    | EngineError::Invalid(_)
                    | EngineError::Malformed { .. }),
                ) => {
                    entry["error"] = json!({"error": e.code(), "message": e.to_string()});
                }
                Err(other) => return Err(other),
            }
            tiles.push(entry);
        }
        Ok(json!({"id": id, "label": dashboard.label, "description": dashboard.description, "filters": dashboard.filters, "tiles": tiles}))
    }

    fn saved_report(&self, app: &str, id: &str) -> Result<Report, EngineError> {
        self.app(app)?.defs.reports.get(id).cloned().ok_or_else(|| EngineError::NotFound(format!("report `{id}` in app `{app}`")))
    }

    async fn run_report(&self, actor: &Actor, app: &str, report: &Report, params: &ReportParams) -> Result<ReportResult, EngineError> {
        let mut report = report.clone();
        report.filter.extend(params.filter.clone());
        let loaded = &self.app(app)?;
        let as_of = params.as_of.as_deref().map(parse_as_of).transpose()?;
        let (compiled, _) = self
            .prepare_report(actor, loaded, &report, as_of, |ctx| {
                ::reports::compile(&report, ctx).map(|c| {
                    let reads = c.reads.clone();
                    (c, reads)
                })
            })
            .await?;
        let Compiled { statement, columns, limit, totals, .. } = compiled;
        let started = std::time::Instant::now();
        let read = self.read_report(actor, &report, &statement, &columns, limit, &totals, params.explain).await?;
        // A report as of a past time reads the history, which no index of the live table serves.
        if params.as_of.is_none() && !params.explain {
            self.observe_query(loaded, started.elapsed(), || crate::advisor::Shape::of_report(loaded.forms.get(&report.source)?, &report));
        }
        let labels = labels(&report);
        let columns_json = columns
            .iter()
            .map(|c| {
                let role = if c.role == Role::Dimension { "dimension" } else { "measure" };
                let label = labels.get(&c.id).map_or_else(|| json!(c.id), |l| json!(l));
                let mut column = json!({"id": c.id, "role": role, "label": label});
                if let Some(format) = report.measures.iter().find(|m| m.id == c.id).and_then(|m| m.format) {
                    column["format"] = json!(format);
                }
                let dimension = report.dimensions.iter().find(|d| d.id == c.id && d.bucket.is_none());
                if let Some(options) = dimension.and_then(|d| select_options(loaded, &report.source, &d.field)) {
                    column["values"] = Value::Object(options.iter().map(|o| (o.value.clone(), json!(o.label))).collect());
                }
                column
            })
            .collect();
        // Laying out up to MAX_ROWS rows (and a cross table of them) is CPU work: off the
        // request threads, so one heavy report does not stall every request on its worker.
        on_blocking_pool(move || shape(&report, &columns, columns_json, read)).await
    }

    /// Runs the compiled statements: the rows (cut at `limit`) and each totals statement's
    /// rows, with the SQL when `explain`. On PostgreSQL every statement runs in one read-only
    /// transaction that cancels any statement past [`REPORT_STATEMENT_TIMEOUT`], on the read
    /// replica when `actor`'s reads may go there (see `replica.rs`).
    #[allow(clippy::too_many_arguments)]
    async fn read_report(
        &self,
        actor: &Actor,
        report: &Report,
        statement: &::reports::SelectStatement,
        columns: &[OutColumn],
        limit: u32,
        totals: &[(TotalKind, ::reports::SelectStatement, Vec<OutColumn>)],
        explain: bool,
    ) -> Result<ReportRead, EngineError> {
        let read = ReportStatements { backend: self.backend(), report, statement, columns, limit, totals, explain };
        match self.backend() {
            Backend::Sqlite => read.run(self.store.db()).await,
            Backend::Postgres => {
                if let Some(replica) = self.replica_for(actor).await {
                    match read.run_on_postgres(&replica).await {
                        Err(EngineError::Store(e)) if e.is_unavailable() => {
                            tracing::warn!(error = %e, "the read replica cannot be reached; reading the primary");
                        }
                        done => return done,
                    }
                }
                read.run_on_postgres(self.store.db()).await
            }
        }
    }

    /// The one gate of every report, query, export and drill-down: compiles with `build`, which
    /// returns what it made and every field it reads, then checks the actor may read each of
    /// those forms and fields and restricts each form to the rows the actor may read. Returns
    /// the compilation and the actor's access to the source form (for redaction).
    async fn prepare_report<T>(
        &self,
        actor: &Actor,
        loaded: &LoadedApp,
        report: &Report,
        as_of: Option<String>,
        build: impl Fn(&Context<'_>) -> Result<(T, Vec<FieldRef>), Vec<::reports::Problem>>,
    ) -> Result<(T, Access), EngineError> {
        let catalog = AppCatalog(loaded);
        let dialect = match self.backend() {
            Backend::Sqlite => Dialect::Sqlite,
            Backend::Postgres => Dialect::Postgres,
        };
        // A job's or a scenario's time, when one runs: "overdue" is as of its clock.
        let now = crate::time::current();
        let mut ctx = Context::new(dialect, &catalog, now.date_naive(), crate::time::format(now));
        ctx.as_of = as_of.map(|at| ::reports::AsOf { app: loaded.id().to_owned(), at });
        // A first compilation finds the forms and fields read; the second adds row scopes.
        let (_, reads) = build(&ctx).map_err(invalid)?;
        let mut forms: Vec<&str> = reads.iter().map(|r| r.form.as_str()).chain([report.source.as_str()]).collect();
        forms.sort();
        forms.dedup();
        for form in forms {
            let rt = loaded.form(form)?;
            let access = Access::of(actor, rt);
            access.require(Action::Read, form)?;
            for r in reads.iter().filter(|r| r.form == form) {
                access.check_visible(&r.field, &format!("/{}", r.field))?;
            }
            if let Some(filter) = self.scope(self.store.db(), actor, loaded, rt, &access, Action::Read).await? {
                ctx.scopes.insert(form.to_owned(), store::scope_select(self.backend(), &rt.table, &filter));
            }
        }
        let (out, _) = build(&ctx).map_err(invalid)?;
        let access = Access::of(actor, loaded.form(&report.source)?);
        Ok((out, access))
    }
}

/// Longest a report's statement may run on PostgreSQL before it is cancelled. Every CRM
/// report takes milliseconds at 200,000 records; a statement still running after 10 s is
/// one nobody can use at that size, holding a connection and a core meanwhile. (SQLite has
/// no such switch through sqlx; there the work is bounded by what a report may ask: the
/// result's rows and cells, and its dimensions and measures, see `reports`.)
const REPORT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The compiled statements of one report, and how to read their results.
struct ReportStatements<'a> {
    backend: Backend,
    report: &'a Report,
    statement: &'a ::reports::SelectStatement,
    columns: &'a [OutColumn],
    limit: u32,
    totals: &'a [(TotalKind, ::reports::SelectStatement, Vec<OutColumn>)],
    explain: bool,
}

/// What a report's statements returned.
struct ReportRead {
    rows: Vec<Vec<Value>>,
    truncated: bool,
    totals: Vec<::reports::Totals>,
    sql: Option<Vec<Value>>,
}

impl ReportStatements<'_> {
    /// [`ReportStatements::run`] in a transaction of `db` that cancels any statement past
    /// [`REPORT_STATEMENT_TIMEOUT`].
    async fn run_on_postgres(&self, db: &store::DatabaseConnection) -> Result<ReportRead, EngineError> {
        let tx = db.begin().await.map_err(StoreError::from)?;
        let timeout = format!("SET LOCAL statement_timeout = {}", REPORT_STATEMENT_TIMEOUT.as_millis());
        tx.execute_unprepared(&timeout).await.map_err(StoreError::from)?;
        let result = self.run(&tx).await;
        // Nothing was written: ending the transaction either way is the same.
        tx.rollback().await.map_err(StoreError::from)?;
        result.map_err(|e| match e {
            // The code is also an administrator's cancel (pg_cancel_backend), rare enough to answer alike.
            EngineError::Store(e) if e.is_query_cancelled() => statement_timed_out(),
            other => other,
        })
    }

    async fn run(&self, db: &impl store::Conn) -> Result<ReportRead, EngineError> {
        let mut rows = store::report_rows(db, self.statement, &out_kinds(self.columns)).await?;
        let truncated = rows.len() > self.limit as usize;
        rows.truncate(self.limit as usize);
        let mut sql = self.explain.then(|| vec![explain(self.backend, self.statement)]);
        let mut totals = Vec::new();
        for (kind, q, cols) in self.totals {
            let folded = (*kind == TotalKind::Grand && !truncated)
                .then(|| ::reports::grand_totals_from_rows(self.report, self.columns, &rows))
                .flatten();
            let result = match folded {
                Some(row) => vec![row],
                None => {
                    if let Some(sql) = &mut sql {
                        sql.push(explain(self.backend, q));
                    }
                    store::report_rows(db, q, &out_kinds(cols)).await?
                }
            };
            totals.push((*kind, cols.clone(), result));
        }
        Ok(ReportRead { rows, truncated, totals, sql })
    }
}

/// The result of `report` from what its statements returned: rows as objects, the grand
/// totals, and the cross table when it has a pivot (refused at `/pivot` when too large).
fn shape(report: &Report, columns: &[OutColumn], columns_json: Vec<Value>, read: ReportRead) -> Result<ReportResult, EngineError> {
    let ReportRead { rows, truncated, totals, sql } = read;
    let pivot = report
        .pivot
        .as_ref()
        .map(|p| ::reports::pivot(columns, &rows, &p.rows, &p.columns, &totals))
        .transpose()
        .map_err(|problem| invalid(vec![problem]))?;
    let grand_totals =
        totals.iter().find(|(kind, _, _)| *kind == TotalKind::Grand).and_then(|(_, cols, rows)| rows.first().map(|r| object(cols, r)));
    Ok(ReportResult {
        label: report.label.clone(),
        columns: columns_json,
        rows: rows.iter().map(|r| object(columns, r)).collect(),
        truncated,
        totals: grand_totals,
        pivot,
        chart: report.chart.clone(),
        sql,
    })
}

/// Runs CPU-bound `work` on tokio's blocking pool, so it does not stall the other requests on
/// the calling (request) thread.
pub(crate) async fn on_blocking_pool<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, EngineError> + Send + 'static,
) -> Result<T, EngineError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| EngineError::Internal(format!("work on the blocking pool stopped: {e}")))?
}

fn statement_timed_out() -> EngineError {
    let message = format!(
        "the report ran longer than {} s, the most a report may; filter it to fewer records or group it more coarsely",
        REPORT_STATEMENT_TIMEOUT.as_secs()
    );
    EngineError::Invalid(vec![FieldError::coded("", FieldCode::ReportTimeout, message).with("limit", REPORT_STATEMENT_TIMEOUT.as_secs())])
}

/// Compiles every saved report of `app`, so a broken one stops the app from loading with a
/// located diagnostic instead of failing when someone opens it.
pub(crate) fn check_saved_reports(app: &LoadedApp) -> Result<(), EngineError> {
    let catalog = AppCatalog(app);
    let mut diags = Vec::new();
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let ctx = Context::new(dialect, &catalog, chrono::Utc::now().date_naive(), String::new());
        for (id, report) in &app.defs.reports {
            if let Err(problems) = ::reports::compile(report, &ctx) {
                let file = app.defs.dir.join("reports").join(format!("{id}.json"));
                diags.extend(problems.into_iter().map(|p| Diagnostic::new(&file, p.pointer, p.message)));
            }
        }
        diags.extend(tile_chart_problems(app, &ctx));
    }
    diags.sort();
    diags.dedup();
    if diags.is_empty() { Ok(()) } else { Err(EngineError::Definitions(diags)) }
}

/// A dashboard tile's own chart kind must draw its report's result too; its problems are
/// located at the tile's `chart`.
fn tile_chart_problems(app: &LoadedApp, ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for (id, dashboard) in &app.defs.dashboards {
        let file = app.defs.dir.join("dashboards").join(format!("{id}.json"));
        for (i, tile) in dashboard.tiles.iter().enumerate() {
            let (Some(kind), Some(report)) = (tile.chart, app.defs.reports.get(&tile.report)) else { continue };
            for problem in ::reports::chart_problems(report, kind, ctx) {
                let message = format!("report `{}`: {}", tile.report, problem.message);
                diags.push(Diagnostic::new(&file, format!("/tiles/{i}/chart"), message));
            }
        }
    }
    diags
}

fn parse_report(body: &Value) -> Result<Report, EngineError> {
    defs::parse_definition::<Report>(body, DefKind::Report)
        .map_err(|errors| EngineError::Invalid(errors.into_iter().map(|(p, m)| FieldError::definition(p, m)).collect()))
}

fn invalid(problems: Vec<::reports::Problem>) -> EngineError {
    EngineError::Invalid(problems.into_iter().map(|p| FieldError::definition(p.pointer, p.message)).collect())
}

fn parse_as_of(text: &str) -> Result<String, EngineError> {
    let at = chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|_| EngineError::malformed_at("/as_of", "as_of is an ISO 8601 time such as 2026-11-01T00:00:00Z"))?;
    Ok(crate::time::format(at.with_timezone(&chrono::Utc)))
}

fn out_kinds(columns: &[OutColumn]) -> Vec<OutKind> {
    columns
        .iter()
        .map(|c| match (c.kind, c.integer) {
            (_, true) => OutKind::Int,
            (ValueKind::Number, false) => OutKind::Float,
            (ValueKind::Text, false) => OutKind::Text,
            (ValueKind::Bool, false) => OutKind::Bool,
        })
        .collect()
}

fn object(columns: &[OutColumn], row: &[Value]) -> Map<String, Value> {
    columns.iter().zip(row).map(|(c, v)| (c.id.clone(), v.clone())).collect()
}

fn explain(backend: Backend, q: &::reports::SelectStatement) -> Value {
    let (sql, values) = store::report_sql(backend, q);
    json!({"sql": sql, "values": values})
}

/// Labels of the report's columns that have one.
fn labels(report: &Report) -> BTreeMap<String, defs::Label> {
    let dims = report.dimensions.iter().map(|d| (d.id.clone(), d.label.clone()));
    let measures = report.measures.iter().map(|m| (m.id.clone(), m.label.clone()));
    dims.chain(measures).filter_map(|(id, l)| l.map(|l| (id, l))).collect()
}

/// The options of the select field `path` (through links) reaches from form `source`.
fn select_options<'a>(loaded: &'a LoadedApp, source: &str, path: &str) -> Option<&'a [defs::Choice]> {
    let mut form = &loaded.form(source).ok()?.compiled.def;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = form.field(part)?;
        if parts.peek().is_none() {
            return forms::field_type(&field.kind).holds_options().then_some(field.options.as_slice());
        }
        form = &loaded.form(field.form.as_deref()?).ok()?.compiled.def;
    }
    None
}

#[cfg(test)]
mod tests {
    use store::ColumnKind;

    use super::*;

    /// Reports must read fields with the very text the store indexes, or the indexes go unused:
    /// the typed column of an indexed field, the JSON expression of any other.
    #[test]
    fn report_field_sql_matches_the_store_index_expressions() {
        let plain = store::FormTable::new("crm", "deal");
        let typed = store::FormTable::new("crm", "deal").with_typed([("amount", store::ColumnKind::Number)]);
        for (backend, dialect) in [(Backend::Sqlite, Dialect::Sqlite), (Backend::Postgres, Dialect::Postgres)] {
            for (kind, vk) in
                [(ColumnKind::Text, ValueKind::Text), (ColumnKind::Number, ValueKind::Number), (ColumnKind::Bool, ValueKind::Bool)]
            {
                for (table, is_typed) in [(&plain, false), (&typed, true)] {
                    let store_sql = store::indexed_field_sql(backend, table, "amount", kind);
                    assert_eq!(store_sql, ::reports::field_sql(dialect, None, "amount", vk, is_typed));
                }
            }
        }
    }
}
