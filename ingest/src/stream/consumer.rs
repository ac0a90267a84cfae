//! The Kafka → Silver loop (see [`super`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use hsi_edge::chunk::{ChunkMeta, decode};
use hsi_lakehouse::LakeCatalog;
use hsi_lakehouse::silver::evolve_bands;
use hsi_lakehouse::table::{PlannedOutcome, commit_planned};
use iceberg::TableIdent;
use rdkafka::ClientConfig;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::config::{Assignment, StreamConfig};
use super::context::{IngestContext, RebalanceEvent};
use super::offsets::table_offsets;
use super::planner::{PendingChunk, StreamPlanner};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;

/// Header added to dead letters: why the chunk was refused.
pub const DLQ_REASON_HEADER: &str = "hsi-dlq-reason";
/// Header added to dead letters: `topic/partition@offset` of the original record.
pub const DLQ_ORIGIN_HEADER: &str = "hsi-dlq-origin";

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Silver commits.
    pub commits: u64,
    /// Rows committed.
    pub rows: u64,
    /// Batches dropped by the fence.
    pub fenced: u64,
    /// Chunks sent to the dead-letter topic.
    pub dead_letters: u64,
}

#[derive(Default)]
struct Pending {
    chunks: Vec<PendingChunk>,
    rows: usize,
    /// Next offset per partition after the last record taken.
    ends: BTreeMap<i32, i64>,
    since: Option<Instant>,
}

impl Pending {
    fn clear(&mut self) {
        *self = Pending::default();
    }
}

/// The stream consumer.
pub struct StreamIngest {
    catalog: Arc<dyn LakeCatalog>,
    cfg: StreamConfig,
    ident: TableIdent,
    metrics: Metrics,
    stop: Shutdown,
}

impl std::fmt::Debug for StreamIngest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamIngest")
            .field("cfg", &self.cfg)
            .finish()
    }
}

fn ms(d: Duration) -> String {
    d.as_millis().max(1).to_string()
}

async fn load_offsets(
    catalog: &dyn LakeCatalog,
    ident: &TableIdent,
    topic: &str,
    group: &str,
) -> Result<BTreeMap<i32, i64>> {
    let table = catalog.load_table(ident).await.map_err(|e| {
        Error::Lakehouse(hsi_lakehouse::Error::Iceberg {
            context: format!("load {ident}"),
            source: Box::new(e),
        })
    })?;
    Ok(table_offsets(table.metadata(), &ident.to_string(), topic, group)?.0)
}

impl StreamIngest {
    /// A consumer writing to `cfg.table` through `catalog`.
    pub fn new(
        catalog: Arc<dyn LakeCatalog>,
        cfg: StreamConfig,
        metrics: Metrics,
        stop: Shutdown,
    ) -> Self {
        let ident = cfg.table_ident();
        StreamIngest {
            catalog,
            cfg,
            ident,
            metrics,
            stop,
        }
    }

    /// Run until the stop flag is set; commits what is pending before returning. Must run on
    /// a multi-threaded runtime (see [`super::context`]); [`Self::spawn`] takes care of it.
    pub async fn run(self) -> Result<StreamStats> {
        tokio::spawn(self.run_inner())
            .await
            .map_err(|e| Error::config("stream", format!("consumer task failed: {e}")))?
    }

