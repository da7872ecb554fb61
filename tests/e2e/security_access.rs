//! Regression tests of issue 15 (security and bounds): what a user may see and touch.
