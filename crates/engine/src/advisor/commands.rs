//! What the advisor does with its figures: proposals for admins, indexes applied and dropped
//! (by an admin, or by the advisor itself where the app allows), and advised indexes made
//! again when the engine opens.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use store::{AdvisedIndex, AuditEntry, ColumnKind};

use super::{Figures, Shape};
use crate::apps::{FormRuntime, LoadedApp, column_kind};
use crate::audit::Subject;
use crate::{Actor, AppId, Engine, EngineError, time};

/// Slow runs of one shape after which an app with automatic indexes gets its index: a query
/// slow once may be a cold cache or a one-off export; ten times is a habit worth an index.
pub const AUTOMATIC_AFTER_SLOW_RUNS: u64 = 10;

/// Advised indexes one form may have. Each index costs every write to the table and its disk
/// space; past five, a form's queries are better served by declaring indexes on purpose. The
/// advisor stops creating them by itself there (an admin may still apply more).
pub const MAX_AUTOMATIC_INDEXES_PER_FORM: usize = 5;

/// The name audit rows and logs give the advisor when it acts by itself.
const ADVISOR: &str = "index_advisor";

/// Run figures as the admin sees them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Observed {
    /// Runs counted.
    pub count: u64,
    pub average_ms: f64,
    pub max_ms: f64,
    /// When the last one ran (none when none did).
    pub last_seen: Option<String>,
}

impl From<&Figures> for Observed {
    fn from(f: &Figures) -> Observed {
        let average_ms = if f.count == 0 { 0.0 } else { f.total_ms / f.count as f64 };
        Observed { count: f.count, average_ms, max_ms: f.max_ms, last_seen: f.last_seen.map(time::format) }
    }
}

/// An index the advisor proposes: the shapes it would serve and how they ran.
#[derive(Debug, Clone, Serialize)]
pub struct IndexProposal {
    /// The name the index will have: what applying it names.
    pub id: String,
    pub form: String,
    /// The index's fields, leading field first.
    pub fields: Vec<String>,
    pub shapes: Vec<Shape>,
    /// Slow runs of those shapes.
    pub observed: Observed,
}

/// An index the advisor made, with its shapes' runs before and since.
#[derive(Debug, Clone, Serialize)]
pub struct AppliedIndex {
    pub id: String,
    pub form: String,
    pub fields: Vec<String>,
    pub shapes: Vec<Shape>,
    /// The admin who applied it, or `index_advisor`.
    pub created_by: String,
    pub created_at: String,
    /// Slow runs until it was made.
    pub before: Observed,
    /// Every run since (counted by this server since it started).
    pub since: Observed,
}

/// The advisor's page of an app.
#[derive(Debug, Clone, Serialize)]
pub struct IndexAdvice {
    /// Most time spent first.
    pub proposals: Vec<IndexProposal>,
    pub applied: Vec<AppliedIndex>,
    /// Whether the advisor creates indexes by itself (`indexes.automatic` in app.json).
    pub automatic: bool,
}

/// The index made.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedIndex {
    pub id: String,
}

impl Engine {
    /// Counts a list or report of `app` that took `took`; past enough slow runs, in an app
    /// that allows it, starts creating its index in the background (off the request).
    pub(crate) fn observe_query(&self, app: &LoadedApp, took: Duration, shape: impl FnOnce() -> Option<Shape>) {
        let Some((shape, slow_runs)) = self.advisor.record(app.id(), took, shape) else { return };
        let automatic = app.defs.app.indexes.as_ref().is_some_and(|i| i.automatic);
        if automatic && slow_runs >= AUTOMATIC_AFTER_SLOW_RUNS && self.advisor.start_automating(app.id(), &shape) {
            let (engine, app) = (self.clone(), app.id().to_owned());
            tokio::spawn(async move {
                if let Err(e) = engine.index_automatically(&app, &shape).await {
                    tracing::warn!(app, form = shape.form, error = %e, "the index advisor could not create an index");
                }
            });
        }
    }

