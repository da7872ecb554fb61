//! Arranging an aggregate (grouped by every dimension) as a cross table. The numbers, totals
//! included, all come from the database; this only places them, in one pass over the rows and
//! one over the cells, after checking the table is not too large to lay out.

use std::collections::HashMap;

use indexmap::IndexMap;
use serde_json::{Value, json};

use crate::{OutColumn, Problem, Role, TotalKind};

/// The result of one totals statement: which totals, its columns, its rows.
pub type Totals = (TotalKind, Vec<OutColumn>, Vec<Vec<Value>>);

/// Most cells a cross table may have (distinct row keys × distinct column keys). Its rows are
/// at most `MAX_ROWS` (10,000) groups, but two dimensions with a value per group would lay
/// them out as 10,000 × 10,000 cells, nearly all empty: 14.5 s of CPU and hundreds of MB of
/// JSON. Ten times `MAX_ROWS` lets a full-size result be a table up to 90 % empty, and keeps
/// the answer to a few MB.
pub const MAX_PIVOT_CELLS: usize = 100_000;

/// The cross table of `rows` (columns as in `columns`) with `row_dims` down and `column_dims`
/// across. `totals` are the database's totals statements' results. A table of more than
/// [`MAX_PIVOT_CELLS`] cells is refused at `/pivot`.
pub fn pivot(
    columns: &[OutColumn],
    rows: &[Vec<Value>],
    row_dims: &[String],
    column_dims: &[String],
    totals: &[Totals],
) -> Result<Value, Problem> {
    let layout = Layout::new(columns, row_dims, column_dims);
    let mut row_keys = Keys::default();
    let mut col_keys = Keys::default();
    let mut cells: HashMap<(usize, usize), Value> = HashMap::new();
    for row in rows {
        let r = row_keys.index_of(layout.key(row, &layout.row_dims));
        let c = col_keys.index_of(layout.key(row, &layout.column_dims));
        cells.entry((r, c)).or_insert_with(|| layout.values(row));
    }
    check_size(row_keys.len(), col_keys.len())?;
    let totals = TotalsIndex::new(totals, &layout.measures, row_dims, column_dims);
    let out_rows: Vec<Value> = row_keys
        .0
        .iter()
        .enumerate()
        .map(|(r, (text, key))| {
            let row_cells: Vec<Value> = (0..col_keys.len()).map(|c| cells.remove(&(r, c)).unwrap_or(Value::Null)).collect();
            json!({"key": key, "cells": row_cells, "total": totals.get(TotalKind::Rows, text)})
        })
        .collect();
    let column_totals: Vec<Value> = col_keys.0.keys().map(|text| totals.get(TotalKind::Columns, text)).collect();
    Ok(json!({
        "row_dimensions": row_dims,
        "column_dimensions": column_dims,
        "measures": layout.measures,
        "columns": col_keys.0.values().collect::<Vec<_>>(),
        "rows": out_rows,
        "column_totals": column_totals,
        "grand_total": totals.get(TotalKind::Grand, &key_text(&[])),
    }))
}

fn check_size(rows: usize, columns: usize) -> Result<(), Problem> {
    let cells = rows.saturating_mul(columns);
    if cells <= MAX_PIVOT_CELLS {
        return Ok(());
    }
    Err(Problem::new(
        "/pivot",
        format!(
            "the cross table would have {rows} rows × {columns} columns = {} cells; at most {} are laid out \
             (filter the report, bucket a date, or move a dimension from columns to rows)",
            thousands(cells),
            thousands(MAX_PIVOT_CELLS)
        ),
    ))
}

/// Where the dimensions and measures are in one result's columns.
struct Layout {
    row_dims: Vec<Option<usize>>,
    column_dims: Vec<Option<usize>>,
    measures: Vec<String>,
    measure_positions: Vec<usize>,
}

impl Layout {
    fn new(columns: &[OutColumn], row_dims: &[String], column_dims: &[String]) -> Layout {
        let measures: Vec<(usize, &OutColumn)> = columns.iter().enumerate().filter(|(_, c)| c.role == Role::Measure).collect();
        Layout {
            row_dims: positions(columns, row_dims),
            column_dims: positions(columns, column_dims),
            measures: measures.iter().map(|(_, c)| c.id.clone()).collect(),
            measure_positions: measures.iter().map(|(i, _)| *i).collect(),
        }
    }

    fn key(&self, row: &[Value], dims: &[Option<usize>]) -> Vec<Value> {
        dims.iter().map(|d| cell(row, *d)).collect()
    }

    fn values(&self, row: &[Value]) -> Value {
        Value::Array(self.measure_positions.iter().map(|&i| cell(row, Some(i))).collect())
    }
}

/// The totals statements' rows, found by their kind and key text.
struct TotalsIndex(HashMap<(TotalKind, String), Value>);

