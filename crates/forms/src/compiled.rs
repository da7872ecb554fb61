//! A form compiled for run time: its JSON Schema, a validator built once, and defaults.

use defs::{Field, FieldKind, Form};
use jsonschema::Validator;
use jsonschema::error::ValidationErrorKind;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::field_types::{Column, check_form, field_type, object_schema};

/// A problem with one value of a record, located by JSON pointer (`/items/2/qty`), with the
/// `code` and `params` a client words it by; `message` is the API's English for people and logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub path: String,
    pub message: String,
    /// What is wrong (`required`, `maximum`, `duplicate`, `locked` …); see [`FieldCode`].
    pub code: FieldCode,
    /// The values the code's wording needs (`{"limit": 100}`).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
}

/// The most characters of text a problem carries, in its message and in each text param: a value
/// or a cell is quoted far enough to be recognised, and a 60 MB cell does not make a 60 MB
/// answer (an import keeps every refused row's problems).
pub const MAX_PROBLEM_TEXT_CHARS: usize = 200;

/// `text` cut to [`MAX_PROBLEM_TEXT_CHARS`], with `…` where it was cut.
fn excerpt(text: String) -> String {
    match text.char_indices().nth(MAX_PROBLEM_TEXT_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

impl FieldError {
    /// A problem of `code` at `path`, `message` in English; `with` adds the params the code's
    /// wording needs. There is no problem without a code: clients word them by it.
    pub fn coded(path: impl Into<String>, code: FieldCode, message: impl Into<String>) -> Self {
        FieldError { path: path.into(), message: excerpt(message.into()), code, params: Map::new() }
    }

    /// A problem of a definition (a form, a report sent ad hoc), worded by its text alone.
    pub fn definition(path: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        FieldError::coded(path, FieldCode::Definition, text.clone()).with("text", text)
    }

    /// The error with the param `name` set to `value`.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        let value = match value.into() {
            Value::String(text) => Value::String(excerpt(text)),
            other => other,
        };
        self.params.insert(name.to_owned(), value);
        self
    }
}

/// Declares [`FieldCode`] from one list of variants and their wire names, so [`FieldCode::ALL`]
/// (which the UI's catalogue test walks) cannot miss one.
macro_rules! field_codes {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// Every code a field problem carries: the stable name a client translates (with the
        /// problem's `params`), never English text. JSON Schema's problems keep the keyword's
        /// name (`maxLength`); the engine's own are snake_case.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum FieldCode {
            $($(#[$doc])* $variant,)*
        }

        impl FieldCode {
            /// Every code, for catalogues and tests that must cover them all.
            pub const ALL: &[FieldCode] = &[$(FieldCode::$variant,)*];

            /// The name on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(FieldCode::$variant => $name,)*
                }
            }
        }
    };
}

field_codes! {
    /// A value of the wrong JSON type.
    Type = "type",
    /// A required field is missing or empty (also `required_if`).
    Required = "required",
    /// A field the form does not have.
    UnknownField = "unknown_field",
    /// A field users may not write (read-only, formula, auto-number) was changed.
    ReadOnly = "read_only",
    /// Params: `limit` (characters).
    MaxLength = "maxLength",
    /// Params: `limit` (characters).
    MinLength = "minLength",
    /// Params: `limit`.
    Maximum = "maximum",
    /// Params: `limit`.
    Minimum = "minimum",
    /// Params: `limit`.
    ExclusiveMaximum = "exclusiveMaximum",
    /// Params: `limit`.
    ExclusiveMinimum = "exclusiveMinimum",
    MultipleOf = "multipleOf",
    /// Params: `pattern`.
    Pattern = "pattern",
    /// Params: `format` (`date`, `email`, `uri` …).
    Format = "format",
    /// Params: `options`, the values allowed.
    Enum = "enum",
    Const = "const",
    /// Params: `limit` (items).
    MaxItems = "maxItems",
    /// Params: `limit` (items).
    MinItems = "minItems",
    UniqueItems = "uniqueItems",
    /// Any other problem JSON Schema finds (a keyword no form schema uses today).
    Invalid = "invalid",
    /// A live record has the same value. Params: `existing`, when the caller may read it.
    Duplicate = "duplicate",
    /// The field is locked in the record's state. Params: `state`.
    Locked = "locked",
    /// The flow's state field, which only the record's actions change.
    FollowsFlow = "follows_flow",
    /// A new record asked for a state it may not start in. Params: `state`, `initial`.
    StartState = "start_state",
    /// The flow needs the field before the action.
    RequiredForAction = "required_for_action",
    /// A flow guard refused the action. Params: `text`, the guard's message as its author wrote it.
    Guard = "guard",
    /// A link to a record that does not exist or that the caller may not read. Params: `form`, `id`.
    LinkNotFound = "link_not_found",
    /// A user field (or the owner) names no user. Params: `username`.
    UserNotFound = "user_not_found",
    /// A rule's `error()`. Params: `text`, as the rule's author wrote it (shown as written).
    Rule = "rule",
    /// The caller may not write the field. Params: `column` for an import column mapped to it.
    NotWritable = "not_writable",
    /// The caller may not read the field. Params: `field`.
    NotReadable = "not_readable",
    /// An imported cell the field's type cannot read. Params: `column`, `text` (why, in English).
    UnreadableCell = "unreadable_cell",
    /// The password given as the current one is not.
    WrongPassword = "wrong_password",
    /// A new password contains the username.
    ContainsUsername = "contains_username",
    /// A new password is one of the commonest passwords.
    CommonPassword = "common_password",
    /// A new password is the current one.
    SamePassword = "same_password",
    /// A problem of a definition (an app file, a report sent ad hoc). Params: `text`, and `file`.
    Definition = "definition",
    /// The request is malformed here (a filter, sort, cursor …). Params: `text`.
    Malformed = "malformed",
    /// A report ran past its time. Params: `limit` (seconds).
    ReportTimeout = "report_timeout",
    /// A document could not be printed. Params: `text`.
    PrintFailed = "print_failed",
}

