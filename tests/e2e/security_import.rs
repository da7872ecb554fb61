//! Regression tests of issue 15 (security and bounds): security_import.
