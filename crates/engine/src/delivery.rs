//! Webhook delivery. A rule's or a flow's call for an outside system is written to the outbox
//! in the transaction of its cause; after the commit, whichever server claims it posts it to
//! its URL, and tries again later when that fails.
//!
//! Delivery is at least once: a server that dies after the receiver answered but before it
//! noted so leaves the message to be claimed again when its claim runs out. Every attempt at a
//! message carries the same `Idempotency-Key` (the message's id), so a receiver that keeps the
//! keys it has seen applies each message once.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::task::JoinSet;

use crate::{Engine, EngineError, time};

/// Messages claimed at once; each round posts them side by side.
const BATCH: u64 = 16;
/// How long a claim holds: longer than an attempt can take, so a message has one sender.
const CLAIM: chrono::Duration = chrono::Duration::seconds(60);
/// How long an attempt may take, connecting included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts before a message is given up: the waits between them double from
/// [`FIRST_RETRY`] up to [`LONGEST_RETRY`], about four hours in all.
pub const MAX_DELIVERY_ATTEMPTS: i64 = 10;
const FIRST_RETRY: chrono::Duration = chrono::Duration::seconds(30);
const LONGEST_RETRY: chrono::Duration = chrono::Duration::hours(1);
/// The most of a receiver's answer kept as the attempt's error.
const ERROR_EXCERPT_CHARS: usize = 200;

/// Posts webhook messages. Unless built for private networks, it reaches only public
/// addresses: a URL a rule computes from a record must not reach the database, a cloud's
/// metadata service or anything else behind the firewall.
#[derive(Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    private_networks: bool,
}

impl WebhookClient {
    pub fn new(private_networks: bool) -> Result<WebhookClient, EngineError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("Tessera/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(ATTEMPT_TIMEOUT)
            // A redirect could lead anywhere, past the address check: a 3xx is a failure.
            .redirect(reqwest::redirect::Policy::none());
        if !private_networks {
            builder = builder.dns_resolver(std::sync::Arc::new(PublicOnly));
        }
        let http = builder.build().map_err(|e| EngineError::Internal(format!("webhook client: {e}")))?;
        Ok(WebhookClient { http, private_networks })
    }

    /// Posts `payload` to `url`, once. `Err` says why it was not taken: a refused address, no
    /// answer, or the status and the start of the answer.
    async fn post(&self, url: &str, id: &str, payload: String) -> Result<(), Failure> {
        let url: reqwest::Url = url.parse().map_err(|e| Failure::lasting(format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Failure::lasting(format!("`{}` is not http or https", url.scheme())));
        }
        // An address written in the URL is not resolved, so it is checked here.
        let literal = url.host_str().and_then(|host| host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok());
        if let Some(ip) = literal.filter(|ip| !self.private_networks && !is_public(*ip)) {
            return Err(Failure::lasting(format!("{ip} is not a public address")));
        }
        let answer = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", id)
            .body(payload)
            .send()
            .await
            .map_err(|e| Failure::passing(error_chain(&e)))?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let text = answer.text().await.unwrap_or_default();
        Err(Failure::passing(format!("{status}: {}", text.chars().take(ERROR_EXCERPT_CHARS).collect::<String>())))
    }
}

/// Why an attempt failed, and whether trying again could help.
struct Failure {
    error: String,
    lasting: bool,
}

impl Failure {
    fn lasting(error: String) -> Failure {
        Failure { error, lasting: true }
    }
    fn passing(error: String) -> Failure {
        Failure { error, lasting: false }
    }
}

/// An error with its causes, which say what actually happened ("connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Resolves names to their public addresses only; a name with none does not resolve.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|addr| is_public(addr.ip())).collect();
            if public.is_empty() {
                return Err(format!("{} has no public address", name.as_str()).into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// Whether `ip` is on the public internet: not loopback, private, link-local (a cloud's
/// metadata service), shared (carrier NAT), unspecified, broadcast or multicast.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (first & 0xfe00) == 0xfc00 // unique local
                    || (first & 0xffc0) == 0xfe80) // link-local
            }
        },
    }
}

/// When a message that failed its `attempts`-th attempt is tried again, or `None`: given up.
fn retry_at(attempts: i64, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if attempts >= MAX_DELIVERY_ATTEMPTS {
        return None;
    }
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(u32::MAX).min(16);
    Some(now + (FIRST_RETRY * 2_i32.pow(doublings)).min(LONGEST_RETRY))
}

impl Engine {
    /// Delivers every webhook message due at `now` with `client` and returns how many attempts
    /// it made. Safe to run on several servers at once: each message is claimed by one.
    pub async fn deliver_webhooks(&self, client: &WebhookClient, now: DateTime<Utc>) -> Result<usize, EngineError> {
        let (mut attempts, started) = (0, std::time::Instant::now());
        loop {
            // The clock moves on from `now` while rounds post: a claim must not be made already
            // run out, or another server would take the message while this one posts it.
            let now = now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
            let (turn, tx) = self.store.begin().await?;
            let claimed = store::claim_deliveries(&tx, &time::format(now), &time::format(now + CLAIM), BATCH).await?;
            turn.commit(tx).await?;
            if claimed.is_empty() {
                return Ok(attempts);
            }
            let mut posts = JoinSet::new();
            for delivery in claimed {
                let client = client.clone();
                posts.spawn(async move {
                    let message = &delivery.message;
                    let outcome = client.post(&message.recipient, &message.id, message.payload.to_string()).await;
                    (delivery, outcome)
                });
            }
            while let Some(posted) = posts.join_next().await {
                let (delivery, outcome) = posted.map_err(|e| EngineError::Internal(format!("a webhook post: {e}")))?;
                let id = &delivery.message.id;
                let (turn, tx) = self.store.begin().await?;
                match outcome {
                    Ok(()) => store::mark_delivered(&tx, id, &time::format(now)).await?,
                    Err(failure) => {
                        let tried = delivery.attempts + 1;
                        let retry = (!failure.lasting).then(|| retry_at(tried, now)).flatten();
                        tracing::warn!(message = %id, url = %delivery.message.recipient, attempt = tried, error = %failure.error, given_up = retry.is_none(), "webhook not delivered");
                        store::mark_failed(&tx, id, &failure.error, retry.map(time::format).as_deref(), &time::format(now)).await?;
                    }
                }
                turn.commit(tx).await?;
                attempts += 1;
            }
        }
    }

    /// Delivers webhook messages every `every` until the process ends.
    pub fn spawn_deliverer(&self, client: WebhookClient, every: Duration) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = engine.deliver_webhooks(&client, Utc::now()).await {
                    tracing::error!(error = %e, "webhook delivery round failed");
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:1.1.1.1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn retries_wait_twice_as_long_each_time_up_to_an_hour_then_stop() {
        let now = Utc::now();
        let waits: Vec<i64> = (1..MAX_DELIVERY_ATTEMPTS).map(|n| (retry_at(n, now).unwrap() - now).num_seconds()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(retry_at(MAX_DELIVERY_ATTEMPTS, now), None);
    }
}
