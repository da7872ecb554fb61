//! The server killed with SIGKILL at random moments while clients create and change records
//! (issue 24): after each restart every acknowledged write is there exactly once, at the
//! version it was acknowledged at, with a history version for each of its versions; a write
//! that was not acknowledged is there whole or not at all; and once the load is over SQLite's
//! integrity check and the audit chain hold.
//!
//! It runs on SQLite and, when `TESSERA_TEST_PG` names a server, on PostgreSQL. `.ci/run` runs
//! a few rounds (`TESSERA_CRASH_ROUNDS`, default 4); the long run is the same test with more
//! (`docs/reliability.md`).

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{empty_postgres, repo, tessera};
use serde_json::{Value, json};

const ACCOUNTS: &str = "/api/apps/crm/forms/account/records";

/// One HTTP/1.1 exchange on a connection of its own: the status and the body, or the error of
/// a server that died meanwhile.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> std::io::Result<(u16, Value)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer);
    let broken = || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, format!("a cut answer: {text}"));
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(broken)?;
    let (_, body) = text.split_once("\r\n\r\n").ok_or_else(broken)?;
    Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

/// A `tessera serve` of the CRM on `db`, on `addr`.
struct Server(Child);

impl Server {
    fn start(db: &str, addr: SocketAddr, log: &Path) -> Server {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["serve", "--demo", "--db", db, "--addr", &addr.to_string(), "--apps"])
            .arg(repo().join("apps"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !matches!(http(addr, "GET", "/api/health", None, &[], None), Ok((200, _))) {
            assert!(started.elapsed() < Duration::from_secs(60), "the server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Server(child)
    }

    fn kill(mut self) {
        self.0.kill().unwrap(); // SIGKILL
        self.0.wait().unwrap();
    }
}

fn login(addr: SocketAddr) -> String {
    let (status, body) = http(addr, "POST", "/api/auth/login", None, &[], Some(&json!({"username": "admin", "password": "demo"}))).unwrap();
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// What a client was told: each record's acknowledged version and name, and the names it
/// sent without an answer (the server died): those may be there, whole, or not at all.
#[derive(Default)]
struct Told {
    acknowledged: BTreeMap<String, (i64, String)>,
    unanswered: Vec<String>,
}

/// Creates accounts and renames each once until `stop`, noting what was acknowledged.
fn write_until(addr: SocketAddr, token: &str, writer: &str, stop: &AtomicBool, told: &Mutex<Told>) {
    for i in 0.. {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let name = format!("{writer} account {i}");
        let id = match http(addr, "POST", ACCOUNTS, Some(token), &[], Some(&json!({"data": {"name": name}}))) {
            Ok((201, made)) => made["id"].as_str().unwrap().to_owned(),
            Ok((status, body)) => panic!("a create answered {status}: {body}"),
            Err(_) => {
                told.lock().unwrap().unanswered.push(name);
                return;
            }
        };
        told.lock().unwrap().acknowledged.insert(id.clone(), (1, name.clone()));
        let renamed = format!("{name} renamed");
        let patch = json!({"data": {"name": renamed}});
        match http(addr, "PATCH", &format!("{ACCOUNTS}/{id}"), Some(token), &[("If-Match", "1")], Some(&patch)) {
            Ok((200, changed)) => {
                told.lock().unwrap().acknowledged.insert(id, (changed["version"].as_i64().unwrap(), renamed));
            }
            Ok((status, body)) => panic!("a rename answered {status}: {body}"),
            Err(_) => {
                told.lock().unwrap().unanswered.push(renamed);
                return;
            }
        }
    }
}

/// A tiny deterministic generator (xorshift): each round kills at another moment, the same in
/// every run of the test.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn every_acknowledged_write_survives_kill_9_exactly_once() {
    let rounds: u32 = std::env::var("TESSERA_CRASH_ROUNDS").ok().and_then(|n| n.parse().ok()).unwrap_or(4);
    let dir = std::env::temp_dir().join(format!("tessera-crash-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = format!("sqlite://{}/crash.db", dir.display());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let postgres = runtime.block_on(empty_postgres());
    for db in std::iter::once(sqlite.clone()).chain(postgres) {
        let told = kill_rounds(&db, rounds, &dir.join("server.log"));
        let (code, out) = tessera(&["audit", "verify", "--db", &db]);
        assert_eq!(code, 0, "{db}: {out}");
        eprintln!(
            "{db}: {rounds} kills, {} acknowledged records checked, {} writes cut by a kill",
            told.acknowledged.len(),
            told.unanswered.len()
        );
    }
    assert_eq!(runtime.block_on(integrity_check(&sqlite)), ["ok"], "SQLite's integrity check");
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs `rounds` rounds of load on a server of `db`, each ended by a kill; what a round wrote
/// is checked after the restart, and everything again after the last. Returns what the
/// clients were told.
fn kill_rounds(db: &str, rounds: u32, log: &Path) -> Told {
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut all = Told::default();
    let mut seed = 0x9e37_79b9_7f4a_7c15;
    let mut server = Server::start(db, addr, log);
    for round in 0..rounds {
        let token = login(addr);
        let (stop, told) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Told::default())));
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (token, stop, told) = (token.clone(), stop.clone(), told.clone());
                std::thread::spawn(move || write_until(addr, &token, &format!("round {round} writer {w}"), &stop, &told))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300 + next(&mut seed) % 1200));
        server.kill();
        stop.store(true, Ordering::SeqCst);
        for writer in writers {
            writer.join().unwrap();
        }
        server = Server::start(db, addr, log);
        let told = Arc::try_unwrap(told).ok().unwrap().into_inner().unwrap();
        check(addr, &told, &format!("round {round}"));
        all.acknowledged.extend(told.acknowledged);
        all.unanswered.extend(told.unanswered);
    }
    check(addr, &all, "after every round");
    server.kill();
    all
}

/// Every acknowledged record is there once, at its version, with a history version for each
/// version; every write cut by a kill is there whole or not at all.
fn check(addr: SocketAddr, told: &Told, round: &str) {
    let token = login(addr);
    assert!(!told.acknowledged.is_empty(), "{round}: nothing was acknowledged before the kill");
    for (id, (version, name)) in &told.acknowledged {
        let (status, record) = http(addr, "GET", &format!("{ACCOUNTS}/{id}"), Some(&token), &[], None).unwrap();
        assert_eq!(status, 200, "{round}: acknowledged record {id} is gone");
        let found = record["version"].as_i64().unwrap();
        // A rename cut by the kill may have been applied after all: then it is whole.
        let renamed = format!("{name} renamed");
        let whole = (found == *version && record["data"]["name"] == json!(name))
            || (found == version + 1 && record["data"]["name"] == json!(renamed) && told.unanswered.contains(&renamed));
        assert!(whole, "{round}: {id} acknowledged at version {version} as {name:?}, found {record}");
        let (_, history) = http(addr, "GET", &format!("{ACCOUNTS}/{id}/history"), Some(&token), &[], None).unwrap();
        let versions: Vec<i64> = history["items"].as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
        assert_eq!(versions, (1..=found).collect::<Vec<_>>(), "{round}: history of {id}");
    }
    for name in told.unanswered.iter().chain(told.acknowledged.values().map(|(_, n)| n)) {
        let filter = json!({"name": name}).to_string();
        let path = format!("{ACCOUNTS}?limit=5&filter={}", url_encode(&filter));
        let (status, page) = http(addr, "GET", &path, Some(&token), &[], None).unwrap();
        assert_eq!(status, 200, "{page}");
        assert!(page["items"].as_array().unwrap().len() <= 1, "{round}: {name:?} is there more than once: {page}");
    }
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// SQLite's own check of the database file, read after the last server stopped.
async fn integrity_check(db: &str) -> Vec<String> {
    use sea_orm::ConnectionTrait;
    let conn = sea_orm::Database::connect(db).await.unwrap();
    let q = sea_orm::Statement::from_string(conn.get_database_backend(), "PRAGMA integrity_check");
    let rows = conn.query_all_raw(q).await.unwrap();
    conn.close().await.ok();
    rows.iter().map(|row| row.try_get_by_index::<String>(0).unwrap()).collect()
}
