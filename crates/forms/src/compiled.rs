//! A form compiled for run time: its JSON Schema, a validator built once, and defaults.

use defs::{Field, FieldKind, Form};
use jsonschema::Validator;
use jsonschema::error::ValidationErrorKind;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::field_types::{Column, field_type};

/// A problem with one value of a record, located by JSON pointer (`/items/2/qty`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub path: String,
    pub message: String,
    /// What is wrong, for clients that word it in their own language (`required`, `maximum`,
    /// `duplicate` …); absent on a message only its author can word (a rule's `error()`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The values the code's wording needs (`{"limit": 100}`).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { path: path.into(), message: message.into(), code: None, params: Map::new() }
    }

    /// An error with a `code` (and `params`) a client can word itself.
    pub fn coded(path: impl Into<String>, message: impl Into<String>, code: impl Into<String>, params: Map<String, Value>) -> Self {
        FieldError { code: Some(code.into()), params, ..FieldError::new(path, message) }
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

impl CompiledForm {
    /// Compiles `form`. Errors (e.g. a default that its own field would refuse) are located by
    /// JSON pointer into the form file.
    pub fn compile(id: &str, form: &Form) -> Result<CompiledForm, Vec<FieldError>> {
        let schema = object_schema(&form.fields);
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| vec![FieldError::new("/fields", format!("form does not compile: {e}"))])?;
        let mut errors = Vec::new();
        for (i, field) in form.fields.iter().enumerate() {
            if let Some(default) = &field.default {
                let field_schema = field_type(field.kind).schema(field);
                let ok = jsonschema::draft202012::options()
                    .should_validate_formats(true)
                    .build(&field_schema)
                    .is_ok_and(|v| v.is_valid(default));
                if !ok {
                    errors.push(FieldError::new(format!("/fields/{i}/default"), "default is not a valid value of the field"));
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

    /// Rounds every decimal and currency value (child rows too) to its field's scale, and turns
    /// decimal text (`"0.10"`) into numbers; see [`crate::decimal`]. Runs on every save before
    /// validation, which refuses what is no decimal or beyond the exact bound.
    pub fn normalise_decimals(&self, data: &mut Map<String, Value>) {
        crate::decimal::normalise(&self.def.fields, data);
    }

    /// Every error of `data` against the form, each with its pointer. Empty means valid.
    pub fn validate(&self, data: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for err in self.validator.iter_errors(data) {
            let at = err.instance_path().to_string();
            match err.kind() {
                ValidationErrorKind::Required { property } => {
                    let name = property.as_str().unwrap_or_default();
                    errors.push(FieldError::coded(format!("{at}/{name}"), "is required", "required", Map::new()));
                }
                ValidationErrorKind::AdditionalProperties { unexpected } => {
                    let unknown = |name: &String| FieldError::coded(format!("{at}/{name}"), "unknown field", "unknown_field", Map::new());
                    errors.extend(unexpected.iter().map(unknown));
                }
                kind => errors.push(FieldError::coded(at, err.to_string(), kind.keyword(), keyword_params(kind))),
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
            .filter(|f| f.read_only || f.formula.is_some() || !field_type(f.kind).user_writable())
            .filter(|f| new.get(&f.id) != old.and_then(|o| o.get(&f.id)))
            .map(|f| FieldError::coded(format!("/{}", f.id), "is read-only", "read_only", Map::new()))
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
        self.def.fields.iter().filter(|f| f.kind == FieldKind::AutoNumber).filter_map(|f| Some((f.id.as_str(), f.pattern.as_deref()?)))
    }

    /// How the top-level field `id` behaves in the database, if the form has it.
    pub fn column(&self, id: &str) -> Option<Column> {
        self.def.field(id).map(|f| field_type(f.kind).column())
    }

    /// The field `id` of this form.
    pub fn field(&self, id: &str) -> Option<&Field> {
        self.def.field(id)
    }
}

/// The schema of an object with these fields: no unknown fields, required ones present.
pub(crate) fn object_schema(fields: &[Field]) -> Value {
    let properties: Map<String, Value> = fields.iter().map(|f| (f.id.clone(), field_type(f.kind).schema(f))).collect();
    let required: Vec<&str> = fields.iter().filter(|f| f.required).map(|f| f.id.as_str()).collect();
    json!({"type": "object", "additionalProperties": false, "properties": properties, "required": required})
}

fn collect_links(fields: &[Field], data: &Map<String, Value>, base: &str, out: &mut Vec<LinkRef>) {
    // Only links and tables are looked up: a record's other fields are most of them.
    for field in fields.iter().filter(|f| matches!(f.kind, FieldKind::Link | FieldKind::Table)) {
        match (field.kind, data.get(&field.id)) {
            (FieldKind::Link, Some(Value::String(id))) => {
                out.push(LinkRef { path: format!("{base}/{}", field.id), form: field.form.clone().unwrap_or_default(), id: id.clone() })
            }
            (FieldKind::Table, Some(Value::Array(rows))) => {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
