//! `edge.toml`: the daemon's configuration (see `docs/edge.example.toml`).
//!
//! Every section is typed and refuses unknown keys. Durations use humantime (`"2s"`, `"5m"`).
//! A few fields can be overridden from the environment (K3s injects the Secret this way):
//!
//! | variable | field |
//! |---|---|
//! | `HSI_LANDING_DIR` | `landing.dir` |
//! | `HSI_OUTBOX_DIR` | `outbox.dir` |
//! | `HSI_OUTBOX_CAP_BYTES` | `outbox.cap_bytes` |
//! | `HSI_STATE_DIR` | `state.dir` |
//! | `HSI_PROFILE` | `processing.profile` |
//! | `HSI_DEVICE` | `processing.device` |
//! | `HSI_KAFKA_BOOTSTRAP` | `kafka.bootstrap` |
//! | `HSI_KAFKA_TOPIC` | `kafka.topic` |
//! | `HSI_KAFKA_SASL_USERNAME`, `HSI_KAFKA_SASL_PASSWORD` | `kafka.librdkafka."sasl.username"`, `"sasl.password"` |
//! | `HSI_BACKHAUL_BUCKET` | `backhaul.bucket` |
//! | `HSI_BACKHAUL_ENDPOINT` | `backhaul.endpoint` |
//! | `HSI_HTTP_LISTEN` | `http.listen` |

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use crate::calib::select::Device;
use crate::chunk::{DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_TOPIC};

/// The whole `edge.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeConfig {
    /// Where finished raw cubes appear.
    pub landing: LandingConfig,
    /// The durable outbox.
    pub outbox: OutboxConfig,
    /// Per-cube processing state.
    pub state: StateConfig,
    /// Calibration and flattening.
    #[serde(default)]
    pub processing: ProcessingConfig,
    /// The Kafka producer.
    pub kafka: KafkaConfig,
    /// Raw-cube upload to S3.
    #[serde(default)]
    pub backhaul: BackhaulConfig,
    /// Deleting backhauled raw cubes when the landing directory grows.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// `/healthz` and `/metrics`.
    #[serde(default)]
    pub http: HttpConfig,
    /// Identity of this device's captures, for cubes whose files do not carry it (ENVI).
    #[serde(default)]
    pub identity: IdentityConfig,
}

/// `[identity]`: the farm, field, region and sensor of the captures landing on this device,
/// used for whatever a cube's own files (HDF5 attributes; ENVI header, sidecar or instrument
/// file name) do not say. A cube whose identity is still incomplete is refused as bad input
/// (`failed`, with the missing fields named), never written with `unknown`/1970.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// `farm_id`.
    #[serde(default)]
    pub farm_id: Option<String>,
    /// `field_id`.
    #[serde(default)]
    pub field_id: Option<String>,
    /// `region` (the raw-object key's first level).
    #[serde(default)]
    pub region: Option<String>,
    /// `sensor_id`.
    #[serde(default)]
    pub sensor_id: Option<String>,
}

impl IdentityConfig {
    /// Fill `header`'s unknown fields from this config.
    pub fn fill(&self, header: &mut crate::cube::CubeHeader) {
        let set = |dst: &mut String, v: &Option<String>| {
            if let Some(v) = v
                && crate::cube::CubeHeader::is_unknown(dst)
            {
                *dst = v.clone();
            }
        };
        set(&mut header.farm_id, &self.farm_id);
        set(&mut header.field_id, &self.field_id);
        set(&mut header.region, &self.region);
        set(&mut header.sensor_id, &self.sensor_id);
    }
}

/// `[landing]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandingConfig {
    /// The landing directory (not scanned recursively).
    pub dir: PathBuf,
    /// How often to scan it.
    #[serde(with = "humantime_serde", default = "default_poll")]
    pub poll_interval: Duration,
    /// A file must be unmodified for this long before it is taken (a guard for writers that do
    /// not follow the rename-on-close convention).
    #[serde(with = "humantime_serde", default = "default_settle")]
    pub settle: Duration,
}

/// `[outbox]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// The outbox directory.
    pub dir: PathBuf,
    /// Size cap of staged + unacknowledged chunks, in bytes.
    #[serde(default = "default_cap")]
    pub cap_bytes: u64,
}

/// `[state]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// The state directory (cube records, backhaul resume files, locks).
    pub dir: PathBuf,
}

