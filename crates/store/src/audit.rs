//! The audit log: every write and every refused attempt, hash-chained. Each row's hash covers
//! its content and the previous row's hash in its chain, so editing or deleting a row breaks the
//! chain at that row. A chain is appended to under its lock, so it has one order even with
//! several servers on one PostgreSQL, where the log is [`POSTGRES_CHAINS`] chains; each row
//! also hashes in another chain's head (its anchor), so a chain whose last rows were deleted is
//! found by the rows of the others that named them.
//!
//! The previous hash is the previous row's `hash`: the `prev_hash` column, which rows of
//! earlier releases filled with a copy of it (64 bytes a row), is left empty. Verification
//! never needed the copy: a row whose hash holds was hashed over the right previous hash.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait, Order, Query, SelectStatement};
use sea_orm::{AccessMode, ConnectionTrait, DatabaseConnection, DbBackend, IsolationLevel, Statement, TransactionTrait};
use sha2::{Digest, Sha256};

use crate::connect::{Backend, backend_of};
use crate::names::audit_log;
use crate::query::limited;
use crate::records::try_lock_key;
use crate::{StoreError, lock_key};

/// One audit row as written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    /// `create`, `update`, `delete`, `restore`, `read`, `list`, `login` …
    pub action: String,
    pub app: String,
    pub form: String,
    pub record_id: String,
    /// `ok`, or `denied` for a refused attempt.
    pub outcome: String,
    /// JSON text of the record before and after (empty when not applicable).
    pub before: String,
    pub after: String,
}

/// A stored row: the entry plus its place in the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub seq: i64,
    pub entry: AuditEntry,
    pub hash: String,
}

/// The columns written, in order; read are all but `prev_hash`.
const COLUMNS: [&str; 12] = [
    audit_log::SEQ,
    audit_log::AT,
    audit_log::ACTOR,
    audit_log::ACTION,
    audit_log::APP,
    audit_log::FORM,
    audit_log::RECORD_ID,
    audit_log::OUTCOME,
    audit_log::BEFORE,
    audit_log::AFTER,
    audit_log::PREV_HASH,
    audit_log::HASH,
];

/// The hash of a row: SHA-256 over the previous hash and every field, unit-separated.
pub fn audit_hash(seq: i64, e: &AuditEntry, prev_hash: &str) -> String {
    // The parts joined by U+001F, hashed as they come rather than copied into one text first.
    let parts = [prev_hash, &seq.to_string(), &e.at, &e.actor, &e.action, &e.app, &e.form, &e.record_id, &e.outcome, &e.before, &e.after];
    let mut hasher = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update("\u{1f}".as_bytes());
        }
        hasher.update(part.as_bytes());
    }
    format!("{:x}", hasher.finalize())
}

/// Appends `entry` to the chain inside the caller's transaction.
pub async fn append_audit(db: &impl ConnectionTrait, entry: &AuditEntry) -> Result<(), StoreError> {
    append_audit_rows(db, std::slice::from_ref(entry)).await
}

/// Chains of the log on PostgreSQL. A writer appends to whichever chain is free, so up to this
/// many transactions append at once and their commits share WAL flushes; with one chain every
/// writer of every server waited for the one before it to commit (`docs/benchmarks.md`). SQLite,
/// which has one writer, keeps one chain.
pub const POSTGRES_CHAINS: i64 = 8;

