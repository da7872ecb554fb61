//! The server killed with SIGKILL at random moments while clients create and change records
//! and import files (issue 24): after each restart every acknowledged write is there exactly
//! once, at the version it was acknowledged at, with a history version for each of its
//! versions; a write that was not acknowledged is there whole or not at all (an import: all its
//! rows or none); and once the load is over SQLite's integrity check and the audit chain hold.
//!
//! It runs on SQLite and, when `TESSERA_TEST_PG` names a server, on PostgreSQL. `.ci/run` runs
//! a few rounds (`TESSERA_CRASH_ROUNDS`, default 4); the long run is the same test with more
//! (`docs/reliability.md`).
//!
//! Another kills PostgreSQL itself, a cluster of the test's own with the durable defaults,
//! under the same load, while one server stays up and must find its database again.
//!
//! The last is a cluster: two, then four servers on one PostgreSQL, one of them killed
//! at a time, under a load that also has effects (webhooks sent by a schedule, reminders fired
//! by flow timers): each effect happens once, and each webhook reaches a real receiver.

mod common;
// The end-to-end suites' receiver; the cluster reads only the keys it got.
#[allow(dead_code, unreachable_pub)]
#[path = "../../../tests/receiver.rs"]
mod receiver;
// The end-to-end suites' PostgreSQL of a test's own, killed here.
#[allow(dead_code, unreachable_pub)]
#[path = "../../../tests/own_postgres.rs"]
mod own_postgres;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{empty_postgres, repo, tessera};
use own_postgres::OwnPostgres;
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
    let body = body.map(Value::to_string).unwrap_or_default();
    exchange(addr, method, path, token, headers, "application/json", &body)
}

/// [`http`] with a body of any type.
fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    content_type: &str,
    body: &str,
) -> std::io::Result<(u16, Value)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
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
            // The suites' rule deadline: 100 ms is meant for a release build, and this is a
            // debug one on a machine its load shares (the journeys rule pages 200 enrolments).
            .args([
                "serve",
                "--demo",
                "--webhooks-to-private-networks",
                "--rule-timeout-ms",
                "2000",
                "--db",
                db,
                "--addr",
                &addr.to_string(),
                "--apps",
            ])
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

impl Server {
    /// Asks the server to stop (SIGTERM, as systemd does) and waits until it has.
    fn terminate(mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status().unwrap();
        assert!(sent.success(), "kill -TERM");
        self.0.wait().unwrap()
    }
}

/// A test that fails leaves no server behind.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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
            // The server died, or its database did (503): the write may have been made.
            Err(_) | Ok((503, _)) => {
                told.lock().unwrap().unanswered.push(name);
                return;
            }
            Ok((status, body)) => panic!("a create answered {status}: {body}"),
        };
        told.lock().unwrap().acknowledged.insert(id.clone(), (1, name.clone()));
        let renamed = format!("{name} renamed");
        let patch = json!({"data": {"name": renamed}});
        match http(addr, "PATCH", &format!("{ACCOUNTS}/{id}"), Some(token), &[("If-Match", "1")], Some(&patch)) {
            Ok((200, changed)) => {
                told.lock().unwrap().acknowledged.insert(id, (changed["version"].as_i64().unwrap(), renamed));
            }
            Err(_) | Ok((503, _)) => {
                told.lock().unwrap().unanswered.push(renamed);
                return;
            }
            Ok((status, body)) => panic!("a rename answered {status}: {body}"),
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
        let load = kill_rounds(&db, rounds, &dir.join("server.log"));
        let (code, out) = tessera(&["audit", "verify", "--db", &db]);
        assert_eq!(code, 0, "{db}: {out}");
        eprintln!("{db}: {rounds} kills; {}", load.figures());
    }
    assert_eq!(runtime.block_on(integrity_check(&sqlite)), ["ok"], "SQLite's integrity check");
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs `rounds` rounds of load on a server of `db`, each ended by a kill; what a round wrote
/// is checked after the restart, and everything again after the last. Returns what the
/// clients were told.
fn kill_rounds(db: &str, rounds: u32, log: &Path) -> Load {
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut all = Load::default();
    let mut seed = 0x9e37_79b9_7f4a_7c15;
    let mut server = Server::start(db, addr, log);
    for round in 0..rounds {
        let token = login(addr);
        let (stop, told) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Told::default())));
        let (imports, acts) = (Arc::new(Mutex::new(Imports::default())), Arc::new(Mutex::new(Acts::default())));
        let mut clients = others(addr, &token, round, &stop, &imports, &acts);
        clients.extend((0..4).map(|w| {
            let (token, stop, told) = (token.clone(), stop.clone(), told.clone());
            std::thread::spawn(move || write_until(addr, &token, &format!("round {round} writer {w}"), &stop, &told))
        }));
        std::thread::sleep(Duration::from_millis(300 + next(&mut seed) % 1200));
        server.kill();
        stop.store(true, Ordering::SeqCst);
        for client in clients {
            client.join().unwrap();
        }
        server = Server::start(db, addr, log);
        all.take(told, imports, acts, addr, &format!("round {round}"));
    }
    all.check(addr, "after every round");
    server.kill();
    all
}

