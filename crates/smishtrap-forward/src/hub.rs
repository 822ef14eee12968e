//! The hub side (cargo feature `hub`): events from the JetStream stream into PostgreSQL.
//!
//! Several hubs may pull from the same durable consumer: JetStream hands each message to one
//! of them at a time, and the insert is idempotent (event ids are unique), so a message
//! redelivered after a hub died before its ack is stored once.
//!
//! Heartbeats (`smishtrap.status.<sensor>`, core NATS) go to one hub of the queue group and
//! into the fleet table ([`PostgresFleet`]); one whose `sensor` does not name its subject's
//! sensor is rejected and counted like a forged event.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, consumer, message::AckKind};
use futures_util::StreamExt;
use smishtrap_event::Event;
use smishtrap_event::{SCHEMA_VERSION, SensorStatus};
use smishtrap_store::{MAX_HEARTBEAT_BYTES, PostgresFleet, PostgresStore};
use tokio::sync::{mpsc, oneshot};

use crate::{
    Backoff, MAX_EVENT_BYTES, STATUS_PREFIX, SensorName, ensure_stream, sensor_of_subject,
};

/// How the hub consumes.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Durable consumer name, shared by every hub of one deployment.
    pub consumer: String,
    /// Most messages per fetch (one PostgreSQL transaction).
    pub batch: usize,
    /// How long a fetch waits for messages.
    pub fetch_wait: Duration,
    /// How long JetStream waits for an ack before redelivering (to another hub).
    pub ack_wait: Duration,
    /// The stream's deduplication window on `Nats-Msg-Id` (used when creating it).
    pub duplicate_window: Duration,
    /// First retry delay after a failure; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            consumer: "smishtrap-hub".into(),
            batch: 256,
            fetch_wait: Duration::from_secs(1),
            ack_wait: Duration::from_secs(30),
            duplicate_window: Duration::from_secs(120),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Why the hub stopped (transport and database failures are retried, never returned).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// The stream or the consumer cannot be created or read.
    #[error("jetstream {operation}: {message}")]
    JetStream {
        /// What was tried.
        operation: &'static str,
        /// The server's or client's message.
        message: String,
    },
    /// The PostgreSQL thread cannot be started.
    #[error("cannot start the PostgreSQL writer thread: {0}")]
    Thread(std::io::Error),
    /// The NATS connection cannot be set up.
    #[error(transparent)]
    Connect(#[from] crate::ForwardError),
}

/// What the hub did, for logs and tests.
#[derive(Debug, Default)]
pub struct HubStats {
    /// Events newly stored.
    pub inserted: AtomicU64,
    /// Events already stored (redeliveries, repeats); acked, not stored again.
    pub duplicates: AtomicU64,
    /// Events whose `sensor` field does not name their subject's sensor; terminated.
    pub rejected_sensor: AtomicU64,
    /// Messages that are not an event (oversized, undecodable, bad subject); terminated.
    pub malformed: AtomicU64,
    /// Failed rounds (fetch or database), each followed by back-off.
    pub failures: AtomicU64,
    /// Deliveries of events with a newer schema than this hub reads: left in the stream
    /// (redelivered later) until a newer hub stores them. Upgrade hubs before sensors.
    pub newer_schema: AtomicU64,
    /// Heartbeats stored.
    pub heartbeats: AtomicU64,
    /// Heartbeats refused (undecodable, oversized, or naming another sensor than their
    /// subject), or dropped because the fleet writer was busy.
    pub heartbeats_rejected: AtomicU64,
}

/// Consumes the stream into PostgreSQL.
#[derive(Debug)]
pub struct Hub {
    consumer: consumer::PullConsumer,
    store: StoreThread,
    config: HubConfig,
    stats: Arc<HubStats>,
    client: async_nats::Client,
    heartbeats: Option<(async_nats::Subscriber, mpsc::Sender<SensorStatus>)>,
}

impl Hub {
    /// Connects to NATS (see [`crate::connect`]), then [`Hub::start`].
    pub async fn connect(
        url: &str,
        credentials: Option<&std::path::Path>,
        ca: Option<&std::path::Path>,
        store: PostgresStore,
        config: HubConfig,
    ) -> Result<Hub, HubError> {
        let client = crate::connect(url, credentials, ca, "smishtrap-hub", None).await?;
        Hub::start(&jetstream::new(client), store, config).await
    }

