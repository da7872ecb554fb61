//! Tessera report engine: compiles a declarative report (`defs::Report`) into one sea-query
//! statement per result set for SQLite or PostgreSQL, with every value bound; drill-down from a
//! cell to the ids of the records behind it; pivot layout; CSV and XLSX export.
//!
//! Knows nothing of HTTP or connections: the engine runs the statements and decides who may.

mod charts;
mod compile;
mod export;
mod fields;
mod filter;
mod pivot;

pub use charts::{ChartKindEntry, KindLabel, Renderer, Span, chart_kind, chart_kinds, chart_problems};
pub use compile::{Compiled, MAX_DIMENSIONS, MAX_MEASURES, OutColumn, Role, TotalKind, compile, drill, grand_totals_from_rows};
pub use export::{XlsxSheet, csv_lines, to_csv, to_xlsx};
pub use fields::{AsOf, Catalog, Context, Dialect, FieldRef, ValueKind, field_sql};
pub use filter::{MAX_FILTER_CONDITIONS, MAX_FILTER_VALUES};
pub use pivot::{MAX_PIVOT_CELLS, Totals, pivot};
pub use sea_query::SelectStatement;

/// A mistake in a report, located by a JSON pointer into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub pointer: String,
    pub message: String,
}

impl Problem {
    pub(crate) fn new(pointer: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem { pointer: pointer.into(), message: message.into() }
    }
}

/// Most rows a report returns.
pub const MAX_ROWS: u32 = 10_000;
