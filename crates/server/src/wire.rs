//! The API's wire types: what the server sends and receives, each with its OpenAPI schema.
//! Bodies the server builds itself (errors, accepted imports, item lists) are serialised from
//! these types. The engine's answers are sent as the engine serialises them, and are described
//! here by mirrors of their shape — the engine knows nothing of HTTP or OpenAPI — which the
//! OpenAPI test holds to real answers.

use std::collections::BTreeMap;

use engine::{Code, FieldCode, FieldError};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

/// An error: `error` is the stable code, `kind` groups codes a client handles alike, and the
/// optional facts let a client act without reading `message`.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// Stable machine-readable code, e.g. `validation_failed`, `stale_version`.
    #[schema(schema_with = error_codes)]
    pub error: &'static str,
    pub kind: ErrorKind,
    /// The error in English words, for people.
    pub message: String,
    /// Located problems: `path` is a JSON pointer into the request.
    pub details: Vec<Problem>,
    /// `stale_version`: the record's version now; reload it and apply the change again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
    /// `duplicate`: the id of the record holding the same values, when the caller may read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing: Option<String>,
    /// `too_large`, `payload_too_large`, `rule_limit_exceeded`: the bound that was hit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<LimitHit>,
    /// `rate_limited` and `unavailable`: seconds to wait (also the `Retry-After` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// `open_work`: what the user still owns or has to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub work: Option<Work>,
}

/// What kind of failure an error is.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ErrorKind {
    /// The request must change.
    InvalidRequest,
    /// The caller must log in, or is not allowed.
    Auth,
    /// The data changed underneath the request.
    Conflict,
    /// The server failed; its log has the cause.
    Internal,
}

impl From<engine::Kind> for ErrorKind {
    fn from(kind: engine::Kind) -> Self {
        match kind {
            engine::Kind::InvalidRequest => ErrorKind::InvalidRequest,
            engine::Kind::Auth => ErrorKind::Auth,
            engine::Kind::Conflict => ErrorKind::Conflict,
            engine::Kind::Internal => ErrorKind::Internal,
        }
    }
}

/// A problem at one place of the request.
#[derive(Serialize, ToSchema)]
pub(crate) struct Problem {
    /// JSON pointer into the request (`/items/2/qty`); empty for the whole.
    pub path: String,
    pub message: String,
    /// What is wrong, for clients that word it themselves: the JSON Schema keyword missed
    /// (`maximum`, `maxLength`, `format`, `enum` …) or the engine's own (`required`,
    /// `duplicate`, `locked`, `link_not_found`, `rule` …).
    #[schema(schema_with = field_codes)]
    pub code: &'static str,
    /// The values the code's wording needs: `limit`, `format`, `pattern`, `options`,
    /// `existing`, `state`, `form` and `id`, `username`, `column`, `field`, `file`, and `text`
    /// (what a rule, a guard or a definition says, shown as written).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Value>,
}

impl From<&FieldError> for Problem {
    fn from(e: &FieldError) -> Self {
        let params = e.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        Problem { path: e.path.clone(), message: e.message.clone(), code: e.code.as_str(), params }
    }
}

/// The schema of `error`: a string, one of the error table's codes.
fn error_codes() -> Object {
    code_names(Code::ALL.iter().map(|c| c.as_str()))
}

/// The schema of a problem's `code`: a string, one of the field codes.
fn field_codes() -> Object {
    code_names(FieldCode::ALL.iter().map(|c| c.as_str()))
}

fn code_names(names: impl Iterator<Item = &'static str>) -> Object {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names)).build()
}

/// What a user owns and has open, or what a hand-over moved.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Work {
    /// Live records per form (forms with none left out).
    pub forms: Vec<FormWork>,
    /// Approval tasks waiting for the user.
    pub tasks: u64,
    /// Flow timers pending on the user's records; they act for whoever owns the record.
    pub timers: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct FormWork {
    pub app: String,
    pub form: String,
    pub records: u64,
}

