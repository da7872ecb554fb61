//! What can go wrong: a template that does not compile (data for `tessera check`, one entry per
//! problem, each with its position) and a document that does not render.

use std::fmt;

/// A problem in one of an app's templates, at a position in `templates/<template>.hbs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// The template's id (its file name without `.hbs`).
    pub template: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "templates/{}.hbs:{}:{}: {}", self.template, self.line, self.column, self.message)
    }
}

impl std::error::Error for TemplateError {}

/// Why a document could not be printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The app has no template of this id (the HTTP layer's 404).
    #[error("no print template named {0:?}")]
    UnknownTemplate(String),
    /// The context passed was not a JSON object (a bug in the caller).
    #[error("the print context must be a JSON object")]
    ContextNotObject,
    /// The template failed while rendering, e.g. a helper given text where it needs an amount.
    #[error("{}", render_location(template, *line, *column, message))]
    Template { template: String, line: Option<usize>, column: Option<usize>, message: String },
}

fn render_location(template: &str, line: Option<usize>, column: Option<usize>, message: &str) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("templates/{template}.hbs:{l}:{c}: {message}"),
        _ => format!("templates/{template}.hbs: {message}"),
    }
}
