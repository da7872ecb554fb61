//! The time one job may spend in rules. A job — the rules of one save, say — makes many calls
//! (defaults, hooks, formulas, conditions) and may be run again once its reads are answered;
//! were each call given the whole deadline, a job of five hooks run six times could take thirty.
//! Every call of a job draws on the job's one allowance instead.

use std::cell::Cell;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

thread_local! {
    /// When the run in progress on this thread must end, if it draws on an allowance.
    static RUN_ENDS: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// What is left of a job's time. Only the time its runs take is counted, a read a run waits for
/// included; waiting between runs (for a read to be answered before the job runs again, for a
/// thread to run on) is not the job's doing.
#[derive(Debug, Clone)]
pub struct Allowance(Arc<Mutex<Duration>>);

impl Allowance {
    pub fn new(total: Duration) -> Allowance {
        Allowance(Arc::new(Mutex::new(total)))
    }

    /// Runs `run` — calls of [`crate::Rules`] — on this thread within what is left, and deducts
    /// the time it took. Every call made meanwhile ends by then at the latest.
    pub fn spend<R>(&self, run: impl FnOnce() -> R) -> R {
        let started = Instant::now();
        let _restore = RunEnds::set(started + self.left());
        let result = run();
        let mut left = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *left = left.saturating_sub(started.elapsed());
        result
    }

    /// Runs `run` on this thread, stopped at `slice` at the latest: `Some` of what it returned
    /// when it ended within the slice, `None` when the slice stopped it, to be run again where it
    /// may take longer. Runs of rules return their effects and reads rather than do them, so a
    /// stopped run left nothing behind.
    pub fn within<R>(slice: Duration, run: impl FnOnce() -> R) -> Option<R> {
        let started = Instant::now();
        let _restore = RunEnds::set(started + slice);
        let result = run();
        (started.elapsed() < slice).then_some(result)
    }

    /// Whether nothing is left: a run now would be stopped at once.
    pub fn is_spent(&self) -> bool {
        self.left().is_zero()
    }

    fn left(&self) -> Duration {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When the run in progress on this thread must end, if it draws on an allowance.
    pub fn run_ends() -> Option<Instant> {
        RUN_ENDS.get()
    }
}

/// Sets the end of this thread's run, and puts back the one before when dropped (also when the
/// run panics), so runs may nest.
struct RunEnds(Option<Instant>);

impl RunEnds {
    fn set(end: Instant) -> RunEnds {
        let outer = RUN_ENDS.get();
        RUN_ENDS.set(Some(outer.map_or(end, |o| o.min(end))));
        RunEnds(outer)
    }
}

impl Drop for RunEnds {
    fn drop(&mut self) {
        RUN_ENDS.set(self.0);
    }
}
