//! The field type registry: each built-in type is a unit struct in its own file, listed once in
//! [`BUILT_IN`]; a program running Tessera adds its own with [`register_field_type`]. Each type
//! carries every facet of itself — its value schema, column kind, import parsing, filter
//! operators, report behaviour, UI widget and the definition properties a designer may set — so
//! a new type is one `impl FieldType` and one registration, and nothing else asks for its name.

use std::sync::RwLock;

use defs::{Field, FieldKind};
use serde::Serialize;
use serde_json::{Map, Value, json};

mod attachment;
mod auto_number;
mod boolean;
mod check;
mod date;
mod filter;
mod link;
mod number;
mod palette;
mod region;
mod rollup;
mod select;
mod table;
mod text;

pub use check::MAX_PATTERN_CHARS;
pub(crate) use check::check_form;
pub use palette::{Palette, PaletteEntry, PaletteGroup, PaletteInfo, palette};

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
/// A list of values (tags, a multi-select): whether it holds one.
pub(crate) const LIST_OPERATORS: &[&str] = &["is_null", "has"];

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
    /// The named text parts of an object value that reports may group by and filter on
    /// (`<field>.<part>`), as a region's `province`.
    fn parts(&self) -> &'static [&'static str] {
        &[]
    }
    /// The stored form of a text value, when the type has one (a phone number's digits, an
    /// e-mail address in lower case): what is saved, so a duplicate key compares like with like.
    /// `None` keeps the value as typed (and validation judges it).
    fn canonical(&self, _text: &str) -> Option<String> {
        None
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
    /// How a designer's palette shows the type: its group and its name in each UI language
    /// (a type registered without them is shown by its id, among the others).
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::default()
    }
    /// The definition properties (of `defs::Field`) a designer may set on this type beyond
    /// those every field has ([`COMMON_PROPERTIES`]); any other is refused when the app loads.
    fn properties(&self) -> &'static [&'static str] {
        &[]
    }
    /// Whether `pattern` is a regular expression its values must match (an auto-number's is
    /// the template of its numbers instead).
    fn checks_pattern(&self) -> bool {
        self.properties().contains(&"pattern") && self.user_writable()
    }
    /// Whether the value is one of the field's `options` (whose values a report dimension shows
    /// even when no record has them).
    fn holds_options(&self) -> bool {
        self.properties().contains(&"options")
    }
}

/// The definition properties every field may set, whatever its type.
pub const COMMON_PROPERTIES: &[&str] =
    &["id", "type", "label", "required", "read_only", "help", "default", "default_expr", "formula", "visible_if", "required_if"];

/// The types every Tessera has.
static BUILT_IN: &[&dyn FieldType] = &[
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
    &filter::Filter,
    &table::Table,
    &attachment::Attachment,
    &auto_number::AutoNumber,
    &region::Region,
    &rollup::Rollup,
];

/// Types the program running Tessera registered, after the built-ins. A plain call at start-up
/// rather than link-time collection (`inventory`): no linker sections, no new dependency, and a
/// refusal is a value the caller sees. Lookups of built-ins never take the lock.
static REGISTERED: RwLock<Vec<&'static dyn FieldType>> = RwLock::new(Vec::new());

/// Why a field type cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("a field type named `{0}` is registered already")]
    Taken(FieldKind),
    #[error("`{0}` is not a snake_case name a definition could give as `type`")]
    NotSnakeCase(FieldKind),
    #[error("field type `{kind}` names the property `{property}`, which field definitions do not have")]
    UnknownProperty { kind: FieldKind, property: &'static str },
}

