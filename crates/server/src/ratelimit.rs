//! Rate limiting. Logins: a few failures per username at an address, a few more per address
//! whatever the usernames (one password sprayed over many), then a pause until the window that
//! the first failure opened closes. Public web forms: a few submissions per address. Kept in
//! memory per server process, in bounded maps: it slows password guessing and form spam; it is
//! not an account lockout (no limit per username alone, which would let anyone lock anyone out).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures of one username from one address within [`WINDOW`] before that pair waits.
pub const MAX_FAILURES_PER_USER: u32 = 5;
/// Failures from one address, whatever the usernames, within [`WINDOW`] before it waits: a
/// few people mistyping behind one office address stay under it; spraying does not.
pub const MAX_FAILURES_PER_ADDRESS: u32 = 20;
/// Public web-form submissions from one address within [`WINDOW`] before it waits: a visitor
/// who sends a form again now and then stays under it; a script does not.
pub const MAX_SUBMISSIONS_PER_ADDRESS: u32 = 10;
/// How long failures are remembered, from the first of a window.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Keys remembered at most. A key holds a username of at most `engine::MAX_USERNAME_CHARS`
/// characters (the engine refuses longer ones before any failure is counted), so the map stays
/// under about 30 MB; when full, the oldest window is forgotten first.
pub const MAX_TRACKED_KEYS: usize = 50_000;

/// Who failed: a username at an address, or an address.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    UserAt(String, IpAddr),
    Address(IpAddr),
    /// A web-form submission from this address.
    Submitter(IpAddr),
}

impl Key {
    fn allowed(&self) -> u32 {
        match self {
            Key::UserAt(..) => MAX_FAILURES_PER_USER,
            Key::Address(_) => MAX_FAILURES_PER_ADDRESS,
            Key::Submitter(_) => MAX_SUBMISSIONS_PER_ADDRESS,
        }
    }
}

/// Failures counted since `opened`.
#[derive(Clone, Copy)]
struct Window {
    opened: Instant,
    failures: u32,
}

impl Window {
    fn is_open(&self, now: Instant) -> bool {
        now.duration_since(self.opened) < WINDOW
    }
}

/// A login attempt let through, counted as a failure from the moment it was let through: the
/// check and the count are one step under one lock, so attempts sent at once cannot all pass
/// the check before the first is counted. Its outcome, when not a failure, takes it back.
#[must_use = "an attempt stays counted as a failure unless its outcome says otherwise"]
pub(crate) struct Attempt {
    /// Its keys and the windows it was counted in: a window opened since holds other attempts.
    counted: [(Key, Instant); 2],
}

#[derive(Default)]
pub(crate) struct LoginLimiter {
    windows: Mutex<HashMap<Key, Window>>,
}

impl LoginLimiter {
    /// Lets `username` at `address` try now, counting the attempt as a failure; or refuses with
    /// the seconds to wait before trying again.
    pub(crate) fn admit(&self, username: &str, address: IpAddr) -> Result<Attempt, u64> {
        let mut windows = self.lock();
        let now = Instant::now();
        let keys = keys(username, address);
        if let Some(retry_after_secs) = keys.iter().filter_map(|key| retry_after(&windows, key, now)).max() {
            return Err(retry_after_secs);
        }
        Ok(Attempt { counted: keys.map(|key| count_failure(&mut windows, key, now)) })
    }

    /// The attempt logged in: the username's failures at the address are forgotten; the
    /// address's own stay counted, or an account of one's own would reset them (but not this
    /// attempt, which was no failure).
    pub(crate) fn succeeded(&self, attempt: Attempt) {
        let [(user_at, _), address] = attempt.counted;
        let mut windows = self.lock();
        windows.remove(&user_at);
        take_back(&mut windows, address);
    }

