//! The context of one command on its way through the engine: its transaction, who acts, the
//! app resolved once, and how many rule effects led to it. The write path takes it instead of
//! `(tx, actor, app, …, depth)` threaded and resolved again in every function.

use std::sync::Arc;

use crate::apps::FormRuntime;
use crate::{Actor, EngineError, LoadedApp};

/// How many times rule effects may cause further effects within one command.
pub(crate) const MAX_EFFECT_DEPTH: u8 = 4;

/// One command as it runs. `C` is its connection: the write transaction, the pool for a read,
/// or `()` while a new record is drafted before its transaction begins (see [`Cmd::within`]).
pub(crate) struct Cmd<'a, C> {
    pub(crate) tx: &'a C,
    pub(crate) actor: &'a Actor,
    pub(crate) app: &'a Arc<LoadedApp>,
    /// How many rule effects led here: 0 for a person's request. Deeper writers (rules, flows,
    /// seeds, the platform) are trusted: they may set read-only fields and place a record in
    /// any state of its flow.
    pub(crate) depth: u8,
}

// Not derived: a derive would ask `C: Copy`, and the context only borrows its connection.
impl<C> Clone for Cmd<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for Cmd<'_, C> {}

impl<'a, C> Cmd<'a, C> {
    /// A person's command (depth 0) of `actor` on `app` in `tx`.
    pub(crate) fn new(tx: &'a C, actor: &'a Actor, app: &'a Arc<LoadedApp>) -> Self {
        Cmd { tx, actor, app, depth: 0 }
    }

    /// The command of an effect it causes, one level deeper.
    pub(crate) fn deeper(self) -> Self {
        Cmd { depth: self.depth + 1, ..self }
    }

    /// The command as the first of a chain of effects — the writes of a flow's move, a seed, the
    /// platform's daily recomputation: trusted, at depth 1 whatever led to it.
    pub(crate) fn first_effect(self) -> Self {
        Cmd { depth: 1, ..self }
    }

    /// The same command made by `actor` (the platform writing rollups, say).
    pub(crate) fn by<'b>(self, actor: &'b Actor) -> Cmd<'b, C>
    where
        'a: 'b,
    {
        Cmd { actor, ..self }
    }

    /// The command carried on in `tx` (a drafted record written in its transaction).
    pub(crate) fn within<'b, D>(self, tx: &'b D) -> Cmd<'b, D>
    where
        'a: 'b,
    {
        Cmd { tx, actor: self.actor, app: self.app, depth: self.depth }
    }

    /// Whether a trusted writer runs it rather than a person (see [`Cmd::depth`]).
    pub(crate) fn trusted(self) -> bool {
        self.depth > 0
    }

    /// The form `id` of the command's app.
    pub(crate) fn form(self, id: &str) -> Result<&'a FormRuntime, EngineError> {
        self.app.form(id)
    }
}
