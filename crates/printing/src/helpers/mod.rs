//! The helpers print templates may call, listed once in [`HELPERS`], and what they share: reading
//! an amount parameter, the document's locale, and errors that name the helper.
//!
//! A new helper is one file here and one line in [`HELPERS`]; templates that name anything not in
//! [`HELPERS`] or [`BUILT_IN`] are refused when the app loads.

mod arith;
mod cn_upper;
mod date;
mod en_words;
mod label;
mod link;
mod money;

use std::fmt::Display;

use handlebars::{Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, RenderErrorReason, ScopedJson};
use serde_json::Value;

use crate::number::Decimal;

pub(crate) use link::resolve as resolve_link;

/// `{{cn_upper amount}}`: the amount in Chinese upper-case words (大写金额); empty prints nothing.
fn amount_in_chinese(h: &Helper<'_>, _: &Context) -> Result<Value, RenderError> {
    in_words(h, cn_upper::to_chinese)
}

/// `{{en_words amount}}`: the amount in English words; empty prints nothing.
fn amount_in_english(h: &Helper<'_>, _: &Context) -> Result<Value, RenderError> {
    in_words(h, en_words::to_words)
}

fn in_words(h: &Helper<'_>, write: fn(&Decimal) -> Result<String, crate::number::NumberError>) -> Result<Value, RenderError> {
    let Some(amount) = amount_param(h, 0)? else {
        return Ok(Value::String(String::new()));
    };
    Ok(Value::String(write(&amount).map_err(|e| helper_error(h, e))?))
}

/// A helper of ours: a function from its parameters (and the document's context) to a value.
type Compute = fn(&Helper<'_>, &Context) -> Result<Value, RenderError>;

/// Every helper of ours, by the name templates call it.
pub(crate) static HELPERS: &[(&str, Compute)] = &[
    ("money", money::money),
    ("date", date::date),
    ("cn_upper", amount_in_chinese),
    ("en_words", amount_in_english),
    ("sum", arith::sum),
    ("add", arith::add),
    ("sub", arith::sub),
    ("mul", arith::mul),
    ("percent", arith::percent),
    ("inc", arith::inc),
    ("label", label::label),
    ("link", link::link),
];

/// The helpers handlebars itself provides that templates may use. `log` is left out (it writes
/// to the server log, which is no business of a template's).
pub(crate) static BUILT_IN: &[&str] =
    &["if", "unless", "each", "with", "lookup", "raw", "eq", "ne", "gt", "gte", "lt", "lte", "and", "or", "not", "len"];

/// Whether templates may call `name`.
pub(crate) fn is_known(name: &str) -> bool {
    BUILT_IN.contains(&name) || HELPERS.iter().any(|(n, _)| *n == name)
}

/// Registers [`HELPERS`] and removes the built-ins templates may not use.
pub(crate) fn register(hb: &mut Handlebars<'static>) {
    hb.unregister_helper("log");
    for (name, compute) in HELPERS {
        hb.register_helper(name, Box::new(Computed(*compute)));
    }
}

/// Handlebars' side of a [`Compute`]: the value it returns is what the template prints or passes on.
struct Computed(Compute);

impl HelperDef for Computed {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        (self.0)(h, ctx).map(ScopedJson::Derived)
    }
}

/// The language a document is printed in; the context's `locale` picks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locale {
    Zh,
    En,
}

impl Locale {
    /// `zh`, `zh-CN`, `zh-Hans`… are Chinese; everything else is English, as for labels.
    pub(crate) fn from_tag(tag: &str) -> Locale {
        if tag == "zh" || tag.starts_with("zh-") || tag.starts_with("zh_") { Locale::Zh } else { Locale::En }
    }

    /// The tag labels are keyed by in definitions.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Locale::Zh => "zh-CN",
            Locale::En => "en",
        }
    }
}

/// The locale for this call: a `locale="en"` hash argument (for the second language of a
/// bilingual document), else the context's `locale`.
pub(crate) fn locale(h: &Helper<'_>, ctx: &Context) -> Locale {
    let tag =
        h.hash_get("locale").and_then(|v| v.value().as_str()).or_else(|| ctx.data().get("locale").and_then(Value::as_str)).unwrap_or("en");
    Locale::from_tag(tag)
}

/// Parameter `index` as an amount; `None` when it is empty (a blank field prints nothing).
pub(crate) fn amount_param(h: &Helper<'_>, index: usize) -> Result<Option<Decimal>, RenderError> {
    let param = h.param(index).ok_or_else(|| helper_error(h, format!("needs an amount as parameter {}", index + 1)))?;
    Decimal::from_json(param.value()).map_err(|e| helper_error(h, e))
}

/// A helper's error, prefixed with its name; handlebars adds the template and position.
pub(crate) fn helper_error(h: &Helper<'_>, message: impl Display) -> RenderError {
    RenderErrorReason::Other(format!("{}: {message}", h.name())).into()
}
