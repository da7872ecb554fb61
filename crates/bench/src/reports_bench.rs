//! W4 of issue 8: group opportunities by stage with count and sum(amount) through the report
//! engine (JSON records, the CRM's `(stage, amount)` index, permissions applied), against the
//! same aggregate hand-written on a plain typed table holding the same rows, in the same
//! database, in the same run. W5 of issue 18: the same on fields no index names — a group-by sum
//! and a filtered, sorted list page — against the typed table without an index; then again
//! after applying the index advisor's proposals (the advisor counts every run here, its
//! threshold set to 0), against the typed table with the same indexes.
//! SQLite always; PostgreSQL when `TESSERA_BENCH_PG` names a server (`postgres://user@host:port`,
//! a database `tessera_bench` is created there).

use std::path::PathBuf;
use std::time::Instant;

use engine::{Engine, ReportParams};
use sea_orm::{ConnectionTrait, Database, DatabaseBackend, Statement};
use serde_json::json;

const STAGES: [&str; 6] = ["initial_contact", "needs_analysis", "proposal", "negotiation", "won", "lost"];
const TYPES: [&str; 3] = ["new_business", "upsell", "renewal"];
const SOURCES: [&str; 5] = ["web", "trade_show", "referral", "campaign", "partner"];
const RUNS: usize = 5;
/// Untimed runs of each W5 workload first: every connection that will serve it has read its
/// pages once (on SQLite the store reads on several connections in turn, each with its cache).
const WARM_UP_RUNS: usize = 4;

