//! Import rows per second (issue 6 and 8): 100,000 leads as CSV with 1 % bad rows, through the
//! engine's import (column matching, conversion, validation, lead scoring and assignment rules,
//! dedupe, history, audit), against the raw limit measured in the same run: the same rows bulk
//! inserted as JSON into a plain table of the same database. Also checks what the acceptance
//! asks: good rows in, bad rows reported with row and column, a second import adds nothing.

use std::path::PathBuf;
use std::time::Instant;

use engine::{Engine, ImportOptions, Table};
use sea_orm::{ConnectionTrait, Database, DatabaseBackend, Statement};
use serde_json::json;

pub(crate) fn run(rows: usize) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = std::env::temp_dir().join(format!("tessera-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}/import.db", dir.display());
    runtime.block_on(async {
        let apps = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../apps/crm");
        let engine = Engine::open(&url, &[apps]).await.expect("engine");
        engine.seed_users("crm", "demo").await.expect("users");
        let marketing = engine.login("marketing1", "demo").await.expect("login").user;
        let (text, bad) = csv_text(rows);

        let started = Instant::now();
        let table = parse(&text);
        let report =
            engine.import(&marketing, &crate::id("crm"), &crate::id("lead"), table, &ImportOptions::default()).await.expect("import");
        let import_secs = started.elapsed().as_secs_f64();
        assert_eq!(report.created, rows - bad, "every good row is in");
        assert_eq!(report.failed, bad, "every bad row is reported");
        assert!(report.errors.iter().all(|e| e.column.as_deref() == Some("email") && e.row >= 2), "row and column named");

        let started = Instant::now();
        let again = engine
            .import(&marketing, &crate::id("crm"), &crate::id("lead"), parse(&text), &ImportOptions::default())
            .await
            .expect("second import");
        let again_secs = started.elapsed().as_secs_f64();
        assert_eq!((again.created, again.skipped), (0, rows - bad), "a second import adds nothing");

        let raw_secs = raw_insert(&url, &text).await;
        println!("import: {rows} leads from CSV ({bad} bad rows), SQLite file, one process");
        println!("  engine import (rules, dedupe, history, audit) {:>10.0} rows/s", rows as f64 / import_secs);
        println!("  second import (all duplicates, skipped)       {:>10.0} rows/s", rows as f64 / again_secs);
        println!("  raw limit: bulk INSERT of the JSON rows       {:>10.0} rows/s (baseline)", rows as f64 / raw_secs);
        println!("  ratio import/baseline                         {:>10.3}", raw_secs / import_secs);
        engine.close().await.ok();
    });
    if std::env::var_os("TESSERA_BENCH_KEEP").is_none() {
        std::fs::remove_dir_all(&dir).ok();
    } else {
        eprintln!("kept {}", dir.display());
    }
}

/// The CSV and how many rows are bad (every hundredth has a broken email).
pub(crate) fn csv_text(rows: usize) -> (String, usize) {
    let sources = ["展会", "referral", "web", "campaign", "partner"];
    let regions = ["east", "north", "south", "central", "southwest"];
    let mut text = String::from("姓名,Company,email,手机,Lead source,Sales region,Industry,Estimated budget (CNY)\n");
    let mut bad = 0;
    for i in 0..rows {
        let email = if i % 100 == 42 {
            bad += 1;
            format!("broken{i}-at-example")
        } else {
            format!("lead{i}@example.com")
        };
        text.push_str(&format!(
            "客户{i},公司{i},{email},139{i:08},{},{},retail,{}\n",
            sources[i % sources.len()],
            regions[i % regions.len()],
            (i * 977) % 2_000_000
        ));
    }
    (text, bad)
}

pub(crate) fn parse(text: &str) -> Table {
    let (headers, rows) = parse_rows(text);
    Table::new(headers, rows)
}

/// The CSV's header and rows.
fn parse_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().expect("headers").iter().map(str::to_owned).collect();
    let rows = reader.records().map(|r| r.expect("row").iter().map(str::to_owned).collect()).collect();
    (headers, rows)
}

/// Parses the same CSV and bulk-inserts each row as a JSON object into a plain table.
async fn raw_insert(url: &str, text: &str) -> f64 {
    let db = Database::connect(url).await.expect("connection");
    db.execute_unprepared("CREATE TABLE raw_leads (id INTEGER PRIMARY KEY, data TEXT NOT NULL)").await.expect("table");
    let started = Instant::now();
    let (headers, rows) = parse_rows(text);
    db.execute_unprepared("BEGIN").await.expect("begin");
    for chunk in rows.chunks(500) {
        let placeholders = vec!["(?)"; chunk.len()].join(", ");
        let values: Vec<sea_orm::Value> = chunk
            .iter()
            .map(|cells| {
                let object: serde_json::Map<String, serde_json::Value> =
                    headers.iter().cloned().zip(cells.iter().map(|c| json!(c))).collect();
                sea_orm::Value::from(serde_json::Value::Object(object).to_string())
            })
            .collect();
        let sql = format!("INSERT INTO raw_leads (data) VALUES {placeholders}");
        db.execute_raw(Statement::from_sql_and_values(DatabaseBackend::Sqlite, sql, values)).await.expect("insert");
    }
    db.execute_unprepared("COMMIT").await.expect("commit");
    db.close().await.ok();
    started.elapsed().as_secs_f64()
}
