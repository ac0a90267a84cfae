//! The ingest configuration: one TOML file, every key overridable from the environment.
//!
//! ```toml
//! [lakehouse]                      # hsi_lakehouse::LakehouseConfig
//! warehouse = "/var/lib/hsi/warehouse"
//!
//! [aws]
//! region = "us-east-1"
//! endpoint_url = "http://127.0.0.1:5100"   # moto / LocalStack; absent on AWS
//!
//! [metrics]
//! listen = "0.0.0.0:9187"                 # /metrics and /healthz
//!
//! [dispatch] ...   # crate::dispatch::DispatchConfig
//! [worker] ...     # crate::worker::WorkerConfig
//! [stream] ...     # crate::stream::StreamConfig
//! ```
//!
//! Environment overrides: `HSI_INGEST__SECTION__KEY=value` sets `[section] key` (double
//! underscores separate path segments, names are lower-cased). The value is parsed as a TOML
//! value when it is one (`42`, `true`, `"5s"`, `[1, 2]`) and taken as a string otherwise, so
//! `HSI_INGEST__DISPATCH__QUEUE_URL=http://...` works unquoted. Unknown keys are errors, in the
//! file and in the environment alike.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dispatch::DispatchConfig;
use crate::error::{Error, Result};
use crate::stream::StreamConfig;
use crate::worker::WorkerConfig;

/// Prefix of environment overrides.
pub const ENV_PREFIX: &str = "HSI_INGEST__";

/// The whole file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// The Iceberg catalog and warehouse.
    pub lakehouse: hsi_lakehouse::LakehouseConfig,
    /// AWS client settings (S3, SQS, Batch).
    #[serde(default)]
    pub aws: AwsConfig,
    /// The metrics endpoint.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The SQS dispatcher.
    #[serde(default)]
    pub dispatch: Option<DispatchConfig>,
    /// The Batch worker.
    #[serde(default)]
    pub worker: WorkerConfig,
    /// The Kafka stream consumer.
    #[serde(default)]
    pub stream: Option<StreamConfig>,
}

/// AWS client settings.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// Region; absent = the SDK's default chain (`AWS_REGION`, profile, IMDS).
    #[serde(default)]
    pub region: Option<String>,
    /// Endpoint for S3-, SQS- and Batch-compatible services (moto); absent = AWS.
    #[serde(default)]
    pub endpoint_url: Option<url::Url>,
    /// Static credentials (tests); absent = the SDK's default chain.
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// Static secret (never printed).
    #[serde(default)]
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for AwsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsConfig")
            .field("region", &self.region)
            .field(
                "endpoint_url",
                &self.endpoint_url.as_ref().map(|u| u.as_str()),
            )
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The Prometheus endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `host:port` to serve `/metrics` and `/healthz` on; absent = no server.
    #[serde(default)]
    pub listen: Option<String>,
}

impl IngestConfig {
    /// Read `path`, apply the process environment's overrides, and validate.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
        Self::parse(&text, &path.display().to_string(), std::env::vars())
    }

    /// Parse `text` (named `origin` in errors) with the overrides in `env`.
    pub fn parse(
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        let mut value: toml::Table =
            toml::from_str(text).map_err(|e| Error::config(origin, e.to_string()))?;
        apply_env(&mut value, env)?;
        let cfg: IngestConfig = toml::Value::Table(value)
            .try_into()
            .map_err(|e: toml::de::Error| Error::config(origin, e.to_string()))?;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    fn validate(&self, origin: &str) -> Result<()> {
        if let Some(d) = &self.dispatch {
            d.validate().map_err(|r| Error::config(origin, r))?;
        }
        if let Some(s) = &self.stream {
            s.validate().map_err(|r| Error::config(origin, r))?;
        }
        Ok(())
    }

    /// The dispatcher section, or a config error naming it.
    pub fn dispatch(&self) -> Result<&DispatchConfig> {
        self.dispatch
            .as_ref()
            .ok_or_else(|| Error::config("config", "the [dispatch] section is missing"))
    }

    /// The stream section, or a config error naming it.
    pub fn stream(&self) -> Result<&StreamConfig> {
        self.stream
            .as_ref()
            .ok_or_else(|| Error::config("config", "the [stream] section is missing"))
    }
}

