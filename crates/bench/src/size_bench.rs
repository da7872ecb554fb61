//! Where a file's bytes go (issue 18): `n` opportunities created through the engine and each
//! edited once (so every record has two versions in its history and two rows in the audit log,
//! with the flow timers and indexes that come with them), against the same records' values in a
//! plain typed table of their own SQLite file. Both files checkpointed and measured on disk; the
//! engine's file broken down by table, each table with its indexes, from SQLite's `dbstat`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

const TYPES: [&str; 3] = ["new_business", "upsell", "renewal"];
const SOURCES: [&str; 5] = ["web", "trade_show", "referral", "campaign", "partner"];
/// The fields the records are given values of, the raw table's columns.
const RAW_FIELDS: [&str; 9] = ["name", "stage", "amount", "probability", "close_date", "type", "source", "account", "next_step"];

pub(crate) fn run(records: usize) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = std::env::temp_dir().join(format!("tessera-size-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    runtime.block_on(async {
        let engine_file = dir.join("engine.db");
        let (raw_file, raw_indexed_file) = (dir.join("raw.db"), dir.join("raw-indexed.db"));
        let rows = through_engine(&engine_file, records).await;
        let db = Database::connect(format!("sqlite://{}", engine_file.display())).await.expect("engine file");
        raw_table(&raw_file, &rows, &[]).await;
        raw_table(&raw_indexed_file, &rows, &field_indexes(&db).await).await;
        let (engine_bytes, raw_bytes, raw_indexed_bytes) = (file_size(&engine_file), file_size(&raw_file), file_size(&raw_indexed_file));
        println!("size: {records} opportunities created and edited once through the engine, SQLite file");
        println!("  raw typed table (the same values, its file)  {:>9.1} MB (baseline)", mb(raw_bytes));
        println!("  the same with the form's indexes on fields   {:>9.1} MB", mb(raw_indexed_bytes));
        println!(
            "  Tessera (records, history, audit, jobs)     {:>9.1} MB   ratio {:.2} (to the indexed raw table {:.2})",
            mb(engine_bytes),
            engine_bytes as f64 / raw_bytes as f64,
            engine_bytes as f64 / raw_indexed_bytes as f64
        );
        for Table { name, bytes, trees } in breakdown(&db).await {
            println!("    {name:<28} {:>9.1} MB", mb(bytes.max(0) as u64));
            for (tree, bytes) in trees {
                println!("      {tree:<40} {:>9.1} MB", mb(bytes.max(0) as u64));
            }
        }
        db.close().await.ok();
    });
    if std::env::var_os("TESSERA_BENCH_KEEP").is_none() {
        std::fs::remove_dir_all(&dir).ok();
    } else {
        eprintln!("kept {}", dir.display());
    }
}

/// Creates and edits `records` opportunities in a fresh engine on `file`; returns the values
/// each record holds in the end.
async fn through_engine(file: &Path, records: usize) -> Vec<Value> {
    let apps = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../apps/crm");
    let engine = engine::Engine::open(&format!("sqlite://{}", file.display()), &[apps]).await.expect("engine");
    engine.seed_users("crm", "demo").await.expect("users");
    let rep = engine.login("rep1", "demo").await.expect("login").user;
    let (app, form) = (crate::id("crm"), crate::id("opportunity"));
    let account = engine.create(&rep, &app, &crate::id("account"), json!({"name": "基准客户"})).await.expect("account").id;
    let started = Instant::now();
    let mut ids = Vec::with_capacity(records);
    for i in 0..records {
        let deal = json!({"name": format!("Deal {i}"), "account": account, "amount": 1000 + (i * 7919) % 1_000_000,
                          "close_date": "2027-06-30", "type": TYPES[(i * 7) % TYPES.len()], "source": SOURCES[(i * 13) % SOURCES.len()]});
        ids.push(engine.create(&rep, &app, &form, deal).await.expect("create").id);
    }
    let mut rows = Vec::with_capacity(records);
    for id in &ids {
        let edited = engine.update(&rep, &app, &form, &crate::id(id), 1, json!({"next_step": "call back"})).await.expect("edit");
        rows.push(json!({"id": edited.id, "data": edited.data}));
    }
    eprintln!("created and edited {records} records in {:.1} s", started.elapsed().as_secs_f64());
    engine.close().await.ok();
    checkpoint(file).await;
    rows
}

