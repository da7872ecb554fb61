//! Migration 8, frozen: the organisation as data. Users gain a kind (a person or a service
//! account), an active flag, a forced password change and a language; departments become a
//! table (they were only in `app.json`); which user holds which role becomes a grant per app
//! (`role_grants`); and integrations get API tokens, stored as digests.

use sea_orm::sea_query::{ColumnDef, Index, Table};

use super::Step;

pub(super) fn steps() -> Vec<Step> {
    let user_columns = [
        ColumnDef::new("kind").string().not_null().default("person").to_owned(),
        ColumnDef::new("active").boolean().not_null().default(true).to_owned(),
        ColumnDef::new("must_change_password").boolean().not_null().default(false).to_owned(),
        ColumnDef::new("language").string().null().to_owned(),
    ];
    let departments = Table::create()
        .table("departments")
        .if_not_exists()
        .col(ColumnDef::new("id").string().not_null().primary_key())
        .col(ColumnDef::new("name").string().not_null())
        .col(ColumnDef::new("parent").string().null())
        .col(ColumnDef::new("manager").string().null())
        .col(ColumnDef::new("created_at").string().not_null())
        .to_owned();
    let grants = Table::create()
        .table("role_grants")
        .if_not_exists()
        .col(ColumnDef::new("username").string().not_null())
        .col(ColumnDef::new("app").string().not_null())
        .col(ColumnDef::new("role").string().not_null())
        .col(ColumnDef::new("granted_by").string().not_null())
        .col(ColumnDef::new("granted_at").string().not_null())
        .primary_key(Index::create().col("username").col("app").col("role"))
        .to_owned();
    let tokens = Table::create()
        .table("api_tokens")
        .if_not_exists()
        .col(ColumnDef::new("id").string().not_null().primary_key())
        .col(ColumnDef::new("name").string().not_null())
        .col(ColumnDef::new("token_hash").string().not_null().unique_key())
        .col(ColumnDef::new("username").string().not_null())
        .col(ColumnDef::new("created_by").string().not_null())
        .col(ColumnDef::new("created_at").string().not_null())
        .col(ColumnDef::new("expires_at").string().null())
        // JSON list of app ids the token is limited to; NULL: every app its user may use.
        .col(ColumnDef::new("apps").text().null())
        .col(ColumnDef::new("last_used_at").string().null())
        .col(ColumnDef::new("revoked_at").string().null())
        .to_owned();
    let mut steps: Vec<Step> = user_columns.into_iter().map(|column| Step::AddColumnIfMissing { table: "users", column }).collect();
    steps.extend([departments.into(), grants.into(), tokens.into()]);
    steps
}
