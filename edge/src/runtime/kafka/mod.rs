//! The Kafka side of the daemon: the producer's settings and the loop that drains the outbox.
//!
//! The producer is librdkafka's idempotent producer (`enable.idempotence=true`, `acks=all`),
//! so retries inside one producer session never duplicate or reorder a record. Records follow
//! DESIGN §6 ([`crate::chunk`]): key = cube id, value = the chunk's Parquet file, `hsi-*`
//! headers. A chunk is deleted from the outbox only in the delivery report that says the broker
//! acknowledged it.

mod sender;

pub use sender::{DeliveryStats, Sender};

use rdkafka::ClientConfig;

use super::config::KafkaConfig;

/// Settings the daemon forces whatever the passthrough map says.
pub const ENFORCED: [(&str, &str); 2] = [("enable.idempotence", "true"), ("acks", "all")];

/// The librdkafka configuration: defaults, then the passthrough map, then [`ENFORCED`].
pub fn client_config(cfg: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.bootstrap)
        .set("client.id", "hsi-edge")
        // The payload is already ZSTD-compressed Parquet; a record holds one chunk.
        .set("compression.type", "none")
        .set("linger.ms", "5")
        .set(
            "message.max.bytes",
            (cfg.max_message_bytes + 64 * 1024).to_string(),
        )
        // Keep retrying inside librdkafka for a long outage; past this the sender re-sends.
        .set("message.timeout.ms", "600000")
        .set("reconnect.backoff.max.ms", "5000");
    for (k, v) in &cfg.librdkafka {
        c.set(k, v);
    }
    for (k, v) in ENFORCED {
        c.set(k, v);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passthrough_cannot_weaken_delivery() {
        let mut cfg: KafkaConfig = toml::from_str("bootstrap = \"b:9092\"").expect("parse");
        cfg.librdkafka
            .insert("security.protocol".into(), "SASL_SSL".into());
        cfg.librdkafka.insert("acks".into(), "1".into());
        cfg.librdkafka.insert("linger.ms".into(), "50".into());
        let c = client_config(&cfg);
        assert_eq!(c.get("bootstrap.servers"), Some("b:9092"));
        assert_eq!(c.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(c.get("linger.ms"), Some("50"));
        assert_eq!(c.get("acks"), Some("all"));
        assert_eq!(c.get("enable.idempotence"), Some("true"));
    }
}
