//! Calls of functions the sandbox does not have. rhai resolves a call only when it is made, so a
//! formula naming a missing function compiles and then fails every save; the compiled AST is
//! walked instead, and such a call refused where the script or expression is compiled (which is
//! what `tessera check` reports).

use std::collections::{HashMap, HashSet};

use rhai::{AST, ASTNode, Expr, FnCallExpr, Position, Stmt};

use crate::CompileError;

/// Functions rhai handles itself rather than registers (`Fn`, `call`, `type_of` …).
const KEYWORD_FUNCTIONS: [&str; 9] = ["print", "debug", "type_of", "Fn", "call", "curry", "is_shared", "is_def_var", "is_def_fn"];

/// The functions of a sandbox: for each name, the numbers of parameters it takes.
pub(crate) struct Functions(HashMap<String, HashSet<usize>>);

impl Functions {
    pub(crate) fn of(engine: &rhai::Engine) -> Functions {
        let mut by_name: HashMap<String, HashSet<usize>> = HashMap::new();
        let signatures = engine.collect_fn_metadata(None, |f| Some((f.metadata.name.to_string(), f.metadata.num_params)), true);
        for (name, arity) in signatures {
            by_name.entry(name).or_default().insert(arity);
        }
        Functions(by_name)
    }

    /// Refuses the first call in `ast` of a function that neither the sandbox nor the script
    /// itself defines with that many parameters.
    pub(crate) fn check_calls(&self, ast: &AST) -> Result<(), CompileError> {
        let own: HashSet<(&str, usize)> = ast.iter_functions().map(|f| (f.name, f.params.len())).collect();
        let mut refused = None;
        ast.walk(&mut |path: &[ASTNode]| {
            let Some((call, arity, pos)) = path.last().and_then(call_of) else { return true };
            let known = call.is_operator_call()
                || KEYWORD_FUNCTIONS.contains(&call.name.as_str())
                || own.contains(&(call.name.as_str(), arity))
                || self.0.get(call.name.as_str()).is_some_and(|arities| arities.contains(&arity));
            if !known {
                refused = Some(self.refusal(call.name.as_str(), arity, own.iter().any(|(name, _)| *name == call.name), pos));
            }
            refused.is_none()
        });
        refused.map_or(Ok(()), Err)
    }

    fn refusal(&self, name: &str, arity: usize, script_has_name: bool, pos: Position) -> CompileError {
        let message = if script_has_name || self.0.contains_key(name) {
            format!("function `{name}` does not take {arity} argument(s)")
        } else {
            format!("no function `{name}`")
        };
        CompileError { line: pos.line().unwrap_or(0), column: pos.position().unwrap_or(0), message }
    }
}

/// Whether `ast` calls any of `names`, in any of its functions.
pub(crate) fn calls_any(ast: &AST, names: &[&str]) -> bool {
    let mut found = false;
    ast.walk(&mut |path: &[ASTNode]| {
        found |= path.last().and_then(call_of).is_some_and(|(call, _, _)| names.contains(&call.name.as_str()));
        !found
    });
    found
}

/// A function call, with its number of arguments counting the object a method is called on.
/// A call made as a statement of its own is a statement rather than an expression.
fn call_of<'a>(node: &ASTNode<'a>) -> Option<(&'a FnCallExpr, usize, Position)> {
    match node {
        ASTNode::Expr(Expr::FnCall(call, pos)) | ASTNode::Stmt(Stmt::FnCall(call, pos)) => Some((call, call.args.len(), *pos)),
        ASTNode::Expr(Expr::MethodCall(call, pos)) => Some((call, call.args.len() + 1, *pos)),
        _ => None,
    }
}

/// The properties an expression reads of `record` and `old` (`record.amount`,
/// `old.stage.len()` …), each with where it is read; the first property of each chain only.
pub(crate) fn record_properties(ast: &AST) -> Vec<(String, Position)> {
    let mut found = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Expr(Expr::Dot(chain, ..))) = path.last()
            && let Expr::Variable(name, ..) = &chain.lhs
            && matches!(name.1.as_str(), "record" | "old")
            && let Some((property, pos)) = first_property(&chain.rhs)
        {
            found.push((property.to_owned(), pos));
        }
        true
    });
    found
}

/// The leftmost property of the rest of a chain (`a` of `a.b`, `a[0]`, `a.len()`).
fn first_property(expr: &Expr) -> Option<(&str, Position)> {
    match expr {
        Expr::Property(names, pos) => Some((names.2.as_str(), *pos)),
        Expr::Dot(chain, ..) | Expr::Index(chain, ..) => first_property(&chain.lhs),
        _ => None,
    }
}