/// Adds `field_type` to the registry, beside the built-ins, for every app loaded afterwards;
/// a program calls it at start-up. A name taken already is refused, as is a property a field
/// definition does not have (the palette could describe it to no one). Its widget is the web
/// UI's business: one the UI lacks shows the value read-only.
pub fn register_field_type(field_type: &'static dyn FieldType) -> Result<(), RegisterError> {
    let kind = field_type.kind();
    if !defs::is_identifier(kind.name()) {
        return Err(RegisterError::NotSnakeCase(kind));
    }
    let field_properties = palette::field_properties();
    if let Some(property) = field_type.properties().iter().find(|p| field_properties.get(**p).is_none()) {
        return Err(RegisterError::UnknownProperty { kind, property });
    }
    let mut registered = REGISTERED.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    if BUILT_IN.iter().chain(registered.iter()).any(|t| t.kind() == kind) {
        return Err(RegisterError::Taken(kind));
    }
    registered.push(field_type);
    Ok(())
}

/// The type registered under `kind`, if any.
pub fn find_field_type(kind: &FieldKind) -> Option<&'static dyn FieldType> {
    if let Some(built_in) = BUILT_IN.iter().find(|t| t.kind() == *kind) {
        return Some(*built_in);
    }
    let registered = REGISTERED.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    registered.iter().copied().find(|t| t.kind() == *kind)
}

/// The type registered under `kind`.
///
/// # Panics
/// When no type is registered under `kind`. A loaded form's fields all have one:
/// [`crate::CompiledForm::compile`] refuses a form naming another.
pub fn field_type(kind: &FieldKind) -> &'static dyn FieldType {
    find_field_type(kind).unwrap_or_else(|| panic!("field type `{kind}` is not registered; loaded forms name only registered ones"))
}

/// The schema of an object with these fields: no unknown fields, required ones present. A
/// field of a type no one registered has no schema to give and is left out: such a form is
/// refused by [`crate::CompiledForm::compile`] (this also sizes forms before they compile).
pub(crate) fn object_schema(fields: &[Field]) -> Value {
    let schema_of = |f: &Field| Some((f.id.clone(), find_field_type(&f.kind)?.schema(f)));
    let properties: Map<String, Value> = fields.iter().filter_map(schema_of).collect();
    let required: Vec<&str> = fields.iter().filter(|f| f.required).map(|f| f.id.as_str()).collect();
    json!({"type": "object", "additionalProperties": false, "properties": properties, "required": required})
}

/// Every registered type: the built-ins, then the program's in the order it registered them.
fn all_field_types() -> Vec<&'static dyn FieldType> {
    let registered = REGISTERED.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    BUILT_IN.iter().chain(registered.iter()).copied().collect()
}

/// A cell holding the JSON of a list or object value (child rows, attachments, a region).
fn parse_json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|_| format!("`{text}` is not the JSON this field holds"))
}

