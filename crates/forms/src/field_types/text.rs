//! Text-like fields: one string, with a length limit and, for some, a format.

use defs::{Field, FieldKind};
use serde_json::{Value, json};

use super::{FieldType, PaletteGroup, PaletteInfo, string_schema};

pub(super) struct Text;
impl FieldType for Text {
    fn kind(&self) -> FieldKind {
        FieldKind::TEXT
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Basic, "Text", "单行文本")
    }
    fn schema(&self, field: &Field) -> Value {
        string_schema(field, 500)
    }
    fn widget(&self) -> Option<&'static str> {
        Some("TextWidget")
    }
    fn properties(&self) -> &'static [&'static str] {
        &["max_length", "pattern"]
    }
}

pub(super) struct Textarea;
impl FieldType for Textarea {
    fn kind(&self) -> FieldKind {
        FieldKind::TEXTAREA
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Basic, "Long text", "多行文本")
    }
    fn schema(&self, field: &Field) -> Value {
        string_schema(field, 20_000)
    }
    fn widget(&self) -> Option<&'static str> {
        Some("TextareaWidget")
    }
    fn properties(&self) -> &'static [&'static str] {
        &["max_length"]
    }
}

pub(super) struct Email;
impl FieldType for Email {
    fn kind(&self) -> FieldKind {
        FieldKind::EMAIL
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Basic, "Email", "邮箱")
    }
    fn schema(&self, field: &Field) -> Value {
        json!({"type": "string", "format": "email", "maxLength": field.max_length.unwrap_or(254)})
    }
    /// Trimmed and in lower case: mail systems treat addresses alike whatever their case.
    fn canonical(&self, text: &str) -> Option<String> {
        Some(text.trim().to_lowercase())
    }
    fn widget(&self) -> Option<&'static str> {
        Some("EmailWidget")
    }
    fn properties(&self) -> &'static [&'static str] {
        &["max_length"]
    }
}

pub(super) struct Phone;
impl FieldType for Phone {
    fn kind(&self) -> FieldKind {
        FieldKind::PHONE
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Basic, "Phone", "电话")
    }
    fn schema(&self, _field: &Field) -> Value {
        json!({"type": "string", "pattern": "^\\+?[0-9][0-9 ()\\-]{2,31}$"})
    }
    /// Its digits, after a leading `+` if any: `139 1234-5678` and `13912345678` are one number.
    /// Anything but digits, spaces, dashes, dots and brackets is left for validation to refuse.
    fn canonical(&self, text: &str) -> Option<String> {
        let text = text.trim();
        if !text.chars().all(|c| c.is_ascii_digit() || " ()-.+".contains(c)) || text.rfind('+').is_some_and(|i| i > 0) {
            return None;
        }
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        Some(if text.starts_with('+') { format!("+{digits}") } else { digits })
    }
    fn widget(&self) -> Option<&'static str> {
        Some("PhoneWidget")
    }
}

pub(super) struct Url;
impl FieldType for Url {
    fn kind(&self) -> FieldKind {
        FieldKind::URL
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Basic, "URL", "网址")
    }
    fn schema(&self, _field: &Field) -> Value {
        json!({"type": "string", "format": "uri", "maxLength": 2048})
    }
    fn widget(&self) -> Option<&'static str> {
        Some("UrlWidget")
    }
}

/// A username; whether the user exists is checked by the engine.
pub(super) struct User;
impl FieldType for User {
    fn kind(&self) -> FieldKind {
        FieldKind::USER
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Relation, "User", "人员")
    }
    fn schema(&self, _field: &Field) -> Value {
        json!({"type": "string", "minLength": 1, "maxLength": 64})
    }
    fn widget(&self) -> Option<&'static str> {
        Some("UserWidget")
    }
}
