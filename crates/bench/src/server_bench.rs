//! W1–W3 of issue 8: the real `tessera serve` binary (built next to this one by
//! `cargo build --release`) on loopback with the CRM on a SQLite file, loaded by `wrk` from a
//! second process. The baseline is `GET /api/health` through the same stack in the same run: the
//! HTTP ceiling of this machine. Also: cold start to the first 200 with the CRM loaded, and the
//! server's resident memory idle and after the load. `TESSERA_BENCH_SERVERS=n` runs the workloads
//! against n servers on the one database (meant for PostgreSQL), one wrk a server with its
//! share of the connections, all at once: the rates add up, the p99 is the worst server's.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use engine::Engine;
use serde_json::json;

/// One wrk run: requests per second and latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy)]
struct Load {
    rate: f64,
    p50: f64,
    p99: f64,
}

const RUNS: usize = 3;
const SECONDS: u64 = 8;

/// `only`: run just the workloads whose name starts with it (e.g. `W1`), besides the baseline.
pub(crate) fn run(opportunities: usize, only: Option<&str>) {
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("server benchmark needs wrk (apt-get install wrk)");
        std::process::exit(2);
    }
    let dir = std::env::temp_dir().join(format!("tessera-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let apps = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../apps/crm");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // SQLite by default; PostgreSQL when `TESSERA_BENCH_PG` names a server (a database
    // `tessera_server_bench` is created there afresh).
    let (database, url) = match std::env::var("TESSERA_BENCH_PG") {
        Ok(base) => {
            runtime.block_on(async {
                use sea_orm::ConnectionTrait;
                let admin = sea_orm::Database::connect(format!("{base}/postgres")).await.expect("PostgreSQL");
                admin.execute_unprepared("DROP DATABASE IF EXISTS tessera_server_bench").await.ok();
                admin.execute_unprepared("CREATE DATABASE tessera_server_bench").await.expect("create database");
            });
            ("PostgreSQL", format!("{base}/tessera_server_bench"))
        }
        // `TESSERA_BENCH_SYNC=full`: commits acknowledged once synced to the disk.
        Err(_) => match std::env::var("TESSERA_BENCH_SYNC") {
            Ok(sync) => ("SQLite (synchronous=FULL)", format!("sqlite://{}/bench.db?synchronous={sync}", dir.display())),
            Err(_) => ("SQLite", format!("sqlite://{}/bench.db", dir.display())),
        },
    };

    let (token, ids) = runtime.block_on(prepare(&url, &apps, opportunities));
    let binary = tessera_binary();
    let apps_root = apps.parent().expect("apps folder").to_path_buf();
    let servers: usize = std::env::var("TESSERA_BENCH_SERVERS").ok().and_then(|n| n.parse().ok()).unwrap_or(1).max(1);
    let ports: Vec<u16> = (0..servers).map(|_| free_port()).collect();
    let port = ports[0];
    let spawn_on = |port: u16| serve(&binary, &url, port, &apps_root);
    let spawn = || spawn_on(port);
    // Cold start: process start to the first 200 (the server listens once the apps are loaded).
    let mut starts = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let mut child = spawn();
        wait_for_health(port);
        starts.push(started.elapsed().as_secs_f64() * 1000.0);
        child.kill().ok();
        child.wait().ok();
    }
    starts.sort_by(f64::total_cmp);
    let mut running: Vec<std::process::Child> = ports.iter().map(|port| spawn_on(*port)).collect();
    ports.iter().for_each(|port| wait_for_health(*port));
    std::thread::sleep(Duration::from_secs(1));
    let idle_rss = status_mb(running[0].id(), "VmRSS:");

    let bases: Vec<String> = ports.iter().map(|port| format!("http://127.0.0.1:{port}")).collect();
    let ids_lua = ids.iter().take(5000).map(|id| format!("\"{id}\"")).collect::<Vec<_>>().join(",");
    let auth = format!("wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n");
    let scripts = [
        ("baseline: GET /api/health", 16, "/api/health".to_owned(), String::new()),
        (
            "W2 get by id (c=32)",
            32,
            "/".to_owned(),
            format!("{auth}ids = {{{ids_lua}}}\nrequest = function()\n  return wrk.format(\"GET\", \"/api/apps/crm/forms/opportunity/records/\" .. ids[math.random(#ids)])\nend\n"),
        ),
        (
            "W3 list stage=proposal, amount>50000, -amount, limit 50 (c=16)",
            16,
            "/api/apps/crm/forms/opportunity/records?filter=%7B%22stage%22%3A%22proposal%22%2C%22amount%22%3A%7B%22gt%22%3A50000%7D%7D&sort=-amount&limit=50".to_owned(),
            auth.clone(),
        ),
        (
            "W4 saved report sales_funnel over all opportunities (c=4)",
            4,
            "/api/apps/crm/reports/sales_funnel".to_owned(),
            auth.clone(),
        ),
        (
            "W1 create opportunity (c=16)",
            16,
            "/".to_owned(),
            format!(
                "{auth}wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\naccount = \"{}\"\n-- Each wrk thread is its own Lua state: a table's address tells them apart, so names\n-- (a dedupe key with the account) never collide across threads.\nprefix = string.sub(tostring({{}}), 8)\ncounter = 0\nrequest = function()\n  counter = counter + 1\n  local body = string.format('{{\"data\": {{\"name\": \"Bench %s-%d\", \"account\": \"%s\", \"amount\": %d, \"stage\": \"proposal\"}}}}', prefix, counter, account, math.random(1000, 900000))\n  return wrk.format(\"POST\", \"/api/apps/crm/forms/opportunity/records\", nil, body)\nend\n",
                ids_lua_first_account(&runtime, &url, &apps)
            ),
        ),
    ];
    println!(
        "server: {servers} × `tessera serve`, CRM on {database}, {opportunities} opportunities, wrk on the same 2 cores; median of {RUNS} runs of {SECONDS} s"
    );
    println!("  {:<66} {:>10} {:>9} {:>9}", "workload", "req/s", "p50 ms", "p99 ms");
    let mut baseline = None;
    for (name, connections, path, script) in scripts {
        if only.is_some_and(|only| !name.starts_with(only) && !name.starts_with("baseline")) {
            continue;
        }
        let file = dir.join("script.lua");
        std::fs::File::create(&file).and_then(|mut f| f.write_all(script.as_bytes())).expect("script");
        let mut runs: Vec<Load> = (0..RUNS).map(|_| wrk_all(&bases, &path, connections, &file)).collect();
        runs.sort_by(|a, b| a.rate.total_cmp(&b.rate));
        let median = runs[RUNS / 2];
        let ratio = baseline.map(|b: f64| format!("  ({:.2} of baseline)", median.rate / b)).unwrap_or_default();
        baseline.get_or_insert(median.rate);
        println!("  {name:<66} {:>10.0} {:>9.2} {:>9.2}{ratio}", median.rate, median.p50, median.p99);
    }
    let loaded_rss = status_mb(running[0].id(), "VmRSS:");
    for server in &mut running {
        server.kill().ok();
        server.wait().ok();
    }
    println!("  cold start to the first 200 with the CRM loaded: median {:.0} ms (runs: {starts:.0?})", starts[RUNS / 2]);
    println!("  resident memory: idle {idle_rss:.1} MB, after the workloads {loaded_rss:.1} MB");
    std::fs::remove_dir_all(&dir).ok();
}

