//! What the command-line suites share: the repository, the `tessera` binary, and empty
//! PostgreSQL databases.

use std::path::PathBuf;
use std::process::Command;

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `tessera` with `args` in the repository: its exit code and what it wrote to stderr.
pub(crate) fn tessera(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).current_dir(repo()).output().expect("tessera runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A new, empty PostgreSQL database on the server `TESSERA_TEST_PG` names, if it names one.
/// Named as the e2e suite names its own (`t_<uuid v7>`), so its sweep drops it later.
pub(crate) async fn empty_postgres() -> Option<String> {
    use sea_orm::ConnectionTrait;
    let base = std::env::var("TESSERA_TEST_PG").ok()?;
    let base = base.trim_end_matches('/');
    let name = format!("t_{}", uuid::Uuid::now_v7().simple());
    let admin = sea_orm::Database::connect(format!("{base}/postgres")).await.expect("PostgreSQL reachable at TESSERA_TEST_PG");
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create a test database");
    admin.close().await.ok();
    Some(format!("{base}/{name}"))
}