/// What every client of a crash test was told, over its rounds.
#[derive(Default)]
struct Load {
    writes: Told,
    imports: Imports,
    acts: Acts,
}

impl Load {
    /// Checks a round's, then keeps them with the others.
    fn take(&mut self, writes: Arc<Mutex<Told>>, imports: Arc<Mutex<Imports>>, acts: Arc<Mutex<Acts>>, addr: SocketAddr, round: &str) {
        let writes = Arc::try_unwrap(writes).ok().unwrap().into_inner().unwrap();
        let imports = Arc::try_unwrap(imports).ok().unwrap().into_inner().unwrap();
        let acts = Arc::try_unwrap(acts).ok().unwrap().into_inner().unwrap();
        let this = Load { writes, imports, acts };
        this.check(addr, round);
        self.writes.acknowledged.extend(this.writes.acknowledged);
        self.writes.unanswered.extend(this.writes.unanswered);
        self.imports.acknowledged.extend(this.imports.acknowledged);
        self.imports.unanswered.extend(this.imports.unanswered);
        self.acts.acknowledged.extend(this.acts.acknowledged);
        self.acts.unanswered.extend(this.acts.unanswered);
    }

    fn check(&self, addr: SocketAddr, round: &str) {
        check(addr, &self.writes, round);
        check_imports(addr, &self.imports, round);
        check_acts(addr, &self.acts, round);
    }

    /// What a test prints of it.
    fn figures(&self) -> String {
        format!(
            "{} acknowledged records, {} imports and {} flow actions checked; {} writes, {} imports and {} flow actions cut",
            self.writes.acknowledged.len(),
            self.imports.acknowledged.len(),
            self.acts.acknowledged.values().filter(|(_, state)| state == "contacted").count(),
            self.writes.unanswered.len(),
            self.imports.unanswered.len(),
            self.acts.unanswered.len()
        )
    }
}

/// The clients beside the account writers: an importer and a flow actor.
fn others(
    addr: SocketAddr,
    token: &str,
    round: u32,
    stop: &Arc<AtomicBool>,
    imports: &Arc<Mutex<Imports>>,
    acts: &Arc<Mutex<Acts>>,
) -> Vec<std::thread::JoinHandle<()>> {
    let (importer_token, importer_stop, importing) = (token.to_owned(), stop.clone(), imports.clone());
    let importer = std::thread::spawn(move || import_until(addr, &importer_token, &format!("round {round}"), &importer_stop, &importing));
    let (actor_token, actor_stop, acting) = (token.to_owned(), stop.clone(), acts.clone());
    let actor = std::thread::spawn(move || act_until(addr, &actor_token, &format!("round {round}"), &actor_stop, &acting));
    vec![importer, actor]
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
        assert_eq!(history(addr, &token, &format!("{ACCOUNTS}/{id}")), (1..=found).collect::<Vec<_>>(), "{round}: history of {id}");
        assert_eq!(audited(addr, &token, id), found as usize, "{round}: an audit row a version of {id}");
    }
    for name in told.unanswered.iter().chain(told.acknowledged.values().map(|(_, n)| n)) {
        let filter = json!({"name": name}).to_string();
        let path = format!("{ACCOUNTS}?limit=5&filter={}", url_encode(&filter));
        let (status, page) = http(addr, "GET", &path, Some(&token), &[], None).unwrap();
        assert_eq!(status, 200, "{page}");
        assert!(page["items"].as_array().unwrap().len() <= 1, "{round}: {name:?} is there more than once: {page}");
    }
}

