//! Tessera workflow engine. A flow definition compiles into a petgraph graph of its states,
//! verified statically (every state reachable, a terminal state reachable from every other, no
//! unknown states); [`Workflow::step`] is pure: the record's [`Instance`], a [`Command`] and what
//! the engine knows about people ([`Env`]) give the next instance and the effects to apply.
//!
//! Knows nothing of databases, rules or HTTP: the engine evaluates conditions, resolves people,
//! stores instances, opens tasks and applies effects.

mod instance;
mod step;
mod verify;

use defs::Flow;
use petgraph::graph::{DiGraph, NodeIndex};

pub use instance::{Decision, Instance, LogEntry, Progress, Seat};
pub use step::{Available, Command, Env, Person, Step, StepError};

/// A problem of a flow definition, at a JSON pointer of its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub pointer: String,
    pub message: String,
}

/// A verified flow.
#[derive(Debug, Clone)]
pub struct Workflow {
    id: String,
    def: Flow,
    /// States as nodes (weights are indexes into `def.states`); an edge for every way a record
    /// can move: transitions, approval outcomes, recall.
    graph: DiGraph<usize, ()>,
}

impl Workflow {
    /// Verifies `def` and builds its graph; every problem is returned at once.
    pub fn compile(id: &str, def: Flow) -> Result<Workflow, Vec<Problem>> {
        let graph = verify::verify(&def)?;
        Ok(Workflow { id: id.to_owned(), def, graph })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn def(&self) -> &Flow {
        &self.def
    }

    /// States a record can move to next from `state`, by any edge.
    pub fn successors(&self, state: &str) -> Vec<&str> {
        let Some(i) = self.def.states.iter().position(|s| s.id == state) else {
            return Vec::new();
        };
        self.graph.neighbors(NodeIndex::new(i)).map(|n| self.def.states[self.graph[n]].id.as_str()).collect()
    }
}
