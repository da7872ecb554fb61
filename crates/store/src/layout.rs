//! Where a record's field values live in its row. A field with a typed column keeps its value
//! there and nowhere else, so a value is stored once and a scan reads narrow rows; the document
//! `data` keeps everything else: fields without a column (lists, objects, child rows), and the
//! few values a column could not give back exactly — a value of another type than its column's
//! (written before the field changed type), an explicit `null`, a number written as `3.0`, an
//! integer past 2^53. Those stay in the document whole (their column still holds what it can,
//! for filters and sorts), and the document wins when the record is put back together.

use sea_orm::{QueryResult, Value as SqlValue};
use serde_json::{Map, Number, Value};

use crate::{Backend, ColumnKind, StoreError};

/// The largest integer below which every integer is exactly an `f64`: a whole number column
/// value up to it reads back as a JSON integer.
const EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// A record's data laid out for its row: one value for each typed column, in the layout's
/// order, and the document of everything else.
pub(crate) struct Row {
    pub columns: Vec<SqlValue>,
    pub document: Map<String, Value>,
}

/// Lays `data` out over the typed columns `typed` and the document.
pub(crate) fn split(typed: &[(String, ColumnKind)], data: &Map<String, Value>) -> Row {
    let mut columns = Vec::with_capacity(typed.len());
    let mut moved = vec![false; typed.len()];
    for (i, (field, kind)) in typed.iter().enumerate() {
        let column = data.get(field).and_then(|value| {
            let column = to_column(*kind, value)?;
            moved[i] = from_column(&column).as_ref() == Some(value);
            Some(column)
        });
        columns.push(column.unwrap_or_else(|| null_of(*kind)));
    }
    let document = data
        .iter()
        .filter(|(key, _)| !typed.iter().position(|(field, _)| field == *key).is_some_and(|i| moved[i]))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    Row { columns, document }
}

/// Puts a record's data back together from its `document` and its typed columns, where
/// `column(i)` reads the value of the `i`th typed field's column: typed fields first in the
/// layout's order, then the rest in the document's own order.
pub(crate) fn join(
    typed: &[(String, ColumnKind)],
    mut document: Map<String, Value>,
    mut column: impl FnMut(usize) -> Result<Option<Value>, StoreError>,
) -> Result<Map<String, Value>, StoreError> {
    let mut data = Map::with_capacity(typed.len() + document.len());
    for (i, (field, _)) in typed.iter().enumerate() {
        if let Some(value) = document.shift_remove(field) {
            data.insert(field.clone(), value);
        } else if let Some(value) = column(i)? {
            data.insert(field.clone(), value);
        }
    }
    data.extend(document);
    Ok(data)
}

/// The unquoted name of field `field`'s typed column. Definitions allow only snake_case field
/// ids; anything else is stripped here as a second line of defence, since the name reaches SQL
/// text unbound.
pub(crate) fn column_name(field: &str) -> String {
    let name: String = field.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    format!("f_{name}")
}

/// The column value of `value` when it is of the column's kind.
fn to_column(kind: ColumnKind, value: &Value) -> Option<SqlValue> {
    match (kind, value) {
        (ColumnKind::Text, Value::String(s)) => Some(SqlValue::String(Some(s.clone()))),
        (ColumnKind::Number, Value::Number(n)) => n.as_f64().map(|f| SqlValue::Double(Some(f))),
        (ColumnKind::Bool, Value::Bool(b)) => Some(SqlValue::Bool(Some(*b))),
        _ => None,
    }
}

/// What a column value reads back as.
fn from_column(column: &SqlValue) -> Option<Value> {
    match column {
        SqlValue::String(s) => s.clone().map(Value::String),
        SqlValue::Double(f) => f.map(number),
        SqlValue::Bool(b) => b.map(Value::Bool),
        _ => None,
    }
}

/// The value of typed column `column` of kind `kind` in `row`.
pub(crate) fn read_column(row: &QueryResult, column: &str, kind: ColumnKind) -> Result<Option<Value>, StoreError> {
    Ok(match kind {
        ColumnKind::Text => row.try_get::<Option<String>>("", column)?.map(Value::String),
        ColumnKind::Number => row.try_get::<Option<f64>>("", column)?.map(number),
        ColumnKind::Bool => row.try_get::<Option<bool>>("", column)?.map(Value::Bool),
    })
}

/// The JSON number of a number column's value: whole numbers an `f64` holds exactly are
/// integers, as the engine writes them (decimals whole, counts, scores).
fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() <= EXACT_INTEGER {
        return Value::from(f as i64);
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

fn null_of(kind: ColumnKind) -> SqlValue {
    match kind {
        ColumnKind::Text => SqlValue::String(None),
        ColumnKind::Number => SqlValue::Double(None),
        ColumnKind::Bool => SqlValue::Bool(None),
    }
}

/// The SQL type of a typed column of `kind`.
pub(crate) fn sql_type(backend: Backend, kind: ColumnKind) -> &'static str {
    match (backend, kind) {
        (Backend::Sqlite, ColumnKind::Text) => "TEXT",
        (Backend::Sqlite, ColumnKind::Number) => "REAL",
        (Backend::Sqlite, ColumnKind::Bool) => "BOOLEAN",
        (Backend::Postgres, ColumnKind::Text) => "text",
        (Backend::Postgres, ColumnKind::Number) => "double precision",
        (Backend::Postgres, ColumnKind::Bool) => "boolean",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn layout() -> Vec<(String, ColumnKind)> {
        [("name", ColumnKind::Text), ("amount", ColumnKind::Number), ("vip", ColumnKind::Bool)]
            .into_iter()
            .map(|(f, k)| (f.to_owned(), k))
            .collect()
    }

    fn round_trip(data: &Value) -> Map<String, Value> {
        let typed = layout();
        let row = split(&typed, data.as_object().unwrap());
        join(&typed, row.document, |i| Ok(from_column(&row.columns[i]))).unwrap()
    }

    #[test]
    fn values_of_their_columns_kind_live_only_in_the_column() {
        let data = json!({"name": "Acme", "amount": 1200, "vip": true, "tags": ["a"], "rate": 0.25});
        let row = split(&layout(), data.as_object().unwrap());
        assert_eq!(Value::Object(row.document), json!({"tags": ["a"], "rate": 0.25}));
        assert_eq!(row.columns, [SqlValue::String(Some("Acme".into())), SqlValue::Double(Some(1200.0)), SqlValue::Bool(Some(true))]);
    }

    #[test]
    fn every_value_reads_back_exactly() {
        for data in [
            json!({"name": "Acme", "amount": 1200, "vip": false}),
            json!({"amount": 0.1}),
            json!({"amount": 3.0}),
            json!({"amount": -0.0}),
            json!({"amount": 9_007_199_254_740_993_u64}),
            json!({"amount": -12_345_678_901_i64}),
            json!({"amount": 1e300}),
            json!({"amount": "12"}),
            json!({"name": 7, "vip": null}),
            json!({"name": ""}),
            json!({"lines": [{"amount": 2}], "name": "x"}),
        ] {
            assert_eq!(Value::Object(round_trip(&data)), data, "{data}");
        }
    }

    #[test]
    fn a_value_kept_in_the_document_still_fills_its_column() {
        let row = split(&layout(), json!({"amount": 3.0}).as_object().unwrap());
        assert_eq!(row.columns[1], SqlValue::Double(Some(3.0)), "filters and sorts still see it");
        assert_eq!(Value::Object(row.document), json!({"amount": 3.0}));
    }
}
