//! `{{label options value}}`: the text of a select option in the document's locale, from the
//! option list the engine passes (`options.<form>.<field>`, the form definition's own shape:
//! `[{"value": "sales", "label": {"en": "Sales contract", "zh-CN": "销售合同"}}]`).
//! `locale="en"` picks the other language. An unknown value prints as itself, a list of values
//! (multi-select) as the labels joined, so a stale option never hides data.

use handlebars::{Context, Helper, RenderError};
use serde_json::Value;

use super::{Locale, helper_error, locale};

/// The helper; see the module documentation.
pub(crate) fn label(h: &Helper<'_>, ctx: &Context) -> Result<Value, RenderError> {
    let options = h.param(0).ok_or_else(|| helper_error(h, "needs the options as parameter 1"))?.value();
    let value = h.param(1).ok_or_else(|| helper_error(h, "needs a value as parameter 2"))?.value();
    let options: &[Value] = match options {
        Value::Array(list) => list,
        // No options passed (the field is not a select, or the engine left them out).
        _ => &[],
    };
    let locale = locale(h, ctx);
    let text = match value {
        Value::Array(values) => {
            let separator = if locale == Locale::Zh { "、" } else { ", " };
            values.iter().map(|v| option_text(options, v, locale)).collect::<Vec<_>>().join(separator)
        }
        v => option_text(options, v, locale),
    };
    Ok(Value::String(text))
}

/// The option's label for `locale`, falling back to English, then any language, then the value.
fn option_text(options: &[Value], value: &Value, locale: Locale) -> String {
    let label = options.iter().find(|o| o.get("value") == Some(value)).and_then(|o| o.get("label"));
    let text = match label {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Object(texts)) => {
            texts.get(locale.tag()).or_else(|| texts.get("en")).or_else(|| texts.values().next()).and_then(Value::as_str)
        }
        _ => None,
    };
    match (text, value) {
        (Some(t), _) => t.to_owned(),
        (None, Value::String(s)) => s.clone(),
        (None, Value::Null) => String::new(),
        (None, v) => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts() {
        let options = json!([
            {"value": "sales", "label": {"en": "Sales contract", "zh-CN": "销售合同"}},
            {"value": "plain", "label": "Plain"},
            {"value": "fr", "label": {"fr": "Français"}}
        ]);
        let options = options.as_array().map(Vec::as_slice).unwrap_or_default();
        assert_eq!(option_text(options, &json!("sales"), Locale::Zh), "销售合同");
        assert_eq!(option_text(options, &json!("sales"), Locale::En), "Sales contract");
        assert_eq!(option_text(options, &json!("plain"), Locale::Zh), "Plain");
        assert_eq!(option_text(options, &json!("fr"), Locale::Zh), "Français");
        assert_eq!(option_text(options, &json!("gone"), Locale::Zh), "gone");
        assert_eq!(option_text(options, &json!(null), Locale::Zh), "");
    }
}
