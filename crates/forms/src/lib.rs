//! Tessera form engine: a registry of field types (one file each under `field_types/`, and any
//! the program running Tessera registers), the
//! compilation of a form definition into one JSON Schema plus defaults, and the validation of
//! record data against it with JSON-pointer errors.
//!
//! Knows nothing of storage, flows or HTTP: whether a link target exists is the engine's question.

mod compiled;
pub mod decimal;
mod field_types;
mod size;

pub use compiled::{CompiledForm, FieldCode, FieldError, LinkRef, MAX_PROBLEM_TEXT_CHARS};
pub use field_types::{
    COMMON_PROPERTIES, Column, FieldType, MAX_PATTERN_CHARS, Palette, PaletteEntry, PaletteGroup, PaletteInfo, RegisterError, field_type,
    find_field_type, palette, register_field_type,
};
pub use size::{DataSize, largest_record};
