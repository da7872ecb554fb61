//! The workloads at scale (issue 18): `n` opportunities loaded directly into the CRM's table
//! (as the store lays records out), then, through the engine with permissions applied, each
//! workload once: the first page of the list, a filtered and sorted page on fields no index
//! names, the same filter counted, the pipeline report (group by stage) and a group-by on an
//! unindexed field, a CSV and an XLSX export of the filtered records (and, for comparison, the
//! XLSX built the way it was before: every row held, then written), an XLSX export of every
//! record, and an import of 100,000 leads into
//! the same database. Each with its time and the process's peak memory during it (`VmHWM`,
//! reset before each workload). SQLite always; PostgreSQL instead when `TESSERA_BENCH_PG` is set.

use std::path::PathBuf;
use std::time::Instant;

use engine::{Engine, ImportOptions, ListParams, ReportParams};
use sea_orm::{ConnectionTrait, Database};
use serde_json::json;

const IMPORTED_LEADS: usize = 100_000;

pub(crate) fn run(rows: usize) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = std::env::temp_dir().join(format!("tessera-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (name, url) = match std::env::var("TESSERA_BENCH_PG") {
        Ok(base) => {
            runtime.block_on(async {
                let admin = Database::connect(format!("{base}/postgres")).await.expect("PostgreSQL");
                admin.execute_unprepared("DROP DATABASE IF EXISTS tessera_scale").await.ok();
                admin.execute_unprepared("CREATE DATABASE tessera_scale").await.expect("create database");
            });
            ("PostgreSQL", format!("{base}/tessera_scale"))
        }
        Err(_) => ("SQLite", format!("sqlite://{}/scale.db", dir.display())),
    };
    println!("scale: {rows} opportunities, {name}; each workload once through the engine, peak RSS during it");
    runtime.block_on(workloads(&url, rows));
    if std::env::var_os("TESSERA_BENCH_KEEP").is_none() {
        std::fs::remove_dir_all(&dir).ok();
    }
}