/// The versions the history of the record at `path` holds, oldest first.
fn history(addr: SocketAddr, token: &str, path: &str) -> Vec<i64> {
    let (status, history) = http(addr, "GET", &format!("{path}/history"), Some(token), &[], None).unwrap();
    assert_eq!(status, 200, "{history}");
    history["items"].as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect()
}

/// How many writes of record `id` the audit log holds (its rows with the outcome `ok`).
fn audited(addr: SocketAddr, token: &str, id: &str) -> usize {
    let (status, page) = http(addr, "GET", &format!("/api/audit?record={id}&outcome=ok&limit=100"), Some(token), &[], None).unwrap();
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().len()
}

/// What a flow actor was told: each lead's acknowledged version and state, and the leads whose
/// `contact` action had no answer (it may have been taken, whole, or not at all).
#[derive(Default)]
struct Acts {
    acknowledged: BTreeMap<String, (i64, String)>,
    unanswered: Vec<String>,
}

const LEADS: &str = "/api/apps/crm/forms/lead/records";

/// Creates leads and takes each one's flow action `contact` (new → contacted) until `stop` or
/// the first answer without a server or a database.
fn act_until(addr: SocketAddr, token: &str, actor: &str, stop: &AtomicBool, told: &Mutex<Acts>) {
    for i in 0.. {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let lead = json!({"data": {"name": format!("{actor} lead {i}"), "company": "Flow Co"}});
        let id = match http(addr, "POST", LEADS, Some(token), &[], Some(&lead)) {
            Ok((201, made)) => made["id"].as_str().unwrap().to_owned(),
            Err(_) | Ok((503, _)) => return,
            Ok((status, body)) => panic!("a lead answered {status}: {body}"),
        };
        told.lock().unwrap().acknowledged.insert(id.clone(), (1, "new".into()));
        match http(addr, "POST", &format!("{LEADS}/{id}/actions/contact"), Some(token), &[("If-Match", "1")], Some(&json!({}))) {
            Ok((200, moved)) => {
                let version = moved["record"]["version"].as_i64().unwrap();
                told.lock().unwrap().acknowledged.insert(id, (version, "contacted".into()));
            }
            Err(_) | Ok((503, _)) => {
                told.lock().unwrap().unanswered.push(id);
                return;
            }
            Ok((status, body)) => panic!("a flow action answered {status}: {body}"),
        }
    }
}

