//! The field type palette, for the people who design forms: every type the form engine knows,
//! with its widget, facets and the schema of the properties a designer may set on it.

use crate::access::ADMIN;
use crate::{Actor, Engine, EngineError};

impl Engine {
    /// The palette of field types; admins only, as designing forms is theirs.
    pub fn field_types(&self, actor: &Actor) -> Result<forms::Palette, EngineError> {
        if !actor.roles.iter().any(|r| r == ADMIN) {
            return Err(EngineError::Forbidden("only admins may read the field type palette".into()));
        }
        Ok(forms::palette())
    }
}
