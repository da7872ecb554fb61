//! The `tessera` command: serve apps over HTTP, or check app definitions.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use actix_web::HttpServer;
use anyhow::Context;
use clap::{Parser, Subcommand};
use engine::{Engine, LoadedApp, RuleLimits, Settings};
use server::{AppState, create_app};

/// Requests build and drop many small JSON values on two or more threads at once; mimalloc's
/// per-thread heaps serve that with less contention than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How often the job worker looks for due jobs (scheduled rules).
const JOB_INTERVAL: Duration = Duration::from_secs(5);

/// How often a server looks for a release another server published: a publish is served by
/// every server within about this long.
const RELEASE_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How often a server looks for webhook messages to deliver.
const DELIVERY_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Parser)]
#[command(name = "tessera", version, about = "Tessera: a no-code application platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the apps and the API.
    Serve {
        /// Database: `sqlite://tessera.db` (default) or `postgres://user@host/db`.
        #[arg(long, env = "TESSERA_DB", default_value = "sqlite://tessera.db")]
        db: String,
        /// Address to listen on.
        #[arg(long, env = "TESSERA_ADDR", default_value = "127.0.0.1:8080")]
        addr: String,
        /// Folder whose sub-folders with an `app.json` are the apps to load.
        #[arg(long, env = "TESSERA_APPS", default_value = "apps")]
        apps: PathBuf,
        /// Seed each app's demo data and users (password `demo`) on first start.
        #[arg(long)]
        demo: bool,
        /// Wall-clock limit of one rule call, in milliseconds.
        #[arg(long, env = "TESSERA_RULE_TIMEOUT_MS", default_value_t = 100)]
        rule_timeout_ms: u64,
        /// Bearer token with which a scraper reads `/api/metrics` (admins always may).
        #[arg(long, env = "TESSERA_METRICS_TOKEN", hide_env_values = true)]
        metrics_token: Option<String>,
        /// A load balancer or reverse proxy (address or network, e.g. `10.0.0.0/8`) whose
        /// `X-Forwarded-For` names the client, for the per-address login and web-form limits.
        /// Repeat it, or separate them with commas in the variable.
        #[arg(long = "trusted-proxy", env = "TESSERA_TRUSTED_PROXIES", value_delimiter = ',')]
        trusted_proxies: Vec<String>,
        /// Let webhooks reach loopback, private and link-local addresses. Off, a webhook URL
        /// (which a rule may compute from a record) reaches only the public internet.
        #[arg(long, env = "TESSERA_WEBHOOKS_TO_PRIVATE_NETWORKS")]
        webhooks_to_private_networks: bool,
        /// A PostgreSQL read replica of `--db` (`postgres://…`), for lists, searches, exports and
        /// reports; a user who just wrote reads the primary until the replica has the write.
        #[arg(long, env = "TESSERA_READ_REPLICA", hide_env_values = true)]
        read_replica: Option<String>,
    },
    /// Check app folders or bundles (.zip): every file against its schema, then every cross-reference.
    /// Prints `file: /json/pointer: message` per problem; exits 1 if there is any.
    Check {
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Run the scenario tests of app folders (`tests/*.json`), each in a throwaway database.
    /// Prints a line a test and `N passed, N failed`; exits 1 if any failed.
    Test {
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Wall-clock limit of one rule call, in milliseconds: generous, as tests often run a
        /// debug build on a busy machine.
        #[arg(long, default_value_t = 2000)]
        rule_timeout_ms: u64,
    },
    /// Apps in a database: export one as a bundle or a folder, install one from a bundle.
    App {
        #[command(subcommand)]
        command: AppCommand,
    },
    /// Users, for operators: usable before anyone logged in, and in scripts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// API tokens, for operators.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Copy a live SQLite database to a new file, consistent while servers write it. A
    /// PostgreSQL database is backed up with `pg_dump` (docs/reliability.md).
    Backup {
        #[arg(long, env = "TESSERA_DB", default_value = "sqlite://tessera.db")]
        db: String,
        /// The file to write; it must not exist.
        #[arg(long)]
        out: PathBuf,
    },
    /// Make a backup the database at `--db`, which must not exist: the backup is checked, copied
    /// and its audit chain walked. Exits 1 if any of that fails.
    Restore {
        backup: PathBuf,
        #[arg(long)]
        db: String,
    },
    /// Rewrite an app's definition files in canonical form (stable key order, defaults
    /// omitted), as the designer saves them.
    Fmt {
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AppCommand {
    /// Write the live release of an app: a bundle when `--out` ends in `.tpl`, else a folder
    /// of its canonical files (what `tessera fmt` writes).
    Export {
        app: String,
        #[arg(long, env = "TESSERA_DB", default_value = "sqlite://tessera.db")]
        db: String,
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Install the app of a bundle, or merge what it changed since its last install into the
    /// live release (an admin's changes are kept); checked and impact-analysed as a publish.
    Import {
        bundle: PathBuf,
        #[arg(long, env = "TESSERA_DB", default_value = "sqlite://tessera.db")]
        db: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; a generated password (when none is given) is printed on stdout.
    Add {
        username: String,
        /// The name people see (default: the username).
        #[arg(long)]
        name: Option<String>,
        #[arg(long, env = "TESSERA_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[arg(long)]
        department: Option<String>,
        /// The platform's administrator.
        #[arg(long)]
        admin: bool,
        /// A service account: no password, used through tokens.
        #[arg(long)]
        service: bool,
        /// A role in an app, as `app:role`; repeat for more.
        #[arg(long = "grant", value_name = "APP:ROLE")]
        grants: Vec<String>,
        #[arg(long, env = "TESSERA_DB", default_value = "sqlite://tessera.db")]
        db: String,
    },
    /// Set a user's password; a generated one (when none is given) is printed on stdout and
    /// must be changed at the next login. The user's sessions end.
    Passwd {
        username: String,
        #[arg(long, env = "TESSERA_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[arg(long, env = "TESSERA_DB", default_value = "sqlite://tessera.db")]
        db: String,
    },
    /// Deactivate a user: their sessions and tokens stop working. One who still owns records
    /// or has open tasks needs `--successor`, who receives them.
    Disable {
        username: String,
        #[arg(long)]
        successor: Option<String>,
        #[arg(long, env = "TESSERA_DB", default_value = "sqlite://tessera.db")]
        db: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Make an API token for a user or service account; the token is printed on stdout, once.
    Create {
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: String,
        /// Days until it stops working (default: until revoked).
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// Limit it to an app; repeat for more (default: every app its user may use).
        #[arg(long = "app")]
        apps: Vec<String>,
        #[arg(long, env = "TESSERA_DB", default_value = "sqlite://tessera.db")]
        db: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the hash chain; exits 1 naming the first row that was edited or deleted.
    Verify {
        #[arg(long, env = "TESSERA_DB", default_value = "sqlite://tessera.db")]
        db: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The test runner installs an app for every scenario: its own lines, not the engine's, are the report.
    let quiet = matches!(cli.command, Command::Test { .. });
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| if quiet { "warn" } else { "info" }.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Check { dirs } => return check(&dirs),
        Command::Test { dirs, rule_timeout_ms } => {
            let rule_limits = RuleLimits { deadline: Duration::from_millis(rule_timeout_ms), ..RuleLimits::default() };
            return test_apps(&dirs, &Settings { rule_limits, ..Settings::default() });
        }
        Command::Fmt { dirs } => fmt(&dirs),
        Command::Audit { command: AuditCommand::Verify { db } } => return verify_audit(&db),
        Command::App { command: AppCommand::Export { app, db, out } } => export_app(&app, &db, &out),
        Command::App { command: AppCommand::Import { bundle, db } } => import_app(&bundle, &db),
        Command::Backup { db, out } => backup(&db, &out),
        Command::Restore { backup, db } => return restore(&backup, &db),
        Command::User { command } => user_command(command),
        Command::Token { command: TokenCommand::Create { user, name, expires_in_days, apps, db } } => {
            create_token(&db, user, name, expires_in_days, apps)
        }
        Command::Serve {
            db,
            addr,
            apps,
            demo,
            rule_timeout_ms,
            metrics_token,
            trusted_proxies,
            webhooks_to_private_networks,
            read_replica,
        } => {
            let rule_limits = RuleLimits { deadline: Duration::from_millis(rule_timeout_ms), ..RuleLimits::default() };
            let settings = Settings { rule_limits, read_replica, ..Settings::default() };
            match server::TrustedProxies::parse(&trusted_proxies) {
                Ok(proxies) => {
                    let outside = Outside { metrics_token, proxies, webhooks_to_private_networks };
                    serve(&db, &addr, &apps, demo, &settings, outside)
                }
                Err(e) => Err(anyhow::anyhow!("--trusted-proxy: {e}")),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the scenario tests of each app folder.
#[actix_web::main]
async fn test_apps(dirs: &[PathBuf], settings: &Settings) -> ExitCode {
    let (mut passed, mut failed) = (0, 0);
    for dir in dirs {
        let (files, problems) = defs::AppFiles::read(dir);
        for problem in &problems {
            eprintln!("{problem}");
        }
        failed += problems.len();
        for outcome in engine::run_scenarios(&files, settings).await {
            let test = dir.join(defs::FileKind::Test.path(&outcome.id));
            match outcome.failure {
                None => {
                    passed += 1;
                    eprintln!("ok     {}: {}", test.display(), outcome.name);
                }
                Some(failure) => {
                    failed += 1;
                    eprintln!("FAILED {}: {}: {failure}", test.display(), outcome.name);
                }
            }
        }
    }
    eprintln!("{passed} passed, {failed} failed");
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Writes app `app` of the database at `db` to `out`: a bundle, or a folder of its files.
#[actix_web::main]
async fn export_app(app: &str, db: &str, out: &Path) -> anyhow::Result<()> {
    let engine = Engine::open_existing(db).await?;
    let app = engine::AppId::parse(app).map_err(|e| anyhow::anyhow!("{e}"))?;
    let bytes = engine.export_bundle(&engine::Actor::system(), &app).await?;
    engine.close().await?;
    if out.extension().is_some_and(|e| e == "tpl") {
        std::fs::write(out, bytes).with_context(|| format!("cannot write {}", out.display()))?;
    } else {
        let bundle = defs::Bundle::from_zip(&bytes)?;
        bundle.files.write(out).with_context(|| format!("cannot write into {}", out.display()))?;
    }
    eprintln!("exported {} to {}", app.as_str(), out.display());
    Ok(())
}

/// Writes a consistent copy of the SQLite database at `db` to `out`.
#[actix_web::main]
async fn backup(db: &str, out: &Path) -> anyhow::Result<()> {
    let engine = Engine::open_existing(db).await?;
    let copied = engine.backup_to(out).await;
    engine.close().await?;
    copied?;
    eprintln!("backed up {db} to {}", out.display());
    Ok(())
}

/// Restores the backup `backup` as the new database `db`, and walks its audit chain.
#[actix_web::main]
async fn restore(backup: &Path, db: &str) -> ExitCode {
    match Engine::restore_backup(backup, db).await {
        Ok(Ok(rows)) => {
            eprintln!("restored {} as {db}: audit chain of {rows} row(s) holds", backup.display());
            ExitCode::SUCCESS
        }
        Ok(Err(problem)) => {
            eprintln!("tessera restore: restored as {db}, but its audit chain does not hold: {problem}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("tessera restore: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints what an operator's command made and nobody else will ever see again (a generated
/// password, a token) on stdout, for scripts to capture.
fn print_secret(secret: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    writeln!(std::io::stdout(), "{secret}").context("cannot write to stdout")
}

/// `tessera user …`: acts as the platform itself, as an operator at the console does.
#[actix_web::main]
async fn user_command(command: UserCommand) -> anyhow::Result<()> {
    let system = engine::Actor::system();
    match command {
        UserCommand::Add { username, name, password, department, admin, service, grants, db } => {
            let engine = Engine::open(&db, &[]).await?;
            let mut by_app: std::collections::BTreeMap<String, Vec<String>> = Default::default();
            for grant in &grants {
                let (app, role) = grant.split_once(':').with_context(|| format!("`--grant {grant}`: write `app:role`"))?;
                by_app.entry(app.to_owned()).or_default().push(role.to_owned());
            }
            let new = engine::NewUser {
                display_name: name.unwrap_or_else(|| username.clone()),
                username,
                kind: Some(if service { "service" } else { "person" }.to_owned()),
                department,
                password,
                roles: if admin { vec!["admin".to_owned()] } else { Vec::new() },
                grants: by_app,
                ..Default::default()
            };
            let created = engine.create_user(&system, new, false).await;
            engine.close().await?;
            let created = created?;
            eprintln!("created user {}", created.user.username);
            if let Some(password) = created.password {
                print_secret(&password)?;
            }
        }
        UserCommand::Passwd { username, password, db } => {
            let engine = Engine::open(&db, &[]).await?;
            let force_change = password.is_none();
            let generated = engine.reset_password(&system, &username, password, force_change).await;
            engine.close().await?;
            let generated = generated?;
            eprintln!("set the password of {username}");
            if let Some(password) = generated {
                print_secret(&password)?;
            }
        }
        UserCommand::Disable { username, successor, db } => {
            let engine = Engine::open(&db, &[]).await?;
            let done = Box::pin(engine.deactivate_user(&system, &username, successor)).await;
            engine.close().await?;
            match done {
                Err(engine::EngineError::OpenWork(work)) => {
                    for form in &work.forms {
                        eprintln!("{username} owns {} record(s) of {}/{}", form.records, form.app, form.form);
                    }
                    eprintln!("{username} has {} open task(s)", work.tasks);
                    anyhow::bail!("{username} still has work: name who receives it with --successor");
                }
                other => {
                    other?;
                }
            }
            eprintln!("deactivated {username}");
        }
    }
    Ok(())
}

/// `tessera token create`.
#[actix_web::main]
async fn create_token(db: &str, user: String, name: String, expires_in_days: Option<u32>, apps: Vec<String>) -> anyhow::Result<()> {
    let engine = Engine::open(db, &[]).await?;
    let expires_at = expires_in_days.map(|days| (chrono::Utc::now() + chrono::Duration::days(days.into())).to_rfc3339());
    let new = engine::NewToken { name, username: Some(user), expires_at, apps: (!apps.is_empty()).then_some(apps) };
    let issued = engine.create_token(&engine::Actor::system(), new).await;
    engine.close().await?;
    let issued = issued?;
    eprintln!("token {} for {}", issued.item.id, issued.item.username);
    print_secret(&issued.token)
}

/// Installs the app of the bundle at `file` into the database at `db`.
#[actix_web::main]
async fn import_app(file: &Path, db: &str) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let engine = Engine::open(db, &[]).await?;
    let installed = engine.install_bundle(&engine::Actor::system(), &bytes).await;
    engine.close().await?;
    if let Err(engine::EngineError::Definitions(problems)) = &installed {
        for problem in problems {
            eprintln!("{problem}");
        }
    }
    let (app, installed) = installed?;
    eprintln!("installed {app}: release {}", installed.release);
    for path in installed.conflicts {
        eprintln!("{path}: changed here and in the bundle in the same part; the installation's version was kept: decide and edit it");
    }
    Ok(())
}

fn check(dirs: &[PathBuf]) -> ExitCode {
    let mut problems = 0;
    for dir in dirs {
        for diagnostic in LoadedApp::check(dir) {
            eprintln!("{diagnostic}");
            problems += 1;
        }
    }
    if problems == 0 {
        eprintln!("ok: {} app(s) checked", dirs.len());
        ExitCode::SUCCESS
    } else {
        eprintln!("{problems} problem(s)");
        ExitCode::FAILURE
    }
}

#[actix_web::main]
async fn verify_audit(db: &str) -> ExitCode {
    let verdict = async { Engine::open_existing(db).await?.verify_audit().await }.await;
    match verdict {
        Ok(Ok(rows)) => {
            eprintln!("ok: audit chain of {rows} row(s) holds");
            ExitCode::SUCCESS
        }
        Ok(Err(problem)) => {
            eprintln!("tessera audit verify: {problem}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("tessera audit verify: {e}");
            ExitCode::FAILURE
        }
    }
}

fn fmt(dirs: &[PathBuf]) -> anyhow::Result<()> {
    for dir in dirs {
        let (files, _) = defs::AppFiles::read(dir);
        anyhow::ensure!(!files.0.is_empty(), "{}: no app here; run `tessera check`", dir.display());
        for (path, text) in &files.0 {
            let Some((kind, _)) = defs::FileKind::of_path(path) else { continue };
            let file = dir.join(path);
            match defs::canonical_text(kind, text) {
                Ok(canonical) if canonical != *text => {
                    std::fs::write(&file, canonical)?;
                    eprintln!("formatted {}", file.display());
                }
                Ok(_) => {}
                Err(errors) => {
                    for (pointer, message) in errors {
                        eprintln!("{}", defs::Diagnostic::new(&file, pointer, message));
                    }
                }
            }
        }
    }
    Ok(())
}

/// App folders under `root`, sorted.
fn app_dirs(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .with_context(|| format!("cannot read apps folder {}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("app.json").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// How a served instance meets the world around it: who scrapes its metrics, which proxies
/// name its clients, and where its webhooks may go.
struct Outside {
    metrics_token: Option<String>,
    proxies: server::TrustedProxies,
    webhooks_to_private_networks: bool,
}

#[actix_web::main]
async fn serve(db: &str, addr: &str, apps: &Path, demo: bool, settings: &Settings, outside: Outside) -> anyhow::Result<()> {
    let engine = match Engine::open_with(db, &app_dirs(apps)?, settings).await {
        Err(engine::EngineError::Definitions(diags)) => {
            for d in &diags {
                eprintln!("{d}");
            }
            anyhow::bail!("{} problem(s) in the app definitions", diags.len());
        }
        other => other?,
    };
    if demo {
        let ids = engine.apps_with_seed("demo");
        for app in ids {
            let report = engine.seed(&app, "demo").await?;
            if report.already_seeded {
                tracing::info!(app = %app, "demo data already present");
            } else {
                tracing::info!(app = %app, users = report.users, records = ?report.records, "seeded demo data");
            }
        }
    }
    let password = std::env::var("TESSERA_ADMIN_PASSWORD").ok();
    if let Some(generated) = engine.ensure_admin(password.as_deref()).await? {
        eprintln!("Created user `admin` with password: {generated}\n(shown once; set TESSERA_ADMIN_PASSWORD to choose it)");
    }
    engine.spawn_worker(JOB_INTERVAL);
    engine.spawn_release_follower(RELEASE_POLL_INTERVAL);
    engine.spawn_deliverer(engine::WebhookClient::new(outside.webhooks_to_private_networks)?, DELIVERY_INTERVAL);
    let state = match outside.metrics_token {
        Some(token) => AppState::with_metrics_token(engine, &token),
        None => AppState::new(engine),
    }
    .behind(outside.proxies);
    tracing::info!(%addr, "serving; open http://{addr}/");
    HttpServer::new(move || create_app(state.clone())).bind(addr).with_context(|| format!("cannot listen on {addr}"))?.run().await?;
    Ok(())
}
