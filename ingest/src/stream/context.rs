//! The consumer context: on every partition assignment, the offsets come from the table
//! (`hsi.kafka.offsets`), not from Kafka's group offsets.
//!
//! `rebalance` is overridden so the offsets are set in the assignment itself before
//! `assign()` — no window in which the consumer fetches from the group's committed offsets.
//! The table is read synchronously from inside the callback (`block_in_place`), so the loop
//! must run on a multi-threaded runtime's worker thread. The main loop learns about each
//! assignment or revocation through [`RebalanceEvent`]s.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaResult;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;

use crate::error::Result;

/// Reads the table-held offsets of the given partitions.
pub type OffsetSource = Arc<dyn Fn() -> Result<BTreeMap<i32, i64>> + Send + Sync>;

/// What the main loop must react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebalanceEvent {
    /// Partitions assigned, with the table offset each was positioned at (`None` = the table
    /// has none: from the beginning).
    Assigned(Vec<(i32, Option<i64>)>),
    /// Every partition revoked (eager protocol): drop uncommitted work.
    Revoked,
    /// The table could not be read during an assignment: the loop must stop (a restart
    /// retries; nothing uncommitted is lost).
    Failed(String),
}

/// The context (see the module docs).
pub struct IngestContext {
    topic: String,
    offsets: OffsetSource,
    events: Mutex<Vec<RebalanceEvent>>,
}

impl IngestContext {
    /// A context for `topic` reading offsets through `offsets`.
    pub fn new(topic: String, offsets: OffsetSource) -> Self {
        IngestContext {
            topic,
            offsets,
            events: Mutex::new(Vec::new()),
        }
    }

    /// Take the events since the last call.
    pub fn take_events(&self) -> Vec<RebalanceEvent> {
        self.events
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default()
    }

    fn push(&self, e: RebalanceEvent) {
        if let Ok(mut events) = self.events.lock() {
            events.push(e);
        }
    }
}

impl ClientContext for IngestContext {}

impl ConsumerContext for IngestContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let table = match (self.offsets)() {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read table offsets on assignment");
                        self.push(RebalanceEvent::Failed(e.to_string()));
                        // Assign nothing: the loop stops, and the group rebalances without us.
                        let _ = consumer.assign(&TopicPartitionList::new());
                        return;
                    }
                };
                let mut assigned = Vec::new();
                for el in tpl.elements() {
                    if el.topic() != self.topic {
                        continue;
                    }
                    assigned.push((el.partition(), table.get(&el.partition()).copied()));
                }
                for (p, o) in &assigned {
                    let offset = o.map_or(Offset::Beginning, Offset::Offset);
                    if let Err(e) = tpl.set_partition_offset(&self.topic, *p, offset) {
                        tracing::error!(partition = p, error = %e, "cannot set the start offset");
                    }
                }
                tracing::info!(topic = %self.topic, partitions = ?assigned, "assigned; positioned at the table's offsets");
                if let Err(e) = consumer.assign(tpl) {
                    self.push(RebalanceEvent::Failed(format!("assign: {e}")));
                    return;
                }
                self.push(RebalanceEvent::Assigned(assigned));
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                tracing::info!(topic = %self.topic, "partitions revoked");
                let _ = consumer.unassign();
                self.push(RebalanceEvent::Revoked);
            }
            other => {
                tracing::error!(error = ?other, "rebalance error");
                let _ = consumer.unassign();
                self.push(RebalanceEvent::Revoked);
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(e) = result {
            tracing::debug!(error = %e, "group offset commit (lag only) failed");
        }
    }
}
