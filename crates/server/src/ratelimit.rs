//! Login rate limiting: a few failures per username and client address, then a pause. Kept in
//! memory per server process: it slows password guessing; it is not an account lockout.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed within [`WINDOW`] before logins from that key are refused.
const MAX_FAILURES: usize = 5;
const WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub(crate) struct LoginLimiter {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl LoginLimiter {
    /// Seconds to wait before `key` may try again, or `None` when it may try now.
    pub(crate) fn wait(&self, key: &str) -> Option<u64> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let list = failures.entry(key.to_owned()).or_default();
        list.retain(|t| now.duration_since(*t) < WINDOW);
        (list.len() >= MAX_FAILURES).then(|| list.first().map_or(1, |oldest| (WINDOW - now.duration_since(*oldest)).as_secs().max(1)))
    }

    pub(crate) fn failed(&self, key: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.entry(key.to_owned()).or_default().push(Instant::now());
        // Forget keys that have gone quiet, so the map cannot grow without bound.
        if failures.len() > 10_000 {
            let now = Instant::now();
            failures.retain(|_, list| list.iter().any(|t| now.duration_since(*t) < WINDOW));
        }
    }

    pub(crate) fn succeeded(&self, key: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}
