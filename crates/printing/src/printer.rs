//! `Printer`: one app's templates compiled and checked once, rendered into complete A4 HTML
//! documents (print CSS, letterhead, then the template's body).

use std::collections::{BTreeMap, BTreeSet};

use handlebars::Handlebars;
use serde_json::{Map, Value, json};

use crate::check::{self, Include};
use crate::error::{RenderError, TemplateError};
use crate::helpers::{self, Locale};
use crate::settings::PrintSettings;

/// Internal templates have a `/` in their names, which no template id (a file name) can have.
const LAYOUT: &str = "tessera/layout";
const LETTERHEAD: &str = "tessera/letterhead";

const LAYOUT_SOURCE: &str = include_str!("assets/layout.hbs");
const LETTERHEAD_SOURCE: &str = include_str!("assets/letterhead.hbs");
const PRINT_CSS: &str = include_str!("assets/print.css");

/// One app's print templates, ready to render. Build it once when the app loads and share it
/// (`Printer` is `Send + Sync`).
pub struct Printer {
    hb: Handlebars<'static>,
    ids: BTreeSet<String>,
    company: Value,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer").field("templates", &self.ids).finish_non_exhaustive()
    }
}

impl Printer {
    /// Compiles and checks `templates` (id → handlebars source, the files
    /// `templates/<id>.hbs`). Every problem in every template is returned at once.
    pub fn new(templates: &BTreeMap<String, String>, settings: &PrintSettings) -> Result<Printer, Vec<TemplateError>> {
        let mut hb = Handlebars::new();
        // Documents are HTML; escaping stays on (the default) and unescaped output is refused.
        hb.register_escape_fn(handlebars::html_escape);
        helpers::register(&mut hb);

        let ids: BTreeSet<String> = templates.keys().cloned().collect();
        let mut errors = Vec::new();
        for (id, source) in templates {
            if let Err(e) = hb.register_template_string(id, source) {
                let (line, column) = e.pos().unwrap_or((1, 1));
                errors.push(TemplateError { template: id.clone(), line, column, message: e.reason().to_string() });
            }
        }
        let mut includes: BTreeMap<String, Vec<Include>> = BTreeMap::new();
        for id in &ids {
            if let Some(template) = hb.get_template(id) {
                let (mut problems, inc) = check::check(id, template, &ids);
                errors.append(&mut problems);
                includes.insert(id.clone(), inc);
            }
        }
        errors.extend(check::include_loops(&includes));
        if !errors.is_empty() {
            errors.sort_by(|a, b| (&a.template, a.line, a.column).cmp(&(&b.template, b.line, b.column)));
            return Err(errors);
        }

        // Our own templates are trusted and tested; a failure here is a bug in this crate, which
        // the tests catch, so it is reported like any template error rather than panicking.
        for (name, source) in [(LAYOUT, LAYOUT_SOURCE), (LETTERHEAD, LETTERHEAD_SOURCE)] {
            if let Err(e) = hb.register_template_string(name, source) {
                let (line, column) = e.pos().unwrap_or((1, 1));
                return Err(vec![TemplateError { template: name.to_owned(), line, column, message: e.reason().to_string() }]);
            }
        }
        let company = serde_json::to_value(settings).unwrap_or(Value::Null);
        Ok(Printer { hb, ids, company })
    }

    /// The ids of the templates, for listing what can be printed.
    pub fn templates(&self) -> impl Iterator<Item = &str> {
        self.ids.iter().map(String::as_str)
    }

    /// Whether the app has a template `id`.
    pub fn has_template(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Renders `template` with `context` (see the crate documentation for its shape) into a
    /// complete HTML document: A4 print CSS, the letterhead, then the template's body.
    pub fn render(&self, template: &str, context: &Value) -> Result<String, RenderError> {
        if !self.ids.contains(template) {
            return Err(RenderError::UnknownTemplate(template.to_owned()));
        }
        let Value::Object(context) = context else {
            return Err(RenderError::ContextNotObject);
        };
        let mut data = context.clone();
        data.insert("company".to_owned(), self.company.clone());
        if !data.contains_key("links") {
            let links = links_by_field(&data);
            data.insert("links".to_owned(), Value::Object(links));
        }
        let locale = Locale::from_tag(data.get("locale").and_then(Value::as_str).unwrap_or("en"));
        let title = data.get("title").and_then(Value::as_str).unwrap_or(template).to_owned();
        let data = Value::Object(data);

        let body = self.hb.render(template, &data).map_err(|e| from_handlebars(template, e))?;
        let page = json!({
            "lang": locale.tag(),
            "title": title,
            "css": PRINT_CSS,
            "company": self.company,
            "body": body,
        });
        self.hb.render(LAYOUT, &page).map_err(|e| from_handlebars(LAYOUT, e))
    }
}

/// `links.<field>` for the record's top-level fields whose value is the id (or a list of ids) of
/// a record in `linked`: `{{links.account.name}}` instead of `{{#with (link record.data.account)}}`.
/// Ids are UUIDs, so a text field cannot match one by accident.
fn links_by_field(data: &Map<String, Value>) -> Map<String, Value> {
    let linked = data.get("linked");
    let Some(Value::Object(fields)) = data.get("record").and_then(|r| r.get("data")) else {
        return Map::new();
    };
    let mut links = Map::new();
    for (field, value) in fields {
        let is_link = match value {
            Value::String(id) => linked.and_then(|l| l.get(id)).is_some(),
            Value::Array(ids) => {
                !ids.is_empty() && ids.iter().all(|id| id.as_str().is_some_and(|id| linked.and_then(|l| l.get(id)).is_some()))
            }
            _ => false,
        };
        if is_link {
            links.insert(field.clone(), helpers::resolve_link(linked, value));
        }
    }
    links
}

fn from_handlebars(template: &str, e: handlebars::RenderError) -> RenderError {
    let message = match e.reason() {
        // Its own text is "Failed to parse template …", which reads oddly at render time.
        handlebars::RenderErrorReason::TemplateNotFound(name) => format!("no template named {name}"),
        reason => reason.to_string(),
    };
    RenderError::Template {
        template: e.template_name.clone().unwrap_or_else(|| template.to_owned()),
        line: e.line_no,
        column: e.column_no,
        message,
    }
}

#[cfg(test)]
mod tests;