impl TotalsIndex {
    fn new(totals: &[Totals], measures: &[String], row_dims: &[String], column_dims: &[String]) -> TotalsIndex {
        let mut index = HashMap::new();
        for (kind, columns, rows) in totals {
            let dims = match kind {
                TotalKind::Grand => &[][..],
                TotalKind::Rows => row_dims,
                TotalKind::Columns => column_dims,
            };
            let dims = positions(columns, dims);
            let values = positions(columns, measures);
            for row in rows {
                let key: Vec<Value> = dims.iter().map(|d| cell(row, *d)).collect();
                let totals = Value::Array(values.iter().map(|m| cell(row, *m)).collect());
                // As the database ordered them, the first row of a key counts.
                index.entry((*kind, key_text(&key))).or_insert(totals);
            }
        }
        TotalsIndex(index)
    }

    fn get(&self, kind: TotalKind, key: &str) -> Value {
        self.0.get(&(kind, key.to_owned())).cloned().unwrap_or(Value::Null)
    }
}

/// Distinct keys in order of first appearance, by their JSON text (values are not `Hash`).
#[derive(Default)]
struct Keys(IndexMap<String, Vec<Value>>);

impl Keys {
    fn index_of(&mut self, key: Vec<Value>) -> usize {
        let entry = self.0.entry(key_text(&key));
        let index = entry.index();
        entry.or_insert(key);
        index
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// A key's JSON text: equal keys, equal text (serde_json writes a value one way).
fn key_text(key: &[Value]) -> String {
    Value::from(key.to_vec()).to_string()
}

fn positions(columns: &[OutColumn], ids: &[String]) -> Vec<Option<usize>> {
    ids.iter().map(|id| columns.iter().position(|c| &c.id == id)).collect()
}

fn cell(row: &[Value], position: Option<usize>) -> Value {
    position.and_then(|i| row.get(i).cloned()).unwrap_or(Value::Null)
}

/// `n` with thousands separators, as the messages and the documentation write bounds.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::ValueKind;

    fn column(id: &str, role: Role) -> OutColumn {
        OutColumn { id: id.into(), role, kind: ValueKind::Text, integer: false }
    }

    fn columns() -> Vec<OutColumn> {
        vec![column("a", Role::Dimension), column("b", Role::Dimension), column("n", Role::Measure)]
    }

    #[test]
    fn cells_and_totals_are_placed_by_key() {
        let rows =
            vec![vec![json!("x"), json!(1), json!(10)], vec![json!("y"), json!(2), json!(20)], vec![json!("x"), json!(2), json!(30)]];
        let by_a = vec![column("a", Role::Dimension), column("n", Role::Measure)];
        let by_b = vec![column("b", Role::Dimension), column("n", Role::Measure)];
        let totals = vec![
            (TotalKind::Rows, by_a, vec![vec![json!("x"), json!(40)], vec![json!("y"), json!(20)]]),
            (TotalKind::Columns, by_b, vec![vec![json!(2), json!(50)]]),
            (TotalKind::Grand, vec![column("n", Role::Measure)], vec![vec![json!(60)]]),
        ];
        let p = pivot(&columns(), &rows, &["a".into()], &["b".into()], &totals).unwrap();
        assert_eq!(p["columns"], json!([[1], [2]]));
        assert_eq!(p["rows"][0], json!({"key": ["x"], "cells": [[10], [30]], "total": [40]}));
        assert_eq!(p["rows"][1], json!({"key": ["y"], "cells": [null, [20]], "total": [20]}));
        assert_eq!(p["column_totals"], json!([null, [50]]));
        assert_eq!(p["grand_total"], json!([60]));
        assert_eq!(p["measures"], json!(["n"]));
    }

    #[test]
    fn a_table_over_the_cell_bound_is_refused_at_pivot() {
        // 317 × 317 = 100,489 cells from 317 rows.
        let rows: Vec<Vec<Value>> = (0..317).map(|i| vec![json!(i), json!(i), json!(1)]).collect();
        let problem = pivot(&columns(), &rows, &["a".into()], &["b".into()], &[]).unwrap_err();
        assert_eq!(problem.pointer, "/pivot");
        assert!(problem.message.contains("100,489 cells") && problem.message.contains("100,000"), "{}", problem.message);
        assert!(pivot(&columns(), &rows[..316], &["a".into()], &["b".into()], &[]).is_ok());
    }

    /// The largest result a report returns, as a full 100 × 100 table: milliseconds in one
    /// pass, where searching the rows for every cell (the former way) took minutes.
    #[test]
    fn a_full_size_result_is_laid_out_in_one_pass() {
        let rows: Vec<Vec<Value>> =
            (0..crate::MAX_ROWS as usize).map(|i| vec![json!(format!("r{}", i / 100)), json!(i % 100), json!(i)]).collect();
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || done.send(pivot(&columns(), &rows, &["a".into()], &["b".into()], &[])));
        // About 50 ms in a debug build; the generous bound only proves it ends.
        let p = finished.recv_timeout(Duration::from_secs(5)).expect("the pivot finishes").unwrap();
        assert_eq!((p["rows"].as_array().unwrap().len(), p["columns"].as_array().unwrap().len()), (100, 100));
        assert_eq!(p["rows"][99]["cells"][99], json!([9_999]));
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!([thousands(7), thousands(100_000), thousands(1_234_567)], ["7", "100,000", "1,234,567"]);
    }
}