/// Appends `entries`, in order, to a chain of the log inside the caller's transaction. The
/// chain is held until the transaction ends; its head is read once and the rows are inserted
/// with one statement.
pub async fn append_audit_rows(db: &impl ConnectionTrait, entries: &[AuditEntry]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let place = match backend_of(db) {
        Backend::Postgres => place_on_postgres(db, entries.len()).await?,
        Backend::Sqlite => {
            let head = head(db).await?;
            let last = head.as_ref().map_or(0, |(seq, _)| *seq);
            Place { chain: 0, head, anchor: None, seqs: (1..).take(entries.len()).map(|n| last + n).collect() }
        }
    };
    let Place { chain, head, anchor, seqs } = place;
    let (mut prev_seq, mut prev_hash) = head.unwrap_or_default();
    let mut q = Query::insert();
    q.into_table(audit_log::TABLE).columns(COLUMNS.into_iter().chain([audit_log::CHAIN, audit_log::PREV_SEQ, audit_log::ANCHOR_SEQ]));
    for (e, seq) in entries.iter().zip(seqs) {
        let hash = audit_hash(seq, e, &link(&prev_hash, prev_seq, anchor.as_ref()));
        q.values_panic([
            Expr::val(seq),
            Expr::val(e.at.clone()),
            Expr::val(e.actor.clone()),
            Expr::val(e.action.clone()),
            Expr::val(e.app.clone()),
            Expr::val(e.form.clone()),
            Expr::val(e.record_id.clone()),
            Expr::val(e.outcome.clone()),
            Expr::val(e.before.clone()),
            Expr::val(e.after.clone()),
            Expr::val(""),
            Expr::val(hash.clone()),
            Expr::val(chain),
            Expr::val(prev_seq),
            Expr::val(anchor.as_ref().map(|(seq, _)| *seq)),
        ]);
        (prev_seq, prev_hash) = (seq, hash);
    }
    db.execute(&q).await?;
    Ok(())
}

/// What a row's hash chains in besides its content: the previous row of its chain (number and
/// hash) and the anchor it holds. Rows of earlier releases chained in the previous hash alone.
fn link(prev_hash: &str, prev_seq: i64, anchor: Option<&(i64, String)>) -> String {
    let (anchor_seq, anchor_hash) = anchor.map(|(seq, hash)| (seq.to_string(), hash.as_str())).unwrap_or_default();
    [prev_hash, &prev_seq.to_string(), &anchor_seq, anchor_hash].join("\u{1f}")
}

/// Takes a chain for this transaction: the first free one from a random start, or, when all
/// are taken, waits for that one.
async fn take_chain(db: &impl ConnectionTrait) -> Result<i64, StoreError> {
    let start = fastrand::i64(0..POSTGRES_CHAINS);
    for chain in (0..POSTGRES_CHAINS).map(|i| (start + i) % POSTGRES_CHAINS) {
        if try_lock_key(db, &chain_key(chain)).await? {
            return Ok(chain);
        }
    }
    lock_key(db, &chain_key(start)).await?;
    Ok(start)
}

fn chain_key(chain: i64) -> String {
    format!("audit-chain:{chain}")
}

/// Where new rows go: their chain, its last row (number and hash), the anchor they hash in,
/// and their numbers.
struct Place {
    chain: i64,
    head: Option<(i64, String)>,
    anchor: Option<(i64, String)>,
    seqs: Vec<i64>,
}

/// The last row of the log (SQLite's one chain): its number and hash.
async fn head(db: &impl ConnectionTrait) -> Result<Option<(i64, String)>, StoreError> {
    let last =
        Query::select().columns([audit_log::SEQ, audit_log::HASH]).from(audit_log::TABLE).order_by(audit_log::SEQ, Order::Desc).to_owned();
    match db.query_one_raw(limited(db, &last, 1)).await? {
        Some(row) => Ok(Some((row.try_get("", audit_log::SEQ)?, row.try_get("", audit_log::HASH)?))),
        None => Ok(None),
    }
}

/// Takes a chain for `count` new rows on PostgreSQL; then, in one statement, reads its head
/// and the next chain's (the anchor: should that chain's tail be deleted, these rows no longer
/// verify) and draws their numbers from the sequence, which chains draw from at once.
async fn place_on_postgres(db: &impl ConnectionTrait, count: usize) -> Result<Place, StoreError> {
    let chain = take_chain(db).await?;
    let q = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "(SELECT 0 AS part, seq, hash FROM audit_log WHERE chain = $1 ORDER BY seq DESC LIMIT 1) \
         UNION ALL (SELECT 1, seq, hash FROM audit_log WHERE chain = $2 ORDER BY seq DESC LIMIT 1) \
         UNION ALL SELECT 2, nextval('audit_seq'), '' FROM generate_series(1, $3)",
        [chain.into(), ((chain + 1) % POSTGRES_CHAINS).into(), i64::try_from(count).unwrap_or(i64::MAX).into()],
    );
    let mut place = Place { chain, head: None, anchor: None, seqs: Vec::with_capacity(count) };
    for row in db.query_all_raw(q).await? {
        let (seq, hash): (i64, String) = (row.try_get("", "seq")?, row.try_get("", "hash")?);
        match row.try_get::<i32>("", "part")? {
            0 => place.head = Some((seq, hash)),
            1 => place.anchor = Some((seq, hash)),
            _ => place.seqs.push(seq),
        }
    }
    place.seqs.sort_unstable();
    Ok(place)
}