impl Serialize for FieldCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for FieldCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The code of a JSON Schema problem: the keyword's own (a keyword no form schema uses is
/// `invalid`).
fn keyword_code(kind: &ValidationErrorKind) -> FieldCode {
    match kind {
        ValidationErrorKind::Type { .. } => FieldCode::Type,
        ValidationErrorKind::Required { .. } => FieldCode::Required,
        ValidationErrorKind::AdditionalProperties { .. } => FieldCode::UnknownField,
        ValidationErrorKind::MaxLength { .. } => FieldCode::MaxLength,
        ValidationErrorKind::MinLength { .. } => FieldCode::MinLength,
        ValidationErrorKind::Maximum { .. } => FieldCode::Maximum,
        ValidationErrorKind::Minimum { .. } => FieldCode::Minimum,
        ValidationErrorKind::ExclusiveMaximum { .. } => FieldCode::ExclusiveMaximum,
        ValidationErrorKind::ExclusiveMinimum { .. } => FieldCode::ExclusiveMinimum,
        ValidationErrorKind::MultipleOf { .. } => FieldCode::MultipleOf,
        ValidationErrorKind::Pattern { .. } => FieldCode::Pattern,
        ValidationErrorKind::Format { .. } => FieldCode::Format,
        ValidationErrorKind::Enum { .. } => FieldCode::Enum,
        ValidationErrorKind::Constant { .. } => FieldCode::Const,
        ValidationErrorKind::MaxItems { .. } => FieldCode::MaxItems,
        ValidationErrorKind::MinItems { .. } => FieldCode::MinItems,
        ValidationErrorKind::UniqueItems => FieldCode::UniqueItems,
        _ => FieldCode::Invalid,
    }
}

/// The bound a value missed, named `limit` (or `format`, `pattern`, `options`) as the keyword
/// names it, so a client can word "at most {limit}" itself.
fn keyword_params(kind: &ValidationErrorKind) -> Map<String, Value> {
    let (name, value) = match kind {
        ValidationErrorKind::Maximum { limit }
        | ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMaximum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => ("limit", limit.clone()),
        ValidationErrorKind::MaxLength { limit }
        | ValidationErrorKind::MinLength { limit }
        | ValidationErrorKind::MaxItems { limit }
        | ValidationErrorKind::MinItems { limit } => ("limit", json!(limit)),
        ValidationErrorKind::Format { format } => ("format", json!(format)),
        ValidationErrorKind::Pattern { pattern } => ("pattern", json!(pattern)),
        ValidationErrorKind::Enum { options } => ("options", (**options).clone()),
        _ => return Map::new(),
    };
    Map::from_iter([(name.to_owned(), value)])
}

/// A link value found in record data: where it is, which form it targets, the id it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRef {
    pub path: String,
    pub form: String,
    pub id: String,
}

