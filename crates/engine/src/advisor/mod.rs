//! The index advisor: lists and reports that took longer than [`SLOW_QUERY`] are counted by
//! their [`Shape`] (the fields they compare, order and group by — never the values), in this
//! process's memory, so a slow read adds no write to the database. An admin sees a proposed
//! index for each shape no index serves yet, with the figures measured, applies it (or the
//! advisor does, when the app allows) and sees the same figures since ([`commands`]).

mod commands;
mod shape;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use commands::{
    AUTOMATIC_AFTER_SLOW_RUNS, AppliedIndex, CreatedIndex, IndexAdvice, IndexProposal, MAX_AUTOMATIC_INDEXES_PER_FORM, Observed,
};
pub use shape::{Shape, ShapeKind};

/// A list or report slower than this is recorded. A list page or a report answered within
/// 50 ms feels instant to its user; past it, on a table of some size, it is the scan of every
/// row that an index would spare.
pub const SLOW_QUERY: Duration = Duration::from_millis(50);

/// Shapes kept in memory, across apps: far more than the lists and reports any app has, and
/// small (a few field names and four figures each). Past it, the shape seen longest ago goes.
const MAX_SHAPES: usize = 1_000;

/// How the advisor runs.
#[derive(Debug, Clone)]
pub struct AdvisorSettings {
    /// Lists and reports taking at least this long are recorded ([`SLOW_QUERY`]; tests set 0).
    pub slow_query: Duration,
}

impl Default for AdvisorSettings {
    fn default() -> AdvisorSettings {
        AdvisorSettings { slow_query: SLOW_QUERY }
    }
}

/// The runs of one shape: how many, their total and longest time, the last one's time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Figures {
    count: u64,
    total_ms: f64,
    max_ms: f64,
    last_seen: Option<DateTime<Utc>>,
}

impl Figures {
    fn add(&mut self, took: Duration) {
        let ms = took.as_secs_f64() * 1000.0;
        self.count += 1;
        self.total_ms += ms;
        self.max_ms = self.max_ms.max(ms);
        self.last_seen = Some(Utc::now());
    }

    /// The figures of `self` and `other` together.
    fn merged(&self, other: &Figures) -> Figures {
        Figures {
            count: self.count + other.count,
            total_ms: self.total_ms + other.total_ms,
            max_ms: self.max_ms.max(other.max_ms),
            last_seen: self.last_seen.max(other.last_seen),
        }
    }
}

/// A shape of one app.
type Key = (String, Shape);

/// What the advisor has seen since this process started.
pub(crate) struct Advisor {
    slow_query: Duration,
    state: Mutex<Observations>,
}

#[derive(Default)]
struct Observations {
    figures: HashMap<Key, Figures>,
    /// Shapes an advised index serves: every run of them counts, fast ones too, so the admin
    /// sees the index's effect.
    watched: HashSet<Key>,
    /// Shapes the advisor is indexing by itself, so that runs meanwhile do not start it again.
    automating: HashSet<Key>,
}

impl Advisor {
    pub(crate) fn new(settings: &AdvisorSettings) -> Advisor {
        Advisor { slow_query: settings.slow_query, state: Mutex::default() }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Observations> {
        // The figures stay usable whatever a panicking holder left half-counted.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts a run of `app` that took `took`, when it was slow or its shape is watched.
    /// Returns the shape and its slow runs so far when it was slow and no advised index serves
    /// it yet. `shape` is only worked out for a run that may count.
    pub(crate) fn record(&self, app: &str, took: Duration, shape: impl FnOnce() -> Option<Shape>) -> Option<(Shape, u64)> {
        let slow = took >= self.slow_query;
        if !slow && self.state().watched.is_empty() {
            return None;
        }
        let key = (app.to_owned(), shape()?);
        let mut state = self.state();
        let watched = state.watched.contains(&key);
        if !slow && !watched {
            return None;
        }
        if !state.figures.contains_key(&key) && state.figures.len() >= MAX_SHAPES {
            state.forget_the_stalest();
        }
        let figures = state.figures.entry(key.clone()).or_default();
        figures.add(took);
        let count = figures.count;
        (!watched).then_some((key.1, count))
    }

    /// The figures of every shape of `app`, and whether an advised index serves it.
    pub(crate) fn shapes_of(&self, app: &str) -> Vec<(Shape, Figures, bool)> {
        let state = self.state();
        state
            .figures
            .iter()
            .filter(|((a, _), _)| a == app)
            .map(|(key, figures)| (key.1.clone(), figures.clone(), state.watched.contains(key)))
            .collect()
    }

    /// The figures of `shapes` of `app` together.
    pub(crate) fn figures_of(&self, app: &str, shapes: &[Shape]) -> Figures {
        let state = self.state();
        shapes
            .iter()
            .filter_map(|shape| state.figures.get(&(app.to_owned(), shape.clone())))
            .fold(Figures::default(), |all, figures| all.merged(figures))
    }

    /// From now on `shapes` are served by an index: their figures start again.
    pub(crate) fn watch(&self, app: &str, shapes: &[Shape]) {
        let mut state = self.state();
        for shape in shapes {
            let key = (app.to_owned(), shape.clone());
            state.figures.remove(&key);
            state.watched.insert(key);
        }
    }

    /// `shapes` lost their index: their figures start again, counting slow runs only.
    pub(crate) fn unwatch(&self, app: &str, shapes: &[Shape]) {
        let mut state = self.state();
        for shape in shapes {
            let key = (app.to_owned(), shape.clone());
            state.figures.remove(&key);
            state.watched.remove(&key);
            state.automating.remove(&key);
        }
    }

    /// Marks `shape` as being indexed by the advisor itself; false when it already is.
    pub(crate) fn start_automating(&self, app: &str, shape: &Shape) -> bool {
        self.state().automating.insert((app.to_owned(), shape.clone()))
    }
}

impl Observations {
    /// Drops the shape seen longest ago, to make room.
    fn forget_the_stalest(&mut self) {
        let stalest = self.figures.iter().min_by_key(|(_, f)| f.last_seen).map(|(key, _)| key.clone());
        if let Some(key) = stalest {
            self.figures.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Advisor, AdvisorSettings, MAX_SHAPES, Shape, ShapeKind};

    fn shape(field: &str) -> Shape {
        Shape { form: "deal".into(), kind: ShapeKind::List, equal: vec![field.into()], ordered: Vec::new(), covered: Vec::new() }
    }

    #[test]
    fn fast_runs_are_not_recorded_until_an_index_serves_their_shape() {
        let advisor = Advisor::new(&AdvisorSettings { slow_query: Duration::from_millis(50) });
        assert_eq!(advisor.record("crm", Duration::from_millis(1), || Some(shape("stage"))), None);
        assert_eq!(advisor.record("crm", Duration::from_millis(80), || Some(shape("stage"))), Some((shape("stage"), 1)));
        advisor.watch("crm", &[shape("stage")]);
        assert_eq!(advisor.record("crm", Duration::from_millis(1), || Some(shape("stage"))), None, "served: nothing to propose");
        assert_eq!(advisor.figures_of("crm", &[shape("stage")]).count, 1, "the fast run counts once watched");
    }

    #[test]
    fn the_shapes_kept_are_bounded() {
        let advisor = Advisor::new(&AdvisorSettings { slow_query: Duration::ZERO });
        for i in 0..MAX_SHAPES + 10 {
            advisor.record("crm", Duration::from_millis(1), || Some(shape(&format!("f{i}"))));
        }
        assert_eq!(advisor.shapes_of("crm").len(), MAX_SHAPES);
    }
}