/// Filters for reading the log.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub app: Option<String>,
    pub form: Option<String>,
    pub record_id: Option<String>,
    pub actor: Option<String>,
    pub outcome: Option<String>,
    /// Rows with a sequence number below this (paging backwards from the newest).
    pub before_seq: Option<i64>,
    pub after_seq: Option<i64>,
    /// Rows at or after this time, and before this one (RFC 3339, as `at` is written).
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: u64,
    /// Oldest first (for verification) instead of newest first.
    pub ascending: bool,
}

pub async fn audit_rows(db: &impl ConnectionTrait, q: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
    db.query_all_raw(limited(db, &select(q), q.limit)).await?.iter().map(row_of).collect()
}

/// The statement selecting what `q` asks for (without its limit).
fn select(q: &AuditQuery) -> SelectStatement {
    let mut s = Query::select();
    s.columns(COLUMNS.into_iter().filter(|c| *c != audit_log::PREV_HASH)).from(audit_log::TABLE);
    for (column, value) in [
        (audit_log::APP, &q.app),
        (audit_log::FORM, &q.form),
        (audit_log::RECORD_ID, &q.record_id),
        (audit_log::ACTOR, &q.actor),
        (audit_log::OUTCOME, &q.outcome),
    ] {
        if let Some(v) = value {
            s.and_where(Expr::col(column).eq(v.clone()));
        }
    }
    if let Some(seq) = q.before_seq {
        s.and_where(Expr::col(audit_log::SEQ).lt(seq));
    }
    if let Some(seq) = q.after_seq {
        s.and_where(Expr::col(audit_log::SEQ).gt(seq));
    }
    if let Some(from) = &q.from {
        s.and_where(Expr::col(audit_log::AT).gte(from.clone()));
    }
    if let Some(to) = &q.to {
        s.and_where(Expr::col(audit_log::AT).lt(to.clone()));
    }
    s.order_by(audit_log::SEQ, if q.ascending { Order::Asc } else { Order::Desc });
    s
}

fn row_of(row: &sea_orm::QueryResult) -> Result<AuditRow, StoreError> {
    Ok(AuditRow {
        seq: row.try_get("", audit_log::SEQ)?,
        entry: AuditEntry {
            at: row.try_get("", audit_log::AT)?,
            actor: row.try_get("", audit_log::ACTOR)?,
            action: row.try_get("", audit_log::ACTION)?,
            app: row.try_get("", audit_log::APP)?,
            form: row.try_get("", audit_log::FORM)?,
            record_id: row.try_get("", audit_log::RECORD_ID)?,
            outcome: row.try_get("", audit_log::OUTCOME)?,
            before: row.try_get("", audit_log::BEFORE)?,
            after: row.try_get("", audit_log::AFTER)?,
        },
        hash: row.try_get("", audit_log::HASH)?,
    })
}

/// Walks every chain of the log. Returns the number of rows, or the first row that does not
/// hold: edited, missing from its chain, or a chain's head that a row of another chain holds
/// as its anchor and that is gone.
///
/// It reads one snapshot of the log: walked while servers write, a chain's row committed after
/// a later-numbered row of another chain would otherwise look missing.
pub async fn verify_audit(db: &DatabaseConnection) -> Result<Result<u64, String>, StoreError> {
    let (isolation, access) = match backend_of(db) {
        Backend::Postgres => (Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)),
        // A read transaction on SQLite reads one snapshot from its first read.
        Backend::Sqlite => (None, None),
    };
    let snapshot = db.begin_with_config(isolation, access).await?;
    let verdict = walk_chains(&snapshot).await;
    snapshot.rollback().await?;
    verdict
}

