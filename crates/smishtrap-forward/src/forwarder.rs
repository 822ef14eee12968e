//! The sensor side: committed events from the SQLite store to JetStream, in order, exactly
//! where the last acknowledged one left off.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, context::PublishAckFuture, message::PublishMessage};
use bytes::Bytes;
use smishtrap_store::{FORWARDED_CURSOR, SpooledEvent, SqliteStore, StoreError};

use crate::enroll::{Credentials, inbox_prefix};
use crate::{Backoff, MAX_EVENT_BYTES, SensorName, status_subject, subject};

/// Longest event id sent as `Nats-Msg-Id` (ids are UUIDs; anything else is not forwarded).
const MAX_ID_BYTES: usize = 128;

/// Where and how a sensor forwards.
#[derive(Debug, Clone)]
pub struct ForwardConfig {
    /// `nats://HOST:PORT` or `tls://HOST:PORT`, from the operator's configuration only.
    pub url: String,
    /// NATS credentials file: an NKey seed file from `smishtrap hub enroll`, or a NATS
    /// `.creds` file (user JWT and NKey seed).
    pub credentials: Option<PathBuf>,
    /// CA certificate (PEM) to verify the NATS server; turns TLS on.
    pub ca: Option<PathBuf>,
    /// The sensor's SQLite store (the spool).
    pub store: PathBuf,
    /// The subject token of this sensor.
    pub sensor: SensorName,
    /// Most events read and published per round (bounds memory and in-flight acks).
    pub batch: usize,
    /// How often an idle forwarder looks for new events.
    pub poll: Duration,
    /// How long a publish waits for its JetStream acknowledgement.
    pub ack_timeout: Duration,
    /// First retry delay after a failure; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// How often the sensor's heartbeat (its status row in the store) is published to
    /// `smishtrap.status.<sensor>`.
    pub status_period: Duration,
}

impl ForwardConfig {
    /// Defaults for everything but the address, the store and the name.
    pub fn new(url: String, store: PathBuf, sensor: SensorName) -> ForwardConfig {
        ForwardConfig {
            url,
            credentials: None,
            ca: None,
            store,
            sensor,
            batch: 256,
            poll: Duration::from_millis(200),
            ack_timeout: Duration::from_secs(5),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
            status_period: smishtrap_event::HEARTBEAT_PERIOD,
        }
    }
}

/// Why forwarding stopped for good (transport failures are retried, never returned).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardError {
    /// The NATS address is not `nats://` or `tls://`.
    #[error("forward address {0:?}: expected nats://HOST:PORT or tls://HOST:PORT")]
    Url(String),
    /// The credentials file cannot be read or is not one.
    #[error("cannot read the NATS credentials: {0}")]
    Credentials(#[from] crate::enroll::EnrollError),
    /// Connecting failed for a reason retrying cannot fix.
    #[error("cannot set up the NATS connection: {0}")]
    Connect(String),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A store task ended abnormally.
    #[error("forward store task failed: {0}")]
    Task(String),
}

/// What the forwarder did, for logs and tests.
#[derive(Debug, Default)]
pub struct ForwardStats {
    /// Events acknowledged by JetStream (duplicates included).
    pub forwarded: AtomicU64,
    /// Of those, how many JetStream had already (same `Nats-Msg-Id` within its window).
    pub duplicates: AtomicU64,
    /// Events skipped because they cannot be sent (oversized or odd id); logged.
    pub skipped: AtomicU64,
    /// Failed rounds (NATS unreachable, ack timeout, no stream), each followed by back-off.
    pub failures: AtomicU64,
    /// The forward cursor (last acknowledged row).
    pub cursor: AtomicU64,
}

/// Checks a NATS address is `nats://…` or `tls://…` (at configuration time, before any
/// connection attempt).
pub fn check_url(url: &str) -> Result<(), ForwardError> {
    let rest = url.strip_prefix("nats://").or_else(|| url.strip_prefix("tls://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.contains(char::is_whitespace) => Ok(()),
        _ => Err(ForwardError::Url(url.chars().take(200).collect())),
    }
}

/// Connects to NATS for the forwarder or the hub. The connection is made in the background
/// and re-made after every loss, so an unreachable server at start-up is not an error.
/// `inbox` replaces the reply-inbox prefix `_INBOX` (a sensor may only subscribe to its own,
/// see [`crate::enroll::inbox_prefix`]).
pub async fn connect(
    url: &str,
    credentials: Option<&Path>,
    ca: Option<&Path>,
    name: &str,
    inbox: Option<&str>,
) -> Result<async_nats::Client, ForwardError> {
    check_url(url)?;
    let tls = url.starts_with("tls://");
    let mut options = async_nats::ConnectOptions::new();
    if let Some(inbox) = inbox {
        options = options.custom_inbox_prefix(inbox);
    }
    options = options
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(5))
        // capped: a sensor back after an outage should not wait long for the next attempt
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis(100u64.saturating_mul(1 << attempts.min(6)).min(5_000))
        });
    if let Some(path) = credentials {
        options = match Credentials::read(path)? {
            Credentials::NkeySeed(seed) => options.nkey(seed),
            Credentials::CredsFile(path) => {
                options.credentials_file(&path).await.map_err(|source| {
                    ForwardError::Credentials(crate::enroll::EnrollError::Io { path, source })
                })?
            }
        };
    }
    if let Some(ca) = ca {
        options = options.add_root_certificates(ca.to_owned()).require_tls(true);
    } else if tls {
        options = options.require_tls(true);
    }
    options.connect(url).await.map_err(|e| ForwardError::Connect(e.to_string()))
}