    async fn run_inner(self) -> Result<StreamStats> {
        let handle = tokio::runtime::Handle::current();
        let source = {
            let (catalog, ident) = (Arc::clone(&self.catalog), self.ident.clone());
            let (topic, group) = (self.cfg.topic.clone(), self.cfg.group_id.clone());
            Arc::new(move || {
                tokio::task::block_in_place(|| {
                    handle.block_on(load_offsets(catalog.as_ref(), &ident, &topic, &group))
                })
            })
        };
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", &self.cfg.brokers)
            .set("group.id", &self.cfg.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", ms(self.cfg.session_timeout))
            .set("max.poll.interval.ms", ms(self.cfg.max_poll_interval))
            .set("heartbeat.interval.ms", ms(self.cfg.session_timeout / 5));
        if let Some(id) = &self.cfg.instance_id {
            client.set("group.instance.id", id);
        }
        for (k, v) in &self.cfg.kafka {
            client.set(k, v);
        }
        let consumer: BaseConsumer<IngestContext> = client
            .create_with_context(IngestContext::new(self.cfg.topic.clone(), source))
            .map_err(Error::kafka("create consumer"))?;
        let mut pclient = ClientConfig::new();
        pclient
            .set("bootstrap.servers", &self.cfg.brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all");
        for (k, v) in &self.cfg.kafka {
            pclient.set(k, v);
        }
        let dlq: FutureProducer = pclient
            .create()
            .map_err(Error::kafka("create DLQ producer"))?;
        // The table's offset per assigned partition (what a batch must start from).
        let mut assigned: BTreeMap<i32, Option<i64>> = BTreeMap::new();
        match self.cfg.assignment {
            Assignment::Group => consumer
                .subscribe(&[&self.cfg.topic])
                .map_err(Error::kafka(format!("subscribe {}", self.cfg.topic)))?,
            Assignment::Manual => assigned = self.assign_manually(&consumer).await?,
        }

        let mut stats = StreamStats::default();
        let mut pending = Pending::default();
        // Work left pending by an earlier process (a crash between a Silver commit and its
        // refresh) is picked up at once.
        let mut last_gold: Option<Instant> = None;
        let mut gold_owed = !self.refresh_gold(&mut last_gold).await;
        let mut last_gap: BTreeMap<i32, i64> = BTreeMap::new();
        let mut idle_since = Instant::now();
        loop {
            for ev in consumer.context().take_events() {
                match ev {
                    RebalanceEvent::Assigned(list) => assigned.extend(list),
                    RebalanceEvent::Revoked => {
                        assigned.clear();
                        pending.clear();
                    }
                    RebalanceEvent::Failed(reason) => {
                        return Err(Error::config("stream", format!("rebalance: {reason}")));
                    }
                }
            }
            if !assigned.is_empty() || self.cfg.assignment == Assignment::Manual {
                idle_since = Instant::now();
            } else if let Some(after) = self.cfg.rejoin_idle_after
                && idle_since.elapsed() >= after
            {
                tracing::warn!(
                    idle_s = idle_since.elapsed().as_secs(),
                    "no partition assigned; leaving and re-joining the group"
                );
                consumer.unsubscribe();
                consumer
                    .subscribe(&[&self.cfg.topic])
                    .map_err(Error::kafka(format!("subscribe {}", self.cfg.topic)))?;
                idle_since = Instant::now();
            }
            if self.stop.requested() {
                if pending.rows > 0
                    && self
                        .commit(&consumer, &mut assigned, &mut pending, &mut stats)
                        .await?
                {
                    last_gold = None;
                    let _ = self.refresh_gold(&mut last_gold).await;
                }
                break;
            }
            if let Some(polled) = consumer.poll(Duration::from_millis(100)) {
                match polled {
                    Ok(msg) => {
                        let msg = msg.detach();
                        let p = msg.partition();
                        let off = msg.offset();
                        let Some(start) = assigned.get(&p).copied() else {
                            continue; // not ours (any more)
                        };
                        let expected = pending.ends.get(&p).copied().or(start);
                        if let Some(e) = expected {
                            if off < e {
                                continue; // already taken or committed
                            }
                            if off > e && last_gap.get(&p) != Some(&e) {
                                // Out of sequence (a fetch from before a seek): re-seek once.
                                last_gap.insert(p, e);
                                tracing::warn!(
                                    partition = p,
                                    offset = off,
                                    expected = e,
                                    "offset gap; re-seeking"
                                );
                                let _ = consumer.seek(
                                    &self.cfg.topic,
                                    p,
                                    Offset::Offset(e),
                                    Duration::from_secs(5),
                                );
                                continue;
                            }
                        }
                        let origin = format!("{}/{p}@{off}", self.cfg.topic);
                        let headers: Vec<(&str, Option<&[u8]>)> = msg
                            .headers()
                            .map(|h| h.iter().map(|h| (h.key, h.value)).collect())
                            .unwrap_or_default();
                        let payload = msg.payload().unwrap_or_default();
                        let decoded = ChunkMeta::from_headers(&origin, headers.iter().copied())
                            .and_then(|meta| decode(&origin, meta, payload));
                        match decoded {
                            Ok(chunk) => {
                                pending.rows += chunk.rows;
                                pending.chunks.push(PendingChunk {
                                    meta: chunk.meta,
                                    batches: chunk.batches,
                                });
                            }
                            Err(e) => {
                                self.dead_letter(&dlq, &msg, &origin, &e.to_string())
                                    .await?;
                                stats.dead_letters += 1;
                            }
                        }
                        pending.ends.insert(p, off + 1);
                        pending.since.get_or_insert_with(Instant::now);
                    }
                    Err(e) => {
                        self.metrics.errors.inc();
                        tracing::warn!(error = %e, "poll error");
                    }
                }
            }
            let due = pending.rows >= self.cfg.commit_rows
                || pending
                    .since
                    .is_some_and(|t| t.elapsed() >= self.cfg.commit_interval);
            if due {
                if pending.rows == 0 {
                    // Only dead letters: nothing to commit; their offsets ride with the next rows.
                    pending.since = None;
                } else if self
                    .commit(&consumer, &mut assigned, &mut pending, &mut stats)
                    .await?
                {
                    gold_owed = true;
                }
            }
            // Committed rows reach Gold within `gold_refresh_interval`, also when no further
            // commit follows (a refresh that ran is counted by `refresh_gold`; one that failed
            // stays owed and is retried at the next interval).
            if gold_owed {
                gold_owed = !self.refresh_gold(&mut last_gold).await;
            }
        }
        Ok(stats)
    }

    /// `assignment = "manual"`: assign the configured partitions (or all of the topic's) at the
    /// table-held offsets; no group membership, so no coordinator can withhold a partition.
    async fn assign_manually(
        &self,
        consumer: &BaseConsumer<IngestContext>,
    ) -> Result<BTreeMap<i32, Option<i64>>> {
        let topic = &self.cfg.topic;
        let partitions: Vec<i32> = if self.cfg.partitions.is_empty() {
            let md = consumer
                .fetch_metadata(Some(topic), Duration::from_secs(30))
                .map_err(Error::kafka(format!("metadata of {topic}")))?;
            let mut ps: Vec<i32> = md
                .topics()
                .iter()
                .filter(|t| t.name() == topic && t.error().is_none())
                .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                .collect();
            ps.sort_unstable();
            ps
        } else {
            self.cfg.partitions.clone()
        };
        if partitions.is_empty() {
            return Err(Error::config(
                "stream",
                format!("topic {topic} has no partitions (does it exist?)"),
            ));
        }
        let table = load_offsets(
            self.catalog.as_ref(),
            &self.ident,
            topic,
            &self.cfg.group_id,
        )
        .await?;
        let mut tpl = TopicPartitionList::new();
        let mut assigned = BTreeMap::new();
        for p in partitions {
            let at = table.get(&p).copied();
            tpl.add_partition_offset(topic, p, at.map_or(Offset::Beginning, Offset::Offset))
                .map_err(Error::kafka(format!("offset of {topic}/{p}")))?;
            assigned.insert(p, at);
        }
        consumer
            .assign(&tpl)
            .map_err(Error::kafka(format!("assign {topic}")))?;
        tracing::info!(topic = %topic, partitions = ?assigned, "assigned manually; positioned at the table's offsets");
        Ok(assigned)
    }

    async fn dead_letter(
        &self,
        dlq: &FutureProducer,
        msg: &rdkafka::message::OwnedMessage,
        origin: &str,
        reason: &str,
    ) -> Result<()> {
        tracing::warn!(
            origin,
            reason,
            "chunk refused; sent to the dead-letter topic"
        );
        let mut headers = OwnedHeaders::new();
        if let Some(h) = msg.headers() {
            for h in h.iter() {
                headers = headers.insert(Header {
                    key: h.key,
                    value: h.value,
                });
            }
        }
        headers = headers
            .insert(Header {
                key: DLQ_REASON_HEADER,
                value: Some(reason),
            })
            .insert(Header {
                key: DLQ_ORIGIN_HEADER,
                value: Some(origin),
            });
        let mut record = FutureRecord::to(&self.cfg.dlq_topic)
            .payload(msg.payload().unwrap_or_default())
            .headers(headers);
        if let Some(k) = msg.key() {
            record = record.key(k);
        }
        dlq.send(record, Duration::from_secs(30))
            .await
            .map_err(|(e, _)| {
                Error::kafka(format!("dead-letter {origin} to {}", self.cfg.dlq_topic))(e)
            })?;
        self.metrics.dead_letters.inc();
        Ok(())
    }

    /// Refresh Gold for every pending Silver partition if the interval has passed (errors are
    /// logged and counted: the work stays pending in the tables and the next refresh does it).
    /// Returns whether the work is done (refreshed, or nothing pending, or refreshing is off).
    async fn refresh_gold(&self, last: &mut Option<Instant>) -> bool {
        if !self.cfg.refresh_gold {
            return true;
        }
        if last.is_some_and(|t| t.elapsed() < self.cfg.gold_refresh_interval) {
            return false;
        }
        *last = Some(Instant::now());
        let started = Instant::now();
        let rules = match &self.cfg.breeding_rules {
            Some(p) => hsi_lakehouse::breeding::BreedingRules::from_file(p),
            None => hsi_lakehouse::breeding::BreedingRules::embedded(),
        };
        let result = match rules {
            Ok(rules) => crate::worker::gold::refresh_pending(self.catalog.as_ref(), &rules).await,
            Err(e) => Err(e.into()),
        };
        match result {
            Ok(Some(g)) => {
                self.metrics.gold_refreshes.inc();
                self.metrics
                    .gold_refresh_seconds
                    .observe(started.elapsed().as_secs_f64());
                tracing::info!(
                    partitions = g.partitions,
                    plot_rows = g.plot_rows,
                    silver_snapshot_id = ?g.silver_snapshot_id,
                    seconds = started.elapsed().as_secs_f64(),
                    "Gold refreshed from the stream"
                );
            }
            Ok(None) => {}
            Err(e) => {
                self.metrics.errors.inc();
                tracing::warn!(error = %e, "Gold refresh failed; it stays pending");
                return false;
            }
        }
        true
    }

    /// The fenced commit: only if the table still holds every partition at this batch's start.
    async fn commit(
        &self,
        consumer: &BaseConsumer<IngestContext>,
        assigned: &mut BTreeMap<i32, Option<i64>>,
        pending: &mut Pending,
        stats: &mut StreamStats,
    ) -> Result<bool> {
        let mut gold_due = false;
        let started = Instant::now();
        let starts: BTreeMap<i32, Option<i64>> = pending
            .ends
            .keys()
            .map(|p| (*p, assigned.get(p).copied().flatten()))
            .collect();
        let ends = pending.ends.clone();
        let batches: Vec<RecordBatch> = pending
            .chunks
            .iter()
            .flat_map(|c| c.batches.iter().cloned())
            .collect();
        evolve_bands(self.catalog.as_ref(), &self.ident, &batches).await?;
        let planner = StreamPlanner {
            table: self.ident.to_string(),
            topic: self.cfg.topic.clone(),
            group: self.cfg.group_id.clone(),
            starts,
            ends,
            chunks: &pending.chunks,
        };
        let outcome = commit_planned(self.catalog.as_ref(), &self.ident, &planner).await?;
        match outcome {
            PlannedOutcome::Committed {
                snapshot_id,
                rows_added: rows,
                rows_removed,
                ..
            } => {
                self.metrics.rows.inc_by(rows);
                self.metrics
                    .commit_seconds
                    .observe(started.elapsed().as_secs_f64());
                stats.commits += 1;
                stats.rows += rows;
                let dropped = (pending.rows as u64).saturating_sub(rows);
                self.metrics.stream_rows_dropped.inc_by(dropped);
                tracing::info!(snapshot_id, rows, dropped, rows_removed, offsets = ?pending.ends, "committed to Silver");
                let mut tpl = TopicPartitionList::new();
                for (p, end) in &pending.ends {
                    assigned.insert(*p, Some(*end));
                    let _ = tpl.add_partition_offset(&self.cfg.topic, *p, Offset::Offset(*end));
                }
                // Group offsets are for lag dashboards only; the table is the truth.
                if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
                    tracing::debug!(error = %e, "group offset commit failed");
                }
                pending.clear();
                self.update_lag(consumer, assigned);
                gold_due = true;
            }
            PlannedOutcome::Done { .. } => pending.clear(),
            PlannedOutcome::Refused { reason } => {
                self.metrics.fenced_batches.inc();
                stats.fenced += 1;
                tracing::warn!(%reason, "batch fenced: another writer committed past its start; re-seeking");
                pending.clear();
                let table = load_offsets(
                    self.catalog.as_ref(),
                    &self.ident,
                    &self.cfg.topic,
                    &self.cfg.group_id,
                )
                .await?;
                for (p, at) in assigned.iter_mut() {
                    *at = table.get(p).copied();
                    let offset = at.map_or(Offset::Beginning, Offset::Offset);
                    if let Err(e) =
                        consumer.seek(&self.cfg.topic, *p, offset, Duration::from_secs(5))
                    {
                        tracing::warn!(partition = p, error = %e, "seek failed");
                    }
                }
            }
        }
        Ok(gold_due)
    }

    fn update_lag(
        &self,
        consumer: &BaseConsumer<IngestContext>,
        assigned: &BTreeMap<i32, Option<i64>>,
    ) {
        let mut lag = 0i64;
        for (p, at) in assigned {
            if let Ok((low, high)) =
                consumer.fetch_watermarks(&self.cfg.topic, *p, Duration::from_secs(1))
            {
                lag += high - at.unwrap_or(low);
            }
        }
        self.metrics.lag.set(lag);
    }
}
