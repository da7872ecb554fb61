//! The field type registry: each type is a unit struct in its own file, listed once in
//! [`REGISTRY`], carrying every facet of the type — its value schema, column kind, import
//! parsing, filter operators, report behaviour, UI widget and the definition properties a
//! designer may set. A new type is one file here, one line there, and its widget in the UI.

use defs::{Field, FieldKind};
use serde::Serialize;
use serde_json::{Value, json};

mod attachment;
mod auto_number;
mod boolean;
mod date;
mod link;
mod number;
mod palette;
mod region;
mod rollup;
mod select;
mod table;
mod text;

pub use palette::{Palette, PaletteEntry, palette};

/// How a value is compared, sorted and indexed in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    Text,
    Number,
    Bool,
    /// Lists and objects: not comparable, only tested for presence.
    Opaque,
}

/// Operators of the filter language (record lists and report filters) that compare scalars.
const COMPARE_OPERATORS: &[&str] = &["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "between", "is_null"];
/// Text adds matching within the value.
const TEXT_OPERATORS: &[&str] = &["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "between", "is_null", "contains", "starts_with"];
/// Dates are text in ISO order; report filters add days relative to today.
const DATE_OPERATORS: &[&str] = &[
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "nin",
    "between",
    "is_null",
    "contains",
    "starts_with",
    "period",
    "last_n_days",
    "next_n_days",
    "older_than_days",
    "before_now",
];
/// Lists and objects are only tested for presence.
const OPAQUE_OPERATORS: &[&str] = &["is_null"];

/// One kind of field, with every facet the platform reads from it.
pub trait FieldType: Sync {
    fn kind(&self) -> FieldKind;
    /// JSON Schema of one value of `field`.
    fn schema(&self, field: &Field) -> Value;
    /// How the value behaves in filters, sorts and indexes.
    fn column(&self) -> Column {
        Column::Text
    }
    /// Whether users may write the value (auto-numbers are assigned by the engine).
    fn user_writable(&self) -> bool {
        true
    }
    /// The value a spreadsheet cell holds (import), or why it cannot be one; the value is then
    /// validated against [`FieldType::schema`] like any other. A link cell naming its target
    /// by title is looked up by the engine, which alone reads other records.
    fn parse_text(&self, _field: &Field, text: &str) -> Result<Value, String> {
        Ok(json!(text))
    }
    /// The filter operators a condition on the field may use (the relative-date ones in report
    /// filters only).
    fn operators(&self) -> &'static [&'static str] {
        match self.column() {
            Column::Text if self.date_like() => DATE_OPERATORS,
            Column::Text => TEXT_OPERATORS,
            Column::Number | Column::Bool => COMPARE_OPERATORS,
            Column::Opaque => OPAQUE_OPERATORS,
        }
    }
    /// Whether reports may group by, compare and sort on the value (scalars only).
    fn groupable(&self) -> bool {
        self.column() != Column::Opaque
    }
    /// Whether the value is a date or instant: date buckets and relative dates apply.
    fn date_like(&self) -> bool {
        false
    }
    /// Whether reports may sum and average the value.
    fn summable(&self) -> bool {
        self.column() == Column::Number
    }
    /// The web UI's widget editing the value (`crates/web/ui/src/fields/`); `None` when people
    /// never write it there.
    fn widget(&self) -> Option<&'static str>;
    /// The definition properties (of `defs::Field`) a designer may set on this type beyond
    /// those every field has (`id`, `label`, `required`, `default`, `formula` …).
    fn properties(&self) -> &'static [&'static str] {
        &[]
    }
}

static REGISTRY: &[&dyn FieldType] = &[
    &text::Text,
    &text::Textarea,
    &text::Email,
    &text::Phone,
    &text::Url,
    &text::User,
    &number::Number,
    &number::Integer,
    &number::Decimal,
    &number::Currency,
    &number::Rating,
    &boolean::Boolean,
    &date::Date,
    &date::Datetime,
    &select::Select,
    &select::Multiselect,
    &select::Tags,
    &link::Link,
    &table::Table,
    &attachment::Attachment,
    &auto_number::AutoNumber,
    &region::Region,
    &rollup::Rollup,
];

/// The registered type of `kind`.
pub fn field_type(kind: FieldKind) -> &'static dyn FieldType {
    REGISTRY.iter().copied().find(|t| t.kind() == kind).expect("every FieldKind is registered (checked by a test)")
}

/// A cell holding the JSON of a list or object value (child rows, attachments, a region).
fn parse_json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|_| format!("`{text}` is not the JSON this field holds"))
}

