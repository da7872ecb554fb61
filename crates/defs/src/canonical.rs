//! The one canonical text of a definition: keys in declaration order, defaults omitted (by the
//! types' serde attributes), two-space indentation, a final newline. The designer saves this, so
//! a change in the browser is a minimal diff in git.

use serde::Serialize;

pub fn to_canonical_json<T: Serialize>(value: &T) -> String {
    // Serialising plain data types to a String cannot fail.
    let mut text = serde_json::to_string_pretty(value).expect("definition types serialise");
    text.push('\n');
    text
}