async fn workloads(url: &str, rows: usize) {
    let apps = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../apps/crm");
    let engine = Engine::open(url, &[apps]).await.expect("engine");
    engine.ensure_admin(Some("bench-password")).await.expect("admin");
    engine.seed_users("crm", "demo").await.expect("users");
    let admin = engine.login("admin", "bench-password").await.expect("login").user;
    let marketing = engine.login("marketing1", "demo").await.expect("login").user;
    let (app, opportunity) = (crate::id("crm"), crate::id("opportunity"));
    let db = Database::connect(url).await.expect("direct connection");

    measure("load (bulk INSERT, then ANALYZE)", || crate::reports_bench::load(&db, rows), |()| format!("{rows} rows")).await;
    let first_page = ListParams { limit: Some(50), ..Default::default() };
    measure("list, first page (newest first)", || engine.list(&admin, &app, &opportunity, &first_page), |p| items(&p)).await;
    let filtered = ListParams {
        filter: Some(json!({"type": "upsell"}).to_string()),
        sort: Some("-probability".into()),
        limit: Some(50),
        ..Default::default()
    };
    measure("list, type=upsell, -probability", || engine.list(&admin, &app, &opportunity, &filtered), |p| items(&p)).await;
    let counted = ListParams { count: Some(true), ..filtered.clone() };
    measure(
        "count, type=upsell (capped)",
        || engine.list(&admin, &app, &opportunity, &counted),
        |p| p.as_ref().ok().and_then(|p| p.total).map_or("failed".into(), |t| format!("{}{}", t.records, if t.capped { "+" } else { "" })),
    )
    .await;
    let report_params = ReportParams::default();
    for (label, field, measure_field) in
        [("report, group by stage", "stage", "amount"), ("report, group by source", "source", "probability")]
    {
        let body = json!({"source": "opportunity", "dimensions": [{"id": "d", "field": field}],
                          "measures": [{"id": "n", "agg": "count"}, {"id": "s", "agg": "sum", "field": measure_field}]});
        measure(
            label,
            || engine.query(&admin, &app, &body, &report_params),
            |r| match r {
                Ok(r) => format!("{} groups", r.rows.len()),
                Err(e) => format!("failed: {e}"),
            },
        )
        .await;
    }
    let export = engine.export_start(&admin, &app, &opportunity, ListParams { sort: None, ..filtered.clone() }, "en").expect("export");
    measure(
        "export CSV, type=upsell",
        || async {
            let (mut bytes, mut exported, mut cursor) = (0, 0, None);
            loop {
                let (page, next) = engine.export_page(&admin, &export, cursor).await.expect("export page");
                bytes += engine::csv_chunk(None, &page).len();
                exported += page.len();
                match next {
                    Some(next) => cursor = Some(next),
                    None => return (exported, bytes),
                }
            }
        },
        |(exported, bytes)| format!("{exported} rows, {:.1} MB", bytes as f64 / 1e6),
    )
    .await;
    measure(
        "export XLSX, type=upsell",
        || engine.export_xlsx(&admin, &export),
        |r| r.map_or_else(|e| format!("failed: {e}"), |b| format!("{:.1} MB workbook", b.len() as f64 / 1e6)),
    )
    .await;
    let every = engine.export_start(&admin, &app, &opportunity, ListParams::default(), "en").expect("export");
    measure(
        "export XLSX, every opportunity",
        || engine.export_xlsx(&admin, &every),
        |r| r.map_or_else(|e| format!("failed: {e}"), |b| format!("{:.1} MB workbook", b.len() as f64 / 1e6)),
    )
    .await;
    let (text, _) = crate::import_bench::csv_text(IMPORTED_LEADS);
    let (options, lead) = (ImportOptions::default(), crate::id("lead"));
    measure(
        "import 100,000 leads",
        || engine.import(&marketing, &app, &lead, crate::import_bench::parse(&text), &options),
        |r| r.as_ref().map_or_else(|e| format!("failed: {e}"), |r| format!("{} created", r.created)),
    )
    .await;
    // The way before: every row in memory, then the workbook built from them. Last: the
    // allocator keeps what it freed, so what ran after would start from its peak.
    measure(
        "export XLSX, type=upsell, rows held",
        || async {
            let (mut rows, mut cursor) = (Vec::new(), None);
            loop {
                let (page, next) = engine.export_page(&admin, &export, cursor).await.expect("export page");
                rows.extend(page);
                match next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            workbook_holding_rows(&export.headers, &rows)
        },
        |r| r.map_or_else(|e| format!("failed: {e}"), |b| format!("{:.1} MB workbook", b.len() as f64 / 1e6)),
    )
    .await;
    engine.close().await.ok();
    db.close().await.ok();
}

/// A workbook of `rows` as exports were built before they were written a page at a time: every
/// row in memory, then a standard worksheet (which keeps every cell until it is saved).
fn workbook_holding_rows(headers: &[String], rows: &[Vec<serde_json::Value>]) -> Result<Vec<u8>, String> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string(0, c as u16, h).map_err(|e| e.to_string())?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let (r, c) = (r as u32 + 1, c as u16);
            let written = match v {
                serde_json::Value::Null => continue,
                serde_json::Value::Number(n) => sheet.write_number(r, c, n.as_f64().unwrap_or_default()).map(|_| ()),
                serde_json::Value::String(text) => sheet.write_string(r, c, text).map(|_| ()),
                other => sheet.write_string(r, c, other.to_string()).map(|_| ()),
            };
            written.map_err(|e| e.to_string())?;
        }
    }
    book.save_to_buffer().map_err(|e| e.to_string())
}

/// Runs `work` once and prints its time, its outcome and the peak RSS while it ran.
async fn measure<T, F: std::future::Future<Output = T>>(label: &str, work: impl FnOnce() -> F, outcome: impl FnOnce(T) -> String) {
    reset_peak_rss();
    let started = Instant::now();
    let result = work().await;
    let secs = started.elapsed().as_secs_f64();
    let time = if secs < 1.0 { format!("{:.1} ms", secs * 1000.0) } else { format!("{secs:.2} s") };
    println!("  {label:<36} {time:>10}   peak RSS {:>6.0} MB   {}", peak_rss_mb(), outcome(result));
}

fn items(page: &Result<engine::Page, engine::EngineError>) -> String {
    page.as_ref().map_or_else(|e| format!("failed: {e}"), |p| format!("{} records", p.items.len()))
}

/// Starts the peak resident set size over from the current one (Linux: `clear_refs` 5).
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").ok();
}

/// The peak resident set size since the last reset, from `/proc/self/status` (`VmHWM`).
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    kb.unwrap_or(0.0) / 1024.0
}
