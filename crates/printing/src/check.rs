//! Load-time checks of a compiled template, so a mistake shows in `tessera check` with its
//! position instead of when someone prints:
//! - every helper named exists (handlebars' strict mode would also fail on every empty optional
//!   field, which documents must tolerate, so we check helpers here instead);
//! - nothing is printed unescaped (`{{{…}}}`): record fields come from users, and the document
//!   is served from the app's origin;
//! - partials name an existing template literally, and templates do not include each other in a
//!   loop (handlebars would recurse until the stack overflows);
//! - no decorators (`{{*inline}}`), whose partials would escape the two checks above.

use std::collections::{BTreeMap, BTreeSet};

use handlebars::template::{HelperTemplate, Parameter, Template, TemplateElement, TemplateMapping};

use crate::TemplateError;
use crate::helpers;

/// A partial included by a template, where.
#[derive(Debug, Clone)]
pub(crate) struct Include {
    pub(crate) target: String,
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// The problems in template `id`, and the templates it includes.
pub(crate) fn check(id: &str, template: &Template, ids: &BTreeSet<String>) -> (Vec<TemplateError>, Vec<Include>) {
    let mut walk = Walk { id, ids, errors: Vec::new(), includes: Vec::new() };
    walk.template(template, (1, 1));
    (walk.errors, walk.includes)
}

/// Loops of includes: one error per template that starts a loop, at the include that closes it.
pub(crate) fn include_loops(includes: &BTreeMap<String, Vec<Include>>) -> Vec<TemplateError> {
    let mut errors = Vec::new();
    for start in includes.keys() {
        // Depth-first from `start`, looking for a path back to it.
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        'search: while let Some((node, path)) = stack.pop() {
            for inc in includes.get(&node).into_iter().flatten() {
                if inc.target == *start {
                    let first = includes.get(start).and_then(|list| {
                        let next = path.get(1).unwrap_or(start);
                        list.iter().find(|i| i.target == *next)
                    });
                    let (line, column) = first.map_or((1, 1), |i| (i.line, i.column));
                    let mut cycle = path.clone();
                    cycle.push(start.clone());
                    errors.push(TemplateError {
                        template: start.clone(),
                        line,
                        column,
                        message: format!("templates include each other in a loop: {}", cycle.join(" → ")),
                    });
                    break 'search;
                }
                if seen.insert(inc.target.clone()) {
                    let mut next = path.clone();
                    next.push(inc.target.clone());
                    stack.push((inc.target.clone(), next));
                }
            }
        }
    }
    errors
}

struct Walk<'a> {
    id: &'a str,
    ids: &'a BTreeSet<String>,
    errors: Vec<TemplateError>,
    includes: Vec<Include>,
}

impl Walk<'_> {
    fn error(&mut self, (line, column): (usize, usize), message: String) {
        self.errors.push(TemplateError { template: self.id.to_owned(), line, column, message });
    }

    fn template(&mut self, template: &Template, at: (usize, usize)) {
        for (i, element) in template.elements.iter().enumerate() {
            let pos = template.mapping.get(i).map_or(at, |m: &TemplateMapping| (m.0, m.1));
            self.element(element, pos);
        }
    }

    fn element(&mut self, element: &TemplateElement, pos: (usize, usize)) {
        match element {
            TemplateElement::RawString(_) | TemplateElement::Comment(_) => {}
            TemplateElement::HtmlExpression(ht) => {
                let name = ht.name.as_name().unwrap_or("…");
                self.error(pos, format!("`{{{{{{{name}}}}}}}` would print without HTML escaping; write `{{{{{name}}}}}`"));
            }
            TemplateElement::Expression(ht) => self.expression(ht, pos),
            TemplateElement::HelperBlock(ht) => self.block(ht, pos),
            TemplateElement::DecoratorExpression(_) | TemplateElement::DecoratorBlock(_) => self.error(
                pos,
                "decorators (`{{*…}}`) are not supported; put shared parts in a template of their own and \
                 include it with `{{> name}}`"
                    .to_owned(),
            ),
            TemplateElement::PartialExpression(dt) | TemplateElement::PartialBlock(dt) => {
                match &dt.name {
                    Parameter::Literal(serde_json::Value::String(name)) => self.partial(name, pos),
                    Parameter::Name(_) | Parameter::Path(_) => self.partial(dt.name.as_name().unwrap_or(""), pos),
                    _ => self.error(pos, "a partial must be named literally: `{{> template_id}}`".to_owned()),
                }
                self.params(&dt.params, dt.hash.values(), pos);
                if let Some(t) = &dt.template {
                    self.template(t, pos);
                }
            }
            // A construct added by a later handlebars: refused until the checks above know it.
            _ => self.error(pos, "this kind of template expression is not supported".to_owned()),
        }
    }

    /// `{{name}}` prints a value unless `name` is a helper; with arguments it must be one.
    fn expression(&mut self, ht: &HelperTemplate, pos: (usize, usize)) {
        let name = ht.name.as_name().unwrap_or("");
        if ht.params.is_empty() && ht.hash.is_empty() {
            if helpers::HELPERS.iter().any(|(n, _)| *n == name) {
                self.error(
                    pos,
                    format!(
                        "`{{{{{name}}}}}` calls the {name} helper without arguments; \
                         to print a field named {name}, write `{{{{this.{name}}}}}`"
                    ),
                );
            }
        } else {
            self.helper_name(name, pos);
        }
        self.params(&ht.params, ht.hash.values(), pos);
    }

    fn block(&mut self, ht: &HelperTemplate, pos: (usize, usize)) {
        // An `{{else if …}}` chain is stored as a nameless block inside the inverse.
        if let Some(name) = ht.name.as_name() {
            self.helper_name(name, pos);
        }
        self.params(&ht.params, ht.hash.values(), pos);
        if let Some(t) = &ht.template {
            self.template(t, pos);
        }
        if let Some(t) = &ht.inverse {
            self.template(t, pos);
        }
    }

    fn helper_name(&mut self, name: &str, pos: (usize, usize)) {
        if !helpers::is_known(name) {
            self.error(pos, format!("no helper named `{name}`; helpers are: {}", known_helpers()));
        }
    }

    fn params<'p>(&mut self, params: &'p [Parameter], hash: impl Iterator<Item = &'p Parameter>, pos: (usize, usize)) {
        for p in params.iter().chain(hash) {
            if let Parameter::Subexpression(sub) = p {
                match sub.as_element() {
                    TemplateElement::Expression(ht) => {
                        // A subexpression always calls a helper, even without arguments.
                        self.helper_name(ht.name.as_name().unwrap_or(""), pos);
                        self.params(&ht.params, ht.hash.values(), pos);
                    }
                    other => self.element(other, pos),
                }
            }
        }
    }

    fn partial(&mut self, name: &str, pos: (usize, usize)) {
        if name == "@partial-block" {
            return;
        }
        if name == self.id {
            self.error(pos, format!("template {name} includes itself"));
        } else if !self.ids.contains(name) {
            self.error(pos, format!("no template named `{name}` to include"));
        } else {
            self.includes.push(Include { target: name.to_owned(), line: pos.0, column: pos.1 });
        }
    }
}

fn known_helpers() -> String {
    let mut names: Vec<&str> = helpers::HELPERS.iter().map(|(n, _)| *n).chain(helpers::BUILT_IN.iter().copied()).collect();
    names.sort_unstable();
    names.join(", ")
}