/// `{"type": "string"}` with the field's `max_length`, or `default_max` when it sets none.
fn string_schema(field: &Field, default_max: u32) -> Value {
    json!({"type": "string", "maxLength": field.max_length.unwrap_or(default_max)})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_registered_once() {
        let all: Vec<FieldKind> =
            serde_json::from_value(defs::schema_json(defs::DefKind::Form)["$defs"]["FieldKind"]["enum"].clone()).unwrap();
        assert!(all.len() >= 20);
        for kind in all {
            assert_eq!(REGISTRY.iter().filter(|t| t.kind() == kind).count(), 1, "{kind:?}");
        }
    }

    fn field(kind: &str, extra: Value) -> Field {
        let mut v = json!({"id": "f", "type": kind, "label": {"en": "F", "zh-CN": "字段"}});
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    fn parse(field: &Field, text: &str) -> Result<Value, String> {
        field_type(field.kind).parse_text(field, text)
    }

    #[test]
    fn cells_parse_by_field_type() {
        let select = field("select", json!({"options": [{"value": "hot", "label": {"en": "Hot", "zh-CN": "高"}}]}));
        assert_eq!(parse(&select, "高"), Ok(json!("hot")));
        assert_eq!(parse(&select, "HOT"), Ok(json!("hot")));
        assert!(parse(&select, "tepid").unwrap_err().contains("not one of hot"));
        let multi = field("multiselect", json!({"options": [{"value": "a", "label": {"en": "A"}}, {"value": "b", "label": {"en": "B"}}]}));
        assert_eq!(parse(&multi, "a；B"), Ok(json!(["a", "b"])));
        assert_eq!(parse(&field("currency", json!({})), "¥1,234.50"), Ok(json!("1234.50")), "read exactly by the save");
        assert_eq!(parse(&field("currency", json!({})), "2,000"), Ok(json!("2000")));
        assert_eq!(parse(&field("decimal", json!({})), "12345678901234.565"), Ok(json!("12345678901234.565")));
        assert_eq!(parse(&field("number", json!({})), "1,234"), Ok(json!(1234)));
        assert_eq!(parse(&field("number", json!({})), "2.5%"), Ok(json!(2.5)));
        assert!(parse(&field("integer", json!({})), "2.5").is_err());
        assert!(parse(&field("rating", json!({})), "many").unwrap_err().contains("not a number"));
        assert_eq!(parse(&field("boolean", json!({})), "是"), Ok(json!(true)));
        assert!(parse(&field("boolean", json!({})), "maybe").is_err());
        assert_eq!(parse(&field("date", json!({})), "2026/3/4"), Ok(json!("2026-03-04")));
        assert!(parse(&field("date", json!({})), "4 March").is_err());
        assert_eq!(parse(&field("date", json!({})), "2026/03/04"), Ok(json!("2026-03-04")));
        assert_eq!(parse(&field("tags", json!({})), "a; b，c"), Ok(json!(["a", "b", "c"])));
        assert_eq!(parse(&field("datetime", json!({})), "2026-03-04 05:06:07"), Ok(json!("2026-03-04T05:06:07Z")));
        assert_eq!(parse(&field("region", json!({})), r#"{"province": "浙江"}"#), Ok(json!({"province": "浙江"})));
        assert!(parse(&field("attachment", json!({})), "a.pdf").unwrap_err().contains("not the JSON"));
        assert_eq!(parse(&field("text", json!({})), "=1+1"), Ok(json!("=1+1")), "text is taken as written");
    }

    #[test]
    fn report_facets_follow_the_column_but_for_dates() {
        let of = |kind| field_type(kind);
        assert!(of(FieldKind::Currency).summable() && of(FieldKind::Rollup).summable() && !of(FieldKind::Text).summable());
        assert!(of(FieldKind::Select).groupable() && !of(FieldKind::Tags).groupable() && !of(FieldKind::Table).groupable());
        assert!(of(FieldKind::Date).date_like() && of(FieldKind::Datetime).date_like() && !of(FieldKind::Text).date_like());
        assert!(of(FieldKind::Date).operators().contains(&"last_n_days") && !of(FieldKind::Text).operators().contains(&"period"));
        assert!(of(FieldKind::Text).operators().contains(&"contains") && !of(FieldKind::Number).operators().contains(&"contains"));
        assert_eq!(of(FieldKind::Multiselect).operators(), &["is_null"]);
    }

    /// A property a type names is one a field definition has: the palette describes it from
    /// the definition schema, which would otherwise give the designer nothing.
    #[test]
    fn every_property_named_is_a_field_property() {
        let form = defs::schema_json(defs::DefKind::Form);
        let known = form["$defs"]["Field"]["properties"].as_object().unwrap();
        for t in REGISTRY {
            for name in t.properties() {
                assert!(known.contains_key(*name), "{:?} names `{name}`", t.kind());
            }
        }
        let decimal = palette().types.iter().find(|e| e.kind == FieldKind::Decimal).unwrap();
        assert_eq!(decimal.properties["properties"]["scale"]["maximum"], json!(10));
        assert_eq!(palette().types.len(), REGISTRY.len());
    }

    /// The widget each type names is the one the web UI registers for it, and a type without
    /// one is not edited there either.
    #[test]
    fn every_widget_is_the_web_uis() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/ui/src/fields");
        let mut ui = String::new();
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            ui.push_str(&path.file_name().unwrap().to_string_lossy());
            ui.push_str(&std::fs::read_to_string(&path).unwrap());
        }
        let compact: String = ui.split_whitespace().collect();
        for t in REGISTRY {
            let kind = serde_json::to_value(t.kind()).unwrap();
            let kind = kind.as_str().unwrap();
            match t.widget() {
                Some(widget) => assert!(ui.contains(&format!("'{widget}'")) || ui.contains(&format!("{widget}.vue")), "{widget}"),
                None => assert!(compact.contains(&format!("{kind}:{{widget:null")), "{kind} has a widget in the UI"),
            }
        }
    }
}
