//! Tessera rules engine: business logic that admins and consultants write as rhai scripts,
//! run in a sandbox. One constructor ([`Rules::new`]) owns every limit; scripts are compiled once
//! per definition version; hooks return values, field errors and effects — they never write.
//!
//! Knows nothing of databases or HTTP: reading other records goes through the [`Host`] the
//! caller provides, and effects are applied by the caller.

mod allowance;
mod calls;
mod functions;
mod sandbox;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rhai::{AST, Dynamic, Scope};
use serde_json::{Map, Value};

pub use allowance::Allowance;
pub use functions::{FUNCTIONS, Function, reference};
pub use sandbox::Limits;

/// Whose rights a script's read uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAs {
    /// The app's (`lookup`, `find`): every live record, every field. Rules compute stored figures,
    /// as triggers do, and a figure must not depend on who happened to save.
    App,
    /// The user's the rule runs for (`lookup_as_user`, `find_as_user`): only the records they may
    /// read, without the fields hidden from them.
    User,
}

/// What a script may ask of the platform while it runs. The engine implements it.
pub trait Host: Send + Sync {
    /// The data of record `id` of `form`, if it exists (and, read as the user, they may read it).
    fn lookup(&self, form: &str, id: &str, read_as: ReadAs) -> Result<Option<Value>, String>;
    /// Up to `limit` records of `form` matching `filter` (the list API's filter language).
    fn find(&self, form: &str, filter: Value, limit: u64, read_as: ReadAs) -> Result<Vec<Value>, String>;
    /// The next member of `members` for the rotation `pool`, fair across calls and restarts.
    fn round_robin(&self, pool: &str, members: &[String]) -> Result<String, String>;
    /// The answer of the app's connector `id` for `key`, if it has one.
    fn connector(&self, id: &str, _key: &str) -> Result<Option<Value>, String> {
        Err(format!("connector `{id}` is not available here"))
    }
}

/// What a script sees besides its own code.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub record: Map<String, Value>,
    /// The stored record on update; `None` on create.
    pub old: Option<Map<String, Value>>,
    /// `{username, display_name, roles, department}` of the calling user.
    pub user: Value,
    /// The time `today()` and `now()` give: the time the command runs at (a job's time, which a
    /// test may move); `None` for the wall clock.
    pub at: Option<DateTime<Utc>>,
}

/// A change a script asks for, applied by the engine in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A notification; `about` names the record it is about (form, id), when not the one saved.
    Notify {
        user: String,
        text: String,
        about: Option<(String, String)>,
    },
    Create {
        form: String,
        data: Value,
    },
    Update {
        form: String,
        id: String,
        data: Value,
    },
    /// A message for an outside system, delivered to `url` from the outbox after the commit.
    Webhook {
        url: String,
        event: String,
        data: Value,
    },
}

/// What a hook produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub value: Value,
    /// `(JSON pointer, message)` from `error(path, message)`.
    pub errors: Vec<(String, String)>,
    pub effects: Vec<Effect>,
}

/// A compile error located in its script.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct CompileError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Why a rule could not produce an outcome.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    /// The script hit a sandbox limit (operations, time, depth, size).
    #[error("rule `{rule}` exceeded a limit: {limit}")]
    LimitExceeded { rule: String, limit: String },
    /// The script failed (a runtime error, a missing function, a host failure).
    #[error("rule `{rule}` failed: {message}")]
    Failed { rule: String, message: String },
}

/// The functions whose value changes with the day: a figure computed with them is right only on
/// the day it was computed.
const CLOCK_FUNCTIONS: [&str; 2] = ["today", "now"];

/// Compiled scripts and expressions of one app, and the sandboxed engine that runs them.
pub struct Rules {
    engine: rhai::Engine,
    limits: Limits,
    scripts: HashMap<String, Arc<AST>>,
    /// The functions scripts may call, to refuse calls of others when they compile.
    sandbox_functions: calls::Functions,
}

/// A compiled expression (formula, default, `visible_if`, `required_if`).
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
    ast: Arc<AST>,
}

