//! A dry run's memory of the rows it created in earlier chunks, by their dedupe keys.

use std::collections::HashSet;

use serde_json::{Map, Value, json};
use store::Scalar;

use crate::apps::{FormRuntime, column_kind};
use crate::filter::scalar_of;

/// The dedupe keys of the records a dry run created, so a row repeating an earlier row of the
/// file is a duplicate, as it will be when the file is imported. Within a chunk the database
/// finds it; but each chunk is checked in a transaction of its own and rolled back, and these
/// stand in for the rows of earlier chunks that are no longer there.
#[derive(Default)]
pub(super) struct FileKeys {
    /// (position of the key in the form's `dedupe`, its values as JSON text).
    earlier: HashSet<(usize, String)>,
    this_chunk: Vec<(usize, String)>,
}

impl FileKeys {
    /// Notes the keys of a record just created; returns the fields of its first key that repeats
    /// a record of an earlier chunk, if one does.
    pub(super) fn created(&mut self, rt: &FormRuntime, data: &Map<String, Value>) -> Option<Vec<String>> {
        let keys = dedupe_keys(rt, data);
        if let Some((position, _)) = keys.iter().find(|key| self.earlier.contains(key)) {
            return Some(rt.compiled.def.dedupe[*position].clone());
        }
        self.this_chunk.extend(keys);
        None
    }

    /// The chunk was written and rolled back: its records are gone, their keys stay.
    pub(super) fn chunk_checked(&mut self) {
        self.earlier.extend(self.this_chunk.drain(..));
    }

    /// The chunk was undone, to be written again.
    pub(super) fn chunk_undone(&mut self) {
        self.this_chunk.clear();
    }
}

/// The complete dedupe keys of `data`, compared as the store compares them (see
/// `Engine::check_duplicates`): each value as its column's scalar, numbers as numbers.
fn dedupe_keys(rt: &FormRuntime, data: &Map<String, Value>) -> Vec<(usize, String)> {
    let comparable = |name: &String| {
        let kind = rt.compiled.column(name).and_then(column_kind)?;
        Some(match scalar_of(data.get(name)?, kind)? {
            Scalar::Text(text) => json!(text),
            Scalar::Number(number) => json!(number),
            Scalar::Bool(flag) => json!(flag),
        })
    };
    let keys = rt.compiled.def.dedupe.iter().enumerate();
    // A key with an empty part cannot collide.
    keys.filter_map(|(position, key)| Some((position, Value::Array(key.iter().map(comparable).collect::<Option<_>>()?).to_string())))
        .collect()
}
