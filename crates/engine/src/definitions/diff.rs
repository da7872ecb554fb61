//! What changed between two releases of an app, file by file and in the terms of each file:
//! a form's fields, a flow's states and transitions, a report's dimensions and measures —
//! every list of items with an `id` (or, for transitions, an `action`) compared item by item,
//! and every other part named when it changed.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

/// One file that differs between two releases.
#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    pub path: String,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    /// For a changed JSON definition, each list of items that changed (`fields`, `states` …).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub lists: BTreeMap<String, ItemChanges>,
    /// The other top-level parts that changed (`label`, `layout`, `chart` …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<String>,
}

/// The items of one list that were added, removed, or changed (with the properties that did).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ItemChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: BTreeMap<String, Vec<String>>,
}

/// The files that differ between `old` and `new` (path → text).
pub(crate) fn diff_files(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Vec<FileChange> {
    let mut paths: Vec<&String> = old.keys().chain(new.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| {
            let file = |change| FileChange { path: path.clone(), change, lists: BTreeMap::new(), parts: Vec::new() };
            match (old.get(path), new.get(path)) {
                (None, Some(_)) => Some(file("added")),
                (Some(_), None) => Some(file("removed")),
                (Some(a), Some(b)) if a != b => {
                    let mut changed = file("changed");
                    if let (Ok(Value::Object(a)), Ok(Value::Object(b))) = (serde_json::from_str(a), serde_json::from_str(b)) {
                        (changed.lists, changed.parts) = diff_definition(&a, &b);
                    }
                    Some(changed)
                }
                _ => None,
            }
        })
        .collect()
}

/// The lists of items and the other parts that differ between two versions of a definition.
fn diff_definition(old: &Map<String, Value>, new: &Map<String, Value>) -> (BTreeMap<String, ItemChanges>, Vec<String>) {
    let (mut lists, mut parts) = (BTreeMap::new(), Vec::new());
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let (a, b) = (old.get(key), new.get(key));
        if a == b {
            continue;
        }
        match (items_of(a), items_of(b)) {
            (Some(a), Some(b)) => {
                lists.insert(key.clone(), diff_items(&a, &b));
            }
            _ => parts.push(key.clone()),
        }
    }
    (lists, parts)
}

/// A part as a list of keyed items (an absent part is an empty list), when it is one.
fn items_of(part: Option<&Value>) -> Option<BTreeMap<String, &Map<String, Value>>> {
    match part {
        None => Some(BTreeMap::new()),
        Some(value) => keyed(value.as_array()?),
    }
}

/// The items of a list by their key (`id`, else `action`), when every item has one.
fn keyed(items: &[Value]) -> Option<BTreeMap<String, &Map<String, Value>>> {
    items
        .iter()
        .map(|item| {
            let item = item.as_object()?;
            let key = item.get("id").or_else(|| item.get("action"))?.as_str()?;
            Some((key.to_owned(), item))
        })
        .collect()
}

fn diff_items(old: &BTreeMap<String, &Map<String, Value>>, new: &BTreeMap<String, &Map<String, Value>>) -> ItemChanges {
    let mut changes = ItemChanges {
        added: new.keys().filter(|k| !old.contains_key(*k)).cloned().collect(),
        removed: old.keys().filter(|k| !new.contains_key(*k)).cloned().collect(),
        ..Default::default()
    };
    for (key, a) in old {
        let Some(b) = new.get(key) else { continue };
        let mut properties: Vec<String> = a.keys().chain(b.keys()).filter(|p| a.get(*p) != b.get(*p)).cloned().collect();
        properties.sort();
        properties.dedup();
        if !properties.is_empty() {
            changes.changed.insert(key.clone(), properties);
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_form_change_is_told_in_fields_and_parts() {
        let old = json!({"label": "A", "fields": [{"id": "name", "type": "text"}, {"id": "fax", "type": "text"}]}).to_string();
        let new = json!({"label": "B", "fields": [{"id": "name", "type": "text", "required": true}, {"id": "vat_no", "type": "text"}]})
            .to_string();
        let changes = diff_files(
            &BTreeMap::from([("forms/a.json".into(), old)]),
            &BTreeMap::from([("forms/a.json".into(), new), ("rules/r.rhai".into(), "x".into())]),
        );
        assert_eq!(changes.len(), 2);
        let form = &changes[0];
        assert_eq!((form.change, form.parts.as_slice()), ("changed", ["label".to_owned()].as_slice()));
        let fields = &form.lists["fields"];
        assert_eq!((fields.added.as_slice(), fields.removed.as_slice()), (["vat_no".to_owned()].as_slice(), ["fax".to_owned()].as_slice()));
        assert_eq!(fields.changed["name"], ["required"]);
        assert_eq!(changes[1].change, "added");
    }
}
