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