impl From<&engine::Work> for Work {
    fn from(w: &engine::Work) -> Self {
        let forms = w.forms.iter().map(|f| FormWork { app: f.app.clone(), form: f.form.clone(), records: f.records }).collect();
        Work { forms, tasks: w.tasks, timers: w.timers }
    }
}

/// A bound the request went past.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct LimitHit {
    /// The bound: the constant that sets it (`ALL_OR_NOTHING_MAX_ROWS`), `body_bytes`, or for
    /// a rule, what its sandbox stopped.
    pub name: String,
    /// The bound's value, when it is a number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<u64>,
    /// `rule_limit_exceeded`: the rule that was stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

pub(crate) use answers::*;

/// Mirrors of the engine's answers, for the document only: the routes send what the engine
/// serialises, and these say its shape (never built, hence no dead-code lint).
#[allow(dead_code)]
mod answers {
    use std::collections::BTreeMap;

    use serde_json::Value;
    use utoipa::ToSchema;

    /// A record with its system fields.
    #[derive(ToSchema)]
    pub(crate) struct Envelope {
        id: String,
        form: String,
        /// Send it back in `If-Match` to change the record.
        version: i64,
        /// The record's state in its flow, if the form has one.
        state: Option<String>,
        owner: String,
        created_by: String,
        created_at: String,
        updated_by: String,
        updated_at: String,
        /// Set on deleted records.
        deleted_at: Option<String>,
        /// The version of the form's definition (`GET …/definitions/form/{form}` versions) the
        /// data was last validated against: set by each create, update and migration. Absent
        /// on a record written before records were stamped.
        form_version: Option<i64>,
        /// Field values by field id; the form's schema (`GET …/forms/{form}/schema`) says which.
        data: BTreeMap<String, Value>,
    }

    /// One page of records.
    #[derive(ToSchema)]
    pub(crate) struct Page {
        items: Vec<Envelope>,
        /// `cursor` of the next page; null on the last.
        next_cursor: Option<String>,
        /// How many records match; only when the list asked (`count=true`).
        total: Option<Total>,
    }

    /// How many records a list matches: exact up to 10,000; past it `capped` is true and
    /// `records` is 10,000.
    #[derive(ToSchema)]
    pub(crate) struct Total {
        records: u64,
        capped: bool,
    }

    /// A version of a record.
    #[derive(ToSchema)]
    pub(crate) struct HistoryItem {
        version: i64,
        /// `create`, `update`, `delete`, `restore`, `rollup` …
        op: String,
        changed_by: String,
        changed_at: String,
        /// The envelope as it was.
        record: Envelope,
    }

    #[derive(ToSchema)]
    pub(crate) struct History {
        items: Vec<HistoryItem>,
    }

    /// The signed-in user.
    #[derive(ToSchema)]
    pub(crate) struct User {
        username: String,
        display_name: String,
        /// Platform roles: `admin` or none.
        roles: Vec<String>,
        /// Roles held per app: a role means something only in the app that declares it.
        grants: BTreeMap<String, Vec<String>>,
        department: Option<String>,
        /// `person` or `service`.
        kind: String,
        language: Option<String>,
        /// Until the user chose their own password, every other route answers 403
        /// `password_change_required`.
        must_change_password: bool,
        /// For an API token limited to apps: those apps.
        apps: Option<Vec<String>>,
    }

    /// A platform function of the rules.
    #[derive(ToSchema)]
    pub(crate) struct RuleFunction {
        name: String,
        /// How it is called: `add_days(date, days)`.
        call: String,
        returns: String,
        group: String,
        doc: String,
    }

    #[derive(ToSchema)]
    pub(crate) struct RuleFunctions {
        items: Vec<RuleFunction>,
    }

    /// A record as a save would make it.
    #[derive(ToSchema)]
    pub(crate) struct Preview {
        /// The fields a save would store (without hidden ones).
        data: BTreeMap<String, Value>,
        /// Fields whose `visible_if` does not hold.
        hidden: Vec<String>,
        /// Fields whose `required_if` holds.
        required: Vec<String>,
        /// What a save would refuse, at JSON pointers.
        errors: Vec<super::Problem>,
    }

