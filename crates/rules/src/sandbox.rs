//! The one constructor of the rhai sandbox: every limit is set here and nowhere else.

use std::time::Duration;

use rhai::packages::{Package, StandardPackage};

/// Bounds on what one script call may consume.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall-clock time of one call.
    pub deadline: Duration,
    pub max_operations: u64,
    pub max_call_levels: usize,
    pub max_expr_depth: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    /// Most records one `find` may return.
    pub max_find: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_millis(100),
            max_operations: 5_000_000,
            max_call_levels: 32,
            max_expr_depth: 64,
            max_string_size: 64 * 1024,
            max_array_size: 10_000,
            max_map_size: 2_000,
            max_find: 200,
        }
    }
}

/// A raw engine (modules compiled out by the `no_module` feature, no `eval`, no I/O; `print`
/// goes to the log) with the standard language
/// packages, the platform's functions and every limit set.
pub(crate) fn engine(limits: &Limits) -> rhai::Engine {
    let mut engine = rhai::Engine::new_raw();
    engine.register_global_module(StandardPackage::new().as_shared_module());
    engine.disable_symbol("eval");
    // A name that is no variable is a compile error, not a failure on the day the line runs:
    // a misspelt field holder, or a script constant read inside a function (rhai functions see
    // only their parameters), reaches `tessera check`.
    engine.set_strict_variables(true);
    engine.set_max_operations(limits.max_operations);
    engine.set_max_call_levels(limits.max_call_levels);
    engine.set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth);
    engine.set_max_string_size(limits.max_string_size);
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_map_size);
    engine.on_print(|text| tracing::info!(target: "rules", "{text}"));
    engine.on_debug(|text, _, _| tracing::debug!(target: "rules", "{text}"));
    engine.on_progress(crate::functions::check_deadline);
    crate::functions::register(&mut engine);
    engine
}
