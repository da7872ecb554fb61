//! Where apps live: every saved text of every definition file (a version a save, drafts and
//! published alike), the releases that name which version of each file an app is made of, and
//! the files an app's draft changes. The engine decides what is valid and when; this keeps it.

use std::collections::BTreeMap;

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func, OnConflict, Order, Query, SelectStatement};

use crate::StoreError;
use crate::names::{app_releases, definition_drafts, definitions};
use crate::query::limited;

/// One saved text of a definition file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionVersion {
    pub app: String,
    /// The file's path inside the app (`forms/lead.json`).
    pub path: String,
    pub version: i64,
    /// `None`: the file is deleted at this version.
    pub text: Option<String>,
    pub author: String,
    pub saved_at: String,
}

/// A published release of an app: the version of each of its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub app: String,
    pub release: i64,
    /// Each file's path and version.
    pub files: BTreeMap<String, i64>,
    /// How it came: `folder` (installed from an app folder), `publish` or `rollback`.
    pub source: String,
    pub author: String,
    pub published_at: String,
    pub message: String,
}

/// The columns of a release, written and read in this order.
const RELEASE_COLUMNS: [&str; 7] = [
    app_releases::APP,
    app_releases::RELEASE,
    app_releases::FILES,
    app_releases::SOURCE,
    app_releases::AUTHOR,
    app_releases::PUBLISHED_AT,
    app_releases::MESSAGE,
];

