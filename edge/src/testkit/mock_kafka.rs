//! rdkafka's in-process `MockCluster`: Kafka brokers on real local TCP ports (TOOLING.md).
//!
//! librdkafka's mock brokers speak the Kafka protocol over TCP, so other processes (the edge
//! daemon, the stream consumer) connect to [`MockKafka::bootstrap`] like to any broker: the
//! stream tests of `hsi-ingest` and the edge daemon tests run them as child processes. They
//! implement
//! consumer groups (with session expiry, so a SIGKILLed member loses its partitions),
//! idempotent producers, offsets and headers, and nothing needs to be built or installed.
//!
//! What they do not do, and where the tests use [`super::Tansu`] instead:
//! - **Survive a restart.** The log lives in this process's memory; a test that restarts the
//!   broker and expects its data back needs tansu.
//! - **Keep a long log.** Each partition keeps about 5 MiB (librdkafka's `mpart->max_size`);
//!   older record batches are dropped as retention would. Tests on a mock broker keep their
//!   topics well below that.

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

/// One or more mock brokers in this process; dropping it stops them.
///
/// Not `Send`: keep it on the test's own thread (a `#[tokio::test]` body is fine).
pub struct MockKafka {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl MockKafka {
    /// Start a cluster of `brokers` brokers. Never skips: there is nothing to install.
    ///
    /// # Panics
    /// When librdkafka cannot create the cluster (no free port), naming `test`.
    pub fn start(test: &str, brokers: i32) -> MockKafka {
        let cluster = MockCluster::new(brokers)
            .unwrap_or_else(|e| panic!("{test}: cannot start rdkafka's MockCluster: {e}"));
        MockKafka { cluster }
    }

    /// `host:port,...` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    /// Create a topic (replication factor 1).
    pub fn create_topic(&self, name: &str, partitions: u32) -> Result<(), String> {
        let partitions = i32::try_from(partitions).map_err(|e| e.to_string())?;
        self.cluster
            .create_topic(name, partitions, 1)
            .map_err(|e| format!("mock create topic {name}: {e}"))
    }

    /// Every broker drops its connections and refuses new ones (an outage; the log stays).
    pub fn down(&self) -> Result<(), String> {
        self.cluster.broker_down(-1).map_err(|e| e.to_string())
    }

    /// The brokers accept connections again.
    pub fn up(&self) -> Result<(), String> {
        self.cluster.broker_up(-1).map_err(|e| e.to_string())
    }
}
