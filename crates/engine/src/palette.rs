//! The palettes, for the people who design forms and reports: every field type the form
//! engine knows, with its widget, facets and the schema of the properties a designer may set
//! on it; and every chart kind the report engine knows, with what result it can draw and the
//! renderer that draws it.

use crate::{Actor, Engine, EngineError};

impl Engine {
    /// The palette of field types; admins only, as designing forms is theirs.
    pub fn field_types(&self, actor: &Actor) -> Result<forms::Palette, EngineError> {
        if !actor.is_admin() {
            return Err(EngineError::Forbidden("only admins may read the field type palette".into()));
        }
        Ok(forms::palette())
    }

    /// The chart kinds, for every signed-in user: dashboards draw each tile by its kind's
    /// renderer, and report builders offer the kinds. `actor` is who asks (sessions only).
    pub fn chart_kinds(&self, _actor: &Actor) -> Vec<reports::ChartKindEntry> {
        reports::chart_kinds()
    }
}