/// `[processing]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessingConfig {
    /// Output profile: `full` or `field`.
    #[serde(default = "default_profile")]
    pub profile: String,
    /// Calibration device: `auto`, `cpu` or `cuda`.
    #[serde(default)]
    pub device: Device,
    /// Calibration settings (TOML file), else the defaults of DESIGN §5.
    #[serde(default)]
    pub calibration: Option<PathBuf>,
}

impl Default for ProcessingConfig {
    fn default() -> Self {
        ProcessingConfig {
            profile: default_profile(),
            device: Device::Auto,
            calibration: None,
        }
    }
}

/// `[kafka]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// `bootstrap.servers`.
    pub bootstrap: String,
    /// Topic of the Silver chunks.
    #[serde(default = "default_topic")]
    pub topic: String,
    /// Upper bound of one chunk's Parquet payload.
    #[serde(default = "default_max_message")]
    pub max_message_bytes: usize,
    /// Chunks handed to librdkafka at once.
    #[serde(default = "default_in_flight")]
    pub max_in_flight: usize,
    /// Wait before re-sending chunks whose delivery failed.
    #[serde(with = "humantime_serde", default = "default_retry")]
    pub retry_backoff: Duration,
    /// Extra librdkafka properties, passed through as they are (`security.protocol`,
    /// `sasl.mechanism`, `message.timeout.ms`, ...). `enable.idempotence` and `acks` cannot be
    /// weakened.
    #[serde(default)]
    pub librdkafka: BTreeMap<String, String>,
}

/// `[backhaul]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackhaulConfig {
    /// Whether the daemon backhauls by itself (`hsi-edge backhaul` works either way).
    #[serde(default)]
    pub enabled: bool,
    /// Bucket of the raw cubes.
    #[serde(default)]
    pub bucket: String,
    /// AWS region.
    #[serde(default = "default_region")]
    pub region: String,
    /// S3 endpoint (MinIO, moto, a VPC endpoint); AWS's default when absent.
    #[serde(default)]
    pub endpoint: Option<url::Url>,
    /// Path-style addressing (needed by most non-AWS endpoints).
    #[serde(default)]
    pub force_path_style: bool,
    /// Multipart part size in bytes (S3: at least 5 MiB, at most 10,000 parts).
    #[serde(default = "default_part")]
    pub part_size_bytes: u64,
    /// When the daemon backhauls.
    #[serde(default)]
    pub trigger: TriggerConfig,
}

impl Default for BackhaulConfig {
    fn default() -> Self {
        BackhaulConfig {
            enabled: false,
            bucket: String::new(),
            region: default_region(),
            endpoint: None,
            force_path_style: false,
            part_size_bytes: default_part(),
            trigger: TriggerConfig::default(),
        }
    }
}

/// `[backhaul.trigger]`: the daemon backhauls when any condition holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerConfig {
    /// Always (a node that lives on the facility network).
    #[serde(default)]
    pub always: bool,
    /// UTC time windows, `"HH:MM-HH:MM"` (may wrap midnight), e.g. `["22:00-05:30"]`.
    #[serde(default)]
    pub windows: Vec<String>,
    /// `host:port` reachable only on the facility network (e.g. the farm office gateway): when a
    /// TCP connection succeeds, the node is home.
    #[serde(default)]
    pub facility_probe: Option<String>,
    /// How often to check.
    #[serde(with = "humantime_serde", default = "default_check")]
    pub check_interval: Duration,
}

impl Default for TriggerConfig {
    fn default() -> Self {
        TriggerConfig {
            always: false,
            windows: Vec::new(),
            facility_probe: None,
            check_interval: default_check(),
        }
    }
}

/// `[retention]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Delete raw cubes at all (only processed and backhauled ones, oldest first).
    #[serde(default)]
    pub enabled: bool,
    /// Start deleting when the landing directory holds more than this many bytes.
    #[serde(default = "default_high")]
    pub high_water_bytes: u64,
    /// Delete until it holds at most this many bytes.
    #[serde(default = "default_low")]
    pub low_water_bytes: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            enabled: false,
            high_water_bytes: default_high(),
            low_water_bytes: default_low(),
        }
    }
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Listen address of `/healthz` and `/metrics`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: default_listen(),
        }
    }
}