    /// The audit chain's verification.
    #[derive(ToSchema)]
    pub(crate) struct AuditVerification {
        ok: bool,
        /// Rows checked, when the chain holds.
        rows: Option<u64>,
        /// Where and why it breaks, when it does.
        message: Option<String>,
    }

    /// A logged-in session.
    #[derive(ToSchema)]
    pub(crate) struct Login {
        /// `Authorization: Bearer <token>`.
        token: String,
        /// Echo in `X-CSRF-Token` on writes authenticated by the session cookie.
        csrf_token: String,
        expires_at: String,
        user: User,
    }

    #[derive(ToSchema)]
    pub(crate) struct AppSummary {
        id: String,
        /// A label: text, or text by locale.
        name: Value,
        version: Value,
        /// The icon shown beside the name (an Element Plus icon name), or null.
        icon: Option<String>,
    }

    #[derive(ToSchema)]
    pub(crate) struct AppList {
        items: Vec<AppSummary>,
    }

    /// An app as the caller may see it.
    #[derive(ToSchema)]
    pub(crate) struct AppView {
        /// The manifest (`app.json`): name, roles, navigation.
        app: BTreeMap<String, Value>,
        /// Form definitions by id, without hidden fields, each with the caller's `access`.
        forms: BTreeMap<String, BTreeMap<String, Value>>,
        /// Dashboard definitions the caller may open.
        dashboards: Vec<BTreeMap<String, Value>>,
    }

    /// One row of the audit log.
    #[derive(ToSchema)]
    pub(crate) struct AuditRow {
        seq: i64,
        at: String,
        actor: String,
        action: String,
        app: Option<String>,
        form: Option<String>,
        record: Option<String>,
        /// `ok` or `denied`.
        outcome: String,
        /// A record write: what the record held before, of what changed — the changed fields
        /// under `data` (one that had no value absent), changed system values, `version`.
        /// Null for a create and for other actions.
        before: Option<Value>,
        /// A record write: the new values of what changed (a cleared field `null`), `version`,
        /// and `sha256`, the SHA-256 of the new version's whole snapshot (the record history's
        /// text of it), which the hash chain thus vouches for; a create holds only `version`
        /// and `sha256`. A refusal: `error` and `message`.
        after: Option<Value>,
        /// Chains each row to the one before it.
        hash: String,
    }

    #[derive(ToSchema)]
    pub(crate) struct AuditPage {
        items: Vec<AuditRow>,
        /// `before` of the next page.
        next: Option<i64>,
    }

    #[derive(ToSchema)]
    pub(crate) struct Notification {
        id: String,
        app: String,
        created_at: String,
        /// When the caller marked it read; none while unread.
        read_at: Option<String>,
        /// What was sent: `text`, and the `form` and `record` it is about when it is about one.
        message: Value,
    }

    /// How many notifications a request marked read.
    #[derive(ToSchema)]
    pub(crate) struct Marked {
        marked: u64,
    }

    /// A public web form as its page shows it.
    #[derive(ToSchema)]
    pub(crate) struct WebForm {
        /// `{id, name}` of the app.
        app: Value,
        /// A label: a string or `{"en": …, "zh-CN": …}`.
        title: Value,
        /// The fields a visitor fills, as the form defines them.
        fields: Vec<Value>,
        /// Fields an embedding page may fill from its address.
        hidden: Vec<String>,
        /// What the visitor reads once it is sent (a label, or null).
        thanks: Value,
    }

    #[derive(ToSchema)]
    pub(crate) struct ScheduleRun {
        /// The schedule that ran.
        ran: String,
    }

    #[derive(ToSchema)]
    pub(crate) struct MergePlan {
        moves: Vec<MergeMove>,
    }

    /// How many records of `form` link to the duplicate through `field`.
    #[derive(ToSchema)]
    pub(crate) struct MergeMove {
        form: String,
        field: String,
        records: u64,
    }

    #[derive(ToSchema)]
    pub(crate) struct WebFormReceipt {
        /// What the visitor reads once it is sent (a label, or null).
        thanks: Value,
    }