pub async fn save_definition(db: &impl ConnectionTrait, v: &DefinitionVersion) -> Result<(), StoreError> {
    let q = Query::insert()
        .into_table(definitions::TABLE)
        .columns([definitions::APP, definitions::PATH, definitions::VERSION, definitions::TEXT, definitions::AUTHOR, definitions::SAVED_AT])
        .values_panic([
            Expr::val(v.app.clone()),
            Expr::val(v.path.clone()),
            Expr::val(v.version),
            Expr::val(v.text.clone()),
            Expr::val(v.author.clone()),
            Expr::val(v.saved_at.clone()),
        ])
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// The text of file `path` of `app` at `version`: `None` when there is no such version,
/// `Some(None)` when the file is deleted at it.
pub async fn definition_text(db: &impl ConnectionTrait, app: &str, path: &str, version: i64) -> Result<Option<Option<String>>, StoreError> {
    let q = Query::select()
        .column(definitions::TEXT)
        .from(definitions::TABLE)
        .and_where(Expr::col(definitions::APP).eq(app))
        .and_where(Expr::col(definitions::PATH).eq(path))
        .and_where(Expr::col(definitions::VERSION).eq(version))
        .to_owned();
    Ok(db.query_one(&q).await?.map(|row| row.try_get::<Option<String>>("", definitions::TEXT)).transpose()?)
}

/// The texts of the files at the versions `files` names (deleted ones left out).
pub async fn definition_texts(
    db: &impl ConnectionTrait,
    app: &str,
    files: &BTreeMap<String, i64>,
) -> Result<BTreeMap<String, String>, StoreError> {
    let mut texts = BTreeMap::new();
    // A statement a few dozen files, each named by its path and version.
    let pairs: Vec<(&String, &i64)> = files.iter().collect();
    for chunk in pairs.chunks(64) {
        let named = chunk.iter().fold(Condition::any(), |any, (path, version)| {
            any.add(Expr::col(definitions::PATH).eq(path.as_str()).and(Expr::col(definitions::VERSION).eq(**version)))
        });
        let q = Query::select()
            .columns([definitions::PATH, definitions::TEXT])
            .from(definitions::TABLE)
            .and_where(Expr::col(definitions::APP).eq(app))
            .cond_where(named)
            .to_owned();
        for row in db.query_all(&q).await? {
            if let Some(text) = row.try_get::<Option<String>>("", definitions::TEXT)? {
                texts.insert(row.try_get("", definitions::PATH)?, text);
            }
        }
    }
    let missing: Vec<&String> = files.keys().filter(|p| !texts.contains_key(*p)).collect();
    if !missing.is_empty() {
        return Err(StoreError::corrupt(definitions::TABLE, format!("{app}: a release names versions that are not stored: {missing:?}")));
    }
    Ok(texts)
}

/// The highest version of file `path` of `app` ever saved, 0 when none.
pub async fn latest_definition_version(db: &impl ConnectionTrait, app: &str, path: &str) -> Result<i64, StoreError> {
    let q = Query::select()
        .expr_as(Func::max(Expr::col(definitions::VERSION)), "version")
        .from(definitions::TABLE)
        .and_where(Expr::col(definitions::APP).eq(app))
        .and_where(Expr::col(definitions::PATH).eq(path))
        .to_owned();
    Ok(db.query_one(&q).await?.map(|row| row.try_get::<Option<i64>>("", "version")).transpose()?.flatten().unwrap_or(0))
}

pub async fn insert_release(db: &impl ConnectionTrait, r: &Release) -> Result<(), StoreError> {
    let files = serde_json::to_string(&r.files).map_err(|e| StoreError::corrupt(app_releases::TABLE, e))?;
    let q = Query::insert()
        .into_table(app_releases::TABLE)
        .columns(RELEASE_COLUMNS)
        .values_panic([
            Expr::val(r.app.clone()),
            Expr::val(r.release),
            Expr::val(files),
            Expr::val(r.source.clone()),
            Expr::val(r.author.clone()),
            Expr::val(r.published_at.clone()),
            Expr::val(r.message.clone()),
        ])
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// The releases of `app`, newest first, at most `limit`; `source` keeps only those of one source.
pub async fn releases(db: &impl ConnectionTrait, app: &str, source: Option<&str>, limit: u64) -> Result<Vec<Release>, StoreError> {
    let mut q = select_releases(app);
    if let Some(source) = source {
        q.and_where(Expr::col(app_releases::SOURCE).eq(source));
    }
    read_releases(db, &q, limit).await
}

/// The newest release of `app`.
pub async fn latest_release(db: &impl ConnectionTrait, app: &str) -> Result<Option<Release>, StoreError> {
    Ok(releases(db, app, None, 1).await?.into_iter().next())
}

/// Release `release` of `app`.
pub async fn release(db: &impl ConnectionTrait, app: &str, release: i64) -> Result<Option<Release>, StoreError> {
    let mut q = select_releases(app);
    q.and_where(Expr::col(app_releases::RELEASE).eq(release));
    Ok(read_releases(db, &q, 1).await?.into_iter().next())
}

fn select_releases(app: &str) -> SelectStatement {
    Query::select()
        .columns(RELEASE_COLUMNS)
        .from(app_releases::TABLE)
        .and_where(Expr::col(app_releases::APP).eq(app))
        .order_by(app_releases::RELEASE, Order::Desc)
        .to_owned()
}

async fn read_releases(db: &impl ConnectionTrait, q: &SelectStatement, limit: u64) -> Result<Vec<Release>, StoreError> {
    db.query_all_raw(limited(db, q, limit))
        .await?
        .iter()
        .map(|row| {
            let files: String = row.try_get("", app_releases::FILES)?;
            Ok(Release {
                app: row.try_get("", app_releases::APP)?,
                release: row.try_get("", app_releases::RELEASE)?,
                files: serde_json::from_str(&files).map_err(|e| StoreError::corrupt(app_releases::TABLE, e))?,
                source: row.try_get("", app_releases::SOURCE)?,
                author: row.try_get("", app_releases::AUTHOR)?,
                published_at: row.try_get("", app_releases::PUBLISHED_AT)?,
                message: row.try_get("", app_releases::MESSAGE)?,
            })
        })
        .collect()
}

/// The newest release number of every app that has one: what servers poll to follow publishes.
pub async fn release_heads(db: &impl ConnectionTrait) -> Result<BTreeMap<String, i64>, StoreError> {
    let q = Query::select()
        .column(app_releases::APP)
        .expr_as(Func::max(Expr::col(app_releases::RELEASE)), "release")
        .from(app_releases::TABLE)
        .group_by_col(app_releases::APP)
        .to_owned();
    db.query_all(&q).await?.iter().map(|row| Ok((row.try_get("", app_releases::APP)?, row.try_get("", "release")?))).collect()
}

/// The files `app`'s draft changes, each at its draft version.
pub async fn drafts(db: &impl ConnectionTrait, app: &str) -> Result<BTreeMap<String, i64>, StoreError> {
    let q = Query::select()
        .columns([definition_drafts::PATH, definition_drafts::VERSION])
        .from(definition_drafts::TABLE)
        .and_where(Expr::col(definition_drafts::APP).eq(app))
        .to_owned();
    db.query_all(&q)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("", definition_drafts::PATH)?, row.try_get("", definition_drafts::VERSION)?)))
        .collect()
}

/// Makes `version` the draft of file `path` of `app`.
pub async fn set_draft(db: &impl ConnectionTrait, app: &str, path: &str, version: i64) -> Result<(), StoreError> {
    let q = Query::insert()
        .into_table(definition_drafts::TABLE)
        .columns([definition_drafts::APP, definition_drafts::PATH, definition_drafts::VERSION])
        .values_panic([Expr::val(app), Expr::val(path), Expr::val(version)])
        .on_conflict(
            OnConflict::columns([definition_drafts::APP, definition_drafts::PATH]).update_column(definition_drafts::VERSION).to_owned(),
        )
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// Forgets `app`'s draft, once published.
pub async fn clear_drafts(db: &impl ConnectionTrait, app: &str) -> Result<(), StoreError> {
    let q = Query::delete().from_table(definition_drafts::TABLE).and_where(Expr::col(definition_drafts::APP).eq(app)).to_owned();
    db.execute(&q).await?;
    Ok(())
}