/// Apply `HSI_INGEST__A__B=v` overrides to a parsed TOML table.
pub fn apply_env(
    root: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<()> {
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect();
    vars.sort();
    for (name, raw) in vars {
        let origin = format!("env {name}");
        let path: Vec<String> = name[ENV_PREFIX.len()..]
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect();
        if path.iter().any(String::is_empty) {
            return Err(Error::config(origin, "empty path segment"));
        }
        let value = parse_env_value(&raw);
        let (last, parents) = path.split_last().unwrap_or((&path[0], &[]));
        let mut table = &mut *root;
        for seg in parents {
            let entry = table
                .entry(seg.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            table = match entry {
                toml::Value::Table(t) => t,
                _ => return Err(Error::config(origin, format!("`{seg}` is not a section"))),
            };
        }
        table.insert(last.clone(), value);
    }
    Ok(())
}

fn parse_env_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&doc) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[lakehouse]
warehouse = "/tmp/wh"
[dispatch]
queue_url = "http://127.0.0.1:5100/123456789012/raw-events"
manifest_bucket = "hsi-raw"
[dispatch.runner]
kind = "local"
config = "/etc/hsi/ingest.toml"
"#;

    #[test]
    fn env_overrides_typed_and_string_values() {
        let env = [
            (
                "HSI_INGEST__DISPATCH__MAX_REFS".to_owned(),
                "120".to_owned(),
            ),
            (
                "HSI_INGEST__DISPATCH__WINDOW".to_owned(),
                "\"7s\"".to_owned(),
            ),
            (
                "HSI_INGEST__AWS__ENDPOINT_URL".to_owned(),
                "http://127.0.0.1:5100".to_owned(),
            ),
            ("OTHER".to_owned(), "x".to_owned()),
        ];
        let cfg = IngestConfig::parse(BASE, "test.toml", env).unwrap();
        let d = cfg.dispatch().unwrap();
        assert_eq!(d.max_refs, 120);
        assert_eq!(d.window, std::time::Duration::from_secs(7));
        assert_eq!(
            cfg.aws.endpoint_url.as_ref().map(|u| u.as_str()),
            Some("http://127.0.0.1:5100/")
        );
    }

    #[test]
    fn unknown_keys_are_errors_in_file_and_env() {
        let bad = format!("{BASE}\n[metrics]\nlisten = \"x\"\nport = 1\n");
        let e = IngestConfig::parse(&bad, "test.toml", []).unwrap_err();
        assert!(e.to_string().contains("port"), "{e}");
        let env = [("HSI_INGEST__DISPATCH__MAXREFS".to_owned(), "1".to_owned())];
        let e = IngestConfig::parse(BASE, "test.toml", env).unwrap_err();
        assert!(e.to_string().contains("maxrefs"), "{e}");
    }

    #[test]
    fn bundle_bounds_are_validated() {
        let env = [
            (
                "HSI_INGEST__DISPATCH__MIN_REFS".to_owned(),
                "300".to_owned(),
            ),
            (
                "HSI_INGEST__DISPATCH__MAX_REFS".to_owned(),
                "200".to_owned(),
            ),
        ];
        let e = IngestConfig::parse(BASE, "test.toml", env).unwrap_err();
        assert!(e.to_string().contains("min_refs"), "{e}");
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let text = include_str!("../../docs/ingest.example.toml");
        let cfg = IngestConfig::parse(text, "docs/ingest.example.toml", []).unwrap();
        let d = cfg.dispatch().unwrap();
        assert_eq!((d.min_refs, d.max_refs), (50, 200));
        assert_eq!(d.visibility_timeout, std::time::Duration::from_secs(900));
        assert!(matches!(
            d.runner,
            crate::dispatch::RunnerConfig::Batch { ref job_definition, .. }
                if job_definition == "hsi-ingest-worker"
        ));
        let s = cfg.stream().unwrap();
        assert_eq!(s.commit_interval, std::time::Duration::from_secs(5));
        assert_eq!(
            s.kafka.get("sasl.mechanism").map(String::as_str),
            Some("OAUTHBEARER")
        );
        assert_eq!(s.assignment, crate::stream::Assignment::Group);
    }

    #[test]
    fn manual_assignment_from_env_and_its_validation() {
        let text = include_str!("../../docs/ingest.example.toml");
        let env = [
            (
                "HSI_INGEST__STREAM__ASSIGNMENT".to_owned(),
                "manual".to_owned(),
            ),
            (
                "HSI_INGEST__STREAM__PARTITIONS".to_owned(),
                "[2, 5]".to_owned(),
            ),
        ];
        let cfg = IngestConfig::parse(text, "example", env).unwrap();
        let s = cfg.stream().unwrap();
        assert_eq!(s.assignment, crate::stream::Assignment::Manual);
        assert_eq!(s.partitions, vec![2, 5]);
        // Partitions without manual assignment is a mistake, named in the error.
        let env = [(
            "HSI_INGEST__STREAM__PARTITIONS".to_owned(),
            "[1]".to_owned(),
        )];
        let e = IngestConfig::parse(text, "example", env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("partitions needs assignment"), "{e}");
    }
}