/// The release `tessera` beside this benchmark; the benchmarks that run the real server exit
/// saying how to build it when it is not there.
pub(crate) fn tessera_binary() -> PathBuf {
    let binary = std::env::current_exe().expect("own path").with_file_name("tessera");
    if !binary.is_file() {
        eprintln!("this benchmark runs the real server: build it first with `cargo build --release`");
        std::process::exit(2);
    }
    binary
}

/// `binary serve` of the apps under `apps_root` on `url`, listening on `port`, quiet.
pub(crate) fn serve(binary: &Path, url: &str, port: u16, apps_root: &Path) -> std::process::Child {
    Command::new(binary)
        .args(["serve", "--db", url, "--addr", &format!("127.0.0.1:{port}"), "--apps"])
        .arg(apps_root)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tessera serve starts")
}

/// A memory figure of process `pid` in MB (`VmRSS:`, `VmHWM:` …), from `/proc/{pid}/status`.
pub(crate) fn status_mb(pid: u32, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(f64::NAN);
    kb / 1024.0
}

/// Polls `GET /api/health` until it answers 200.
pub(crate) fn wait_for_health(port: u16) {
    use std::io::Read;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let mut answer = String::new();
            let asked = stream.write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").is_ok();
            if asked && stream.read_to_string(&mut answer).is_ok() && answer.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Creates the data set and a token; returns the token and the opportunity ids.
async fn prepare(url: &str, apps: &Path, opportunities: usize) -> (String, Vec<String>) {
    let engine = Engine::open(url, &[apps.to_path_buf()]).await.expect("engine");
    engine.ensure_admin(Some("bench-password")).await.expect("admin");
    let login = engine.login("admin", "bench-password").await.expect("login");
    let started = Instant::now();
    let mut accounts = Vec::new();
    for i in 0..100 {
        let a = engine
            .create(&login.user, &crate::id("crm"), &crate::id("account"), json!({"name": format!("Bench account {i}")}))
            .await
            .expect("account");
        accounts.push(a.id);
    }
    let stages = ["initial_contact", "needs_analysis", "proposal", "negotiation", "won", "lost"];
    let mut ids = Vec::with_capacity(opportunities);
    for i in 0..opportunities {
        let data = json!({"name": format!("Deal {i}"), "account": accounts[i % accounts.len()],
                          "amount": (i * 7919) % 1_000_000 + 1000, "stage": stages[(i * 31) % stages.len()]});
        ids.push(engine.create(&login.user, &crate::id("crm"), &crate::id("opportunity"), data).await.expect("opportunity").id);
    }
    eprintln!("prepared {opportunities} opportunities in {:.1} s", started.elapsed().as_secs_f64());
    engine.close().await.ok();
    (login.token, ids)
}

fn ids_lua_first_account(runtime: &tokio::runtime::Runtime, url: &str, apps: &Path) -> String {
    runtime.block_on(async {
        let engine = Engine::open(url, &[apps.to_path_buf()]).await.expect("engine");
        let admin = engine.login("admin", "bench-password").await.expect("login").user;
        let page = engine
            .list(&admin, &crate::id("crm"), &crate::id("account"), &engine::ListParams { limit: Some(1), ..Default::default() })
            .await
            .expect("list");
        page.items[0].id.clone()
    })
}

/// One wrk a server at once, the connections shared out: rates summed, the median p50 and the
/// worst p99.
fn wrk_all(bases: &[String], path: &str, connections: usize, script: &Path) -> Load {
    let share = connections.div_ceil(bases.len()).max(1);
    let loads: Vec<Load> = std::thread::scope(|scope| {
        let runs: Vec<_> = bases.iter().map(|base| scope.spawn(move || wrk(base, path, share, script))).collect();
        runs.into_iter().map(|run| run.join().expect("wrk thread")).collect()
    });
    let mut p50s: Vec<f64> = loads.iter().map(|l| l.p50).collect();
    p50s.sort_by(f64::total_cmp);
    Load { rate: loads.iter().map(|l| l.rate).sum(), p50: p50s[p50s.len() / 2], p99: loads.iter().map(|l| l.p99).fold(0.0, f64::max) }
}

fn wrk(base: &str, path: &str, connections: usize, script: &Path) -> Load {
    let out = Command::new("wrk")
        // wrk needs a connection a thread at least.
        .args([&format!("-t{}", connections.min(2)), &format!("-c{connections}"), &format!("-d{SECONDS}s"), "--latency", "-s"])
        .arg(script)
        .arg(format!("{base}{path}"))
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str| -> f64 {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|rest| rest.trim().to_owned()))
            .map(|v| parse_duration_ms(&v))
            .unwrap_or(f64::NAN)
    };
    let rate = text.lines().find_map(|l| l.strip_prefix("Requests/sec:").and_then(|v| v.trim().parse().ok())).unwrap_or(0.0);
    if text.contains("Non-2xx") {
        eprintln!("warning: non-2xx answers during {path}:\n{text}");
    }
    Load { rate, p50: field("50%"), p99: field("99%") }
}

fn parse_duration_ms(v: &str) -> f64 {
    let (number, unit): (String, String) = v.chars().partition(|c| c.is_ascii_digit() || *c == '.');
    let n: f64 = number.parse().unwrap_or(f64::NAN);
    match unit.as_str() {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        _ => n,
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}