    /// Ensures stream and durable consumer exist; ingestion starts with [`Hub::run`].
    pub async fn start(
        js: &jetstream::Context,
        store: PostgresStore,
        config: HubConfig,
    ) -> Result<Hub, HubError> {
        // NATS may come up after the hub (the connection is retried in the background).
        let mut backoff = Backoff::new(config.min_backoff, config.max_backoff);
        let stream = loop {
            match ensure_stream(js, config.duplicate_window).await {
                Ok(stream) => break stream,
                Err(error) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(
                        %error,
                        retry_in_ms = delay.as_millis() as u64,
                        "cannot create or read the stream yet"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        };
        let consumer = stream
            .get_or_create_consumer(
                &config.consumer,
                consumer::pull::Config {
                    durable_name: Some(config.consumer.clone()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: config.ack_wait,
                    max_ack_pending: 10_000,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| HubError::JetStream {
                operation: "create consumer",
                message: e.to_string(),
            })?;
        Ok(Hub {
            consumer,
            store: StoreThread::spawn(store)?,
            config,
            stats: Arc::new(HubStats::default()),
            client: js.client(),
            heartbeats: None,
        })
    }

    /// Also stores the sensors' heartbeats (one hub of the consumer's queue group gets each).
    pub async fn with_heartbeats(mut self, mut fleet: PostgresFleet) -> Result<Hub, HubError> {
        let subscriber = self
            .client
            .queue_subscribe(format!("{STATUS_PREFIX}.>"), self.config.consumer.clone())
            .await
            .map_err(|e| HubError::JetStream {
                operation: "subscribe to heartbeats",
                message: e.to_string(),
            })?;
        let (sender, mut incoming) = mpsc::channel::<SensorStatus>(64);
        let stats = self.stats.clone();
        std::thread::Builder::new()
            .name("hub-fleet".into())
            .spawn(move || {
                while let Some(status) = incoming.blocking_recv() {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
                    match fleet.put_heartbeat(&status, now) {
                        Ok(()) => {
                            stats.heartbeats.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(error) => tracing::warn!(%error, "cannot store a heartbeat"),
                    }
                }
            })
            .map_err(HubError::Thread)?;
        self.heartbeats = Some((subscriber, sender));
        Ok(self)
    }

    /// Live counters.
    pub fn stats(&self) -> Arc<HubStats> {
        self.stats.clone()
    }

    /// Ingests until `stop` resolves.
    pub async fn run(mut self, stop: impl Future<Output = ()>) -> Result<(), HubError> {
        tokio::pin!(stop);
        let heartbeats = self.heartbeats.take().map(|(subscriber, sender)| {
            tokio::spawn(take_heartbeats(subscriber, sender, self.stats.clone()))
        });
        let result = self.ingest(&mut stop).await;
        if let Some(task) = heartbeats {
            task.abort();
        }
        result
    }

    async fn ingest(
        &self,
        stop: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> Result<(), HubError> {
        let mut backoff = Backoff::new(self.config.min_backoff, self.config.max_backoff);
        loop {
            let round = tokio::select! {
                () = stop.as_mut() => return Ok(()),
                round = self.round() => round,
            };
            if let Err(error) = round {
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                let delay = backoff.next_delay();
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "hub round failed");
                tokio::select! {
                    () = stop.as_mut() => return Ok(()),
                    () = tokio::time::sleep(delay) => {}
                }
            } else {
                backoff.reset();
            }
        }
    }

    /// One fetch: classify, store the good events in one transaction, then ack.
    async fn round(&self) -> Result<(), String> {
        let mut messages = self
            .consumer
            .fetch()
            .max_messages(self.config.batch.max(1))
            .expires(self.config.fetch_wait)
            .messages()
            .await
            .map_err(|e| format!("fetch: {e}"))?;
        let mut good = Vec::new();
        let mut events = Vec::new();
        while let Some(message) = messages.next().await {
            let message = message.map_err(|e| format!("fetch: {e}"))?;
            match classify(&message.subject, &message.payload) {
                Ok(event) => {
                    events.push(event);
                    good.push(message);
                }
                Err(Reject::NewerSchema(schema)) => {
                    let total = self.stats.newer_schema.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::warn!(
                        subject = %message.subject.escape_debug(),
                        schema,
                        supported = SCHEMA_VERSION,
                        total,
                        "event of a newer schema left in the stream: upgrade the hub"
                    );
                    message
                        .ack_with(AckKind::Nak(Some(NEWER_SCHEMA_RETRY)))
                        .await
                        .map_err(|e| format!("nak newer event: {e}"))?;
                }
                Err(reject) => {
                    let counter = match reject {
                        Reject::ForgedSensor { .. } => &self.stats.rejected_sensor,
                        Reject::Malformed(_) | Reject::NewerSchema(_) => &self.stats.malformed,
                    };
                    let total = counter.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::warn!(
                        subject = %message.subject.escape_debug(),
                        reason = %reject,
                        total,
                        "event rejected"
                    );
                    // Term: never redelivered; the event stays in the stream for inspection.
                    message
                        .ack_with(AckKind::Term)
                        .await
                        .map_err(|e| format!("terminate rejected message: {e}"))?;
                }
            }
        }
        if events.is_empty() {
            return Ok(());
        }
        let count = events.len();
        let inserted = self.store.insert(events).await;
        let inserted = match inserted {
            Ok(n) => n,
            Err(e) => {
                // Not acked: redelivered after a short delay, to this or another hub.
                for message in &good {
                    let _ = message.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await;
                }
                return Err(format!("insert: {e}"));
            }
        };
        self.stats.inserted.fetch_add(inserted as u64, Ordering::Relaxed);
        self.stats.duplicates.fetch_add((count - inserted) as u64, Ordering::Relaxed);
        for message in &good {
            // A lost ack means a redelivery, which the idempotent insert absorbs.
            message.ack().await.map_err(|e| format!("ack: {e}"))?;
        }
        Ok(())
    }
}

/// The PostgreSQL client blocks (and must not be used or dropped inside the runtime), so it
/// lives on its own thread; one batch at a time goes there through a bounded channel.
#[derive(Debug)]
struct StoreThread {
    requests: mpsc::Sender<InsertRequest>,
}

/// A batch to store and where to send how many were new.
type InsertRequest = (Vec<Event>, oneshot::Sender<Result<usize, String>>);

impl StoreThread {
    fn spawn(mut store: PostgresStore) -> Result<StoreThread, HubError> {
        let (requests, mut incoming) = mpsc::channel::<InsertRequest>(1);
        std::thread::Builder::new()
            .name("hub-postgres".into())
            .spawn(move || {
                // Ends (dropping the client here, off the runtime) when the hub is dropped.
                while let Some((events, reply)) = incoming.blocking_recv() {
                    let _ = reply.send(store.insert_batch(&events).map_err(|e| e.to_string()));
                }
            })
            .map_err(HubError::Thread)?;
        Ok(StoreThread { requests })
    }

    /// Stores the batch in one transaction; how many events were new.
    async fn insert(&self, events: Vec<Event>) -> Result<usize, String> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send((events, reply))
            .await
            .map_err(|_| "postgres writer thread ended".to_owned())?;
        answer.await.map_err(|_| "postgres writer thread ended".to_owned())?
    }
}

/// Checks each heartbeat and hands it to the fleet writer (dropped when it is busy: the
/// next heartbeat replaces it anyway).
async fn take_heartbeats(
    mut subscriber: async_nats::Subscriber,
    sender: mpsc::Sender<SensorStatus>,
    stats: Arc<HubStats>,
) {
    while let Some(message) = subscriber.next().await {
        match classify_heartbeat(&message.subject, &message.payload) {
            Some(status) => {
                if sender.try_send(status).is_err() {
                    stats.heartbeats_rejected.fetch_add(1, Ordering::Relaxed);
                }
            }
            None => {
                let total = stats.heartbeats_rejected.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(
                    subject = %message.subject.escape_debug(),
                    total,
                    "heartbeat rejected"
                );
            }
        }
    }
}

/// The heartbeat of a message, if it is one from the sensor its subject names.
fn classify_heartbeat(subject: &str, payload: &[u8]) -> Option<SensorStatus> {
    let rest = subject.strip_prefix(STATUS_PREFIX)?.strip_prefix('.')?;
    let sensor = SensorName::parse(rest).ok()?;
    if payload.len() > MAX_HEARTBEAT_BYTES {
        return None;
    }
    let status: SensorStatus = serde_json::from_slice(payload).ok()?;
    (status.sensor == sensor.as_str()).then_some(status)
}

/// Why a message is refused for good.
#[derive(Debug, thiserror::Error)]
enum Reject {
    #[error("event sensor {claimed:?} does not match the subject's sensor {subject:?}")]
    ForgedSensor { claimed: String, subject: String },
    #[error("{0}")]
    Malformed(String),
    /// Not refused for good: redelivered until a hub that reads this schema takes it.
    #[error("event schema {0} is newer than this hub's")]
    NewerSchema(u32),
}

/// How long an event of a newer schema waits before it is delivered again.
const NEWER_SCHEMA_RETRY: Duration = Duration::from_secs(60);

/// The event of a message, if it is one from the sensor its subject names.
fn classify(subject: &str, payload: &[u8]) -> Result<Event, Reject> {
    let sensor = sensor_of_subject(subject)
        .ok_or_else(|| Reject::Malformed("subject does not name a valid sensor".into()))?;
    if payload.len() > MAX_EVENT_BYTES {
        return Err(Reject::Malformed(format!("payload of {} bytes", payload.len())));
    }
    // The version first: a newer event may not decode as this hub's `Event` at all.
    let value: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| Reject::Malformed(format!("not an event: {e}")))?;
    let schema = value.get("schema").and_then(serde_json::Value::as_u64).unwrap_or(0);
    if schema > u64::from(SCHEMA_VERSION) {
        return Err(Reject::NewerSchema(u32::try_from(schema).unwrap_or(u32::MAX)));
    }
    if schema == 0 {
        return Err(Reject::Malformed("event without a schema version".into()));
    }
    let event: Event = serde_json::from_value(value)
        .map_err(|e| Reject::Malformed(format!("not an event: {e}")))?;
    if event.sensor != sensor.as_str() {
        let claimed: String = event.sensor.chars().take(80).collect();
        return Err(Reject::ForgedSensor { claimed, subject: sensor.as_str().to_owned() });
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_json(sensor: &str) -> String {
        let mut value: serde_json::Value =
            serde_json::from_str(include_str!("../tests/data/event.json")).unwrap();
        value["sensor"] = sensor.into();
        value.to_string()
    }

    #[track_caller]
    fn check(subject: &str, payload: &str, expect: &str) {
        let got = match classify(subject, payload.as_bytes()) {
            Ok(event) => format!("ok {}", event.sensor),
            Err(Reject::ForgedSensor { .. }) => "forged".to_owned(),
            Err(Reject::Malformed(_)) => "malformed".to_owned(),
            Err(Reject::NewerSchema(n)) => format!("newer {n}"),
        };
        assert_eq!(got, expect, "{subject} {payload}");
    }

    #[test]
    fn classification() {
        check("smishtrap.events.be-01", &event_json("be-01"), "ok be-01");
        check("smishtrap.events.be-01", &event_json("be-02"), "forged");
        check("smishtrap.events.be-01", &event_json("be-01\n"), "forged");
        check("smishtrap.events.be.01", &event_json("be"), "malformed");
        check("smishtrap.events.be-01", "{}", "malformed");
        check("smishtrap.events.be-01", "not json", "malformed");
        check("smishtrap.events.be-01", &" ".repeat(MAX_EVENT_BYTES + 1), "malformed");
        let mut newer: serde_json::Value = serde_json::from_str(&event_json("be-01")).unwrap();
        newer["schema"] = 2.into();
        newer["http"] = "reshaped in v2".into();
        check("smishtrap.events.be-01", &newer.to_string(), "newer 2");
        newer["schema"] = 0.into();
        check("smishtrap.events.be-01", &newer.to_string(), "malformed");
    }

    /// A v1 event as the first forwarding sensors (0.1) wrote it, byte for byte: every
    /// later hub must keep storing it.
    #[test]
    fn v1_events_of_older_sensors_are_accepted() {
        let fixture = include_str!("../tests/data/event-v1.json");
        let got = classify("smishtrap.events.sensor-eu-1", fixture.as_bytes());
        let event = got.unwrap_or_else(|e| panic!("v1 fixture refused: {e}"));
        assert_eq!(event.schema, 1);
        assert_eq!(event.id, "1086df390-0");
    }

    #[test]
    fn heartbeats_name_their_sensor() {
        let status = |sensor: &str| {
            serde_json::json!({
                "sensor": sensor, "listeners": [], "started_at": "2026-12-06T10:00:00Z",
                "updated_at": "2026-12-06T10:00:05Z", "events_recorded": 1,
                "events_not_recorded": 0
            })
            .to_string()
        };
        let ok = |subject: &str, payload: &str| {
            classify_heartbeat(subject, payload.as_bytes()).is_some()
        };
        assert!(ok("smishtrap.status.be-01", &status("be-01")));
        assert!(!ok("smishtrap.status.be-01", &status("be-02")));
        assert!(!ok("smishtrap.status.be.01", &status("be")));
        assert!(!ok("smishtrap.status.be-01", "{}"));
        assert!(!ok("smishtrap.status.be-01", &" ".repeat(MAX_HEARTBEAT_BYTES + 1)));
    }
}