    #[derive(ToSchema)]
    pub(crate) struct Notifications {
        items: Vec<Notification>,
        /// How many are unread, up to 99.
        unread: u64,
        /// Whether more than 99 are unread.
        capped: bool,
    }

    /// An action the caller may take now.
    #[derive(ToSchema)]
    pub(crate) struct Available {
        action: String,
        label: Value,
    }

    /// An entry of a record's flow log.
    #[derive(ToSchema)]
    pub(crate) struct LogEntry {
        at: String,
        by: String,
        action: String,
        from: String,
        to: String,
        step: Option<String>,
        comment: Option<String>,
    }

    /// The approval step a record waits on.
    #[derive(ToSchema)]
    pub(crate) struct Approval {
        step: String,
        label: Value,
        /// `sequential`, `all`, `any` or M-of-N.
        mode: Value,
        submitter: Option<String>,
        /// Each seat: who may take it and what they decided.
        seats: Vec<BTreeMap<String, Value>>,
        /// Who is yet to decide.
        waiting: Vec<String>,
    }

    /// Where a record stands in its flow.
    #[derive(ToSchema)]
    pub(crate) struct FlowView {
        flow: String,
        state: String,
        state_label: Value,
        terminal: bool,
        version: i64,
        actions: Vec<Available>,
        approval: Option<Approval>,
        log: Vec<LogEntry>,
        /// Fields the state locks.
        locked: Vec<String>,
        /// Fields the approval step under way hides from the caller, one of its approvers.
        hidden: Vec<String>,
        /// Fields whose change sends the record back to approval.
        reapprove: Vec<String>,
    }

    /// A record and its flow after an action.
    #[derive(ToSchema)]
    pub(crate) struct ActResult {
        record: Envelope,
        flow: FlowView,
    }

    /// An approval task.
    #[derive(ToSchema)]
    pub(crate) struct Task {
        id: String,
        app: String,
        form: String,
        record_id: String,
        title: Option<String>,
        state: String,
        step: String,
        step_label: Option<Value>,
        /// `pending`, `approved`, `rejected` or `closed`.
        status: String,
        created_at: String,
        decided_at: Option<String>,
    }

    #[derive(ToSchema)]
    pub(crate) struct Tasks {
        items: Vec<Task>,
    }

    /// A row an import could not take.
    #[derive(ToSchema)]
    pub(crate) struct RowError {
        row: u64,
        column: Option<String>,
        message: String,
        /// The code of the row's error (`validation_failed`, `duplicate` …).
        error: String,
        /// The field problem's code, as a problem's `code`; absent when the row's error
        /// names no field.
        code: Option<String>,
        /// The values the field code's wording needs, as a problem's `params`; absent when none.
        params: Option<BTreeMap<String, Value>>,
    }

    /// What an import did (or, dry, would do).
    #[derive(ToSchema)]
    pub(crate) struct ImportReport {
        total: u64,
        created: u64,
        updated: u64,
        skipped: u64,
        failed: u64,
        dry_run: bool,
        committed: bool,
        /// Each `[header, field]` pair: the field a column was read into (null: ignored).
        columns: Vec<Vec<Option<String>>>,
        /// The first `MAX_REPORTED_ERRORS` (1,000) row errors.
        errors: Vec<RowError>,
        /// Row errors past those listed (their rows are counted in `failed`).
        errors_omitted: u64,
    }

    /// An import started in the background.
    #[derive(ToSchema)]
    pub(crate) struct ImportStarted {
        id: String,
        /// Poll it for progress.
        status_url: String,
    }

    /// Progress of a background import.
    #[derive(ToSchema)]
    pub(crate) struct ImportStatus {
        /// `running`, `done` or `failed`.
        status: String,
        done: u64,
        total: u64,
        report: Option<ImportReport>,
        /// Why it failed.
        error: Option<String>,
    }

    /// A report's result.
    #[derive(ToSchema)]
    pub(crate) struct ReportResult {
        label: Option<Value>,
        /// Each column: id, label, kind.
        columns: Vec<BTreeMap<String, Value>>,
        /// Values by column id.
        rows: Vec<BTreeMap<String, Value>>,
        /// The report's limit cut rows.
        truncated: bool,
        totals: Option<BTreeMap<String, Value>>,
        pivot: Option<Value>,
        /// The report's chart hint.
        chart: Option<BTreeMap<String, Value>>,
        /// With `explain=true`: each statement and its values.
        sql: Option<Vec<BTreeMap<String, Value>>>,
    }

