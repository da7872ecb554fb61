//! Labels shown to people: a plain string or one text per locale.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A plain string, or `{"en": "Account", "zh-CN": "客户"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Label {
    Plain(String),
    Translated(BTreeMap<String, String>),
}

impl Label {
    /// The text for `locale`, falling back to English, then to any text there is.
    pub fn text(&self, locale: &str) -> &str {
        match self {
            Label::Plain(s) => s,
            Label::Translated(map) => {
                map.get(locale).or_else(|| map.get("en")).or_else(|| map.values().next()).map(String::as_str).unwrap_or("")
            }
        }
    }

    /// Every text of the label, for matching user input (e.g. import headers) in any language.
    pub fn texts(&self) -> Vec<&str> {
        match self {
            Label::Plain(s) => vec![s.as_str()],
            Label::Translated(map) => map.values().map(String::as_str).collect(),
        }
    }
}

impl From<&str> for Label {
    fn from(s: &str) -> Self {
        Label::Plain(s.to_owned())
    }
}
