//! A problem found in a definition file, located by file and JSON pointer.

use std::fmt;
use std::path::PathBuf;

/// One problem: `file: /json/pointer: message`. Loading collects all of them instead of
/// stopping at the first, so an author fixes everything in one go.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// JSON pointer into the file (`""` for the whole document); for scripts, `line:col`.
    pub pointer: String,
    pub message: String,
}

impl Diagnostic {
    pub fn new(file: impl Into<PathBuf>, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { file: file.into(), pointer: pointer.into(), message: message.into() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pointer.as_str() {
            "" => write!(f, "{}: /: {}", self.file.display(), self.message),
            // A script position reads `file:line:col`, as compilers print it.
            p if !p.starts_with('/') => write!(f, "{}:{}: {}", self.file.display(), p, self.message),
            p => write!(f, "{}: {}: {}", self.file.display(), p, self.message),
        }
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
pub(crate) fn segment(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}
