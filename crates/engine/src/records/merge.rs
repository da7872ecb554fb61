//! Merging two duplicate records: every record that links to the one merged away links to the
//! one kept instead, and the one merged away is deleted — in one transaction, each change a
//! version of its own (`op` `merge`) with its history and audit row. A preview answers the same
//! plan and writes nothing.

use defs::{Action, FieldKind};
use serde::Serialize;
use serde_json::Value;
use store::{CmpOp, ColumnKind, Deleted, Filter, ListQuery, Record, Scalar, Target};

use super::{at_version, next_version};
use crate::audit::Subject;
use crate::command::Cmd;
use crate::{Actor, apps::LoadedApp};
use crate::{AppId, Engine, EngineError, FormId, Limit, RecordId, time};

/// The most records one merge relinks: past it, the merge is refused (and merging is work for
/// an import, not a click).
pub const MAX_MERGE_RELINKS: u64 = 10_000;

/// What a merge moves: for each link field of each form that points at the merged form, how
/// many records link to the one merged away.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MergePlan {
    pub moves: Vec<MergeMove>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MergeMove {
    pub form: String,
    pub field: String,
    pub records: u64,
}

impl Engine {
    /// Merges record `merged` of `form` into `keep`: the actor needs `update` on the one kept
    /// and `delete` on the other. Records that link to `merged` are relinked whoever owns them:
    /// a link left pointing at a deleted duplicate would be a hole in the data. With `preview`,
    /// answers what would move and changes nothing.
    pub async fn merge(
        &self,
        actor: &Actor,
        app: &AppId,
        form: &FormId,
        keep: &RecordId,
        merged: &RecordId,
        preview: bool,
    ) -> Result<MergePlan, EngineError> {
        let (app, form, keep, merged) = (app.as_str(), form.as_str(), keep.as_str(), merged.as_str());
        let work = async {
            let loaded = &self.app(app)?;
            let rt = loaded.form(form)?;
            let (turn, tx) = self.store.begin().await?;
            let cmd = Cmd::new(&tx, actor, loaded);
            let kept = store::get(&tx, &rt.table, keep).await?.ok_or_else(|| EngineError::record_not_found(form, keep))?;
            let gone = store::get(&tx, &rt.table, merged).await?.ok_or_else(|| EngineError::record_not_found(form, merged))?;
            self.authorize(cmd, rt, &kept, Action::Update).await?;
            self.authorize(cmd, rt, &gone, Action::Delete).await?;
            if keep == merged {
                return Err(EngineError::malformed("a record cannot be merged into itself"));
            }
            let kept = at_version(kept, form, None, false)?;
            let gone = at_version(gone, form, None, false)?;

            let mut plan = MergePlan::default();
            let mut relinks = Vec::new();
            for (other, field) in links_to(loaded, form) {
                let other_rt = loaded.form(other)?;
                let target = Target::Field { name: field.to_owned(), kind: ColumnKind::Text };
                let filter = Filter::Cmp(target, CmpOp::Eq, Scalar::Text(merged.to_owned()));
                let query = ListQuery {
                    filter: Some(filter),
                    sort: Vec::new(),
                    after: None,
                    limit: MAX_MERGE_RELINKS + 1,
                    deleted: Deleted::Exclude,
                };
                let linking: Vec<Record> =
                    store::list(&tx, &other_rt.table, &query).await?.into_iter().filter(|r| r.id != merged).collect();
                if linking.is_empty() {
                    continue;
                }
                plan.moves.push(MergeMove { form: other.to_owned(), field: field.to_owned(), records: linking.len() as u64 });
                relinks.extend(linking.into_iter().map(|r| (other, field, r)));
                if relinks.len() as u64 > MAX_MERGE_RELINKS {
                    let message = format!("the merge would relink more than {MAX_MERGE_RELINKS} records");
                    return Err(EngineError::TooLarge { message, limit: Limit { name: "MAX_MERGE_RELINKS", value: MAX_MERGE_RELINKS } });
                }
            }
            if preview {
                return Ok(plan);
            }
            for (other, field, record) in relinks {
                let other_rt = loaded.form(other)?;
                let before = crate::Envelope::new(other, record.clone());
                let mut next = next_version(record.clone(), actor);
                // The kept record's own link to its duplicate (a parent) would point at itself.
                let to = if record.id == keep { Value::Null } else { Value::String(keep.to_owned()) };
                next.data.insert(field.to_owned(), to);
                self.check_duplicates(&tx, other_rt, Some(&record), &next.data).await?;
                let after = self.write_version(cmd, other_rt, &before, next, record.version, "merge").await?;
                self.refresh_rollups(cmd, other_rt, &[&record.data, &after.data]).await?;
            }
            let before = crate::Envelope::new(form, gone.clone());
            let deleted = Record { deleted_at: Some(time::stamp()), ..next_version(gone.clone(), actor) };
            self.write_version(cmd, rt, &before, deleted, gone.version, "merge").await?;
            self.refresh_rollups(cmd, rt, &[&gone.data, &kept.data]).await?;
            turn.commit(tx).await?;
            Ok(plan)
        };
        self.command(actor, Subject { action: if preview { "merge_preview" } else { "merge" }, app, form, id: keep }, work).await
    }
}

/// Every top-level link field of the app that points at `form`, as (form, field).
fn links_to<'a>(app: &'a LoadedApp, form: &str) -> Vec<(&'a str, &'a str)> {
    let mut out = Vec::new();
    for (id, rt) in &app.forms {
        for field in &rt.compiled.def.fields {
            if field.kind == FieldKind::LINK && field.form.as_deref() == Some(form) {
                out.push((id.as_str(), field.id.as_str()));
            }
        }
    }
    out
}
