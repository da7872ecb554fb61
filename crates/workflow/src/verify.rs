//! Static verification: what `tessera check` says about a flow's shape.

use std::collections::{HashMap, HashSet};

use defs::{APPROVAL_ACTIONS, Approver, Flow, Mode, PREVIOUS_STEP, TimerAction};
use petgraph::Direction;
use petgraph::algo::has_path_connecting;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Bfs, Reversed};

use crate::Problem;

pub(crate) fn verify(def: &Flow) -> Result<DiGraph<usize, ()>, Vec<Problem>> {
    let mut problems = Vec::new();

    let mut graph = DiGraph::new();
    let mut node: HashMap<&str, NodeIndex> = HashMap::new();
    for (i, state) in def.states.iter().enumerate() {
        if node.insert(&state.id, graph.add_node(i)).is_some() {
            at(&mut problems, format!("/states/{i}/id"), format!("state `{}` is declared twice", state.id));
        }
        if state.id == PREVIOUS_STEP {
            at(&mut problems, format!("/states/{i}/id"), format!("`{PREVIOUS_STEP}` is reserved"));
        }
    }
    let initial: Vec<usize> = def.states.iter().enumerate().filter(|(_, s)| s.initial).map(|(i, _)| i).collect();
    match initial.as_slice() {
        [] => at(&mut problems, "/states".into(), "no state is `initial`".into()),
        [i] if def.states[*i].approval.is_some() => {
            at(&mut problems, format!("/states/{i}/initial"), "an approval state cannot be initial".into())
        }
        [i] if def.states[*i].terminal => at(&mut problems, format!("/states/{i}/initial"), "the initial state cannot be terminal".into()),
        [_] => {}
        [_, rest @ ..] => {
            for i in rest {
                at(&mut problems, format!("/states/{i}/initial"), "only one state can be initial".into());
            }
        }
    }
    if !def.states.iter().any(|s| s.terminal) {
        at(&mut problems, "/states".into(), "no state is `terminal`: records could never finish".into());
    }

    let mut actions = HashSet::new();
    for (t, transition) in def.transitions.iter().enumerate() {
        let p = format!("/transitions/{t}");
        if APPROVAL_ACTIONS.contains(&transition.action.as_str()) {
            at(&mut problems, format!("{p}/action"), format!("`{}` is an approval action; choose another name", transition.action));
        }
        if !actions.insert(transition.action.as_str()) {
            at(&mut problems, format!("{p}/action"), format!("action `{}` is declared twice", transition.action));
        }
        if transition.from.is_empty() {
            at(&mut problems, format!("{p}/from"), "needs at least one state".into());
        }
        let to = node.get(transition.to.as_str()).copied();
        if to.is_none() {
            at(&mut problems, format!("{p}/to"), format!("no state `{}`", transition.to));
        }
        for (f, from) in transition.from.iter().enumerate() {
            match (node.get(from.as_str()), def.state(from)) {
                (Some(&from_node), Some(state)) => {
                    if state.terminal {
                        at(&mut problems, format!("{p}/from/{f}"), format!("state `{from}` is terminal: nothing leaves it"));
                    }
                    if let Some(to) = to {
                        graph.add_edge(from_node, to, ());
                    }
                }
                _ => at(&mut problems, format!("{p}/from/{f}"), format!("no state `{from}`")),
            }
        }
    }

    // A change to a `reapprove` field moves the record back into its approval.
    for (s, state) in def.states.iter().enumerate() {
        if let Some(reapprove) = &state.reapprove {
            match node.get(reapprove.to.as_str()) {
                Some(&to) => {
                    graph.update_edge(NodeIndex::new(s), to, ());
                }
                None => at(&mut problems, format!("/states/{s}/reapprove/to"), format!("no state `{}`", reapprove.to)),
            }
        }
    }

    for (s, state) in def.states.iter().enumerate() {
        let here = NodeIndex::new(s);
        if let Some(approval) = &state.approval {
            match node.get(approval.approved.as_str()) {
                Some(&to) => {
                    graph.add_edge(here, to, ());
                }
                None => at(&mut problems, format!("/states/{s}/approval/approved"), format!("no state `{}`", approval.approved)),
            }
            match approval.on_reject.as_deref() {
                None | Some(PREVIOUS_STEP) => {}
                Some(target) => match node.get(target) {
                    Some(&to) => {
                        graph.add_edge(here, to, ());
                    }
                    None => at(&mut problems, format!("/states/{s}/approval/on_reject"), format!("no state `{target}`")),
                },
            }
            if state.terminal {
                at(&mut problems, format!("/states/{s}/terminal"), "an approval state cannot be terminal".into());
            }
            for (k, step) in approval.steps.iter().enumerate() {
                let p = format!("/states/{s}/approval/steps/{k}");
                // A manager seat of `levels` is that many managers up the chain.
                let seats: u32 =
                    step.approvers.iter().map(|a| if let Approver::Manager { levels } = a { u32::from(*levels).max(1) } else { 1 }).sum();
                if seats == 0 {
                    at(&mut problems, format!("{p}/approvers"), "a step needs at least one approver".into());
                }
                match step.mode {
                    Mode::MOfN(0) => at(&mut problems, format!("{p}/mode/m_of_n"), "M of N needs at least one approval".into()),
                    Mode::MOfN(m) if m > seats => at(
                        &mut problems,
                        format!("{p}/mode/m_of_n"),
                        format!("{m} approvals are asked of a step with {seats} approver seat(s): it could never pass"),
                    ),
                    _ => {}
                }
            }
            // Recall and a plain rejection go back where the record came from.
            let sources: Vec<NodeIndex> = graph.neighbors_directed(here, Direction::Incoming).filter(|n| *n != here).collect();
            for source in sources {
                graph.update_edge(here, source, ());
            }
        }
        for (t, timer) in state.timers.iter().enumerate() {
            if let TimerAction::Fire(action) = &timer.action {
                match def.transition(action) {
                    None => at(&mut problems, format!("/states/{s}/timers/{t}/do/fire"), format!("no action `{action}`")),
                    Some(tr) if !tr.from.contains(&state.id) => at(
                        &mut problems,
                        format!("/states/{s}/timers/{t}/do/fire"),
                        format!("action `{action}` cannot be taken from state `{}`", state.id),
                    ),
                    Some(_) => {}
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    // Every state reachable from the initial one.
    let start = NodeIndex::new(initial[0]);
    let mut reached = HashSet::new();
    let mut bfs = Bfs::new(&graph, start);
    while let Some(n) = bfs.next(&graph) {
        reached.insert(n);
    }
    // From every state some terminal state reachable: walk the reversed graph from terminals.
    let reversed = Reversed(&graph);
    let mut finishing = HashSet::new();
    for (i, _) in def.states.iter().enumerate().filter(|(_, s)| s.terminal) {
        let mut bfs = Bfs::new(reversed, NodeIndex::new(i));
        while let Some(n) = bfs.next(reversed) {
            finishing.insert(n);
        }
    }
    // A rejection (退回) goes to a state before the approval: one the record comes back from.
    for (s, state) in def.states.iter().enumerate() {
        let Some(target) = state.approval.as_ref().and_then(|a| a.on_reject.as_deref()).filter(|t| *t != PREVIOUS_STEP) else {
            continue;
        };
        if let Some(&to) = node.get(target)
            && !has_path_connecting(&graph, to, NodeIndex::new(s), None)
        {
            at(
                &mut problems,
                format!("/states/{s}/approval/on_reject"),
                format!("`{target}` is not before the approval of `{}`: a record sent back there never comes back to it", state.id),
            );
        }
    }
    let initial_id = &def.states[initial[0]].id;
    for (i, state) in def.states.iter().enumerate() {
        if !reached.contains(&NodeIndex::new(i)) {
            at(
                &mut problems,
                format!("/states/{i}"),
                format!("state `{}` cannot be reached from the initial state `{initial_id}`", state.id),
            );
        } else if !finishing.contains(&NodeIndex::new(i)) {
            at(
                &mut problems,
                format!("/states/{i}"),
                format!("state `{}` is a dead end: no terminal state can be reached from it", state.id),
            );
        }
    }
    if problems.is_empty() { Ok(graph) } else { Err(problems) }
}

fn at(problems: &mut Vec<Problem>, pointer: String, message: String) {
    problems.push(Problem { pointer, message });
}