    /// A dashboard tile: its report's result, or why it has none.
    #[derive(ToSchema)]
    pub(crate) struct Tile {
        report: String,
        width: Option<u64>,
        height: Option<u64>,
        result: Option<ReportResult>,
        /// `{error, message}` of a tile that failed.
        error: Option<BTreeMap<String, Value>>,
    }

    #[derive(ToSchema)]
    pub(crate) struct Dashboard {
        id: String,
        label: Value,
        description: Option<Value>,
        filters: Vec<BTreeMap<String, Value>>,
        tiles: Vec<Tile>,
    }

    /// Is the server up, and what is down.
    #[derive(ToSchema)]
    pub(crate) struct Health {
        /// `ok`, or `unavailable` when a dependency is down.
        status: String,
        /// `sqlite` or `postgres`.
        database: String,
        /// The dependencies that do not answer (`database`); empty when healthy.
        down: Vec<String>,
        apps: Vec<String>,
    }

    /// Every field type a form may use, for a form designer to be generated from.
    #[derive(ToSchema)]
    pub(crate) struct FieldTypePalette {
        /// The groups a palette shows the types in, in order: `{id, label: {en, zh-CN}}`.
        groups: Vec<BTreeMap<String, Value>>,
        /// In the registry's order.
        types: Vec<FieldTypeEntry>,
        /// The form definition schema's definitions, which the properties refer to
        /// (`#/$defs/Choice` …).
        #[schema(rename = "$defs")]
        defs: BTreeMap<String, Value>,
    }

    /// Every chart kind, for dashboards to draw tiles by and report builders to offer.
    #[derive(ToSchema)]
    pub(crate) struct ChartKindPalette {
        /// In the order a kind picker offers them.
        kinds: Vec<ChartKindEntry>,
    }

    /// One chart kind and its facets.
    #[derive(ToSchema)]
    pub(crate) struct ChartKindEntry {
        /// The name reports give it in `chart.kind` (`bar`, `pie`, `kpi` …).
        kind: String,
        /// `{"en": …, "zh-CN": …}`.
        label: BTreeMap<String, String>,
        /// The UI component that draws it: `table`, `figure` (one number) or `echarts`.
        renderer: String,
        /// How many dimensions the report may have.
        dimensions: CountSpan,
        /// How many measures the chart may draw (its `y`, else every measure).
        measures: CountSpan,
        /// Whether the chart may name a `series` dimension.
        series: bool,
        /// Whether its category dimension must name places (a map's provinces): a text field.
        places: bool,
    }

    /// At least `min`, at most `max` (null: any number).
    #[derive(ToSchema)]
    pub(crate) struct CountSpan {
        min: u64,
        max: Option<u64>,
    }

    /// One field type and its facets.
    #[derive(ToSchema)]
    pub(crate) struct FieldTypeEntry {
        /// The name definitions give it in `type` (`text`, `currency`, `link` …).
        r#type: String,
        /// Its group in the palette (`basic`, `number`, `choice`, `time`, `relation`, `other`).
        group: String,
        /// Its name, `{en, zh-CN}`.
        label: BTreeMap<String, String>,
        /// The web UI's widget editing the value; null when people never write it.
        widget: Option<String>,
        /// How the value is compared and sorted: `text`, `number`, `bool` or `opaque`.
        column: String,
        /// Whether users may write the value.
        user_writable: bool,
        /// The filter operators a condition on it may use.
        operators: Vec<String>,
        /// Whether reports may group by it.
        groupable: bool,
        /// Whether date buckets and relative dates apply.
        date_like: bool,
        /// Whether reports may sum and average it.
        summable: bool,
        /// JSON Schema (`{"type": "object", "properties": {…}}`) of the properties a designer
        /// may set on this type beyond those of every field.
        properties: BTreeMap<String, Value>,
    }
}