fn default_poll() -> Duration {
    Duration::from_secs(2)
}
fn default_settle() -> Duration {
    Duration::from_secs(2)
}
fn default_cap() -> u64 {
    2 << 30
}
fn default_profile() -> String {
    "full".into()
}
fn default_topic() -> String {
    DEFAULT_TOPIC.into()
}
fn default_max_message() -> usize {
    DEFAULT_MAX_MESSAGE_BYTES
}
fn default_in_flight() -> usize {
    64
}
fn default_retry() -> Duration {
    Duration::from_secs(5)
}
fn default_region() -> String {
    "us-east-1".into()
}
fn default_part() -> u64 {
    16 << 20
}
fn default_check() -> Duration {
    Duration::from_secs(60)
}
fn default_high() -> u64 {
    200 << 30
}
fn default_low() -> u64 {
    150 << 30
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 9108))
}

impl EdgeConfig {
    /// Read `path`, apply the environment overrides, validate.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut cfg = Self::parse(&path.display().to_string(), &text)?;
        cfg.apply_env(|k| std::env::var(k).ok())?;
        cfg.validate(&path.display().to_string())?;
        Ok(cfg)
    }

    /// Parse TOML text (no environment, no validation).
    pub fn parse(origin: &str, text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::config(origin, e.to_string()))
    }

    /// Apply the `HSI_*` overrides read through `var`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<()> {
        let parse_err =
            |k: &str, e: &dyn std::fmt::Display| Error::config(format!("env {k}"), e.to_string());
        if let Some(v) = var("HSI_LANDING_DIR") {
            self.landing.dir = v.into();
        }
        if let Some(v) = var("HSI_OUTBOX_DIR") {
            self.outbox.dir = v.into();
        }
        if let Some(v) = var("HSI_OUTBOX_CAP_BYTES") {
            self.outbox.cap_bytes = v
                .parse()
                .map_err(|e| parse_err("HSI_OUTBOX_CAP_BYTES", &e))?;
        }
        if let Some(v) = var("HSI_STATE_DIR") {
            self.state.dir = v.into();
        }
        if let Some(v) = var("HSI_PROFILE") {
            self.processing.profile = v;
        }
        if let Some(v) = var("HSI_DEVICE") {
            self.processing.device = v.parse().map_err(|e| parse_err("HSI_DEVICE", &e))?;
        }
        if let Some(v) = var("HSI_KAFKA_BOOTSTRAP") {
            self.kafka.bootstrap = v;
        }
        if let Some(v) = var("HSI_KAFKA_TOPIC") {
            self.kafka.topic = v;
        }
        for (env, key) in [
            ("HSI_KAFKA_SASL_USERNAME", "sasl.username"),
            ("HSI_KAFKA_SASL_PASSWORD", "sasl.password"),
        ] {
            if let Some(v) = var(env).filter(|v| !v.is_empty()) {
                self.kafka.librdkafka.insert(key.into(), v);
            }
        }
        if let Some(v) = var("HSI_BACKHAUL_BUCKET") {
            self.backhaul.bucket = v;
        }
        if let Some(v) = var("HSI_BACKHAUL_ENDPOINT") {
            self.backhaul.endpoint = Some(
                v.parse()
                    .map_err(|e| parse_err("HSI_BACKHAUL_ENDPOINT", &e))?,
            );
        }
        if let Some(v) = var("HSI_HTTP_LISTEN") {
            self.http.listen = v.parse().map_err(|e| parse_err("HSI_HTTP_LISTEN", &e))?;
        }
        Ok(())
    }

    /// Check values that parse but cannot work.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |reason: String| Err(Error::config(origin, reason));
        crate::flatten::Profile::by_name(&self.processing.profile)
            .map_err(|e| Error::config(origin, e.to_string()))?;
        if self.kafka.bootstrap.trim().is_empty() {
            return bad("kafka.bootstrap is empty".into());
        }
        if self.kafka.max_message_bytes < 64 * 1024 {
            return bad(format!(
                "kafka.max_message_bytes {} is below 64 KiB",
                self.kafka.max_message_bytes
            ));
        }
        for (key, weaker) in [
            ("enable.idempotence", "false"),
            ("acks", "1"),
            ("acks", "0"),
        ] {
            if self.kafka.librdkafka.get(key).map(String::as_str) == Some(weaker) {
                return bad(format!(
                    "kafka.librdkafka.\"{key}\" = \"{weaker}\" would weaken delivery: the producer is idempotent with acks=all"
                ));
            }
        }
        if self.outbox.cap_bytes < 2 * self.kafka.max_message_bytes as u64 {
            return bad(format!(
                "outbox.cap_bytes {} must hold at least two chunks of kafka.max_message_bytes {}",
                self.outbox.cap_bytes, self.kafka.max_message_bytes
            ));
        }
        if !(5 << 20..=5 << 30).contains(&self.backhaul.part_size_bytes) {
            return bad(format!(
                "backhaul.part_size_bytes {} is outside S3's 5 MiB..5 GiB",
                self.backhaul.part_size_bytes
            ));
        }
        if self.backhaul.enabled && self.backhaul.bucket.is_empty() {
            return bad("backhaul.enabled needs backhaul.bucket".into());
        }
        for w in &self.backhaul.trigger.windows {
            super::backhaul::trigger::Window::parse(w)
                .map_err(|reason| Error::config(origin, reason))?;
        }
        if self.retention.low_water_bytes > self.retention.high_water_bytes {
            return bad("retention.low_water_bytes is above high_water_bytes".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[landing]
dir = "/data/landing"
[outbox]
dir = "/data/outbox"
[state]
dir = "/data/state"
[kafka]
bootstrap = "broker:9092"
"#;

    #[test]
    fn minimal_config_gets_the_defaults() {
        let c = EdgeConfig::parse("t", MINIMAL).expect("parse");
        c.validate("t").expect("valid");
        assert_eq!(c.kafka.topic, "hsi.silver.v1");
        assert_eq!(c.kafka.max_message_bytes, DEFAULT_MAX_MESSAGE_BYTES);
        assert_eq!(c.landing.poll_interval, Duration::from_secs(2));
        assert_eq!(c.outbox.cap_bytes, 2 << 30);
        assert_eq!(c.processing.device, Device::Auto);
        assert_eq!(c.http.listen.port(), 9108);
        assert!(!c.backhaul.enabled);
    }

    #[test]
    fn unknown_keys_and_weakened_delivery_are_refused() {
        let e = EdgeConfig::parse("t", &format!("{MINIMAL}\nbogus = 1")).expect_err("unknown");
        assert!(e.to_string().contains("bogus"), "{e}");
        let mut c = EdgeConfig::parse("t", MINIMAL).expect("parse");
        c.kafka.librdkafka.insert("acks".into(), "1".into());
        let e = c.validate("edge.toml").expect_err("weak acks");
        assert!(e.to_string().contains("acks=all"), "{e}");
    }

    #[test]
    fn environment_overrides_win() {
        let mut c = EdgeConfig::parse("t", MINIMAL).expect("parse");
        let env: BTreeMap<&str, &str> = [
            ("HSI_KAFKA_BOOTSTRAP", "10.0.0.1:9094"),
            ("HSI_KAFKA_SASL_PASSWORD", "s3cret"),
            ("HSI_DEVICE", "cpu"),
            ("HSI_OUTBOX_CAP_BYTES", "123456789"),
            ("HSI_HTTP_LISTEN", "127.0.0.1:9000"),
        ]
        .into_iter()
        .collect();
        c.apply_env(|k| env.get(k).map(|v| v.to_string()))
            .expect("env");
        assert_eq!(c.kafka.bootstrap, "10.0.0.1:9094");
        assert_eq!(c.kafka.librdkafka["sasl.password"], "s3cret");
        assert_eq!(c.processing.device, Device::Cpu);
        assert_eq!(c.outbox.cap_bytes, 123_456_789);
        assert_eq!(c.http.listen.port(), 9000);
        let e = c
            .apply_env(|k| (k == "HSI_DEVICE").then(|| "gpu".to_string()))
            .expect_err("bad device");
        assert!(e.to_string().contains("env HSI_DEVICE"), "{e}");
    }

    #[test]
    fn the_documented_example_parses_and_validates() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/edge.example.toml");
        let text = std::fs::read_to_string(&path).expect("docs/edge.example.toml");
        let c = EdgeConfig::parse("example", &text).expect("parse");
        c.validate("example").expect("valid");
    }

    #[test]
    fn the_k3s_configmap_config_validates() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../k3s/base/configmap.yaml");
        let yaml = std::fs::read_to_string(&path).expect("k3s/base/configmap.yaml");
        let body = yaml
            .split_once("edge.toml: |\n")
            .expect("an edge.toml key")
            .1
            .lines()
            .take_while(|l| l.is_empty() || l.starts_with("    "))
            .map(|l| l.strip_prefix("    ").unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let c = EdgeConfig::parse("configmap", &body).expect("parse");
        c.validate("configmap").expect("valid");
        assert_eq!(c.http.listen.port(), 9108);
        assert_eq!(c.landing.dir, Path::new("/data/landing"));
    }
}
