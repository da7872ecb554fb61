//! The largest record a form accepts, measured as the rules sandbox measures a value (rhai
//! sums over everything nested: array elements, map entries, string bytes), so the engine can
//! give rules limits that hold any record its forms allow — a quote at its 1,000 lines, notes
//! at their full length — derived from the declared maxima instead of guessed.

use defs::Form;
use serde_json::Value;

use crate::field_types::object_schema;

/// Bytes assumed for a string whose schema gives no length (ids, dates, phone numbers, all
/// well under this), and per character of one that does (UTF-8's longest character).
const UNSIZED_STRING_BYTES: usize = 256;
const BYTES_PER_CHAR: usize = 4;

/// How much of each kind a value holds, counted as rhai counts it for its size limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DataSize {
    /// Array elements, nested ones included.
    pub arrays: usize,
    /// Map entries, nested ones included.
    pub maps: usize,
    /// String bytes, all strings together.
    pub string_bytes: usize,
}

impl DataSize {
    /// The larger of each kind.
    pub fn max(self, other: DataSize) -> DataSize {
        DataSize {
            arrays: self.arrays.max(other.arrays),
            maps: self.maps.max(other.maps),
            string_bytes: self.string_bytes.max(other.string_bytes),
        }
    }

    fn add(self, other: DataSize) -> DataSize {
        DataSize {
            arrays: self.arrays.saturating_add(other.arrays),
            maps: self.maps.saturating_add(other.maps),
            string_bytes: self.string_bytes.saturating_add(other.string_bytes),
        }
    }

    fn times(self, n: usize) -> DataSize {
        DataSize {
            arrays: self.arrays.saturating_mul(n),
            maps: self.maps.saturating_mul(n),
            string_bytes: self.string_bytes.saturating_mul(n),
        }
    }
}

/// The size of the largest data `form` accepts: every field present, every list and child
/// table at its most items, every text at its most characters.
pub fn largest_record(form: &Form) -> DataSize {
    largest(&object_schema(&form.fields))
}

/// The largest value `schema` (as the field types write them) accepts.
fn largest(schema: &Value) -> DataSize {
    match schema["type"].as_str() {
        Some("object") => {
            let properties = schema["properties"].as_object().into_iter().flatten();
            let entry = DataSize { maps: 1, ..DataSize::default() };
            properties.fold(DataSize::default(), |size, (_, property)| size.add(entry).add(largest(property)))
        }
        Some("array") => {
            let items = &schema["items"];
            let most = schema["maxItems"].as_u64().map(|n| n as usize).or_else(|| items["enum"].as_array().map(Vec::len)).unwrap_or(0);
            let element = DataSize { arrays: 1, ..DataSize::default() };
            element.add(largest(items)).times(most)
        }
        Some("string") => DataSize { string_bytes: string_bytes(schema), ..DataSize::default() },
        _ => DataSize::default(),
    }
}

fn string_bytes(schema: &Value) -> usize {
    if let Some(values) = schema["enum"].as_array() {
        return values.iter().filter_map(Value::as_str).map(str::len).max().unwrap_or(0);
    }
    schema["maxLength"].as_u64().map_or(UNSIZED_STRING_BYTES, |n| (n as usize).saturating_mul(BYTES_PER_CHAR))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_child_table_counts_its_most_rows_with_every_column() {
        let form: Form = serde_json::from_value(json!({"label": "Quote", "fields": [
            {"id": "notes", "type": "textarea", "label": "Notes", "max_length": 100},
            {"id": "state", "type": "select", "label": "State", "options": [{"value": "draft", "label": "D"}, {"value": "ok", "label": "O"}]},
            {"id": "items", "type": "table", "label": "Lines", "max": 10.0, "fields": [
                {"id": "qty", "type": "integer", "label": "Qty"},
                {"id": "product", "type": "link", "label": "Product", "form": "product"}]}]}))
        .unwrap();
        let size = largest_record(&form);
        // Three fields, and each of 10 rows has two entries.
        assert_eq!(size.maps, 3 + 10 * 2);
        assert_eq!(size.arrays, 10);
        assert_eq!(size.string_bytes, 100 * BYTES_PER_CHAR + "draft".len() + 10 * UNSIZED_STRING_BYTES);
    }
}
