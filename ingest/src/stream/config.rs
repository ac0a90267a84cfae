//! `[stream]`: the Kafka → Silver consumer's settings.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The stream consumer (see [`super`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// `host:port[,host:port]`.
    pub brokers: String,
    /// The chunk topic.
    #[serde(default = "default_topic")]
    pub topic: String,
    /// Consumer group (also part of `hsi.kafka.offsets`).
    #[serde(default = "default_group")]
    pub group_id: String,
    /// Dead-letter topic for chunks that are not valid Silver Parquet.
    #[serde(default = "default_dlq")]
    pub dlq_topic: String,
    /// Commit at least this often while rows are pending.
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub commit_interval: Duration,
    /// Commit as soon as this many rows are pending.
    #[serde(default = "default_rows")]
    pub commit_rows: usize,
    /// Kafka session timeout: a consumer that stops heartbeating is out of the group after it.
    #[serde(default = "default_session", with = "humantime_serde")]
    pub session_timeout: Duration,
    /// Longest gap between polls (a commit counts); also the rebalance timeout, i.e. how long
    /// the coordinator waits for members to rejoin. Must be at least `session_timeout`.
    #[serde(default = "default_max_poll", with = "humantime_serde")]
    pub max_poll_interval: Duration,
    /// How partitions are owned: `group` (Kafka consumer-group subscription with rebalances;
    /// the default) or `manual` (this process assigns itself `partitions` — every partition of
    /// the topic when empty — and never joins the group; run one consumer per partition set,
    /// e.g. a StatefulSet ordinal per slice). Both start each partition at the table's
    /// `hsi.kafka.offsets`, and the commit fence keeps overlapping manual consumers exactly-once.
    #[serde(default)]
    pub assignment: Assignment,
    /// `manual` assignment only: the partitions to read (empty: all of the topic's partitions
    /// at start-up; partitions added later need a restart).
    #[serde(default)]
    pub partitions: Vec<i32>,
    /// Static group membership (`group.instance.id`, e.g. the pod name): a restarted consumer
    /// takes its partitions back at once instead of waiting for a rebalance.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// Leave and re-join the group when this consumer has held no partition for this long
    /// (unset: never). A workaround for brokers whose coordinator can stall after members die
    /// (seen with tansu 0.6 after repeated SIGKILLs); leave it unset on MSK, where an idle member
    /// (more consumers than partitions) is normal and re-joining would only cause rebalances.
    #[serde(default, with = "humantime_serde")]
    pub rejoin_idle_after: Option<Duration>,
    /// The Silver table (`namespace.name`).
    #[serde(default = "default_table")]
    pub table: String,
    /// Extra librdkafka properties (e.g. `security.protocol`, `sasl.mechanism` for MSK).
    #[serde(default)]
    pub kafka: BTreeMap<String, String>,
    /// How often streamed data is carried into Gold: after a Silver commit, the Gold tables
    /// are refreshed for every pending Silver partition if this long has passed since the
    /// last refresh (`"0s"` = after every commit). Absent = 10 s. Needs `ref.*` loaded.
    #[serde(default = "default_gold_interval", with = "humantime_serde")]
    pub gold_refresh_interval: Duration,
    /// Refresh Gold from the stream at all.
    #[serde(default = "default_true")]
    pub refresh_gold: bool,
    /// Breeding rules for the Gold refresh; absent = the embedded rules.
    #[serde(default)]
    pub breeding_rules: Option<std::path::PathBuf>,
}

/// See [`StreamConfig::assignment`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Assignment {
    /// Subscribe as a member of `group_id`; the coordinator balances partitions.
    #[default]
    Group,
    /// Assign `partitions` directly; no group membership (offsets still come from the table).
    Manual,
}

fn default_topic() -> String {
    hsi_edge::chunk::DEFAULT_TOPIC.into()
}
fn default_group() -> String {
    "hsi-silver-ingest".into()
}
fn default_dlq() -> String {
    hsi_edge::chunk::DEFAULT_DLQ_TOPIC.into()
}
fn default_interval() -> Duration {
    Duration::from_secs(5)
}
fn default_rows() -> usize {
    500_000
}
fn default_session() -> Duration {
    Duration::from_secs(10)
}
fn default_max_poll() -> Duration {
    Duration::from_secs(60)
}
fn default_gold_interval() -> Duration {
    Duration::from_secs(10)
}
fn default_true() -> bool {
    true
}
fn default_table() -> String {
    "silver.reflectance".into()
}

impl StreamConfig {
    /// Check the settings; the error is a sentence naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.brokers.trim().is_empty() {
            return Err("stream: brokers is empty".into());
        }
        if self.topic == self.dlq_topic {
            return Err("stream: dlq_topic must differ from topic".into());
        }
        if self.commit_interval.is_zero() || self.commit_rows == 0 {
            return Err("stream: commit_interval and commit_rows must be positive".into());
        }
        if self.max_poll_interval < self.session_timeout {
            return Err("stream: max_poll_interval must be at least session_timeout".into());
        }
        if self.assignment == Assignment::Group && !self.partitions.is_empty() {
            return Err("stream: partitions needs assignment = \"manual\"".into());
        }
        if self.partitions.iter().any(|p| *p < 0) {
            return Err("stream: partitions must be >= 0".into());
        }
        if self.table.split_once('.').is_none() {
            return Err(format!(
                "stream: table {:?} is not namespace.name",
                self.table
            ));
        }
        Ok(())
    }

    /// The table identifier.
    pub fn table_ident(&self) -> iceberg::TableIdent {
        let (ns, name) = self
            .table
            .split_once('.')
            .unwrap_or(("silver", "reflectance"));
        hsi_lakehouse::table::ident(ns, name)
    }
}
