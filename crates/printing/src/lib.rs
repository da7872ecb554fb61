//! Tessera print templates: an app's `templates/<id>.hbs` (handlebars, HTML-escaped) compiled
//! and checked once into a [`Printer`], which renders a record into a complete A4 HTML document
//! with the company letterhead, ready to print or to hand to a headless browser for PDF.
//!
//! Knows nothing of databases, HTTP or permissions: the engine reads the record and what it
//! links to, keeps only the fields the user may read, and passes them in the context.
//!
//! # The context
//!
//! [`Printer::render`] takes one JSON object:
//!
//! ```text
//! {
//!   "record":  { "id": "…", "form": "quote", "version": 3, "state": null, "owner": "…",
//!                "created_at": "…", "updated_at": "…", "data": { …readable fields… } },
//!   "linked":  { "<record id>": { …readable fields of that record… }, … },
//!   "options": { "<form id>": { "<field id>": [ {"value": "…", "label": {"en": "…", "zh-CN": "…"}} ] } },
//!   "user":    { "username": "…", "name": "…", "email": "…" },
//!   "app":     { "id": "crm", "name": "客户关系管理" },
//!   "locale":  "zh-CN" | "en",
//!   "now":     "2026-11-23T14:05:00+08:00",
//!   "title":   "报价单 QT-2026-00012"
//! }
//! ```
//!
//! - `record` is the API's record envelope; templates read `record.data.<field>`.
//! - `linked` holds every record the record links to, top-level link fields and link fields in
//!   child rows alike, by id, with only the fields the user may read; a record the user may not
//!   read is left out (templates then print nothing for it).
//! - `options` (optional) lists the select options of the record's form and of linked forms,
//!   in the definition's shape, for `{{label options.quote.status record.data.status}}`.
//! - `now` is the print time in the app's UTC offset (`{{date now}}` prints it as given).
//! - `title` (optional) becomes the HTML title, which browsers use as the PDF's file name;
//!   the template id otherwise.
//!
//! The printer adds two keys: `company` (the [`PrintSettings`]) and `links`, which maps each
//! top-level field of `record.data` holding the id of a record in `linked` to that record's data
//! (`{{links.account.name}}`). In child rows, `{{#with (link product)}}{{name}}{{/with}}`.
//!
//! # Helpers
//!
//! Listed in `helpers/mod.rs`: `money`, `date`, `cn_upper` (大写金额), `en_words`, `sum`,
//! `add`, `sub`, `mul`, `percent`, `inc`, `label`, `link`, and handlebars' own `if`, `unless`,
//! `each`, `with`, `lookup`, `raw`, `eq`, `ne`, `gt`, `gte`, `lt`, `lte`, `and`, `or`, `not`,
//! `len`. Each helper's file documents it.

mod check;
mod error;
mod helpers;
mod number;
mod printer;
mod settings;

pub use error::{RenderError, TemplateError};
pub use printer::Printer;
pub use settings::PrintSettings;