    /// The proposals and advised indexes of `app`; admins only.
    pub async fn index_advice(&self, actor: &Actor, app: &AppId) -> Result<IndexAdvice, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "index_advice", app, form: "", id: "" }, async {
            crate::access::require_admin(actor, "see and change the index advice")?;
            let loaded = &self.app(app)?;
            let advised = store::advised_indexes(self.store.db(), app).await?;
            let applied = advised.iter().map(|index| self.applied_view(index)).collect::<Result<_, _>>()?;
            let automatic = loaded.defs.app.indexes.as_ref().is_some_and(|i| i.automatic);
            Ok(IndexAdvice { proposals: self.proposals(loaded, &advised), applied, automatic })
        })
        .await
    }

    /// Creates the proposed index `id` of `app`; admins only. Answers its name.
    pub async fn apply_index_advice(&self, actor: &Actor, app: &AppId, id: &str) -> Result<CreatedIndex, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "index", app, form: "", id }, async {
            crate::access::require_admin(actor, "see and change the index advice")?;
            let loaded = &self.app(app)?;
            let advised = store::advised_indexes(self.store.db(), app).await?;
            let proposal = self.proposals(loaded, &advised).into_iter().find(|p| p.id == id).ok_or_else(|| no_such_index(app, id))?;
            self.create_index(loaded, &proposal, &actor.username).await?;
            Ok(CreatedIndex { id: proposal.id })
        })
        .await
    }

    /// Drops the advised index `id` of `app`; admins only. Its shapes may be proposed again.
    pub async fn drop_index_advice(&self, actor: &Actor, app: &AppId, id: &str) -> Result<(), EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "drop_index", app, form: "", id }, async {
            crate::access::require_admin(actor, "see and change the index advice")?;
            let advised = store::advised_indexes(self.store.db(), app).await?;
            let index = advised.iter().find(|i| i.name == id).ok_or_else(|| no_such_index(app, id))?;
            let audit = audit_entry(&actor.username, "drop_index", index);
            if !store::drop_advised_index(&self.store, app, id, &audit).await? {
                return Err(no_such_index(app, id));
            }
            self.advisor.unwatch(app, &stored_shapes(index)?);
            Ok(())
        })
        .await
    }

    /// Makes every advised index of loaded app `app` again if missing (a table rebuilt at load
    /// has lost it) and watches the shapes they serve. One whose form or fields are gone, or
    /// that cannot be built, is logged and left for an admin to drop: the app loads anyway.
    pub(crate) async fn restore_advised_indexes_of(&self, app: &str) -> Result<(), EngineError> {
        let loaded = self.app(app)?;
        {
            for index in store::advised_indexes(self.store.db(), loaded.id()).await? {
                let Some((rt, fields)) = loaded.forms.get(&index.form).and_then(|rt| Some((rt, typed_fields(rt, &index.fields)?))) else {
                    tracing::warn!(app = loaded.id(), index = index.name, "an advised index names a form or field that is gone");
                    continue;
                };
                let restored = async {
                    store::ensure_advised_index(&self.store, &rt.table, &index.name, &fields).await?;
                    self.advisor.watch(loaded.id(), &stored_shapes(&index)?);
                    Ok::<_, EngineError>(())
                };
                if let Err(e) = restored.await {
                    tracing::error!(app = loaded.id(), index = index.name, error = %e, "an advised index could not be made again");
                }
            }
        }
        Ok(())
    }

    /// The index `shape` asks for, created by the advisor itself unless one serves it already
    /// or its form has [`MAX_AUTOMATIC_INDEXES_PER_FORM`] advised indexes.
    async fn index_automatically(&self, app: &str, shape: &Shape) -> Result<(), EngineError> {
        let loaded = &self.app(app)?;
        let advised = store::advised_indexes(self.store.db(), app).await?;
        if advised.iter().filter(|i| i.form == shape.form).count() >= MAX_AUTOMATIC_INDEXES_PER_FORM {
            tracing::info!(app, form = shape.form, "the index advisor left a proposal: the form has its share of advised indexes");
            return Ok(());
        }
        let proposal = self.proposals(loaded, &advised).into_iter().find(|p| p.shapes.contains(shape));
        match proposal {
            Some(proposal) => self.create_index(loaded, &proposal, ADVISOR).await,
            None => Ok(()),
        }
    }

    /// Creates `proposal`'s index and records it, audited as made by `by`; its shapes are
    /// watched from then on.
    async fn create_index(&self, loaded: &LoadedApp, proposal: &IndexProposal, by: &str) -> Result<(), EngineError> {
        let rt = loaded.form(&proposal.form)?;
        let fields = typed_fields(rt, &proposal.fields).ok_or_else(|| no_such_index(loaded.id(), &proposal.id))?;
        let figures = self.advisor.figures_of(loaded.id(), &proposal.shapes);
        let index = AdvisedIndex {
            name: proposal.id.clone(),
            app: loaded.id().to_owned(),
            form: proposal.form.clone(),
            fields: proposal.fields.clone(),
            shape: to_json(&proposal.shapes)?,
            before: to_json(&figures)?,
            created_by: by.to_owned(),
            created_at: time::now(),
        };
        let audit = audit_entry(by, "index", &index);
        store::create_advised_index(&self.store, &rt.table, &index, &fields, &audit).await?;
        self.advisor.watch(loaded.id(), &proposal.shapes);
        tracing::info!(app = loaded.id(), form = proposal.form, index = proposal.id, by, "advised index created");
        Ok(())
    }

    /// One proposal per index that would serve a recorded shape no index serves yet — neither
    /// a declared one nor an advised one — shapes asking the same index together, most time
    /// spent first.
    fn proposals(&self, loaded: &LoadedApp, advised: &[AdvisedIndex]) -> Vec<IndexProposal> {
        let mut by_index: BTreeMap<String, (IndexProposal, Figures)> = BTreeMap::new();
        for (shape, figures, watched) in self.advisor.shapes_of(loaded.id()) {
            let Some(rt) = loaded.forms.get(&shape.form) else { continue };
            let declared = rt.declared_indexes().into_iter().map(|index| index.into_iter().map(|(field, _)| field).collect());
            let mut existing = declared.chain(advised.iter().filter(|i| i.form == shape.form).map(|i| i.fields.clone()));
            if watched || existing.any(|fields| shape.served_by(&fields)) {
                continue;
            }
            let fields = shape.index_fields();
            let Some(typed) = typed_fields(rt, &fields) else { continue };
            let id = store::advised_index_name(self.backend(), &rt.table, &typed);
            let (proposal, all) = by_index.entry(id.clone()).or_insert_with(|| {
                let proposal = IndexProposal { id, form: shape.form.clone(), fields, shapes: Vec::new(), observed: Observed::default() };
                (proposal, Figures::default())
            });
            *all = all.merged(&figures);
            proposal.shapes.push(shape);
        }
        let mut proposals: Vec<IndexProposal> = by_index
            .into_values()
            .map(|(mut proposal, figures)| {
                proposal.observed = Observed::from(&figures);
                proposal
            })
            .collect();
        let spent = |p: &IndexProposal| p.observed.average_ms * p.observed.count as f64;
        proposals.sort_by(|a, b| spent(b).total_cmp(&spent(a)));
        proposals
    }

    fn applied_view(&self, index: &AdvisedIndex) -> Result<AppliedIndex, EngineError> {
        let shapes = stored_shapes(index)?;
        let before: Figures =
            serde_json::from_str(&index.before).map_err(|e| EngineError::Internal(format!("advised index `{}`: {e}", index.name)))?;
        Ok(AppliedIndex {
            id: index.name.clone(),
            form: index.form.clone(),
            fields: index.fields.clone(),
            since: Observed::from(&self.advisor.figures_of(&index.app, &shapes)),
            shapes,
            created_by: index.created_by.clone(),
            created_at: index.created_at.clone(),
            before: Observed::from(&before),
        })
    }
}