/// `{"type": "string"}` with the field's `max_length`, or `default_max` when it sets none.
fn string_schema(field: &Field, default_max: u32) -> Value {
    let mut schema = json!({"type": "string", "maxLength": field.max_length.unwrap_or(default_max)});
    if let Some(pattern) = &field.pattern {
        schema["pattern"] = json!(pattern);
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_kind_is_registered_once() {
        assert!(FieldKind::BUILT_IN.len() >= 20);
        assert_eq!(BUILT_IN.len(), FieldKind::BUILT_IN.len());
        for kind in FieldKind::BUILT_IN {
            assert_eq!(BUILT_IN.iter().filter(|t| t.kind() == *kind).count(), 1, "{kind}");
        }
    }

    /// A type of this test's own, registered as a program would.
    struct Stars;
    impl FieldType for Stars {
        fn kind(&self) -> FieldKind {
            FieldKind::named("stars")
        }
        fn schema(&self, _field: &Field) -> Value {
            json!({"type": "integer", "minimum": 0, "maximum": 3})
        }
        fn widget(&self) -> Option<&'static str> {
            None
        }
    }

    /// Names a property field definitions lack, or a name no definition could write.
    struct Misnamed(&'static str, &'static [&'static str]);
    impl FieldType for Misnamed {
        fn kind(&self) -> FieldKind {
            FieldKind::named(self.0)
        }
        fn schema(&self, _field: &Field) -> Value {
            json!({})
        }
        fn widget(&self) -> Option<&'static str> {
            None
        }
        fn properties(&self) -> &'static [&'static str] {
            self.1
        }
    }

    #[test]
    fn a_registered_type_is_found_and_a_name_is_registered_once() {
        let stars = FieldKind::named("stars");
        assert!(find_field_type(&stars).is_none());
        register_field_type(&Stars).unwrap();
        assert_eq!(field_type(&stars).kind(), stars);
        assert!(palette().types.iter().any(|e| e.kind == stars), "the palette lists it");
        assert_eq!(register_field_type(&Stars), Err(RegisterError::Taken(stars)));
        let text = register_field_type(&Misnamed("text", &[])).unwrap_err();
        assert_eq!(text.to_string(), "a field type named `text` is registered already");
        assert_eq!(register_field_type(&Misnamed("Bad-Name", &[])), Err(RegisterError::NotSnakeCase(FieldKind::named("Bad-Name"))));
        assert_eq!(
            register_field_type(&Misnamed("odd", &["colour"])),
            Err(RegisterError::UnknownProperty { kind: FieldKind::named("odd"), property: "colour" })
        );
        assert!(find_field_type(&FieldKind::named("odd")).is_none(), "a refused type is not registered");
    }

    fn field(kind: &str, extra: Value) -> Field {
        let mut v = json!({"id": "f", "type": kind, "label": {"en": "F", "zh-CN": "字段"}});
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    fn parse(field: &Field, text: &str) -> Result<Value, String> {
        field_type(&field.kind).parse_text(field, text)
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
        let of = |kind| field_type(&kind);
        assert!(of(FieldKind::CURRENCY).summable() && of(FieldKind::ROLLUP).summable() && !of(FieldKind::TEXT).summable());
        assert!(of(FieldKind::SELECT).groupable() && !of(FieldKind::TAGS).groupable() && !of(FieldKind::TABLE).groupable());
        assert!(of(FieldKind::DATE).date_like() && of(FieldKind::DATETIME).date_like() && !of(FieldKind::TEXT).date_like());
        assert!(of(FieldKind::DATE).operators().contains(&"last_n_days") && !of(FieldKind::TEXT).operators().contains(&"period"));
        assert!(of(FieldKind::TEXT).operators().contains(&"contains") && !of(FieldKind::NUMBER).operators().contains(&"contains"));
        assert_eq!(of(FieldKind::MULTISELECT).operators(), &["is_null", "has"]);
        assert!(
            of(FieldKind::SELECT).holds_options() && of(FieldKind::MULTISELECT).holds_options() && !of(FieldKind::TAGS).holds_options()
        );
    }

    /// A property a type names is one a field definition has: the palette describes it from
    /// the definition schema, which would otherwise give the designer nothing. And every
    /// property of a field definition is either common to all or some type's own, so that the
    /// check of properties that do not apply to a type covers each.
    #[test]
    fn every_property_named_is_a_field_property_and_every_field_property_is_named() {
        let known = palette::field_properties();
        let mut named: Vec<&str> = COMMON_PROPERTIES.to_vec();
        for t in BUILT_IN {
            for name in t.properties() {
                assert!(known.contains_key(*name), "{} names `{name}`", t.kind());
            }
            named.extend(t.properties());
        }
        for property in known.keys() {
            assert!(named.contains(&property.as_str()), "no type names `{property}`: add it to a type or COMMON_PROPERTIES");
        }
        let palette = palette();
        let decimal = palette.types.iter().find(|e| e.kind == FieldKind::DECIMAL).unwrap();
        assert_eq!(decimal.properties["properties"]["scale"]["maximum"], json!(10));
        assert!(palette.types.len() >= BUILT_IN.len());
    }

    /// The widget each built-in type names is the one the web UI registers for it, and a type
    /// without one is not edited there either. (A program's own types may name widgets the UI
    /// lacks: it then shows their values read-only.)
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
        for t in BUILT_IN {
            let kind = t.kind();
            match t.widget() {
                Some(widget) => assert!(ui.contains(&format!("'{widget}'")) || ui.contains(&format!("{widget}.vue")), "{widget}"),
                None => assert!(compact.contains(&format!("{kind}:{{widget:null")), "{kind} has a widget in the UI"),
            }
        }
    }
}