impl Expression {
    /// Whether the expression reads the date or time (`today()`, `now()`).
    pub fn reads_clock(&self) -> bool {
        calls::calls_any(&self.ast, &CLOCK_FUNCTIONS)
    }

    /// The fields it reads of `record` and `old`, each with where (line and column, 1-based):
    /// a field the form lacks reads as nothing rather than failing, so a checker names it.
    pub fn fields_read(&self) -> Vec<(String, usize, usize)> {
        calls::record_properties(&self.ast)
            .into_iter()
            .map(|(field, pos)| (field, pos.line().unwrap_or(0), pos.position().unwrap_or(0)))
            .collect()
    }
}

/// The variables an expression may read.
const EXPRESSION_VARIABLES: [&str; 4] = ["record", "old", "user", "created"];

impl Rules {
    pub fn new(limits: Limits) -> Rules {
        let engine = sandbox::engine(&limits);
        let sandbox_functions = calls::Functions::of(&engine);
        Rules { engine, limits, scripts: HashMap::new(), sandbox_functions }
    }

    /// A fresh allowance for one job: the deadline of one call, for all of the job's calls.
    pub fn allowance(&self) -> Allowance {
        Allowance::new(self.limits.deadline)
    }

    /// Compiles script `id` (e.g. `lead_score`) and keeps it for [`Rules::call`]. A call of a
    /// function that neither the sandbox nor the script has is a compile error: rhai would
    /// only find out when the call is made.
    pub fn compile(&mut self, id: &str, source: &str) -> Result<(), CompileError> {
        let ast = self.engine.compile(source).map_err(|e| parse_error(&e))?;
        self.sandbox_functions.check_calls(&ast)?;
        self.scripts.insert(id.to_owned(), Arc::new(ast));
        Ok(())
    }

    /// The problem of a script's source, as [`Rules::compile`] would find it, keeping nothing:
    /// for an editor checking as one types.
    pub fn check_script(&self, source: &str) -> Result<(), CompileError> {
        let ast = self.engine.compile(source).map_err(|e| parse_error(&e))?;
        self.sandbox_functions.check_calls(&ast)
    }

    /// Whether script `id` compiled.
    pub fn has_script(&self, id: &str) -> bool {
        self.scripts.contains_key(id)
    }

    /// Whether script `id` defines `function` taking `arity` parameters.
    pub fn has_function(&self, id: &str, function: &str, arity: usize) -> bool {
        self.scripts.get(id).is_some_and(|ast| ast.iter_functions().any(|f| f.name == function && f.params.len() == arity))
    }

    /// Whether script `id` reads the date or time anywhere (`today()`, `now()`).
    pub fn reads_clock(&self, id: &str) -> bool {
        self.scripts.get(id).is_some_and(|ast| calls::calls_any(ast, &CLOCK_FUNCTIONS))
    }

    /// Compiles a one-line expression over `record`, `old` and `user` (and `created`, the
    /// records a flow's move made before).
    pub fn expression(&self, source: &str) -> Result<Expression, CompileError> {
        let mut names = Scope::new();
        for name in EXPRESSION_VARIABLES {
            names.push_constant(name, Dynamic::UNIT);
        }
        let ast = self.engine.compile_expression_with_scope(&names, source).map_err(|e| parse_error(&e))?;
        self.sandbox_functions.check_calls(&ast)?;
        Ok(Expression { source: source.to_owned(), ast: Arc::new(ast) })
    }

    /// Calls `function(record, old, user)` of script `id`. `rule` names it in errors.
    pub fn call(&self, id: &str, function: &str, input: &Input, host: Arc<dyn Host>) -> Result<Outcome, RuleError> {
        let rule = format!("{id}.{function}");
        let ast = self.scripts.get(id).ok_or_else(|| RuleError::Failed { rule: rule.clone(), message: "no such script".into() })?;
        let args = (to_dynamic(&input.record), old_dynamic(input), to_dynamic(&input.user));
        let (result, state) =
            functions::with_call(&self.limits, host, input.at, || self.engine.call_fn::<Dynamic>(&mut Scope::new(), ast, function, args));
        finish(&rule, result, state)
    }