/// `fields` of `rt` with the kind of their column; `None` when one has none (any more).
fn typed_fields(rt: &FormRuntime, fields: &[String]) -> Option<Vec<(String, ColumnKind)>> {
    fields.iter().map(|f| Some((f.clone(), column_kind(rt.compiled.column(f)?)?))).collect()
}

fn stored_shapes(index: &AdvisedIndex) -> Result<Vec<Shape>, EngineError> {
    serde_json::from_str(&index.shape).map_err(|e| EngineError::Internal(format!("advised index `{}`: {e}", index.name)))
}

fn to_json(value: &impl Serialize) -> Result<String, EngineError> {
    serde_json::to_string(value).map_err(|e| EngineError::Internal(e.to_string()))
}

/// The audit row of an index made or dropped: which one, on which fields — no values.
fn audit_entry(actor: &str, action: &str, index: &AdvisedIndex) -> AuditEntry {
    AuditEntry {
        at: time::now(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        app: index.app.clone(),
        form: index.form.clone(),
        record_id: String::new(),
        outcome: "ok".into(),
        before: String::new(),
        after: json!({"index": index.name, "fields": index.fields}).to_string(),
    }
}

fn no_such_index(app: &str, id: &str) -> EngineError {
    EngineError::NotFound(format!("index advice `{id}` in app `{app}`"))
}