/// The column lists of the engine's indexes on the opportunity table that name only fields the
/// raw table has (the system columns' indexes have no raw counterpart, nor have those of fields
/// no record has a value of), as the raw table names the columns.
async fn field_indexes(db: &DatabaseConnection) -> Vec<String> {
    let sql = "SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'r_crm__opportunity' AND sql IS NOT NULL";
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.expect("indexes");
    rows.iter()
        .filter_map(|row| {
            let sql: String = row.try_get("", "sql").ok()?;
            let columns = sql.split_once('(')?.1.split_once(')')?.0;
            let fields: Option<Vec<String>> =
                columns.split(',').map(|c| c.trim().trim_matches('"').strip_prefix("f_").map(str::to_owned)).collect();
            let fields = fields?;
            fields.iter().all(|f| RAW_FIELDS.contains(&f.as_str())).then(|| fields.join(", "))
        })
        .collect()
}

/// The records' values in a table of their own, one typed column a field, no index but the key
/// and `indexes` (column lists).
async fn raw_table(file: &Path, rows: &[Value], indexes: &[String]) {
    let db = Database::connect(format!("sqlite://{}?mode=rwc", file.display())).await.expect("raw file");
    let fields = RAW_FIELDS;
    let columns = fields.map(|f| if matches!(f, "amount" | "probability") { format!("{f} REAL") } else { format!("{f} TEXT") });
    db.execute_unprepared(&format!("CREATE TABLE raw (id TEXT PRIMARY KEY, {})", columns.join(", "))).await.expect("raw table");
    db.execute_unprepared("BEGIN").await.expect("begin");
    let sql = format!("INSERT INTO raw (id, {}) VALUES (?{})", fields.join(", "), ", ?".repeat(fields.len()));
    for row in rows {
        let mut values = vec![sea_orm::Value::from(row["id"].as_str().map(str::to_owned))];
        for field in fields {
            values.push(match &row["data"][field] {
                Value::Number(n) => sea_orm::Value::from(n.as_f64()),
                Value::String(s) => sea_orm::Value::from(Some(s.clone())),
                _ => sea_orm::Value::String(None),
            });
        }
        db.execute_raw(Statement::from_sql_and_values(db.get_database_backend(), sql.clone(), values)).await.expect("raw row");
    }
    db.execute_unprepared("COMMIT").await.expect("commit");
    for (i, columns) in indexes.iter().enumerate() {
        db.execute_unprepared(&format!("CREATE INDEX ix_{i} ON raw ({columns})")).await.expect("raw index");
    }
    db.close().await.ok();
    checkpoint(file).await;
}

/// Copies the write-ahead log into the file and empties it, so the file holds everything.
async fn checkpoint(file: &Path) {
    let db = Database::connect(format!("sqlite://{}", file.display())).await.expect("file");
    db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await.expect("checkpoint");
    db.close().await.ok();
}

/// A table's bytes, its indexes included, and each of its b-trees' (the table's own and one an
/// index).
struct Table {
    name: String,
    bytes: i64,
    trees: Vec<(String, i64)>,
}

/// Bytes per table, largest first.
async fn breakdown(db: &DatabaseConnection) -> Vec<Table> {
    let sql = "SELECT COALESCE(s.tbl_name, d.name) AS tbl, d.name AS tree, SUM(d.pgsize) AS bytes FROM dbstat d \
               LEFT JOIN sqlite_schema s ON s.name = d.name GROUP BY tbl, tree ORDER BY bytes DESC";
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.expect("dbstat");
    let mut tables: Vec<Table> = Vec::new();
    for row in &rows {
        let (Ok(name), Ok(tree), Ok(bytes)) =
            (row.try_get::<String>("", "tbl"), row.try_get::<String>("", "tree"), row.try_get::<i64>("", "bytes"))
        else {
            continue;
        };
        match tables.iter_mut().find(|t| t.name == name) {
            Some(table) => {
                table.bytes += bytes;
                table.trees.push((tree, bytes));
            }
            None => tables.push(Table { name, bytes, trees: vec![(tree, bytes)] }),
        }
    }
    tables.sort_by_key(|t| -t.bytes);
    tables.retain(|t| t.bytes > 64 * 1024);
    tables
}

fn file_size(file: &Path) -> u64 {
    std::fs::metadata(file).map(|m| m.len()).unwrap_or(0)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}