/// Each acknowledged lead is in its acknowledged state at its version, with a history version
/// and an audit row for each; a cut action is there whole (the next state and version) or not.
fn check_acts(addr: SocketAddr, told: &Acts, round: &str) {
    let token = login(addr);
    for (id, (version, state)) in &told.acknowledged {
        let (status, record) = http(addr, "GET", &format!("{LEADS}/{id}"), Some(&token), &[], None).unwrap();
        assert_eq!(status, 200, "{round}: acknowledged lead {id} is gone");
        let found = record["version"].as_i64().unwrap();
        let whole = (found == *version && record["state"] == json!(state))
            || (found > *version && record["state"] == json!("contacted") && told.unanswered.contains(id));
        assert!(whole, "{round}: {id} acknowledged at version {version} in {state}, found {record}");
        assert_eq!(history(addr, &token, &format!("{LEADS}/{id}")), (1..=found).collect::<Vec<_>>(), "{round}: history of {id}");
        assert!(audited(addr, &token, id) >= 1, "{round}: lead {id} has no audit row");
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

/// What the effect writers were told: the leads (each enrolled in the test's journey, so owed
/// one webhook) and the activities (due today, so owed one reminder) that were acknowledged.
#[derive(Default)]
struct Effects {
    leads: Vec<String>,
    activities: Vec<String>,
}

/// Creates leads from `campaign` and activities due today until `stop` or the server dies.
fn write_effects_until(addr: SocketAddr, token: &str, writer: &str, campaign: &str, stop: &AtomicBool, told: &Mutex<Effects>) {
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    for i in 0.. {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let lead = json!({"data": {"name": format!("{writer} lead {i}"), "company": "Cluster Co", "campaign": campaign}});
        match http(addr, "POST", "/api/apps/crm/forms/lead/records", Some(token), &[], Some(&lead)) {
            Ok((201, made)) => told.lock().unwrap().leads.push(made["id"].as_str().unwrap().to_owned()),
            Ok((status, body)) => panic!("a lead answered {status}: {body}"),
            Err(_) => return,
        }
        let activity = json!({"data": {"subject": format!("{writer} activity {i}"), "type": "call", "due_date": today}});
        match http(addr, "POST", "/api/apps/crm/forms/activity/records", Some(token), &[], Some(&activity)) {
            Ok((201, made)) => told.lock().unwrap().activities.push(made["id"].as_str().unwrap().to_owned()),
            Ok((status, body)) => panic!("an activity answered {status}: {body}"),
            Err(_) => return,
        }
    }
}

/// Runs the journeys schedule now, on one server after another, until `stop`; a server that
/// is down is passed over.
fn run_journeys_until(addrs: &[SocketAddr], token: &str, stop: &AtomicBool) {
    for turn in 0.. {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let _ = http(addrs[turn % addrs.len()], "POST", "/api/apps/crm/schedules/journeys/run", Some(token), &[], None);
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_cluster_on_postgresql_loses_nothing_and_has_each_effect_once_when_its_servers_are_killed() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    if std::env::var("TESSERA_TEST_PG").is_err() {
        assert!(std::env::var("CI").is_err(), "CI runs the cluster on PostgreSQL: set TESSERA_TEST_PG");
        return;
    }
    let rounds: u32 = std::env::var("TESSERA_CRASH_ROUNDS").ok().and_then(|n| n.parse().ok()).unwrap_or(4);
    let dir = std::env::temp_dir().join(format!("tessera-cluster-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    for servers in [2, 4] {
        let db = runtime.block_on(empty_postgres()).unwrap();
        let figures = cluster_rounds(&runtime, &db, servers, rounds, &dir.join(format!("cluster-{servers}.log")));
        let (code, out) = tessera(&["audit", "verify", "--db", &db]);
        assert_eq!(code, 0, "{servers} servers: {out}");
        eprintln!("{servers} servers: {figures}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `servers` servers of the CRM on `db`, each round one of them killed under load and started
/// again; then every acknowledged write and every effect is checked. Returns the figures.
fn cluster_rounds(runtime: &tokio::runtime::Runtime, db: &str, servers: usize, rounds: u32, log: &Path) -> String {
    let receiver = receiver::Receiver::start();
    let addrs: Vec<SocketAddr> = (0..servers).map(|_| TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()).collect();
    // One at a time: the first seeds the demo, the others find it seeded.
    let mut running: Vec<Option<Server>> = addrs.iter().map(|addr| Some(Server::start(db, *addr, log))).collect();
    let token = login(addrs[0]);
    let create = |form: &str, data: Value| {
        let (status, made) =
            http(addrs[0], "POST", &format!("/api/apps/crm/forms/{form}/records"), Some(&token), &[], Some(&json!({"data": data})))
                .unwrap();
        assert_eq!(status, 201, "{made}");
        made["id"].as_str().unwrap().to_owned()
    };
    let campaign = create("campaign", json!({"name": "Cluster Expo", "type": "trade_show", "status": "in_progress"}));
    let steps = json!([{"day": 0, "channel": "email", "message": "Thank you for visiting", "score": 5}]);
    create("journey", json!({"name": "Cluster follow-up", "campaign": campaign, "webhook": receiver.url("/journey"), "steps": steps}));

    let (mut all, mut effects, mut writes, mut busy) = (Told::default(), Effects::default(), 0, Duration::ZERO);
    let mut seed = 0x2545_f491_4f6c_dd1d ^ servers as u64;
    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let (told, effects_told) = (Arc::new(Mutex::new(Told::default())), Arc::new(Mutex::new(Effects::default())));
        let mut load = Vec::new();
        for (s, &addr) in addrs.iter().enumerate() {
            let token = login(addr);
            let (t, stop_, told) = (token.clone(), stop.clone(), told.clone());
            load.push(std::thread::spawn(move || write_until(addr, &t, &format!("c{servers} r{round} s{s}"), &stop_, &told)));
            let (t, stop_, told, campaign) = (token, stop.clone(), effects_told.clone(), campaign.clone());
            load.push(std::thread::spawn(move || {
                write_effects_until(addr, &t, &format!("c{servers} r{round} s{s}"), &campaign, &stop_, &told)
            }));
        }
        let (scheduler_addrs, scheduler_token, scheduler_stop) = (addrs.clone(), token.clone(), stop.clone());
        load.push(std::thread::spawn(move || run_journeys_until(&scheduler_addrs, &scheduler_token, &scheduler_stop)));
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(500 + next(&mut seed) % 1500));
        let victim = usize::try_from(next(&mut seed) % servers as u64).unwrap();
        running[victim].take().unwrap().kill();
        // The others go on a little without it.
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::SeqCst);
        busy += started.elapsed();
        for thread in load {
            thread.join().unwrap();
        }
        running[victim] = Some(Server::start(db, addrs[victim], log));
        let told = Arc::try_unwrap(told).ok().unwrap().into_inner().unwrap();
        let effects_told = Arc::try_unwrap(effects_told).ok().unwrap().into_inner().unwrap();
        check(addrs[(victim + 1) % servers], &told, &format!("{servers} servers, round {round}"));
        writes += told.acknowledged.values().map(|(version, _)| *version as usize).sum::<usize>()
            + effects_told.leads.len()
            + effects_told.activities.len();
        all.acknowledged.extend(told.acknowledged);
        all.unanswered.extend(told.unanswered);
        effects.leads.extend(effects_told.leads);
        effects.activities.extend(effects_told.activities);
    }
    check(addrs[0], &all, &format!("{servers} servers, after every round"));
    // The last enrolments are sent, and every timer and webhook is given time to be taken over
    // from a killed server (a job's claim lasts a minute, a delivery's too).
    // A run sends up to 200 enrolments' messages.
    for _ in 0..=effects.leads.len() / 200 {
        let (status, ran) = http(addrs[0], "POST", "/api/apps/crm/schedules/journeys/run", Some(&token), &[], None).unwrap();
        assert_eq!(status, 200, "{ran}");
    }
    let outcome = runtime.block_on(effects_settle(db, &campaign, &effects, &receiver));
    for server in running.into_iter().flatten() {
        server.kill();
    }
    let duplicates = outcome.unwrap_or_else(|problem| panic!("{servers} servers: {problem}"));
    format!(
        "{rounds} kills, {} acknowledged records, {} leads each sent once, {} timers each fired once, {writes} acknowledged writes in {:.1} s of load ({:.0}/s), {duplicates} webhook deliveries repeated after a kill",
        all.acknowledged.len(),
        effects.leads.len(),
        effects.activities.len(),
        busy.as_secs_f64(),
        writes as f64 / busy.as_secs_f64(),
    )
}

/// Waits (up to three minutes) until every lead of `campaign` has its one journey message
/// delivered and every activity its one reminder, then checks both: `Err` names what is
/// missing or doubled. Answers how many deliveries the receiver got twice (a server killed
/// between the receiver's answer and its note of it sends again, with the same key).
async fn effects_settle(db: &str, campaign: &str, told: &Effects, receiver: &receiver::Receiver) -> Result<usize, String> {
    use sea_orm::ConnectionTrait;
    let conn = sea_orm::Database::connect(db).await.unwrap();
    let rows = |sql: String| {
        let conn = &conn;
        async move {
            let q = sea_orm::Statement::from_string(conn.get_database_backend(), sql);
            conn.query_all_raw(q).await.unwrap()
        }
    };
    let started = Instant::now();
    let problem = loop {
        let problem = async {
            let leads: Vec<String> = rows(format!("SELECT id FROM r_crm__lead WHERE f_campaign = '{campaign}' AND deleted_at IS NULL"))
                .await
                .iter()
                .map(|r| r.try_get("", "id").unwrap())
                .collect();
            let messages = rows("SELECT id, payload, delivered_at FROM outbox WHERE kind = 'webhook'".into()).await;
            let mut sent: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
            for row in &messages {
                let payload: Value = serde_json::from_str(&row.try_get::<String>("", "payload").unwrap()).unwrap();
                let delivered = row.try_get::<Option<String>>("", "delivered_at").unwrap().is_some();
                let lead = payload["data"]["lead"].as_str().unwrap_or_default().to_owned();
                sent.entry(lead).or_default().push((row.try_get("", "id").unwrap(), delivered));
            }
            if let Some(lead) = told.leads.iter().find(|lead| !leads.contains(lead)) {
                return Err(format!("acknowledged lead {lead} is gone"));
            }
            for lead in &leads {
                match sent.get(lead).map(Vec::as_slice) {
                    Some([(_, true)]) => {}
                    Some([(_, false)]) | None => return Err(format!("lead {lead}'s journey message is not delivered yet")),
                    Some(more) => return Err(format!("lead {lead} was sent {} journey messages", more.len())),
                }
            }
            let got: Vec<String> = receiver.received().into_iter().filter_map(|r| r.key).collect();
            if let Some((id, _)) = sent.values().flatten().find(|(id, _)| !got.contains(id)) {
                return Err(format!("message {id} is marked delivered but never arrived"));
            }
            // The CRM notifies about an activity only when its due-date timer fires.
            let reminders = rows(r#"SELECT payload FROM outbox WHERE kind = 'notify' AND payload LIKE '%"form":"activity"%'"#.into()).await;
            let mut fired: BTreeMap<String, usize> = BTreeMap::new();
            for row in &reminders {
                let payload: Value = serde_json::from_str(&row.try_get::<String>("", "payload").unwrap()).unwrap();
                *fired.entry(payload["record"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
            }
            let activities: Vec<String> = rows("SELECT id FROM r_crm__activity WHERE f_subject LIKE 'c% activity %'".into())
                .await
                .iter()
                .map(|r| r.try_get("", "id").unwrap())
                .collect();
            if let Some(activity) = told.activities.iter().find(|a| !activities.contains(a)) {
                return Err(format!("acknowledged activity {activity} is gone"));
            }
            for activity in &activities {
                match fired.get(activity) {
                    Some(1) => {}
                    None => return Err(format!("activity {activity}'s timer has not fired yet")),
                    Some(n) => return Err(format!("activity {activity}'s timer fired {n} times")),
                }
            }
            Ok(got.len() - sent.values().flatten().count())
        }
        .await;
        match problem {
            Ok(duplicates) => {
                conn.close().await.ok();
                return Ok(duplicates);
            }
            Err(problem) if problem.contains("yet") && started.elapsed() < Duration::from_secs(180) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(problem) => break problem,
        }
    };
    conn.close().await.ok();
    Err(problem)
}

/// What an importer was told: the names of the leads of each import acknowledged, and of each
/// import sent without an answer (all or nothing: all of them there once, or none).
#[derive(Default)]
struct Imports {
    acknowledged: Vec<Vec<String>>,
    unanswered: Vec<Vec<String>>,
}

/// Leads an import has: its file is one all-or-nothing transaction.
const IMPORT_ROWS: usize = 10;

/// Imports files of [`IMPORT_ROWS`] leads, all or nothing, until `stop` or the first answer
/// that is not a report.
fn import_until(addr: SocketAddr, token: &str, importer: &str, stop: &AtomicBool, told: &Mutex<Imports>) {
    let path = "/api/apps/crm/forms/lead/import?wait=true&mode=all_or_nothing";
    for i in 0.. {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let names: Vec<String> = (0..IMPORT_ROWS).map(|row| format!("{importer} file {i} lead {row}")).collect();
        let rows = names.iter().map(|name| format!("{name},Import Co\n"));
        let file: String = std::iter::once("name,company\n".to_owned()).chain(rows).collect();
        match exchange(addr, "POST", path, Some(token), &[], "text/csv", &file) {
            Ok((200, report)) => {
                assert_eq!(report["created"], IMPORT_ROWS, "{report}");
                told.lock().unwrap().acknowledged.push(names);
            }
            Err(_) | Ok((503, _)) => {
                told.lock().unwrap().unanswered.push(names);
                return;
            }
            Ok((status, body)) => panic!("an import answered {status}: {body}"),
        }
    }
}

/// Each acknowledged import's leads are there once; each unanswered one's all once, or none.
fn check_imports(addr: SocketAddr, told: &Imports, round: &str) {
    let token = login(addr);
    let count = |names: &[String]| -> Vec<usize> {
        let filter = json!({"name": {"in": names}}).to_string();
        let path = format!("/api/apps/crm/forms/lead/records?limit=50&filter={}", url_encode(&filter));
        let (status, page) = http(addr, "GET", &path, Some(&token), &[], None).unwrap();
        assert_eq!(status, 200, "{page}");
        let found: Vec<&str> = page["items"].as_array().unwrap().iter().map(|r| r["data"]["name"].as_str().unwrap()).collect();
        names.iter().map(|n| found.iter().filter(|f| **f == n).count()).collect()
    };
    for names in &told.acknowledged {
        assert_eq!(count(names), vec![1; names.len()], "{round}: an acknowledged import of {:?}", names[0]);
    }
    for names in &told.unanswered {
        let counts = count(names);
        assert!(counts == vec![0; names.len()] || counts == vec![1; names.len()], "{round}: a cut import half there: {counts:?}");
    }
}

/// Waits until the server answers `/api/ready` again (its database back).
fn ready(addr: SocketAddr) {
    let started = Instant::now();
    while !matches!(http(addr, "GET", "/api/ready", None, &[], None), Ok((200, _))) {
        assert!(started.elapsed() < Duration::from_secs(60), "the server did not find its database again");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_acknowledged_write_and_import_survives_kill_9_of_postgresql() {
    let Some(pg) = OwnPostgres::create() else {
        assert!(std::env::var("CI").is_err(), "CI kills a PostgreSQL of the test's own: set TESSERA_TEST_PG_BIN");
        eprintln!("note: no PostgreSQL binaries found; skipping the kill of PostgreSQL");
        return;
    };
    let rounds: u32 = std::env::var("TESSERA_CRASH_ROUNDS").ok().and_then(|n| n.parse().ok()).unwrap_or(4);
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    // One server throughout: it must find its database again by itself after each crash.
    let server = Server::start(&pg.url(), addr, &pg.dir.join("server.log"));
    let mut all = Load::default();
    let mut seed = 0x2545_f491_4f6c_dd1d;
    for round in 0..rounds {
        let token = login(addr);
        let stop = Arc::new(AtomicBool::new(false));
        let told = Arc::new(Mutex::new(Told::default()));
        let (imports, acts) = (Arc::new(Mutex::new(Imports::default())), Arc::new(Mutex::new(Acts::default())));
        let mut clients = others(addr, &token, round, &stop, &imports, &acts);
        clients.extend((0..3).map(|w| {
            let (token, stop, told) = (token.clone(), stop.clone(), told.clone());
            std::thread::spawn(move || write_until(addr, &token, &format!("round {round} writer {w}"), &stop, &told))
        }));
        std::thread::sleep(Duration::from_millis(500 + next(&mut seed) % 1500));
        pg.crash();
        // Each client stops at its first answer without the database.
        for client in clients {
            client.join().unwrap();
        }
        pg.start();
        ready(addr);
        all.take(told, imports, acts, addr, &format!("round {round}"));
    }
    all.check(addr, "after every round");
    server.kill();
    let (code, out) = tessera(&["audit", "verify", "--db", &pg.url()]);
    assert_eq!(code, 0, "{out}");
    eprintln!("PostgreSQL killed {rounds} times; {}", all.figures());
}

#[test]
fn sigterm_answers_the_requests_in_flight_before_the_server_exits() {
    let dir = std::env::temp_dir().join(format!("tessera-sigterm-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}/sigterm.db", dir.display());
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let server = Server::start(&db, addr, &dir.join("server.log"));
    let token = login(addr);
    // An import long enough to be under way when the signal comes.
    let rows: String = (0..4_000).map(|i| format!("sigterm lead {i},Stop Co\n")).collect();
    let file = format!("name,company\n{rows}");
    let importing = std::thread::spawn(move || {
        let answer = exchange(addr, "POST", "/api/apps/crm/forms/lead/import?wait=true", Some(&token), &[], "text/csv", &file);
        (answer, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(500));
    let signalled = Instant::now();
    let exited = server.terminate();
    let (answer, answered) = importing.join().unwrap();
    let (status, report) = answer.expect("the import is answered, not cut");
    assert_eq!((status, report["created"].as_u64()), (200, Some(4_000)), "{report}");
    assert!(answered > signalled, "the import was still running when the signal came");
    assert!(exited.success(), "the server exits cleanly: {exited}");
    assert!(TcpStream::connect(addr).is_err(), "nothing listens any more");
    std::fs::remove_dir_all(&dir).ok();
}