    /// The attempt ended before its password was judged (an error of the server's): no failure.
    pub(crate) fn withdrawn(&self, attempt: Attempt) {
        let mut windows = self.lock();
        for counted in attempt.counted {
            take_back(&mut windows, counted);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Window>> {
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Web-form submissions counted per address, each counted as it is let through.
#[derive(Default)]
pub(crate) struct SubmissionLimiter {
    windows: Mutex<HashMap<Key, Window>>,
}

impl SubmissionLimiter {
    /// Lets a submission from `address` through now, counting it; or refuses with the seconds
    /// to wait.
    pub(crate) fn admit(&self, address: IpAddr) -> Result<(), u64> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let key = Key::Submitter(network(address));
        if let Some(retry_after_secs) = retry_after(&windows, &key, now) {
            return Err(retry_after_secs);
        }
        count_failure(&mut windows, key, now);
        Ok(())
    }
}

/// Seconds until `key` may try again, when its open window holds all the failures it is allowed.
fn retry_after(windows: &HashMap<Key, Window>, key: &Key, now: Instant) -> Option<u64> {
    let window = windows.get(key).filter(|w| w.is_open(now) && w.failures >= key.allowed())?;
    Some((WINDOW - now.duration_since(window.opened)).as_secs().max(1))
}

/// Counts a failure (or a submission) of `key`, in its open window or a new one; returns the
/// key and its window.
fn count_failure(windows: &mut HashMap<Key, Window>, key: Key, now: Instant) -> (Key, Instant) {
    if !windows.contains_key(&key) && windows.len() >= MAX_TRACKED_KEYS {
        make_room(windows, now);
    }
    let window = windows.entry(key.clone()).or_insert(Window { opened: now, failures: 0 });
    if !window.is_open(now) {
        *window = Window { opened: now, failures: 0 };
    }
    window.failures += 1;
    (key, window.opened)
}

/// Uncounts a failure counted in the window opened at `opened`, if that window is still the
/// key's; a key left with none is forgotten.
fn take_back(windows: &mut HashMap<Key, Window>, (key, opened): (Key, Instant)) {
    if let Some(window) = windows.get_mut(&key).filter(|w| w.opened == opened) {
        window.failures = window.failures.saturating_sub(1);
        if window.failures == 0 {
            windows.remove(&key);
        }
    }
}

fn keys(username: &str, address: IpAddr) -> [Key; 2] {
    let address = network(address);
    [Key::UserAt(username.to_owned(), address), Key::Address(address)]
}

/// An IPv6 address counts by its /64 network: one host is given that many addresses.
fn network(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// Forgets closed windows, and when none is closed, the oldest one.
fn make_room(windows: &mut HashMap<Key, Window>, now: Instant) {
    windows.retain(|_, w| w.is_open(now));
    if windows.len() >= MAX_TRACKED_KEYS
        && let Some(oldest) = windows.iter().min_by_key(|(_, w)| w.opened).map(|(key, _)| key.clone())
    {
        windows.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const ADDRESS: &str = "192.0.2.1";

    /// Fails `username` at `address` once: admitted, and never taken back.
    fn fail(limiter: &LoginLimiter, username: &str, address: IpAddr) {
        let _failed = limiter.admit(username, address).expect("admitted");
    }

    #[test]
    fn attempts_are_counted_when_admitted_so_the_limit_holds_before_any_outcome() {
        // Before: the check (`wait`) and the count (`failed`, after argon2) were two steps, so
        // attempts under way together all passed the check.
        let limiter = LoginLimiter::default();
        let address = ADDRESS.parse().unwrap();
        let under_way: Vec<Attempt> = (0..MAX_FAILURES_PER_USER).map(|_| limiter.admit("admin", address).unwrap()).collect();
        assert!(limiter.admit("admin", address).is_err(), "the next waits while {} are under way", under_way.len());
        limiter.withdrawn(under_way.into_iter().next().unwrap());
        assert!(limiter.admit("admin", address).is_ok(), "one taken back makes room for one");
    }

    #[test]
    fn a_success_forgets_the_usernames_failures_and_only_itself_at_the_address() {
        let limiter = LoginLimiter::default();
        let address = ADDRESS.parse().unwrap();
        for _ in 0..MAX_FAILURES_PER_USER - 1 {
            fail(&limiter, "admin", address);
        }
        limiter.succeeded(limiter.admit("admin", address).unwrap());
        for _ in 0..MAX_FAILURES_PER_USER {
            fail(&limiter, "admin", address);
        }
        assert!(limiter.admit("admin", address).is_err());
        let address_failures = limiter.lock()[&Key::Address(address)].failures;
        assert_eq!(address_failures, 2 * MAX_FAILURES_PER_USER - 1, "the address keeps its failures, not the success");
    }

    #[test]
    fn web_form_submissions_wait_past_the_limit_per_address_only() {
        let limiter = SubmissionLimiter::default();
        let address: IpAddr = ADDRESS.parse().unwrap();
        for _ in 0..MAX_SUBMISSIONS_PER_ADDRESS {
            limiter.admit(address).expect("under the limit");
        }
        let wait = limiter.admit(address).expect_err("past the limit");
        assert!(wait > 0 && wait <= WINDOW.as_secs());
        assert!(limiter.admit("192.0.2.2".parse().unwrap()).is_ok(), "another address is not held up");
    }

    #[test]
    fn the_limiter_never_remembers_more_than_its_bound() {
        // Before: every distinct username was kept for the whole window, however many.
        let limiter = LoginLimiter::default();
        let address: IpAddr = ADDRESS.parse().unwrap();
        for i in 0..MAX_TRACKED_KEYS + 100 {
            // An address is refused past its own limit, so the usernames come from many.
            let sprayer = Ipv4Addr::from_bits(0x0A00_0000 + (i / MAX_FAILURES_PER_ADDRESS as usize) as u32);
            fail(&limiter, &format!("user{i}"), sprayer.into());
        }
        assert!(limiter.lock().len() <= MAX_TRACKED_KEYS);
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            fail(&limiter, &format!("user{i}"), address);
        }
        assert!(limiter.admit("anyone", address).is_err(), "a full map still limits");
    }

    #[test]
    fn addresses_of_one_ipv6_network_share_a_limit() {
        let limiter = LoginLimiter::default();
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            fail(&limiter, &format!("user{i}"), format!("2001:db8::{i:x}").parse().unwrap());
        }
        assert!(limiter.admit("admin", "2001:db8::ffff".parse().unwrap()).is_err());
        assert!(limiter.admit("admin", "2001:db8:0:1::1".parse().unwrap()).is_ok(), "another /64 is another network");
    }
}