    /// Evaluates an expression with `record`, `old` and `user` in scope.
    pub fn eval(&self, expression: &Expression, input: &Input, host: Arc<dyn Host>) -> Result<Value, RuleError> {
        self.eval_with(expression, input, &[], host)
    }

    /// [`Rules::eval`] with more variables in scope (e.g. `created` in a flow's effects).
    pub fn eval_with(
        &self,
        expression: &Expression,
        input: &Input,
        vars: &[(&str, &Value)],
        host: Arc<dyn Host>,
    ) -> Result<Value, RuleError> {
        let mut scope = Scope::new();
        for (name, value) in vars {
            scope.push(name.to_string(), to_dynamic(value));
        }
        scope.push("record", to_dynamic(&input.record));
        scope.push("old", old_dynamic(input));
        scope.push("user", to_dynamic(&input.user));
        let (result, state) =
            functions::with_call(&self.limits, host, input.at, || self.engine.eval_ast_with_scope::<Dynamic>(&mut scope, &expression.ast));
        finish(&expression.source, result, state).map(|o| o.value)
    }
}

fn to_dynamic(value: &(impl serde::Serialize + ?Sized)) -> Dynamic {
    rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT)
}

fn old_dynamic(input: &Input) -> Dynamic {
    input.old.as_ref().map(to_dynamic).unwrap_or(Dynamic::UNIT)
}

fn finish(rule: &str, result: Result<Dynamic, Box<rhai::EvalAltResult>>, state: functions::CallState) -> Result<Outcome, RuleError> {
    use rhai::EvalAltResult as E;
    if state.expired {
        // Whatever the script did after being stopped (caught it, returned a value), it ran out.
        return Err(RuleError::LimitExceeded { rule: rule.to_owned(), limit: format!("ran longer than {} ms", state.deadline_ms) });
    }
    match result {
        Ok(value) => {
            let value = rhai::serde::from_dynamic::<Value>(&value).unwrap_or(Value::Null);
            Ok(Outcome { value, errors: state.errors, effects: state.effects })
        }
        Err(err) => {
            let limit = match err.unwrap_inner() {
                E::ErrorTooManyOperations(_) => Some("too many operations".to_owned()),
                E::ErrorTerminated(..) => Some(format!("ran longer than {} ms", state.deadline_ms)),
                E::ErrorStackOverflow(_) => Some("calls nested too deep".to_owned()),
                E::ErrorDataTooLarge(what, _) => Some(format!("{what} too large")),
                _ => None,
            };
            Err(match (limit, state.host_error) {
                (_, Some(message)) => RuleError::Failed { rule: rule.to_owned(), message },
                (Some(limit), _) => RuleError::LimitExceeded { rule: rule.to_owned(), limit },
                (None, _) => RuleError::Failed { rule: rule.to_owned(), message: failure_message(&err) },
            })
        }
    }
}

/// What a failed script says to the user. rhai names a missing function by its Rust parameter
/// types (`add_days (i64, i64)`), which mean nothing to the app's author or user.
fn failure_message(err: &rhai::EvalAltResult) -> String {
    match err.unwrap_inner() {
        rhai::EvalAltResult::ErrorFunctionNotFound(signature, pos) => {
            let name = signature.split_once(' ').map_or(signature.as_str(), |(name, _)| name);
            let at = pos.line().map(|line| format!(" (line {line}, position {})", pos.position().unwrap_or(0))).unwrap_or_default();
            format!("function `{name}` cannot take these values{at}")
        }
        _ => err.to_string(),
    }
}

fn parse_error(e: &rhai::ParseError) -> CompileError {
    let pos = e.position();
    CompileError { line: pos.line().unwrap_or(0), column: pos.position().unwrap_or(0), message: e.err_type().to_string() }
}

#[cfg(test)]
mod tests;
