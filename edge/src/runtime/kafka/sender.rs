//! The sender: outbox → librdkafka → delivery report → outbox ack.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender as ChannelSender, sync_channel};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use super::client_config;
use crate::runtime::config::KafkaConfig;
use crate::runtime::error::{Error, Result};
use crate::runtime::metrics::{Health, Metrics};
use crate::runtime::outbox::{ChunkId, Outbox, PendingChunk};
use crate::runtime::state::StateStore;

/// How long a stopping sender waits for outstanding delivery reports.
const FLUSH_ON_STOP: Duration = Duration::from_secs(10);
/// Poll step of the loop.
const STEP: Duration = Duration::from_millis(50);

struct Delivery {
    token: usize,
    outcome: std::result::Result<(), String>,
}

/// Routes delivery reports to the sender loop.
struct DeliveryContext {
    tx: ChannelSender<Delivery>,
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, token: usize) {
        let outcome = match result {
            Ok(_) => Ok(()),
            Err((e, _)) => Err(e.to_string()),
        };
        // The loop owns the receiver for as long as the producer lives.
        let _ = self.tx.send(Delivery { token, outcome });
    }
}

/// Counts of one sender run (also exported as metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Chunks acknowledged.
    pub chunks: u64,
    /// Payload bytes acknowledged.
    pub bytes: u64,
    /// Failed deliveries (re-sent later).
    pub errors: u64,
    /// Cubes whose every chunk was acknowledged.
    pub cubes: u64,
}

/// Drains the outbox into Kafka.
pub struct Sender {
    cfg: KafkaConfig,
    outbox: Arc<Outbox>,
    state: Arc<StateStore>,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

struct Session {
    producer: ThreadedProducer<DeliveryContext>,
    rx: Receiver<Delivery>,
    in_flight: HashMap<usize, (ChunkId, u64)>,
}

impl Sender {
    /// A sender; nothing connects until [`Sender::run`].
    pub fn new(
        cfg: KafkaConfig,
        outbox: Arc<Outbox>,
        state: Arc<StateStore>,
        metrics: Arc<Metrics>,
        health: Arc<Health>,
    ) -> Self {
        Sender {
            cfg,
            outbox,
            state,
            metrics,
            health,
        }
    }

    fn connect(&self) -> Result<Session> {
        // Room for every in-flight report plus slack, so the callback never blocks for long.
        let (tx, rx) = sync_channel(self.cfg.max_in_flight * 2 + 16);
        let producer = client_config(&self.cfg)
            .create_with_context(DeliveryContext { tx })
            .map_err(|e| self.kafka_error(None, e.to_string(), false))?;
        Ok(Session {
            producer,
            rx,
            in_flight: HashMap::new(),
        })
    }

    fn kafka_error(&self, cube: Option<&str>, reason: String, retryable: bool) -> Error {
        Error::Kafka {
            topic: self.cfg.topic.clone(),
            cube: cube.map(str::to_owned),
            reason,
            retryable,
        }
    }

