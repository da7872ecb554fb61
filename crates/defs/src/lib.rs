//! Tessera definition files: the serde types of an app folder, loading it with every problem
//! reported at once (file + JSON pointer), the canonical serialisation, and the JSON Schemas
//! generated from these very types.
//!
//! Knows nothing of databases, HTTP, or how records are validated at run time.

mod app;
mod bundle;
mod canonical;
mod check;
mod dashboard;
mod diagnostic;
mod files;
mod flow;
mod form;
mod label;
mod load;
mod report;
mod rollup;
mod scenario;
mod schema;
mod seed;

pub use app::{
    App, AppIcon, Company, Connector, Department, IndexSettings, Language, MAX_FIXTURE_RECORDS, NavGroup, Provider, Role, Schedule,
};
pub use bundle::{Bundle, BundleError, MAX_BUNDLE_FILES, MAX_BUNDLE_UNZIPPED_BYTES, Manifest};
pub use canonical::to_canonical_json;
pub use dashboard::{Dashboard, DashboardFilter, FilterInput, Tile};
pub use diagnostic::Diagnostic;
pub use files::{AppFiles, FileKind, canonical_text};
pub use flow::{
    ALL_FIELDS, APPROVAL_ACTIONS, Approval, ApprovalStep, Approver, CreateEffect, Effect, Fallback, Flow, Guard, Lock, Mode, NotifyEffect,
    PREVIOUS_STEP, REAPPROVE, Reapprove, State, Timer, TimerAction, Transition, Upgrade, WebhookEffect, Who, parse_duration,
};
pub use form::{Action, CHOICE_COLORS, Choice, Field, FieldKind, Form, Grant, Hook, HookKind, Rounding, Scope, Section, Tab};
pub use label::Label;
pub use load::{AppDefs, DefKind, canonicalize, load_app, load_files, parse_definition};
pub use report::{Aggregate, Chart, ChartKind, DateBucket, Dimension, Measure, Pivot, Report};
pub use rollup::{Rollup, RollupOp};
pub use scenario::{
    Expect, FindRecord, MAX_ADVANCE_SECONDS, MAX_SCENARIO_STEPS, OutboxCount, ReportRows, Scenario, Step, TaskCount, parse_scenario,
};
pub use schema::{SCHEMA_FILES, schema_json};
pub use seed::{Generator, Seed, SeedForm, SeedUser};

/// The definition format this build reads and writes; `app.json` states the one it was written in.
pub const FORMAT_VERSION: u32 = 1;

/// Identifiers (app, form, field, role ids) are snake_case ASCII; they end up in table names and
/// JSON paths, so nothing else is accepted.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z')) && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_')) && s.len() <= 48
}

/// The message for a username no seed file creates (forms, departments and flows name users).
pub(crate) fn unknown_user(name: &str) -> String {
    format!("no user `{name}` in the app's seed files")
}

fn is_false(b: &bool) -> bool {
    !*b
}