async fn walk_chains(db: &impl ConnectionTrait) -> Result<Result<u64, String>, StoreError> {
    // Each chain's last row walked: its number and hash.
    let mut heads: HashMap<i64, (i64, String)> = HashMap::new();
    let (mut after, mut checked) = (0, 0);
    loop {
        let page = AuditQuery { after_seq: Some(after), limit: 1000, ascending: true, ..Default::default() };
        let rows = chained_rows(db, &page).await?;
        if rows.is_empty() {
            return Ok(Ok(checked));
        }
        let anchors = hashes_of(db, rows.iter().filter_map(|(_, links)| links.anchor_seq).collect()).await?;
        for (row, links) in rows {
            let (last_seq, last_hash) = heads.get(&links.chain).cloned().unwrap_or_default();
            let linked = match links.prev_seq {
                // A row of an earlier release follows the row numbered one less.
                None if row.seq != last_seq + 1 => {
                    return Ok(Err(format!("audit row {} is missing (the next row is {})", last_seq + 1, row.seq)));
                }
                None => last_hash,
                Some(prev) if prev > last_seq => {
                    return Ok(Err(format!("audit row {prev} is missing (row {} follows it in chain {})", row.seq, links.chain)));
                }
                Some(prev) if prev < last_seq => {
                    return Ok(Err(format!("audit row {}: chain {} has row {last_seq} between it and row {prev}", row.seq, links.chain)));
                }
                Some(prev) => {
                    let anchor = match links.anchor_seq {
                        Some(seq) => match anchors.get(&seq) {
                            Some(hash) => Some((seq, hash.clone())),
                            None => {
                                return Ok(Err(format!("audit row {seq} is missing (row {} holds it as another chain's head)", row.seq)));
                            }
                        },
                        None => None,
                    };
                    link(&last_hash, prev, anchor.as_ref())
                }
            };
            if audit_hash(row.seq, &row.entry, &linked) != row.hash {
                return Ok(Err(format!("audit row {}: its content does not match its hash (edited, or the row before it was)", row.seq)));
            }
            after = row.seq;
            heads.insert(links.chain, (row.seq, row.hash));
            checked += 1;
        }
    }
}

/// Where a row sits in the chains.
struct Links {
    chain: i64,
    prev_seq: Option<i64>,
    anchor_seq: Option<i64>,
}

/// The rows `q` selects, each with its links.
async fn chained_rows(db: &impl ConnectionTrait, q: &AuditQuery) -> Result<Vec<(AuditRow, Links)>, StoreError> {
    let s = select(q).columns([audit_log::CHAIN, audit_log::PREV_SEQ, audit_log::ANCHOR_SEQ]).to_owned();
    db.query_all_raw(limited(db, &s, q.limit))
        .await?
        .iter()
        .map(|row| {
            let links = Links {
                chain: row.try_get("", audit_log::CHAIN)?,
                prev_seq: row.try_get("", audit_log::PREV_SEQ)?,
                anchor_seq: row.try_get("", audit_log::ANCHOR_SEQ)?,
            };
            Ok((row_of(row)?, links))
        })
        .collect()
}

