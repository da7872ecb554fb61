//! Migration 7, frozen: apps live in the database. Every saved text of every definition file
//! (`definitions`, a version a save), the published releases of each app (`app_releases`, each
//! naming the version of every file it is made of), and the files an app's draft changes
//! (`definition_drafts`).

use sea_orm::sea_query::{ColumnDef, Index, Table};

use super::Step;

pub(super) fn steps() -> Vec<Step> {
    let definitions = Table::create()
        .table("definitions")
        .if_not_exists()
        .col(ColumnDef::new("app").string().not_null())
        .col(ColumnDef::new("path").string().not_null())
        .col(ColumnDef::new("version").big_integer().not_null())
        // NULL: the file is deleted at this version.
        .col(ColumnDef::new("text").text().null())
        .col(ColumnDef::new("author").string().not_null())
        .col(ColumnDef::new("saved_at").string().not_null())
        .primary_key(Index::create().col("app").col("path").col("version"))
        .to_owned();
    let releases = Table::create()
        .table("app_releases")
        .if_not_exists()
        .col(ColumnDef::new("app").string().not_null())
        .col(ColumnDef::new("release").big_integer().not_null())
        // JSON: each file's path and version.
        .col(ColumnDef::new("files").text().not_null())
        .col(ColumnDef::new("source").string().not_null())
        .col(ColumnDef::new("author").string().not_null())
        .col(ColumnDef::new("published_at").string().not_null())
        .col(ColumnDef::new("message").text().not_null())
        .primary_key(Index::create().col("app").col("release"))
        .to_owned();
    let drafts = Table::create()
        .table("definition_drafts")
        .if_not_exists()
        .col(ColumnDef::new("app").string().not_null())
        .col(ColumnDef::new("path").string().not_null())
        .col(ColumnDef::new("version").big_integer().not_null())
        .primary_key(Index::create().col("app").col("path"))
        .to_owned();
    vec![definitions.into(), releases.into(), drafts.into()]
}
