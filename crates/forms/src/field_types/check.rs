//! What only the registry can say about a form definition: that each field's type exists, that
//! each property it sets applies to that type, that a type holding options has them, and that
//! keys name fields holding one scalar. Run when a form compiles, so `tessera check` and the
//! engine's load report them with the form file and a JSON pointer, as `defs` does the rest.

use std::collections::HashSet;

use defs::{Field, Form};
use serde_json::Value;

use super::{COMMON_PROPERTIES, Column, FieldType, find_field_type};
use crate::FieldError;

/// Every problem of `form` that depends on its fields' types.
pub(crate) fn check_form(form: &Form) -> Vec<FieldError> {
    let mut errors = Vec::new();
    check_fields(&form.fields, "/fields", &mut errors);
    for (keys, what) in [(&form.indexes, "indexes"), (&form.dedupe, "dedupe")] {
        for (k, key) in keys.iter().enumerate() {
            for (i, name) in key.iter().enumerate() {
                // A field the form lacks is `defs`' to report, a type it lacks is reported above.
                let column = form.field(name).and_then(|f| find_field_type(&f.kind)).map(|t| t.column());
                if column == Some(Column::Opaque) {
                    errors.push(FieldError::definition(
                        format!("/{what}/{k}/{i}"),
                        format!("field `{name}` holds a list and cannot be a key"),
                    ));
                }
            }
        }
    }
    errors
}

/// `fields` (a form's, or a table's columns under `base`).
fn check_fields(fields: &[Field], base: &str, errors: &mut Vec<FieldError>) {
    for (i, field) in fields.iter().enumerate() {
        let pointer = format!("{base}/{i}");
        let Some(field_type) = find_field_type(&field.kind) else {
            errors.push(FieldError::definition(format!("{pointer}/type"), format!("no field type `{}`", field.kind)));
            continue;
        };
        for property in stray_properties(field, field_type) {
            errors.push(FieldError::definition(
                format!("{pointer}/{property}"),
                format!("`{property}` does not apply to a {} field", field.kind),
            ));
        }
        if field_type.holds_options() {
            check_options(field, &pointer, errors);
        }
        if let Some(pattern) = field.pattern.as_deref().filter(|_| field_type.checks_pattern()) {
            check_pattern(pattern, &pointer, errors);
        }
        check_fields(&field.fields, &format!("{pointer}/fields"), errors);
    }
}

/// The properties `field` sets that are neither every field's nor its type's. A property is
/// set when the definition writes it out (unset ones are skipped when serialising).
fn stray_properties(field: &Field, field_type: &dyn FieldType) -> Vec<String> {
    let Ok(Value::Object(set)) = serde_json::to_value(field) else { return Vec::new() };
    let applies = |name: &str| COMMON_PROPERTIES.contains(&name) || field_type.properties().contains(&name);
    set.into_iter().map(|(name, _)| name).filter(|name| !applies(name)).collect()
}

/// The longest `pattern` a text field may have: a regular expression is for a code or a number
/// plan, and its matching stays linear in the value (the `regex` engine), not in the pattern.
pub const MAX_PATTERN_CHARS: usize = 500;

/// A text field's `pattern` is a regular expression the validator can compile.
fn check_pattern(pattern: &str, pointer: &str, errors: &mut Vec<FieldError>) {
    let at = format!("{pointer}/pattern");
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        errors.push(FieldError::definition(at, format!("a pattern is at most {MAX_PATTERN_CHARS} characters")));
    } else if let Err(e) = crate::compiled::validator_for(&serde_json::json!({"type": "string", "pattern": pattern})) {
        errors.push(FieldError::definition(at, format!("not a regular expression: {e}")));
    }
}