/// The hashes of the rows numbered `seqs` that are there.
async fn hashes_of(db: &impl ConnectionTrait, seqs: Vec<i64>) -> Result<HashMap<i64, String>, StoreError> {
    if seqs.is_empty() {
        return Ok(HashMap::new());
    }
    let q = Query::select()
        .columns([audit_log::SEQ, audit_log::HASH])
        .from(audit_log::TABLE)
        .and_where(Expr::col(audit_log::SEQ).is_in(seqs))
        .to_owned();
    db.query_all(&q).await?.iter().map(|row| Ok((row.try_get("", audit_log::SEQ)?, row.try_get("", audit_log::HASH)?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_the_sha256_of_the_parts_joined_by_unit_separators() {
        // Rows written by earlier versions must still verify: the hash may not change.
        let e = AuditEntry {
            at: "2026-11-23T10:00:00Z".into(),
            actor: "admin".into(),
            action: "create".into(),
            app: "crm".into(),
            form: "lead".into(),
            record_id: "r1".into(),
            outcome: "ok".into(),
            before: String::new(),
            after: r#"{"id":"r1"}"#.into(),
        };
        let joined =
            ["prev", "7", &e.at, &e.actor, &e.action, &e.app, &e.form, &e.record_id, &e.outcome, &e.before, &e.after].join("\u{1f}");
        let expected: String = Sha256::digest(joined.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(audit_hash(7, &e, "prev"), expected);
    }

    /// A new, migrated PostgreSQL database, when `TESSERA_TEST_PG` names a server.
    async fn postgres() -> Option<crate::Store> {
        Some(crate::Store::connect(&postgres_url().await?).await.unwrap())
    }

    /// A new, empty PostgreSQL database's URL, when `TESSERA_TEST_PG` names a server.
    async fn postgres_url() -> Option<String> {
        let Ok(base) = std::env::var("TESSERA_TEST_PG") else {
            eprintln!("note: TESSERA_TEST_PG is not set; skipping PostgreSQL for this test");
            return None;
        };
        let base = base.trim_end_matches('/');
        let name = format!("t_{}", uuid::Uuid::now_v7().simple());
        let admin = sea_orm::Database::connect(format!("{base}/postgres")).await.unwrap();
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
        admin.close().await.ok();
        Some(format!("{base}/{name}"))
    }

    fn entry(n: usize) -> AuditEntry {
        AuditEntry {
            at: format!("2026-12-06T00:00:{:02}Z", n % 60),
            actor: format!("u{n}"),
            action: "create".into(),
            outcome: "ok".into(),
            ..Default::default()
        }
    }

    /// With one chain, a writer waited for every other writer's commit (item 7 of issue 24):
    /// a second transaction could not append while the first was open.
    #[tokio::test]
    async fn writers_on_postgresql_append_at_once_and_every_chain_verifies() {
        let Some(store) = postgres().await else { return };
        let (turn, first) = store.begin().await.unwrap();
        append_audit(&first, &entry(0)).await.unwrap();
        let (other_turn, second) = store.begin().await.unwrap();
        let appended = tokio::time::timeout(std::time::Duration::from_secs(5), append_audit(&second, &entry(1))).await;
        assert!(matches!(appended, Ok(Ok(()))), "a second writer waited for the first: {appended:?}");
        other_turn.commit(second).await.unwrap();
        turn.commit(first).await.unwrap();

        let writers: Vec<_> = (0..16)
            .map(|w| {
                let store = store.clone();
                tokio::spawn(async move {
                    for n in 0..20 {
                        let (turn, tx) = store.begin().await.unwrap();
                        append_audit_rows(&tx, &[entry(w * 100 + n), entry(w * 100 + n + 50)]).await.unwrap();
                        turn.commit(tx).await.unwrap();
                    }
                })
            })
            .collect();
        // Walked while they write, the log holds at every moment.
        let mut walks = 0;
        while writers.iter().any(|w| !w.is_finished()) {
            let verdict = verify_audit(store.db()).await.unwrap();
            assert!(verdict.is_ok(), "walked while written: {verdict:?}");
            walks += 1;
        }
        for writer in writers {
            writer.await.unwrap();
        }
        assert!(walks > 0);
        assert_eq!(verify_audit(store.db()).await.unwrap(), Ok(2 + 16 * 20 * 2));
        let q = sea_orm::sea_query::Query::select()
            .expr_as(Expr::col(audit_log::CHAIN).count_distinct(), "chains")
            .from(audit_log::TABLE)
            .to_owned();
        let chains: i64 = store.db().query_one(&q).await.unwrap().unwrap().try_get("", "chains").unwrap();
        assert!(chains > 1, "every writer used one chain");
    }

    /// The last rows of a chain, deleted, leave no break in that chain; the anchor a row of
    /// another chain holds finds them, as an edit anywhere is found.
    #[tokio::test]
    async fn the_deleted_tail_of_a_chain_is_found_by_an_anchor_and_an_edit_by_its_hash() {
        let Some(store) = postgres().await else { return };
        for n in 0..60 {
            let (turn, tx) = store.begin().await.unwrap();
            append_audit(&tx, &entry(n)).await.unwrap();
            turn.commit(tx).await.unwrap();
        }
        assert_eq!(verify_audit(store.db()).await.unwrap(), Ok(60));
        let db = store.db();
        let one = |sql: String| async move {
            let row = db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await.unwrap().unwrap();
            (row.try_get::<i64>("", "a").unwrap(), row.try_get::<i64>("", "b").unwrap())
        };
        db.execute_unprepared("UPDATE audit_log SET actor = 'mallory' WHERE seq = (SELECT MAX(seq) FROM audit_log) - 5").await.unwrap();
        let edited = verify_audit(db).await.unwrap().unwrap_err();
        assert!(edited.contains("does not match its hash"), "{edited}");
        db.execute_unprepared("UPDATE audit_log SET actor = 'u0' WHERE actor = 'mallory'").await.unwrap();
        // The oldest anchor held, and its chain from that row on.
        let (anchor, chain) =
            one("SELECT a.seq AS a, a.chain AS b FROM audit_log a JOIN audit_log r ON r.anchor_seq = a.seq ORDER BY a.seq LIMIT 1".into())
                .await;
        db.execute_unprepared(&format!("DELETE FROM audit_log WHERE chain = {chain} AND seq >= {anchor}")).await.unwrap();
        let deleted = verify_audit(db).await.unwrap().unwrap_err();
        assert!(deleted.starts_with(&format!("audit row {anchor} is missing")), "{deleted}");
    }

    /// A log written by a release before the chains (one chain, each row following the row
    /// numbered one less) verifies after the upgrade with the rows the chains add after it.
    #[tokio::test]
    async fn rows_of_the_single_chain_release_verify_with_the_chained_rows_after_them() {
        let dir = std::env::temp_dir().join(format!("tessera-audit-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut urls = vec![format!("sqlite://{}/t.db?mode=rwc", dir.display())];
        urls.extend(postgres_url().await);
        for url in urls {
            let store = crate::Store::connect(&url).await.unwrap();
            // Back to the release before: its rows, and no record of migration 11.
            let mut prev_hash = String::new();
            for seq in 1..=5 {
                let e = entry(usize::try_from(seq).unwrap());
                let hash = audit_hash(seq, &e, &prev_hash);
                let q = Query::insert()
                    .into_table(audit_log::TABLE)
                    .columns(COLUMNS)
                    .values_panic([
                        seq.into(),
                        e.at.into(),
                        e.actor.into(),
                        e.action.into(),
                        e.app.into(),
                        e.form.into(),
                        e.record_id.into(),
                        e.outcome.into(),
                        e.before.into(),
                        e.after.into(),
                        "".into(),
                        hash.clone().into(),
                    ])
                    .to_owned();
                store.db().execute(&q).await.unwrap();
                prev_hash = hash;
            }
            store.db().execute_unprepared("DELETE FROM schema_migrations WHERE version >= 11").await.unwrap();
            if store.backend() == Backend::Postgres {
                store.db().execute_unprepared("DROP SEQUENCE audit_seq").await.unwrap();
            }
            store.close().await.unwrap();

            let store = crate::Store::connect(&url).await.unwrap();
            for n in 0..20 {
                let (turn, tx) = store.begin().await.unwrap();
                append_audit(&tx, &entry(n)).await.unwrap();
                turn.commit(tx).await.unwrap();
            }
            assert_eq!(verify_audit(store.db()).await.unwrap(), Ok(25), "{url}");
            store.db().execute_unprepared("DELETE FROM audit_log WHERE seq = 3").await.unwrap();
            assert_eq!(verify_audit(store.db()).await.unwrap(), Err("audit row 3 is missing (the next row is 4)".into()), "{url}");
            store.close().await.unwrap();
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
