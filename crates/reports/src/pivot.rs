//! Arranging an aggregate (grouped by every dimension) as a cross table. The numbers, totals
//! included, all come from the database; this only places them.

use serde_json::{Value, json};

use crate::{OutColumn, Role, TotalKind};

/// The result of one totals statement: which totals, its columns, its rows.
pub type Totals = (TotalKind, Vec<OutColumn>, Vec<Vec<Value>>);

/// The cross table of `rows` (columns as in `columns`) with `rows_dims` down and `column_dims`
/// across. `totals` are the database's totals statements' results.
pub fn pivot(columns: &[OutColumn], rows: &[Vec<Value>], row_dims: &[String], column_dims: &[String], totals: &[Totals]) -> Value {
    let pos = |cols: &[OutColumn], id: &str| cols.iter().position(|c| c.id == id);
    let measures: Vec<&OutColumn> = columns.iter().filter(|c| c.role == Role::Measure).collect();
    let key = |cols: &[OutColumn], row: &[Value], dims: &[String]| -> Vec<Value> {
        dims.iter().map(|d| pos(cols, d).and_then(|i| row.get(i).cloned()).unwrap_or(Value::Null)).collect()
    };
    let values = |cols: &[OutColumn], row: &[Value]| -> Vec<Value> {
        measures.iter().map(|m| pos(cols, &m.id).and_then(|i| row.get(i).cloned()).unwrap_or(Value::Null)).collect()
    };
    let mut col_keys: Vec<Vec<Value>> = Vec::new();
    let mut row_keys: Vec<Vec<Value>> = Vec::new();
    for row in rows {
        let (r, c) = (key(columns, row, row_dims), key(columns, row, column_dims));
        if !row_keys.contains(&r) {
            row_keys.push(r);
        }
        if !col_keys.contains(&c) {
            col_keys.push(c);
        }
    }
    let total_of = |kind: TotalKind, k: &[Value], dims: &[String]| -> Value {
        totals
            .iter()
            .filter(|(t, _, _)| *t == kind)
            .flat_map(|(_, cols, rows)| rows.iter().map(move |r| (cols, r)))
            .find(|(cols, r)| key(cols, r, dims) == k)
            .map(|(cols, r)| Value::Array(values(cols, r)))
            .unwrap_or(Value::Null)
    };
    let out_rows: Vec<Value> = row_keys
        .iter()
        .map(|rk| {
            let cells: Vec<Value> = col_keys
                .iter()
                .map(|ck| {
                    rows.iter()
                        .find(|row| &key(columns, row, row_dims) == rk && &key(columns, row, column_dims) == ck)
                        .map(|row| Value::Array(values(columns, row)))
                        .unwrap_or(Value::Null)
                })
                .collect();
            json!({"key": rk, "cells": cells, "total": total_of(TotalKind::Rows, rk, row_dims)})
        })
        .collect();
    let column_totals: Vec<Value> = col_keys.iter().map(|ck| total_of(TotalKind::Columns, ck, column_dims)).collect();
    json!({
        "row_dimensions": row_dims,
        "column_dimensions": column_dims,
        "measures": measures.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        "columns": col_keys,
        "rows": out_rows,
        "column_totals": column_totals,
        "grand_total": total_of(TotalKind::Grand, &[], &[]),
    })
}