    /// Run until `shutdown` is set; then wait (bounded) for outstanding reports and return.
    pub fn run(&self, shutdown: &AtomicBool) -> Result<DeliveryStats> {
        let mut stats = DeliveryStats::default();
        let mut session = self.connect()?;
        let mut next_token = 0usize;
        let mut retry_at: Option<Instant> = None;
        loop {
            self.health.beat_sender();
            if let Some((code, reason)) = session.producer.client().fatal_error() {
                // An idempotent producer that hit a fatal error must be replaced; the chunks it
                // held are still in the outbox and go out through the new one.
                tracing::error!(
                    ?code,
                    reason,
                    "fatal Kafka producer error: new producer session"
                );
                self.metrics.delivery_errors.inc();
                stats.errors += 1;
                drop(session);
                session = self.connect()?;
                retry_at = Some(Instant::now() + self.cfg.retry_backoff);
            }
            while let Ok(d) = session.rx.try_recv() {
                self.settle(&mut session, d, &mut stats, &mut retry_at)?;
            }
            let stopping = shutdown.load(Ordering::Relaxed);
            if stopping {
                break;
            }
            let can_send = retry_at.is_none_or(|t| Instant::now() >= t);
            let room = self
                .cfg
                .max_in_flight
                .saturating_sub(session.in_flight.len());
            if can_send && room > 0 {
                retry_at = None;
                let skip: HashSet<ChunkId> = session.in_flight.values().map(|v| v.0).collect();
                for chunk in self.outbox.next_pending(&skip, room) {
                    match self.produce(&session, &chunk, next_token) {
                        Ok(true) => {
                            session
                                .in_flight
                                .insert(next_token, (chunk.id, chunk.bytes));
                            next_token = next_token.wrapping_add(1);
                        }
                        Ok(false) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot hand a chunk to Kafka; retrying later");
                            self.metrics.delivery_errors.inc();
                            stats.errors += 1;
                            retry_at = Some(Instant::now() + self.cfg.retry_backoff);
                            break;
                        }
                    }
                }
            }
            match session.rx.recv_timeout(STEP) {
                Ok(d) => self.settle(&mut session, d, &mut stats, &mut retry_at)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.kafka_error(None, "delivery channel closed".into(), true));
                }
            }
        }
        // Stopping: let outstanding deliveries report so their chunks can leave the outbox.
        let deadline = Instant::now() + FLUSH_ON_STOP;
        while !session.in_flight.is_empty() && Instant::now() < deadline {
            match session.rx.recv_timeout(STEP) {
                Ok(d) => self.settle(&mut session, d, &mut stats, &mut retry_at)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        if !session.in_flight.is_empty() {
            tracing::info!(
                chunks = session.in_flight.len(),
                "stopping with unacknowledged chunks; they stay in the outbox"
            );
        }
        Ok(stats)
    }

    /// Hand one chunk to librdkafka. `Ok(false)`: its queue is full, try again later.
    fn produce(&self, session: &Session, chunk: &PendingChunk, token: usize) -> Result<bool> {
        let payload = match self.outbox.read(chunk) {
            Ok(p) => p,
            Err(e @ Error::Corrupt { .. }) => {
                self.metrics.quarantined.inc();
                self.outbox.quarantine(chunk.id.seq, &e.to_string())?;
                return Ok(true);
            }
            Err(e) => return Err(e),
        };
        let mut headers = OwnedHeaders::new();
        for (key, value) in chunk.meta.headers() {
            headers = headers.insert(Header {
                key,
                value: Some(value.as_bytes()),
            });
        }
        let record = BaseRecord::with_opaque_to(&self.cfg.topic, token)
            .key(chunk.meta.cube_id.as_bytes())
            .payload(&payload)
            .headers(headers);
        match session.producer.send(record) {
            Ok(()) => Ok(true),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => Ok(false),
            Err((e, _)) => Err(self.kafka_error(Some(&chunk.meta.cube_id), e.to_string(), true)),
        }
    }

    /// Apply one delivery report: ack the chunk (and finish its cube) or schedule a re-send.
    fn settle(
        &self,
        session: &mut Session,
        d: Delivery,
        stats: &mut DeliveryStats,
        retry_at: &mut Option<Instant>,
    ) -> Result<()> {
        let Some((id, bytes)) = session.in_flight.remove(&d.token) else {
            return Ok(());
        };
        match d.outcome {
            Ok(()) => {
                stats.chunks += 1;
                stats.bytes += bytes;
                self.metrics.chunks_sent.inc();
                self.metrics.bytes_sent.inc_by(bytes);
                if let Some(drained) = self.outbox.ack(id)? {
                    let now = chrono::Utc::now();
                    self.state.update(&drained.source, |r| {
                        r.sent_at = Some(now);
                        r.cube_id.get_or_insert(drained.cube_id.clone());
                    })?;
                    self.outbox.remove_drained(drained.seq)?;
                    self.metrics.cubes_sent.inc();
                    stats.cubes += 1;
                    tracing::info!(cube_id = %drained.cube_id, "cube sent: every chunk acknowledged");
                }
            }
            Err(reason) => {
                stats.errors += 1;
                self.metrics.delivery_errors.inc();
                tracing::warn!(
                    seq = id.seq,
                    chunk = id.index,
                    reason,
                    "Kafka delivery failed; the chunk stays in the outbox"
                );
                *retry_at = Some(Instant::now() + self.cfg.retry_backoff);
            }
        }
        Ok(())
    }
}
