//! The shape of a query: which fields it compares, orders or groups by, never the values (they
//! may be confidential). Two lists filtered by `stage` and sorted by `amount` have one shape
//! whatever stage they ask for; the index that serves one serves the other.

use defs::{FieldKind, Report};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::{CmpOp, Filter, SortKey, Target};

use crate::apps::FormRuntime;

/// Where a query came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShapeKind {
    /// A record list: its filter and sort.
    List,
    /// A report: its filter and groupings.
    Report,
}

/// What a query reads of one form, by field id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shape {
    pub form: String,
    pub kind: ShapeKind,
    /// Fields compared for equality (`=`, `in`), by name.
    pub equal: Vec<String>,
    /// Fields read in order after those: a list's range-filtered field, else its first sort
    /// field; a report's groupings.
    pub ordered: Vec<String>,
    /// Fields a report only sums or averages: at the end of its index, so the index alone
    /// answers the report without visiting the rows.
    pub covered: Vec<String>,
}

impl Shape {
    /// The shape of a list of `rt` filtered by `filter` (what the caller asked, before row
    /// scopes) and sorted by `sort`; `None` when no field of the form would lead an index.
    pub(crate) fn of_list(rt: &FormRuntime, filter: Option<&Filter>, sort: &[SortKey]) -> Option<Shape> {
        let (mut equal, mut ranged) = (Vec::new(), Vec::new());
        if let Some(filter) = filter {
            compared_fields(filter, &mut equal, &mut ranged);
        }
        // Only a leading sort key orders the index's reads; one behind a system column's
        // (always indexed on its own) would not.
        let sorted = sort.first().and_then(|key| match &key.target {
            Target::Field { name, .. } => Some(name.clone()),
            Target::System(_) => None,
        });
        let ordered = ranged.into_iter().next().or(sorted).filter(|f| !equal.contains(f));
        Shape::new(rt, ShapeKind::List, equal, ordered.into_iter().collect(), Vec::new())
    }

    /// The shape of `report` over its source form `rt`: fields its filter compares for
    /// equality, its groupings, and the fields its measures read. Dot paths through links read
    /// other forms and are left out.
    pub(crate) fn of_report(rt: &FormRuntime, report: &Report) -> Option<Shape> {
        let equal = report.filter.iter().filter(|(_, condition)| is_equality(condition)).map(|(field, _)| field.clone()).collect();
        let ordered = report.dimensions.iter().map(|d| d.field.clone()).collect();
        let covered = report.measures.iter().filter_map(|m| m.field.clone()).collect();
        Shape::new(rt, ShapeKind::Report, equal, ordered, covered)
    }

    /// Keeps the fields of `rt` an index can hold (a typed value, not a link, which every
    /// form indexes already), each once, in a stable order for the equal ones.
    fn new(rt: &FormRuntime, kind: ShapeKind, equal: Vec<String>, ordered: Vec<String>, covered: Vec<String>) -> Option<Shape> {
        let indexable = |name: &String| {
            rt.compiled.def.field(name).is_some_and(|f| f.kind != FieldKind::LINK)
                && rt.compiled.column(name).and_then(crate::apps::column_kind).is_some()
        };
        let mut seen: Vec<String> = Vec::new();
        let mut keep = |list: Vec<String>| -> Vec<String> {
            let mut kept = Vec::new();
            for field in list {
                if indexable(&field) && !seen.contains(&field) {
                    seen.push(field.clone());
                    kept.push(field);
                }
            }
            kept
        };
        let mut equal = keep(equal);
        equal.sort();
        let ordered = keep(ordered);
        let covered = keep(covered);
        if equal.is_empty() && ordered.is_empty() {
            return None;
        }
        Some(Shape { form: rt.id().to_owned(), kind, equal, ordered, covered })
    }

    /// The fields of the index this shape asks for: equal ones, ordered ones, covered ones.
    pub(crate) fn index_fields(&self) -> Vec<String> {
        self.equal.iter().chain(&self.ordered).chain(&self.covered).cloned().collect()
    }

    /// Whether an index over `fields` (leading field first) serves this shape: it begins with
    /// the equal fields in any order, then the ordered ones in order. (Covered fields only
    /// spare visits to the rows; an index without them still serves.)
    pub(crate) fn served_by(&self, fields: &[String]) -> bool {
        let (n, m) = (self.equal.len(), self.ordered.len());
        if fields.len() < n + m {
            return false;
        }
        let mut leading: Vec<&String> = fields[..n].iter().collect();
        leading.sort();
        leading.into_iter().eq(self.equal.iter()) && fields[n..n + m] == self.ordered[..]
    }
}

/// Fields `filter` compares for equality and by range, where an index could serve: the parts
/// of an `and`, not the branches of an `or`, nor negations, text searches or links.
fn compared_fields(filter: &Filter, equal: &mut Vec<String>, ranged: &mut Vec<String>) {
    match filter {
        Filter::All(parts) => parts.iter().for_each(|part| compared_fields(part, equal, ranged)),
        Filter::Cmp(Target::Field { name, .. }, CmpOp::Eq, _) | Filter::In { target: Target::Field { name, .. }, negate: false, .. } => {
            equal.push(name.clone())
        }
        Filter::Cmp(Target::Field { name, .. }, CmpOp::Gt | CmpOp::Gte | CmpOp::Lt | CmpOp::Lte, _)
        | Filter::Between(Target::Field { name, .. }, _, _) => ranged.push(name.clone()),
        _ => {}
    }
}

/// Whether a report filter's condition asks for equal values: a plain value, `{"eq": v}` or
/// `{"in": [...]}`.
fn is_equality(condition: &Value) -> bool {
    match condition {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => true,
        Value::Object(map) => map.len() == 1 && (map.contains_key("eq") || map.contains_key("in")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{Shape, ShapeKind};

    fn shape(equal: &[&str], ordered: &[&str]) -> Shape {
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        Shape { form: "deal".into(), kind: ShapeKind::List, equal: names(equal), ordered: names(ordered), covered: Vec::new() }
    }

    fn fields(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn an_index_serves_when_it_leads_with_the_equal_fields_in_any_order_then_the_ordered_ones() {
        let s = shape(&["region", "stage"], &["amount"]);
        assert!(s.served_by(&fields(&["stage", "region", "amount"])));
        assert!(s.served_by(&fields(&["region", "stage", "amount", "owner_note"])));
        assert!(!s.served_by(&fields(&["region", "amount", "stage"])));
        assert!(!s.served_by(&fields(&["region", "stage"])));
        assert!(!s.served_by(&fields(&["amount"])));
    }

    #[test]
    fn the_index_asked_for_is_equal_then_ordered_then_covered() {
        let mut s = shape(&["stage"], &["region"]);
        s.covered = fields(&["amount"]);
        assert_eq!(s.index_fields(), fields(&["stage", "region", "amount"]));
    }
}