/// Publishes a sensor's committed events to JetStream (see the crate docs).
#[derive(Debug)]
pub struct Forwarder {
    config: ForwardConfig,
    stats: Arc<ForwardStats>,
}

type Shared = Arc<Mutex<SqliteStore>>;

impl Forwarder {
    /// A forwarder; nothing happens until [`Forwarder::run`].
    pub fn new(config: ForwardConfig) -> Forwarder {
        Forwarder { config, stats: Arc::new(ForwardStats::default()) }
    }

    /// Live counters.
    pub fn stats(&self) -> Arc<ForwardStats> {
        self.stats.clone()
    }

    /// Forwards until `stop` resolves. Transport failures are retried with back-off; only a
    /// failing local store or a bad configuration ends it early.
    pub async fn run(self, stop: impl Future<Output = ()>) -> Result<(), ForwardError> {
        tokio::pin!(stop);
        let config = &self.config;
        let path = config.store.clone();
        let store: Shared = Arc::new(Mutex::new(
            tokio::task::spawn_blocking(move || SqliteStore::open(&path))
                .await
                .map_err(|e| ForwardError::Task(e.to_string()))??,
        ));
        let mut cursor = with_store(&store, |s| s.cursor(FORWARDED_CURSOR)).await?;
        self.stats.cursor.store(u64::try_from(cursor).unwrap_or(0), Ordering::Relaxed);
        let client = connect(
            &config.url,
            config.credentials.as_deref(),
            config.ca.as_deref(),
            &format!("smishtrap-sensor {}", config.sensor),
            Some(&inbox_prefix(&config.sensor)),
        )
        .await?;
        let status_client = client.clone();
        let status_subject = status_subject(&config.sensor);
        let mut last_status: Option<Instant> = None;
        let mut js = jetstream::new(client);
        js.set_timeout(config.ack_timeout);
        let subject = subject(&config.sensor);
        let mut backoff = Backoff::new(config.min_backoff, config.max_backoff);
        let batch_size = config.batch.max(1);
        tracing::info!(url = %config.url, subject, cursor, "forwarding to NATS JetStream");
        loop {
            if last_status.is_none_or(|t| t.elapsed() >= config.status_period) {
                last_status = Some(Instant::now());
                publish_status(&status_client, &status_subject, &store, &config.sensor).await?;
            }
            let batch = with_store(&store, move |s| s.events_after(cursor, batch_size)).await?;
            if batch.is_empty() {
                tokio::select! {
                    () = &mut stop => return Ok(()),
                    () = tokio::time::sleep(config.poll) => continue,
                }
            }
            let full = batch.len() == batch_size;
            let round = tokio::select! {
                () = &mut stop => return Ok(()),
                round = publish(&js, &subject, &batch, &self.stats) => round,
            };
            if let Some(last) = round.acked {
                with_store(&store, move |s| s.set_cursor(FORWARDED_CURSOR, last)).await?;
                let moved = batch.iter().filter(|e| e.seq > cursor && e.seq <= last).count();
                self.stats.forwarded.fetch_add(moved as u64, Ordering::Relaxed);
                self.stats.cursor.store(u64::try_from(last).unwrap_or(0), Ordering::Relaxed);
                cursor = last;
            }
            let wait = match round.error {
                Some(error) => {
                    self.stats.failures.fetch_add(1, Ordering::Relaxed);
                    let delay = backoff.next_delay();
                    let spooled = with_store(&store, move |s| s.count_after(cursor)).await?;
                    tracing::warn!(
                        %error,
                        cursor,
                        spooled,
                        retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "forwarding failed; events stay spooled"
                    );
                    Some(delay)
                }
                None => {
                    backoff.reset();
                    (!full).then_some(config.poll)
                }
            };
            if let Some(wait) = wait {
                tokio::select! {
                    () = &mut stop => return Ok(()),
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Publishes the sensor's latest heartbeat (core NATS, no ack: the next one replaces it).
/// Skipped while disconnected, so heartbeats never queue up behind an outage.
async fn publish_status(
    client: &async_nats::Client,
    subject: &str,
    store: &Shared,
    sensor: &SensorName,
) -> Result<(), ForwardError> {
    if client.connection_state() != async_nats::connection::State::Connected {
        return Ok(());
    }
    let name = sensor.as_str().to_owned();
    let status = with_store(store, move |s| {
        Ok(s.sensor_statuses()?.into_iter().find(|st| st.sensor == name))
    })
    .await?;
    let Some(status) = status else { return Ok(()) };
    match serde_json::to_vec(&status) {
        Ok(json) => {
            if let Err(error) = client.publish(subject.to_owned(), json.into()).await {
                tracing::debug!(%error, "heartbeat not published");
            }
        }
        Err(error) => tracing::warn!(%error, "heartbeat not encodable"),
    }
    Ok(())
}

/// One publishing round: the last row of the acknowledged prefix, and the failure that ended
/// the round early (if any).
struct Round {
    acked: Option<i64>,
    error: Option<String>,
}

/// Publishes the batch pipelined, then awaits the acknowledgements in order. The cursor may
/// only move over an unbroken prefix of acknowledged events; anything after the first
/// failure is sent again next round (JetStream drops the repeats by `Nats-Msg-Id`).
async fn publish(
    js: &jetstream::Context,
    subject: &str,
    batch: &[SpooledEvent],
    stats: &ForwardStats,
) -> Round {
    let mut pending: Vec<(i64, Option<PublishAckFuture>)> = Vec::with_capacity(batch.len());
    let mut error = None;
    for event in batch {
        if !sendable(event) {
            stats.skipped.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                seq = event.seq,
                bytes = event.json.len(),
                "event cannot be forwarded (oversized or odd id); skipped"
            );
            pending.push((event.seq, None));
            continue;
        }
        let message =
            PublishMessage::build().payload(Bytes::from(event.json.clone())).message_id(&event.id);
        match js.send_publish(subject.to_owned(), message).await {
            Ok(ack) => pending.push((event.seq, Some(ack))),
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
    }
    let mut acked = None;
    for (seq, ack) in pending {
        match ack {
            None => acked = Some(seq),
            Some(ack) => match ack.await {
                Ok(ack) => {
                    if ack.duplicate {
                        stats.duplicates.fetch_add(1, Ordering::Relaxed);
                    }
                    acked = Some(seq);
                }
                Err(e) => return Round { acked, error: Some(e.to_string()) },
            },
        }
    }
    Round { acked, error }
}

/// An event the transport can carry: bounded payload, an id that is a plain header value.
fn sendable(event: &SpooledEvent) -> bool {
    event.json.len() <= MAX_EVENT_BYTES
        && !event.id.is_empty()
        && event.id.len() <= MAX_ID_BYTES
        && event.id.bytes().all(|b| b.is_ascii_graphic())
}

/// Runs a store call on the blocking pool (SQLite calls block).
async fn with_store<T: Send + 'static>(
    store: &Shared,
    f: impl FnOnce(&mut SqliteStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ForwardError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard =
            store.lock().map_err(|_| ForwardError::Task("store lock poisoned".into()))?;
        f(&mut guard).map_err(ForwardError::from)
    })
    .await
    .map_err(|e| ForwardError::Task(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(id: &str, bytes: usize, expect: bool) {
        let event = SpooledEvent { seq: 1, id: id.to_owned(), json: "x".repeat(bytes) };
        assert_eq!(sendable(&event), expect, "{id:?} {bytes}");
    }

    #[test]
    fn nats_addresses() {
        for (url, ok) in [
            ("nats://127.0.0.1:4222", true),
            ("tls://nats.example.org:4222", true),
            ("nats://", false),
            ("http://127.0.0.1:4222", false),
            ("127.0.0.1:4222", false),
            ("nats://a b", false),
        ] {
            assert_eq!(check_url(url).is_ok(), ok, "{url}");
        }
    }

    #[test]
    fn only_bounded_events_with_plain_ids_are_sent() {
        check("0190b1c2-7d4e-7abc-8def-0123456789ab", 100, true);
        check("a", MAX_EVENT_BYTES, true);
        check("a", MAX_EVENT_BYTES + 1, false);
        check("", 10, false);
        check("a\r\nNats-Msg-Id: b", 10, false);
        check("a b", 10, false);
        check(&"a".repeat(MAX_ID_BYTES + 1), 10, false);
    }
}
