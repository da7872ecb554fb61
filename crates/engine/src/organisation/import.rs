//! Users imported from a spreadsheet, with the record import's report: the same row numbers,
//! columns and codes, a dry run that writes nothing, and the good rows kept.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::require_admin;
use super::users::{NewUser, PreparedUser, hash_password_of};
use crate::import::{ImportReport, RowError, Table};
use crate::{Actor, Engine, EngineError};

/// Most users one import creates: each needs a password hash, a core's tens of milliseconds.
pub const MAX_USER_IMPORT_ROWS: usize = 1_000;

/// The columns a users file may have; `username` is required.
const COLUMNS: [&str; 8] = ["username", "display_name", "department", "language", "password", "kind", "admin", "grants"];

/// The report of a users import, and the passwords the server chose for the users it created
/// without one: shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct UsersImport {
    #[serde(flatten)]
    pub report: ImportReport,
    pub passwords: Vec<GeneratedPassword>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GeneratedPassword {
    pub username: String,
    pub password: String,
}

/// A refused row as the record import reports one: the problem's pointer names the column.
fn row_error(row: usize, e: &EngineError) -> RowError {
    let detail = e.details().into_iter().next();
    RowError {
        row,
        column: detail.as_ref().map(|d| d.path.trim_start_matches('/').split('/').next().unwrap_or_default().to_owned()),
        message: detail.as_ref().map_or_else(|| e.to_string(), |d| d.message.clone()),
        error: e.code(),
        code: detail.as_ref().map(|d| d.code),
        params: detail.map(|d| d.params.into_iter().collect()).unwrap_or_default(),
    }
}

/// `app:role` pairs separated by spaces, commas or semicolons, as roles per app.
fn grants_of(text: &str) -> Result<BTreeMap<String, Vec<String>>, EngineError> {
    let mut grants: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in text.split([' ', ',', ';']).filter(|p| !p.is_empty()) {
        let (app, role) =
            pair.split_once(':').ok_or_else(|| EngineError::malformed_at("/grants", format!("`{pair}`: write `app:role`")))?;
        grants.entry(app.to_owned()).or_default().push(role.to_owned());
    }
    Ok(grants)
}

impl Engine {
    /// Creates a user a row. Every row is checked as `POST /api/users` checks it; good rows are
    /// created (unless `dry_run`), each forced to choose their password at first login.
    pub async fn import_users(&self, actor: &Actor, table: Table, dry_run: bool) -> Result<UsersImport, EngineError> {
        require_admin(actor, "import users")?;
        if table.total() > MAX_USER_IMPORT_ROWS {
            return Err(EngineError::TooLarge {
                message: format!("at most {MAX_USER_IMPORT_ROWS} users an import; split the file"),
                limit: crate::error::Limit { name: "MAX_USER_IMPORT_ROWS", value: MAX_USER_IMPORT_ROWS as u64 },
            });
        }
        let headers = table.headers.clone();
        let index: BTreeMap<&str, usize> = headers.iter().enumerate().map(|(i, h)| (h.trim(), i)).collect();
        let unknown: Vec<&str> = index.keys().copied().filter(|h| !COLUMNS.contains(h)).collect();
        if !unknown.is_empty() || !index.contains_key("username") {
            let message = format!("columns must be among {} with `username`; unknown: {}", COLUMNS.join(", "), unknown.join(", "));
            return Err(EngineError::malformed(message));
        }
        let columns = headers.iter().map(|h| (h.clone(), COLUMNS.contains(&h.trim()).then(|| h.trim().to_owned()))).collect();
        let mut report = ImportReport { total: table.total(), dry_run, columns, ..ImportReport::default() };
        let mut ready: Vec<(usize, PreparedUser)> = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, row) in table.into_rows().enumerate() {
            let number = i + 2; // the header is row 1
            let row = row.map_err(|e| EngineError::Internal(format!("reading the file's rows: {e}")))?;
            let cell = |name: &str| index.get(name).and_then(|&c| row.get(c)).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
            let prepared = grants_of(&cell("grants").unwrap_or_default()).and_then(|grants| {
                let username = cell("username").unwrap_or_default();
                let new = NewUser {
                    display_name: cell("display_name").unwrap_or_else(|| username.clone()),
                    username,
                    kind: cell("kind"),
                    department: cell("department"),
                    password: cell("password"),
                    language: cell("language"),
                    roles: if cell("admin").is_some_and(|a| ["yes", "true", "1", "是"].contains(&a.to_lowercase().as_str())) {
                        vec![crate::access::ADMIN.to_owned()]
                    } else {
                        Vec::new()
                    },
                    grants,
                };
                self.prepare_user(new, true)
            });
            match prepared {
                Ok(p) if !seen.insert(p.user.username.clone()) => {
                    let e = EngineError::Duplicate { existing: None, fields: vec!["username".into()] };
                    report.errors.push(row_error(number, &e));
                }
                Ok(p) => match self.check_against(self.store.db(), &p.user).await {
                    Ok(()) => ready.push((number, p)),
                    Err(e) => report.errors.push(row_error(number, &e)),
                },
                Err(e) => report.errors.push(row_error(number, &e)),
            }
        }
        if dry_run {
            // As a record import's dry run: what a real one would create.
            report.created = ready.len();
            report.failed = report.errors.len();
            return Ok(UsersImport { report, passwords: Vec::new() });
        }
        let mut hashed = Vec::with_capacity(ready.len());
        for (number, prepared) in ready {
            let hash = hash_password_of(&prepared).await?;
            hashed.push((number, prepared, hash));
        }
        let mut passwords = Vec::new();
        let (turn, tx) = self.store.begin().await?;
        for (number, prepared, hash) in hashed {
            // Checked in the transaction: the username and department as they are now.
            let username = prepared.user.username.clone();
            match self.insert_prepared(&tx, actor, prepared.user, hash).await {
                Ok(_) => {
                    report.created += 1;
                    if let Some(password) = prepared.generated {
                        passwords.push(GeneratedPassword { username, password });
                    }
                }
                Err(e @ (EngineError::Duplicate { .. } | EngineError::Malformed { .. })) => report.errors.push(row_error(number, &e)),
                Err(e) => return Err(e),
            }
        }
        turn.commit(tx).await?;
        report.committed = true;
        report.errors.sort_by_key(|e| e.row);
        report.failed = report.errors.len();
        Ok(UsersImport { report, passwords })
    }
}
