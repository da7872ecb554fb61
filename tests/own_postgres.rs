//! A PostgreSQL cluster of a test's own, for what the suites' shared server cannot be used
//! for: killing it, and making a streaming replica of it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A PostgreSQL cluster of the test's own, with the durable defaults (`fsync` and
/// `synchronous_commit` on): a commit it acknowledged survives a `kill -9` of all its
/// processes. (The suites' shared server runs without them, for speed.) Made with the binaries
/// in `TESSERA_TEST_PG_BIN` (`.ci/run` sets it), else the newest `/usr/lib/postgresql/*/bin`;
/// run as the `postgres` user when the test runs as root, as `initdb` requires.
pub struct OwnPostgres {
    bin: PathBuf,
    /// Its data (`data/`), its log and whatever a test keeps beside it.
    pub dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl OwnPostgres {
    /// A new cluster, started; `None` when no PostgreSQL binaries are found.
    pub fn create() -> Option<OwnPostgres> {
        let bin = std::env::var_os("TESSERA_TEST_PG_BIN").map(PathBuf::from).or_else(|| {
            let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql").ok()?.flatten().map(|e| e.path().join("bin")).collect();
            found.sort_by_key(|p| p.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()));
            found.pop()
        })?;
        if !bin.join("pg_ctl").is_file() {
            return None;
        }
        let uid = Command::new("id").arg("-u").output().unwrap();
        let pg = OwnPostgres::beside(bin, String::from_utf8_lossy(&uid.stdout).trim() == "0");
        let data = pg.dir.join("data");
        let made = pg.command("initdb").arg("-D").arg(&data).args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]).output();
        assert!(made.as_ref().is_ok_and(|o| o.status.success()), "initdb: {made:?}");
        pg.start();
        Some(pg)
    }

    /// A cluster to be, with the binaries `bin`: its folder (owned by `postgres` when
    /// `as_postgres`) and a free port.
    fn beside(bin: PathBuf, as_postgres: bool) -> OwnPostgres {
        let dir = std::env::temp_dir().join(format!("tessera-own-pg-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        if as_postgres {
            assert!(Command::new("chown").arg("postgres:postgres").arg(&dir).status().unwrap().success());
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        OwnPostgres { bin, dir, port, as_postgres }
    }

    /// A streaming replica of this cluster (`pg_basebackup -R`), started: it replays what this
    /// one writes, and answers reads only.
    pub fn replica(&self) -> OwnPostgres {
        let replica = OwnPostgres::beside(self.bin.clone(), self.as_postgres);
        let copied = replica
            .command("pg_basebackup")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-X", "stream", "-R", "-D"])
            .arg(replica.dir.join("data"))
            .output();
        assert!(copied.as_ref().is_ok_and(|o| o.status.success()), "pg_basebackup: {copied:?}");
        replica.start();
        replica
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the cluster (after a crash: recovers it from its log) and waits until it serves.
    pub fn start(&self) {
        // `TESSERA_OWN_PG_OPTIONS` adds server options, e.g. `-c synchronous_commit=off` to see
        // the crash test find the commits such a server loses.
        let extra = std::env::var("TESSERA_OWN_PG_OPTIONS").unwrap_or_default();
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1 {extra}", self.port, self.dir.display());
        let started = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "-t", "120", "-o", &options, "start"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(started.success(), "PostgreSQL did not start: {}", std::fs::read_to_string(self.dir.join("log")).unwrap_or_default());
    }

    /// SIGKILLs the postmaster and every backend at once, as a crash would stop them, and waits
    /// until they are gone.
    pub fn crash(&self) {
        let pid_file = std::fs::read_to_string(self.dir.join("data/postmaster.pid")).unwrap();
        let postmaster: u32 = pid_file.lines().next().unwrap().trim().parse().unwrap();
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // `pid (comm) state ppid …`: the name may hold spaces, so read after its `)`.
            let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
            if parent == Some(postmaster) {
                pids.push(pid);
            }
        }
        let killed = Command::new("kill").arg("-9").args(pids.iter().map(u32::to_string)).status().unwrap();
        assert!(killed.success(), "kill -9 {pids:?}");
        let started = Instant::now();
        while pids.iter().any(|pid| Path::new(&format!("/proc/{pid}/stat")).exists()) {
            assert!(started.elapsed() < Duration::from_secs(30), "PostgreSQL's processes outlived SIGKILL");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").arg("-D").arg(self.dir.join("data")).args(["-m", "immediate", "stop"]).output();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}
