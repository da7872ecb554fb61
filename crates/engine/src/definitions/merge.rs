//! Three-way merge of two edits of one definition, on its JSON: what each side changed from
//! the version both began with is kept, unless both changed the same part differently. Lists
//! of objects with an `id` (a form's fields, a flow's states, a report's measures) merge item
//! by item, so two admins adding or editing different fields both keep their work.

use serde_json::{Map, Value};

/// `ours` and `theirs`, both edits of `base`, merged; or the JSON pointers where both changed
/// the same part differently.
pub(crate) fn merge3(base: &Value, ours: &Value, theirs: &Value) -> Result<Value, Vec<String>> {
    let mut conflicts = Vec::new();
    let merged = merge_at("", base, ours, theirs, &mut conflicts);
    if conflicts.is_empty() { Ok(merged) } else { Err(conflicts) }
}

fn merge_at(at: &str, base: &Value, ours: &Value, theirs: &Value, conflicts: &mut Vec<String>) -> Value {
    if ours == theirs || theirs == base {
        return ours.clone();
    }
    if ours == base {
        return theirs.clone();
    }
    match (base, ours, theirs) {
        (Value::Object(b), Value::Object(o), Value::Object(t)) => Value::Object(merge_members(at, b, o, t, conflicts)),
        (Value::Array(b), Value::Array(o), Value::Array(t)) if [b, o, t].iter().all(|items| keyed(items).is_some()) => {
            merge_keyed(at, b, o, t, conflicts)
        }
        _ => {
            conflicts.push(at.to_owned());
            ours.clone()
        }
    }
}

fn merge_members(
    at: &str,
    base: &Map<String, Value>,
    ours: &Map<String, Value>,
    theirs: &Map<String, Value>,
    conflicts: &mut Vec<String>,
) -> Map<String, Value> {
    let mut merged = Map::new();
    let keys = ours.keys().chain(theirs.keys().filter(|k| !ours.contains_key(*k))).chain(base.keys());
    let mut seen = std::collections::BTreeSet::new();
    for key in keys.filter(|k| seen.insert(k.as_str())) {
        let here = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
        if let Some(value) = merge_optional(&here, base.get(key), ours.get(key), theirs.get(key), conflicts) {
            merged.insert(key.clone(), value);
        }
    }
    merged
}

/// A member or item that may be absent on any side: `None` when the merge leaves it out.
fn merge_optional(
    at: &str,
    base: Option<&Value>,
    ours: Option<&Value>,
    theirs: Option<&Value>,
    conflicts: &mut Vec<String>,
) -> Option<Value> {
    match (base, ours, theirs) {
        (_, o, t) if o == t => o.cloned(),
        (b, o, t) if t == b => o.cloned(),
        (b, o, t) if o == b => t.cloned(),
        (Some(b), Some(o), Some(t)) => Some(merge_at(at, b, o, t, conflicts)),
        // Added on both sides differently, or removed on one side and changed on the other.
        (_, o, _) => {
            conflicts.push(at.to_owned());
            o.cloned()
        }
    }
}

/// The `id` of every item, when every item is an object with a text `id`, each id once.
fn keyed(items: &[Value]) -> Option<Vec<&str>> {
    let ids: Vec<&str> = items.iter().map(|item| item.get("id").and_then(Value::as_str)).collect::<Option<_>>()?;
    let distinct: std::collections::BTreeSet<&&str> = ids.iter().collect();
    (distinct.len() == ids.len()).then_some(ids)
}

/// Lists of objects with ids, merged item by item: in our order, with the items only they
/// added after the item that precedes each in theirs.
fn merge_keyed(at: &str, base: &[Value], ours: &[Value], theirs: &[Value], conflicts: &mut Vec<String>) -> Value {
    let find = |items: &[Value], id: &str| items.iter().find(|item| item.get("id").and_then(Value::as_str) == Some(id)).cloned();
    let mut order: Vec<String> = keyed(ours).unwrap_or_default().into_iter().map(str::to_owned).collect();
    let mut previous: Option<String> = None;
    for id in keyed(theirs).unwrap_or_default() {
        if !order.iter().any(|o| o == id) {
            let place = previous.as_ref().and_then(|p| order.iter().position(|o| o == p)).map_or(0, |i| i + 1);
            order.insert(place, id.to_owned());
        }
        previous = Some(id.to_owned());
    }
    for id in keyed(base).unwrap_or_default() {
        if !order.iter().any(|o| o == id) {
            order.push(id.to_owned());
        }
    }
    let merged = order.iter().filter_map(|id| {
        let here = format!("{at}/{id}");
        merge_optional(&here, find(base, id).as_ref(), find(ours, id).as_ref(), find(theirs, id).as_ref(), conflicts)
    });
    Value::Array(merged.collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::merge3;

    fn form(fields: serde_json::Value) -> serde_json::Value {
        json!({"id": "account", "label": "Account", "fields": fields})
    }

    #[test]
    fn edits_of_different_fields_both_stay() {
        let base = form(json!([{"id": "name", "type": "text"}, {"id": "phone", "type": "text"}]));
        let ours = form(json!([{"id": "name", "type": "text", "required": true}, {"id": "phone", "type": "text"}]));
        let theirs = form(
            json!([{"id": "name", "type": "text"}, {"id": "phone", "type": "text", "max_length": 20}, {"id": "vat_no", "type": "text"}]),
        );
        let merged = merge3(&base, &ours, &theirs).unwrap();
        assert_eq!(
            merged,
            form(
                json!([{"id": "name", "type": "text", "required": true}, {"id": "phone", "type": "text", "max_length": 20}, {"id": "vat_no", "type": "text"}])
            )
        );
    }

    #[test]
    fn the_same_part_changed_twice_is_a_conflict_at_its_pointer() {
        let base = form(json!([{"id": "name", "type": "text"}]));
        let ours = form(json!([{"id": "name", "type": "number"}]));
        let theirs = form(json!([{"id": "name", "type": "date"}]));
        assert_eq!(merge3(&base, &ours, &theirs), Err(vec!["/fields/name/type".to_owned()]));
        let removed = form(json!([]));
        assert_eq!(merge3(&base, &removed, &theirs), Err(vec!["/fields/name".to_owned()]));
    }

    #[test]
    fn a_removal_on_one_side_and_no_change_on_the_other_removes() {
        let base = json!({"label": "A", "help": "h", "tags": ["x", "y"]});
        let ours = json!({"label": "A", "tags": ["x", "y"]});
        let theirs = json!({"label": "B", "help": "h", "tags": ["x", "y"]});
        assert_eq!(merge3(&base, &ours, &theirs), Ok(json!({"label": "B", "tags": ["x", "y"]})));
    }
}
