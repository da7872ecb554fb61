//! Typed ids at the engine's public surface: commands name an app, a form and a record by
//! [`AppId`], [`FormId`] and [`RecordId`], each checked when it is made, so one cannot be passed
//! for another and an id that cannot exist never reaches the database. Inside the engine they
//! are `&str` again ([`AppId::as_str`] …).

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use uuid::Uuid;

/// Text that is not an id of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not {kind}")]
pub struct IdError {
    kind: &'static str,
    text: String,
}

/// An id type: text kept as given once `$valid` accepts it. Deserialising checks it too, so a
/// path or body extracted into one is already valid.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $valid:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
        #[serde(try_from = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Result<Self, IdError> {
                text.parse()
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(text: &str) -> Result<Self, IdError> {
                Self::try_from(text.to_owned())
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(text: String) -> Result<Self, IdError> {
                if $valid(&text) { Ok($name(text)) } else { Err(IdError { kind: $kind, text }) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// An app's id (`crm`): snake_case, as definitions name their items.
    AppId,
    "an app id",
    defs::is_identifier
);

id_type!(
    /// A form's id within its app (`account`): snake_case, as definitions name their items.
    FormId,
    "a form id",
    defs::is_identifier
);

id_type!(
    /// A record's id: a UUID as the store keeps it, in the hyphenated lower-case text the engine
    /// writes (`0190…-…`). Any other spelling names no record, so it is refused here.
    RecordId,
    "a record id",
    is_record_id
);

/// Whether `text` is a UUID exactly as the engine writes one.
fn is_record_id(text: &str) -> bool {
    let Ok(uuid) = Uuid::try_parse(text) else { return false };
    uuid.hyphenated().encode_lower(&mut Uuid::encode_buffer()) == text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_and_form_ids_are_identifiers() {
        assert_eq!(AppId::parse("crm").map(|id| id.to_string()), Ok("crm".to_owned()));
        assert!(FormId::parse("sales_order2").is_ok());
        for bad in ["", "CRM", "crm.x", "1crm", "crm-x", "../crm", "crm "] {
            assert!(AppId::parse(bad).is_err(), "{bad:?}");
            assert!(FormId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_record_id_is_a_uuid_as_the_engine_writes_it() {
        let written = Uuid::now_v7().to_string();
        assert_eq!(RecordId::parse(&written).map(|id| id.as_str().to_owned()), Ok(written.clone()));
        let simple = written.replace('-', "");
        for bad in [written.to_uppercase(), simple, format!("{{{written}}}"), format!("urn:uuid:{written}"), "42".into(), "".into()] {
            assert!(RecordId::parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn deserialising_checks_the_id() {
        let ids: Result<(AppId, FormId, RecordId), _> = serde_json::from_str(r#"["crm", "account", "not-a-uuid"]"#);
        assert!(ids.unwrap_err().to_string().starts_with("`not-a-uuid` is not a record id"));
    }
}