/// A form ready to validate records.
#[derive(Debug)]
pub struct CompiledForm {
    pub id: String,
    pub def: Form,
    schema: Value,
    validator: Validator,
}

/// The validator of a record's (or a value's) JSON Schema: formats checked, and patterns matched
/// by the `regex` engine, whose time is linear in the value — a pattern an admin writes cannot
/// make a save backtrack for ever.
pub(crate) fn validator_for(schema: &Value) -> Result<Validator, jsonschema::ValidationError<'static>> {
    jsonschema::draft202012::options().should_validate_formats(true).with_pattern_options(jsonschema::PatternOptions::regex()).build(schema)
}

impl CompiledForm {
    /// Compiles `form`. Errors (e.g. a default that its own field would refuse) are located by
    /// JSON pointer into the form file.
    pub fn compile(id: &str, form: &Form) -> Result<CompiledForm, Vec<FieldError>> {
        let problems = check_form(form);
        if !problems.is_empty() {
            return Err(problems);
        }
        let schema = object_schema(&form.fields);
        let validator =
            validator_for(&schema).map_err(|e| vec![FieldError::definition("/fields", format!("form does not compile: {e}"))])?;
        let mut errors = Vec::new();
        for (i, field) in form.fields.iter().enumerate() {
            if let Some(default) = &field.default {
                let field_schema = field_type(&field.kind).schema(field);
                let ok = validator_for(&field_schema).is_ok_and(|v| v.is_valid(default));
                if !ok {
                    errors.push(FieldError::definition(format!("/fields/{i}/default"), "default is not a valid value of the field"));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(CompiledForm { id: id.to_owned(), def: form.clone(), schema, validator })
    }

    /// The JSON Schema of this form's record data (what the UI and API clients validate against).
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// Fills defaults of fields the new record leaves unset.
    pub fn apply_defaults(&self, data: &mut Map<String, Value>) {
        for field in &self.def.fields {
            if let Some(default) = &field.default {
                data.entry(field.id.clone()).or_insert_with(|| default.clone());
            }
        }
    }

    /// Puts values in the form they are stored in. Runs on every save before validation.
    /// - Every decimal and currency value (child rows too) is rounded to its field's scale, and
    ///   decimal text (`"0.10"`) becomes a number; see [`crate::decimal`]. Validation refuses
    ///   what is no decimal or beyond the exact bound.
    /// - Text takes its type's canonical form ([`crate::FieldType::canonical`]: a phone number's digits,
    ///   an e-mail in lower case).
    /// - The text of a duplicate key is trimmed, its runs of spaces made one, and full-width
    ///   letters, digits, signs and spaces made half-width, so `ＡＢＣ　公司 ` and `ABC 公司` are one
    ///   key.
    pub fn normalise(&self, data: &mut Map<String, Value>) {
        crate::decimal::normalise(&self.def.fields, data);
        for field in &self.def.fields {
            let Some(Value::String(text)) = data.get_mut(&field.id) else { continue };
            if let Some(canonical) = crate::field_types::field_type(&field.kind).canonical(text) {
                *text = canonical;
            }
            if self.def.dedupe.iter().any(|key| key.contains(&field.id)) {
                *text = key_text(text);
            }
        }
    }

    /// Every error of `data` against the form, each with its pointer. Empty means valid.
    pub fn validate(&self, data: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for err in self.validator.iter_errors(data) {
            let at = err.instance_path().to_string();
            match err.kind() {
                ValidationErrorKind::Required { property } => {
                    let name = property.as_str().unwrap_or_default();
                    errors.push(FieldError::coded(format!("{at}/{name}"), FieldCode::Required, "is required"));
                }
                ValidationErrorKind::AdditionalProperties { unexpected } => {
                    let unknown = |name: &String| FieldError::coded(format!("{at}/{name}"), FieldCode::UnknownField, "unknown field");
                    errors.extend(unexpected.iter().map(unknown));
                }
                kind => {
                    errors.push(FieldError { params: keyword_params(kind), ..FieldError::coded(at, keyword_code(kind), err.to_string()) })
                }
            }
        }
        errors.sort_by(|a, b| a.path.cmp(&b.path));
        errors
    }

    /// Errors for fields users may not write (read-only, formulas, auto-numbers) that `new` sets
    /// differently from `old`.
    pub fn read_only_errors(&self, old: Option<&Map<String, Value>>, new: &Map<String, Value>) -> Vec<FieldError> {
        self.def
            .fields
            .iter()
            .filter(|f| f.read_only || f.formula.is_some() || !field_type(&f.kind).user_writable())
            .filter(|f| new.get(&f.id) != old.and_then(|o| o.get(&f.id)))
            .map(|f| FieldError::coded(format!("/{}", f.id), FieldCode::ReadOnly, "is read-only"))
            .collect()
    }

    /// Every link value in `data`, child rows included.
    pub fn links(&self, data: &Map<String, Value>) -> Vec<LinkRef> {
        let mut out = Vec::new();
        collect_links(&self.def.fields, data, "", &mut out);
        out
    }

    /// The fields the engine numbers on create, with their patterns.
    pub fn auto_numbers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.def.fields.iter().filter(|f| f.kind == FieldKind::AUTO_NUMBER).filter_map(|f| Some((f.id.as_str(), f.pattern.as_deref()?)))
    }

    /// How the top-level field `id` behaves in the database, if the form has it.
    pub fn column(&self, id: &str) -> Option<Column> {
        self.def.field(id).map(|f| field_type(&f.kind).column())
    }

    /// The field `id` of this form.
    pub fn field(&self, id: &str) -> Option<&Field> {
        self.def.field(id)
    }
}

fn collect_links(fields: &[Field], data: &Map<String, Value>, base: &str, out: &mut Vec<LinkRef>) {
    // Only links and tables are looked up: a record's other fields are most of them.
    for field in fields {
        match data.get(&field.id) {
            Some(Value::String(id)) if field.kind == FieldKind::LINK => {
                out.push(LinkRef { path: format!("{base}/{}", field.id), form: field.form.clone().unwrap_or_default(), id: id.clone() })
            }
            Some(Value::Array(rows)) if field.kind == FieldKind::TABLE => {
                for (i, row) in rows.iter().enumerate() {
                    if let Value::Object(row) = row {
                        collect_links(&field.fields, row, &format!("{base}/{}/{i}", field.id), out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The text of a duplicate key as stored: trimmed, runs of whitespace one space, full-width
/// ASCII (U+FF01–U+FF5E) and the ideographic space half-width.
fn key_text(text: &str) -> String {
    let folded: String = text
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_emails_and_duplicate_keys_are_stored_in_one_form() {
        let form: defs::Form = serde_json::from_value(serde_json::json!({
            "label": "Account",
            "fields": [
                {"id": "name", "type": "text", "label": "Name"},
                {"id": "note", "type": "text", "label": "Note"},
                {"id": "phone", "type": "phone", "label": "Phone"},
                {"id": "email", "type": "email", "label": "Email"}
            ],
            "dedupe": [["name"], ["phone"]]
        }))
        .unwrap();
        let compiled = CompiledForm::compile("account", &form).unwrap();
        let mut data = serde_json::json!({
            "name": "  ＡＢＣ　Trading   有限公司（深圳） ",
            "note": "  ＡＢＣ  ",
            "phone": "+86 139-1234 (5678)",
            "email": " Li.Wei@Example.COM "
        })
        .as_object()
        .cloned()
        .unwrap();
        compiled.normalise(&mut data);
        assert_eq!(data["name"], "ABC Trading 有限公司(深圳)", "a key's text: trimmed, one space, half-width");
        assert_eq!(data["note"], "  ＡＢＣ  ", "text outside any key is kept as typed");
        assert_eq!(data["phone"], "+8613912345678");
        assert_eq!(data["email"], "li.wei@example.com");
        let mut odd = serde_json::json!({"phone": "call me"}).as_object().cloned().unwrap();
        compiled.normalise(&mut odd);
        assert_eq!(odd["phone"], "call me", "left for validation to refuse");
    }

    #[test]
    fn a_problem_quotes_a_huge_value_only_in_part() {
        let huge = "x".repeat(1 << 20);
        let error = FieldError::coded("/name", FieldCode::Malformed, format!("`{huge}` is not a number")).with("text", huge.clone());
        assert_eq!(error.message.chars().count(), MAX_PROBLEM_TEXT_CHARS + 1, "cut, with its ellipsis");
        assert!(error.message.ends_with('…'));
        assert_eq!(error.params["text"].as_str().map(|t| t.chars().count()), Some(MAX_PROBLEM_TEXT_CHARS + 1));
        let short = FieldError::coded("/name", FieldCode::Malformed, "短的 message").with("text", "短");
        assert_eq!((short.message.as_str(), &short.params["text"]), ("短的 message", &Value::from("短")));
    }

    fn quote() -> CompiledForm {
        let form: Form = serde_json::from_value(json!({
            "label": "Quote",
            "fields": [
                {"id": "number", "type": "auto_number", "label": "No.", "pattern": "QT-{YYYY}-{#####}"},
                {"id": "title", "type": "text", "label": "Title", "required": true, "max_length": 10},
                {"id": "status", "type": "select", "label": "Status", "default": "draft",
                 "options": [{"value": "draft", "label": "Draft"}, {"value": "sent", "label": "Sent"}]},
                {"id": "email", "type": "email", "label": "Email"},
                {"id": "close_date", "type": "date", "label": "Close"},
                {"id": "items", "type": "table", "label": "Items", "fields": [
                    {"id": "product", "type": "link", "label": "Product", "form": "product", "required": true},
                    {"id": "qty", "type": "integer", "label": "Qty", "min": 1}
                ]}
            ]
        }))
        .unwrap();
        CompiledForm::compile("quote", &form).unwrap()
    }

    fn paths(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.path).collect()
    }

    #[test]
    fn valid_record_passes_and_defaults_fill() {
        let form = quote();
        let mut data = json!({"title": "Big deal"}).as_object().unwrap().clone();
        form.apply_defaults(&mut data);
        assert_eq!(data["status"], "draft");
        assert!(form.validate(&Value::Object(data)).is_empty());
    }

    #[test]
    fn errors_carry_pointers_into_child_rows() {
        let id = "0192f0c1-0000-7000-8000-000000000001";
        let data = json!({
            "title": "far too long a title",
            "status": "won",
            "email": "not-an-email",
            "close_date": "2026-13-45",
            "colour": "red",
            "items": [{"product": id, "qty": 1}, {"product": id, "qty": 2}, {"product": id, "qty": 0}, {"qty": 1}]
        });
        assert_eq!(
            paths(quote().validate(&data)),
            ["/close_date", "/colour", "/email", "/items/2/qty", "/items/3/product", "/status", "/title"]
        );
    }

    #[test]
    fn every_schema_problem_carries_its_code_and_params() {
        let data = json!({"title": "far too long a title", "status": "won", "email": "x", "colour": 1, "items": [{"qty": 0}]});
        let coded: Vec<_> = quote().validate(&data).into_iter().map(|e| (e.path, Some(e.code.as_str()), e.params)).collect();
        let params = |pairs: Value| pairs.as_object().unwrap().clone();
        assert_eq!(
            coded,
            [
                ("/colour".into(), Some("unknown_field"), Map::new()),
                ("/email".into(), Some("format"), params(json!({"format": "email"}))),
                ("/items/0/product".into(), Some("required"), Map::new()),
                ("/items/0/qty".into(), Some("minimum"), params(json!({"limit": 1.0}))),
                ("/status".into(), Some("enum"), params(json!({"options": ["draft", "sent"]}))),
                ("/title".into(), Some("maxLength"), params(json!({"limit": 10}))),
            ]
        );
    }

    #[test]
    fn field_codes_have_distinct_wire_names() {
        let names: std::collections::BTreeSet<_> = FieldCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), FieldCode::ALL.len());
        assert_eq!(serde_json::to_value(FieldCode::LinkNotFound).unwrap(), json!("link_not_found"));
    }

    #[test]
    fn missing_required_field_is_named() {
        assert_eq!(paths(quote().validate(&json!({}))), ["/title"]);
    }

    #[test]
    fn auto_numbers_are_read_only_and_links_are_found() {
        let form = quote();
        let data = json!({"number": "QT-1", "items": [{"product": "a"}, {"product": "b"}]});
        let data = data.as_object().unwrap();
        assert_eq!(paths(form.read_only_errors(None, data)), ["/number"]);
        let links: Vec<_> = form.links(data).into_iter().map(|l| (l.path, l.form, l.id)).collect();
        assert_eq!(links[1], ("/items/1/product".into(), "product".into(), "b".into()));
    }

    #[test]
    fn a_bad_default_is_refused_at_compile_time() {
        let form: Form = serde_json::from_value(json!({"label": "X", "fields": [
            {"id": "n", "type": "integer", "label": "N", "default": "many"}]}))
        .unwrap();
        let errors = CompiledForm::compile("x", &form).unwrap_err();
        assert_eq!(errors[0].path, "/fields/0/default");
        assert_eq!(errors[0].code, FieldCode::Definition);
    }
}
