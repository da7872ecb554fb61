//! Login rate limiting: a few failures per username at an address, a few more per address
//! whatever the usernames (one password sprayed over many), then a pause until the window that
//! the first failure opened closes. Kept in memory per server process, in a bounded map: it slows
//! password guessing; it is not an account lockout (no limit per username alone, which would let
//! anyone lock anyone out).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures of one username from one address within [`WINDOW`] before that pair waits.
pub const MAX_FAILURES_PER_USER: u32 = 5;
/// Failures from one address, whatever the usernames, within [`WINDOW`] before it waits: a
/// few people mistyping behind one office address stay under it; spraying does not.
pub const MAX_FAILURES_PER_ADDRESS: u32 = 20;
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
}

impl Key {
    fn allowed(&self) -> u32 {
        match self {
            Key::UserAt(..) => MAX_FAILURES_PER_USER,
            Key::Address(_) => MAX_FAILURES_PER_ADDRESS,
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

#[derive(Default)]
pub(crate) struct LoginLimiter {
    windows: Mutex<HashMap<Key, Window>>,
}

impl LoginLimiter {
    /// Seconds `username` at `address` must wait before trying again, or `None` when it may try now.
    pub(crate) fn wait(&self, username: &str, address: IpAddr) -> Option<u64> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        keys(username, address)
            .iter()
            .filter_map(|key| windows.get(key).filter(|w| w.is_open(now) && w.failures >= key.allowed()))
            .map(|w| (WINDOW - now.duration_since(w.opened)).as_secs().max(1))
            .max()
    }

    pub(crate) fn failed(&self, username: &str, address: IpAddr) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        for key in keys(username, address) {
            if !windows.contains_key(&key) && windows.len() >= MAX_TRACKED_KEYS {
                make_room(&mut windows, now);
            }
            let window = windows.entry(key).or_insert(Window { opened: now, failures: 0 });
            if !window.is_open(now) {
                *window = Window { opened: now, failures: 0 };
            }
            window.failures += 1;
        }
    }

    /// Forgets the username's failures at the address; the address's own stay counted, or an
    /// account of one's own would reset them.
    pub(crate) fn succeeded(&self, username: &str, address: IpAddr) {
        let [user_at, _] = keys(username, address);
        self.windows.lock().unwrap_or_else(|e| e.into_inner()).remove(&user_at);
    }
}

/// An IPv6 address counts by its /64 network: one host is given that many addresses.
fn keys(username: &str, address: IpAddr) -> [Key; 2] {
    let address = match address.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        v4 => v4,
    };
    [Key::UserAt(username.to_owned(), address), Key::Address(address)]
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
    use super::*;

    #[test]
    fn the_limiter_never_remembers_more_than_its_bound() {
        // Before: every distinct username was kept for the whole window, however many.
        let limiter = LoginLimiter::default();
        let address: IpAddr = "192.0.2.1".parse().unwrap();
        for i in 0..MAX_TRACKED_KEYS + 100 {
            limiter.failed(&format!("user{i}"), address);
        }
        assert!(limiter.windows.lock().unwrap().len() <= MAX_TRACKED_KEYS);
        assert!(limiter.wait("anyone", address).is_some(), "the address is still limited");
    }

    #[test]
    fn addresses_of_one_ipv6_network_share_a_limit() {
        let limiter = LoginLimiter::default();
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            limiter.failed(&format!("user{i}"), format!("2001:db8::{i:x}").parse().unwrap());
        }
        assert!(limiter.wait("admin", "2001:db8::ffff".parse().unwrap()).is_some());
        assert!(limiter.wait("admin", "2001:db8:0:1::1".parse().unwrap()).is_none(), "another /64 is another network");
    }
}