/// A field of choices needs some, each listed once, each in a colour the UI can draw.
fn check_options(field: &Field, pointer: &str, errors: &mut Vec<FieldError>) {
    if field.options.is_empty() {
        errors.push(FieldError::definition(format!("{pointer}/options"), format!("a {} field needs options", field.kind)));
    }
    let mut values = HashSet::new();
    for (o, choice) in field.options.iter().enumerate() {
        if !values.insert(choice.value.as_str()) {
            errors
                .push(FieldError::definition(format!("{pointer}/options/{o}/value"), format!("option `{}` is listed twice", choice.value)));
        }
        if !choice.color_is_valid() {
            let named = defs::CHOICE_COLORS.join(", ");
            errors.push(FieldError::definition(
                format!("{pointer}/options/{o}/color"),
                format!("`{}` is not a colour: use one of {named} or #rrggbb", choice.color.as_deref().unwrap_or_default()),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problems(fields: Value, extra: Value) -> Vec<String> {
        let mut form = json!({"label": {"en": "F"}, "fields": fields});
        form.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let form: Form = serde_json::from_value(form).unwrap();
        check_form(&form).into_iter().map(|e| format!("{}: {}", e.path, e.message)).collect()
    }

    #[test]
    fn a_text_pattern_is_a_regular_expression_values_must_match() {
        let fields = json!([
            {"id": "code", "type": "text", "label": {"en": "Code"}, "pattern": "^[A-Z]{2}-[0-9]{4}$"},
            {"id": "bad", "type": "text", "label": {"en": "Bad"}, "pattern": "([A-Z"},
            {"id": "lookbehind", "type": "text", "label": {"en": "L"}, "pattern": "(?<=a)b"}
        ]);
        let found = problems(fields.clone(), json!({}));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("/fields/1/pattern: not a regular expression"), "{found:?}");
        assert!(found[1].starts_with("/fields/2/pattern: not a regular expression"), "backtracking constructs are refused: {found:?}");

        let form: Form = serde_json::from_value(json!({"label": {"en": "F"}, "fields": [fields[0].clone()]})).unwrap();
        let compiled = crate::CompiledForm::compile("f", &form).unwrap();
        assert!(compiled.validate(&json!({"code": "CN-2026"})).is_empty());
        let refused = compiled.validate(&json!({"code": "cn-26"}));
        assert_eq!(refused.iter().map(|e| e.code.as_str()).collect::<Vec<_>>(), ["pattern"], "{refused:?}");
    }

    #[test]
    fn an_option_colour_is_a_named_one_or_hex() {
        let options = json!([
            {"value": "a", "label": {"en": "A"}, "color": "green"},
            {"value": "b", "label": {"en": "B"}, "color": "#1f8a70"},
            {"value": "c", "label": {"en": "C"}, "color": "pink"},
            {"value": "d", "label": {"en": "D"}, "color": "#12345"}
        ]);
        let fields = json!([{"id": "s", "type": "select", "label": {"en": "S"}, "options": options}]);
        let found = problems(fields, json!({}));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("/fields/0/options/2/color: `pink` is not a colour"), "{found:?}");
        assert!(found[1].starts_with("/fields/0/options/3/color:"), "{found:?}");
    }

    #[test]
    fn an_unknown_type_is_named_at_its_pointer() {
        let fields = json!([{"id": "a", "type": "text", "label": {"en": "A"}}, {"id": "b", "type": "percentage", "label": {"en": "B"}}]);
        assert_eq!(problems(fields, json!({})), ["/fields/1/type: no field type `percentage`"]);
    }

    #[test]
    fn a_property_of_another_type_is_refused_in_child_rows_too() {
        let fields = json!([
            {"id": "a", "type": "text", "label": {"en": "A"}, "scale": 2, "max_length": 20, "required": true},
            {"id": "t", "type": "table", "label": {"en": "T"}, "min": 1,
             "fields": [{"id": "c", "type": "number", "label": {"en": "C"}, "options": [{"value": "x", "label": {"en": "X"}}]}]},
        ]);
        assert_eq!(
            problems(fields, json!({})),
            [
                "/fields/0/scale: `scale` does not apply to a text field",
                "/fields/1/fields/0/options: `options` does not apply to a number field"
            ]
        );
    }

    #[test]
    fn choices_are_needed_once_each_and_keys_hold_one_scalar() {
        let x = json!({"value": "x", "label": {"en": "X"}});
        let fields = json!([
            {"id": "s", "type": "select", "label": {"en": "S"}},
            {"id": "m", "type": "multiselect", "label": {"en": "M"}, "options": [x, x]},
            {"id": "tags", "type": "tags", "label": {"en": "T"}},
        ]);
        assert_eq!(
            problems(fields, json!({"indexes": [["s", "tags"]], "dedupe": [["nope"]]})),
            [
                "/fields/0/options: a select field needs options",
                "/fields/1/options/1/value: option `x` is listed twice",
                "/indexes/0/1: field `tags` holds a list and cannot be a key",
            ]
        );
    }
}