pub(crate) fn run(rows: usize) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = std::env::temp_dir().join(format!("tessera-w4-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut targets = vec![("SQLite", format!("sqlite://{}/w4.db", dir.display()))];
    if let Ok(base) = std::env::var("TESSERA_BENCH_PG") {
        runtime.block_on(async {
            let admin = Database::connect(format!("{base}/postgres")).await.expect("PostgreSQL");
            admin.execute_unprepared("DROP DATABASE IF EXISTS tessera_bench").await.ok();
            admin.execute_unprepared("CREATE DATABASE tessera_bench").await.expect("create database");
        });
        targets.push(("PostgreSQL", format!("{base}/tessera_bench")));
    }
    println!("W4: group {rows} opportunities by stage, count and sum(amount); median of {RUNS} runs");
    for (name, url) in targets {
        let (report, typed, unindexed) = runtime.block_on(measure(&url, rows));
        println!("  {name:<11} report API {report:>9.1} ms   hand-written typed table {typed:>9.1} ms   ratio {:.2}", report / typed);
        for w in unindexed {
            println!(
                "  {name:<11} W5 {:<50} API {:>8.1} ms   typed table {:>8.1} ms   ratio {:.2}",
                format!("{}{}", w.name, w.suffix),
                w.api,
                w.typed,
                w.api / w.typed
            );
        }
    }
    if std::env::var_os("TESSERA_BENCH_KEEP").is_none() {
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// One W5 workload's medians: through the engine, and hand-written on the typed table.
struct Unindexed {
    name: &'static str,
    /// What differs from the first run: the advisor's indexes applied.
    suffix: &'static str,
    api: f64,
    typed: f64,
}

async fn measure(url: &str, rows: usize) -> (f64, f64, Vec<Unindexed>) {
    let apps = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../apps/crm");
    // Every run counts as slow, so the advisor has seen W5's shapes when asked for advice.
    let settings =
        engine::Settings { index_advisor: engine::AdvisorSettings { slow_query: std::time::Duration::ZERO }, ..Default::default() };
    let engine = Engine::open_with(url, &[apps], &settings).await.expect("engine");
    engine.ensure_admin(Some("bench-password")).await.expect("admin");
    let admin = engine.login("admin", "bench-password").await.expect("login").user;
    let db = Database::connect(url).await.expect("direct connection");
    let backend = db.get_database_backend();
    let started = Instant::now();
    load(&db, rows).await;
    eprintln!("loaded {rows} rows in {:.1} s", started.elapsed().as_secs_f64());

    let body = json!({"source": "opportunity", "dimensions": [{"id": "stage", "field": "stage"}],
                      "measures": [{"id": "n", "agg": "count"}, {"id": "amount", "agg": "sum", "field": "amount"}]});
    let typed = "SELECT stage, COUNT(*), SUM(amount) FROM bench_typed GROUP BY stage ORDER BY stage";
    let explained =
        engine.query(&admin, &crate::id("crm"), &body, &ReportParams { explain: true, ..Default::default() }).await.expect("explain");
    if std::env::var_os("TESSERA_BENCH_SQL").is_some() {
        eprintln!("{}", serde_json::to_string_pretty(&explained.sql).unwrap_or_default());
    }
    // The report's own SQL run directly: the difference to the API is the engine's share.
    let own = explained.sql.as_ref().and_then(|s| s.first()).cloned().unwrap_or_default();
    let own_values: Vec<sea_orm::Value> = own["values"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .map(|v| v.as_i64().map(sea_orm::Value::from).unwrap_or_else(|| sea_orm::Value::from(v.as_str().unwrap_or("").to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let own_sql = own["sql"].as_str().unwrap_or_default().to_owned();
    let mut report_ms = Vec::new();
    let mut sql_ms = Vec::new();
    let mut typed_ms = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let result = engine.query(&admin, &crate::id("crm"), &body, &ReportParams::default()).await.expect("report");
        report_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(result);
        let t = Instant::now();
        db.query_all_raw(Statement::from_sql_and_values(backend, own_sql.clone(), own_values.clone())).await.expect("report SQL");
        sql_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let rows = db.query_all_raw(Statement::from_string(backend, typed)).await.expect("typed query");
        typed_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(rows.len(), STAGES.len());
    }
    let mut unindexed = unindexed_runs(&engine, &admin, &db, "").await;
    apply_advice(&engine, &admin, &db).await;
    unindexed.extend(unindexed_runs(&engine, &admin, &db, ", advisor's index").await);
    engine.close().await.ok();
    db.close().await.ok();
    eprintln!("  (the report's SQL alone: {:.1} ms)", median(sql_ms));
    (median(report_ms), median(typed_ms), unindexed)
}

/// Applies every index the advisor proposes for opportunities, and the same index (its fields
/// in its order, then the id) on the typed table.
async fn apply_advice(engine: &Engine, admin: &engine::Actor, db: &sea_orm::DatabaseConnection) {
    let advice = engine.index_advice(admin, &crate::id("crm")).await.expect("advice");
    for proposal in advice.proposals.iter().filter(|p| p.form == "opportunity") {
        engine.apply_index_advice(admin, &crate::id("crm"), &proposal.id).await.expect("apply");
        let name = format!("bench_typed_{}", proposal.fields.join("_"));
        // The advisor's index ends with the record's id, which breaks ties in a list's order.
        let sql = format!("CREATE INDEX \"{name}\" ON bench_typed ({}, id)", proposal.fields.join(", "));
        db.execute_unprepared(&sql).await.expect("typed table index");
        eprintln!("  advisor's index on ({}), the same on the typed table", proposal.fields.join(", "));
    }
    let maintenance = if db.get_database_backend() == DatabaseBackend::Postgres { "VACUUM ANALYZE" } else { "ANALYZE" };
    db.execute_unprepared(maintenance).await.expect("analyze");
}

/// W5: fields no declared index names — `source`, `type`, `probability` —, the names marked
/// with `suffix`.
async fn unindexed_runs(engine: &Engine, admin: &engine::Actor, db: &sea_orm::DatabaseConnection, suffix: &'static str) -> Vec<Unindexed> {
    let backend = db.get_database_backend();
    let group = json!({"source": "opportunity", "dimensions": [{"id": "source", "field": "source"}],
                       "measures": [{"id": "n", "agg": "count"}, {"id": "p", "agg": "sum", "field": "probability"}]});
    let params = engine::ListParams {
        filter: Some(json!({"type": "upsell"}).to_string()),
        sort: Some("-probability".into()),
        limit: Some(50),
        ..Default::default()
    };
    let mut out = Vec::new();
    for name in ["group by source, sum(probability)", "list type=upsell, -probability, 50"] {
        let (mut api, mut typed) = (Vec::new(), Vec::new());
        for run in 0..WARM_UP_RUNS + RUNS {
            let t = Instant::now();
            if name.starts_with("group") {
                std::hint::black_box(engine.query(admin, &crate::id("crm"), &group, &ReportParams::default()).await.expect("report"));
            } else {
                let page = engine.list(admin, &crate::id("crm"), &crate::id("opportunity"), &params).await.expect("list");
                assert_eq!(page.items.len(), 50);
            }
            let api_ms = t.elapsed().as_secs_f64() * 1000.0;
            let typed_sql = if name.starts_with("group") {
                "SELECT source, COUNT(*), SUM(probability) FROM bench_typed GROUP BY source"
            } else {
                "SELECT * FROM bench_typed WHERE type = 'upsell' ORDER BY probability DESC, id DESC LIMIT 50"
            };
            let t = Instant::now();
            db.query_all_raw(Statement::from_string(backend, typed_sql)).await.expect("typed query");
            if run >= WARM_UP_RUNS {
                api.push(api_ms);
                typed.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        out.push(Unindexed { name, suffix, api: median(api), typed: median(typed) });
    }
    out
}

/// The same rows into the CRM's opportunity table (as the engine stores them) and into a plain
/// typed table, in batches of bound multi-row inserts.
pub(crate) async fn load(db: &sea_orm::DatabaseConnection, rows: usize) {
    let backend = db.get_database_backend();
    let real = if backend == DatabaseBackend::Postgres { "double precision" } else { "real" };
    db.execute_unprepared(&format!(
        "CREATE TABLE bench_typed (id text PRIMARY KEY, stage text NOT NULL, amount {real} NOT NULL, \
         type text NOT NULL, source text NOT NULL, probability {real} NOT NULL)"
    ))
    .await
    .expect("typed table");
    db.execute_unprepared("CREATE INDEX bench_typed_stage_amount ON bench_typed (stage, amount)").await.expect("typed index");
    const BATCH: usize = 1000;
    let now = "2026-11-23T00:00:00.000000Z";
    for start in (0..rows).step_by(BATCH) {
        let end = (start + BATCH).min(rows);
        let mut records = Vec::new();
        let mut typed = Vec::new();
        let mut values = Vec::new();
        let mut typed_values = Vec::new();
        for i in start..end {
            let id = format!("00000000-0000-7000-8000-{i:012}");
            let stage = STAGES[(i * 31) % STAGES.len()];
            let amount = ((i * 7919) % 1_000_000 + 1000) as f64;
            let (kind, source, probability) = (TYPES[(i * 7) % TYPES.len()], SOURCES[(i * 13) % SOURCES.len()], ((i * 37) % 101) as f64);
            let p = |n: usize| if backend == DatabaseBackend::Postgres { format!("${n}") } else { "?".to_owned() };
            // The record as the store lays it out: every value in its typed column, the document
            // empty. Only the values vary; the rest are constants of this benchmark.
            let base = values.len();
            let fields: Vec<String> = (1..=8).map(|k| p(base + k)).collect();
            records.push(format!("({}, 1, 'admin', NULL, '{{}}', 'admin', '{now}', 'admin', '{now}', NULL)", fields.join(", ")));
            values.extend([
                sea_orm::Value::from(id.clone()),
                sea_orm::Value::from(format!("Deal {i}")),
                sea_orm::Value::from(stage.to_owned()),
                sea_orm::Value::from(amount),
                sea_orm::Value::from(kind.to_owned()),
                sea_orm::Value::from(source.to_owned()),
                sea_orm::Value::from(probability),
                sea_orm::Value::from("00000000-0000-7000-8000-000000000000".to_owned()),
            ]);
            let tb = typed_values.len();
            typed.push(format!("({})", (1..=6).map(|k| p(tb + k)).collect::<Vec<_>>().join(", ")));
            typed_values.push(sea_orm::Value::from(id));
            typed_values.push(sea_orm::Value::from(stage.to_owned()));
            typed_values.push(sea_orm::Value::from(amount));
            typed_values.push(sea_orm::Value::from(kind.to_owned()));
            typed_values.push(sea_orm::Value::from(source.to_owned()));
            typed_values.push(sea_orm::Value::from(probability));
        }
        let sql = format!(
            "INSERT INTO r_crm__opportunity (id, f_name, f_stage, f_amount, f_type, f_source, f_probability, f_account, \
             version, owner, state, data, created_by, created_at, updated_by, updated_at, deleted_at) VALUES {}",
            records.join(", ")
        );
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await.expect("insert records");
        let sql = format!("INSERT INTO bench_typed (id, stage, amount, type, source, probability) VALUES {}", typed.join(", "));
        db.execute_raw(Statement::from_sql_and_values(backend, sql, typed_values)).await.expect("insert typed");
    }
    // Statistics for the planner, and on PostgreSQL the visibility map index-only scans need —
    // what autovacuum gives a live database after a bulk load; both tables get the same.
    let maintenance = if backend == DatabaseBackend::Postgres { "VACUUM ANALYZE" } else { "ANALYZE" };
    db.execute_unprepared(maintenance).await.expect("analyze");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
