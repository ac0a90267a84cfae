//! Metric names and the `/metrics` endpoint.
//!
//! Every metric the ingest processes export is declared here, once, so dashboards and alerts
//! have one place to look. [`Metrics`] is cheap to clone (the handles are `Arc`s); [`serve`]
//! answers `/metrics` (Prometheus text format) and `/healthz` on a background thread.

use std::sync::Arc;
use std::thread::JoinHandle;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::{Error, Result};

/// Metric names (without the `hsi_ingest_` prefix the registry adds).
pub mod names {
    /// Messages visible in the SQS queue at the last poll (ApproximateNumberOfMessages).
    pub const QUEUE_DEPTH: &str = "sqs_queue_depth";
    /// SQS messages received.
    pub const MESSAGES_RECEIVED: &str = "sqs_messages_received";
    /// SQS messages deleted after their manifest's job was submitted.
    pub const MESSAGES_DELETED: &str = "sqs_messages_deleted";
    /// S3 event records ignored (test events, duplicates, other prefixes).
    pub const EVENTS_IGNORED: &str = "s3_events_ignored";
    /// Manifests written and submitted.
    pub const MANIFESTS: &str = "manifests_submitted";
    /// Cubes processed by workers (written to Bronze + Silver).
    pub const CUBES_DONE: &str = "cubes_processed";
    /// Cubes skipped because `bronze.cubes` already held them.
    pub const CUBES_SKIPPED: &str = "cubes_skipped";
    /// Cubes that failed and were quarantined.
    pub const CUBES_FAILED: &str = "cubes_failed";
    /// Silver rows committed.
    pub const ROWS: &str = "silver_rows_committed";
    /// Iceberg commit latency, seconds.
    pub const COMMIT_SECONDS: &str = "commit_latency_seconds";
    /// Stream batches dropped because another writer committed past their start (fencing).
    pub const FENCED_BATCHES: &str = "stream_fenced_batches";
    /// Consumer lag: high watermark minus the table-held offset, summed over partitions.
    pub const LAG: &str = "kafka_lag_records";
    /// Chunks sent to the dead-letter topic.
    pub const DEAD_LETTERS: &str = "dead_letters";
    /// Errors of any stage (retried or not).
    pub const ERRORS: &str = "errors";
    /// Stream rows dropped because Silver already held them (re-sent chunks) or a batch
    /// version of their object is current.
    pub const STREAM_ROWS_DROPPED: &str = "stream_rows_dropped";
    /// Gold refreshes run by the stream consumer or a worker.
    pub const GOLD_REFRESHES: &str = "gold_refreshes";
    /// Duration of a Gold refresh, seconds.
    pub const GOLD_REFRESH_SECONDS: &str = "gold_refresh_seconds";
}

/// The metric handles of one process.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// [`names::QUEUE_DEPTH`].
    pub queue_depth: Gauge,
    /// [`names::MESSAGES_RECEIVED`].
    pub messages_received: Counter,
    /// [`names::MESSAGES_DELETED`].
    pub messages_deleted: Counter,
    /// [`names::EVENTS_IGNORED`].
    pub events_ignored: Counter,
    /// [`names::MANIFESTS`].
    pub manifests: Counter,
    /// [`names::CUBES_DONE`].
    pub cubes_done: Counter,
    /// [`names::CUBES_SKIPPED`].
    pub cubes_skipped: Counter,
    /// [`names::CUBES_FAILED`].
    pub cubes_failed: Counter,
    /// [`names::ROWS`].
    pub rows: Counter,
    /// [`names::COMMIT_SECONDS`].
    pub commit_seconds: Histogram,
    /// [`names::FENCED_BATCHES`].
    pub fenced_batches: Counter,
    /// [`names::LAG`].
    pub lag: Gauge,
    /// [`names::DEAD_LETTERS`].
    pub dead_letters: Counter,
    /// [`names::ERRORS`].
    pub errors: Counter,
    /// [`names::STREAM_ROWS_DROPPED`].
    pub stream_rows_dropped: Counter,
    /// [`names::GOLD_REFRESHES`].
    pub gold_refreshes: Counter,
    /// [`names::GOLD_REFRESH_SECONDS`].
    pub gold_refresh_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("hsi_ingest");
        let m = Metrics {
            registry: Arc::new(Registry::default()),
            queue_depth: Gauge::default(),
            messages_received: Counter::default(),
            messages_deleted: Counter::default(),
            events_ignored: Counter::default(),
            manifests: Counter::default(),
            cubes_done: Counter::default(),
            cubes_skipped: Counter::default(),
            cubes_failed: Counter::default(),
            rows: Counter::default(),
            commit_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            fenced_batches: Counter::default(),
            lag: Gauge::default(),
            dead_letters: Counter::default(),
            errors: Counter::default(),
            stream_rows_dropped: Counter::default(),
            gold_refreshes: Counter::default(),
            gold_refresh_seconds: Histogram::new(exponential_buckets(0.05, 2.0, 12)),
        };
        use names::*;
        r.register(
            QUEUE_DEPTH,
            "Messages visible in the SQS queue",
            m.queue_depth.clone(),
        );
        r.register(
            MESSAGES_RECEIVED,
            "SQS messages received",
            m.messages_received.clone(),
        );
        r.register(
            MESSAGES_DELETED,
            "SQS messages deleted after submission",
            m.messages_deleted.clone(),
        );
        r.register(
            EVENTS_IGNORED,
            "S3 event records ignored",
            m.events_ignored.clone(),
        );
        r.register(
            MANIFESTS,
            "Manifests written and submitted",
            m.manifests.clone(),
        );
        r.register(
            CUBES_DONE,
            "Cubes written to Bronze and Silver",
            m.cubes_done.clone(),
        );
        r.register(
            CUBES_SKIPPED,
            "Cubes already in bronze.cubes",
            m.cubes_skipped.clone(),
        );
        r.register(CUBES_FAILED, "Cubes quarantined", m.cubes_failed.clone());
        r.register(ROWS, "Silver rows committed", m.rows.clone());
        r.register(
            COMMIT_SECONDS,
            "Iceberg commit latency",
            m.commit_seconds.clone(),
        );
        r.register(
            FENCED_BATCHES,
            "Stream batches dropped by the offset fence",
            m.fenced_batches.clone(),
        );
        r.register(LAG, "Kafka records not yet in Silver", m.lag.clone());
        r.register(
            DEAD_LETTERS,
            "Chunks sent to the dead-letter topic",
            m.dead_letters.clone(),
        );
        r.register(ERRORS, "Errors, retried or not", m.errors.clone());
        r.register(
            STREAM_ROWS_DROPPED,
            "Stream rows already in Silver or superseded by a batch version",
            m.stream_rows_dropped.clone(),
        );
        r.register(GOLD_REFRESHES, "Gold refreshes", m.gold_refreshes.clone());
        r.register(
            GOLD_REFRESH_SECONDS,
            "Gold refresh duration",
            m.gold_refresh_seconds.clone(),
        );
        Metrics {
            registry: Arc::new(r),
            ..m
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Serve `/metrics` and `/healthz` on `listen` from a background thread (it lives as long as
/// the process; the handle is returned for tests).
pub fn serve(listen: &str, metrics: Metrics) -> Result<JoinHandle<()>> {
    let server = tiny_http::Server::http(listen)
        .map_err(|e| Error::config("metrics.listen", format!("cannot listen on {listen}: {e}")))?;
    let handle = std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for request in server.incoming_requests() {
                let (code, body, ctype) = match request.url() {
                    "/metrics" => (
                        200,
                        metrics.render(),
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                    "/healthz" => (200, "ok\n".to_owned(), "text/plain"),
                    _ => (404, "not found\n".to_owned(), "text/plain"),
                };
                let mut response = tiny_http::Response::from_string(body).with_status_code(code);
                if let Ok(h) = tiny_http::Header::from_bytes("Content-Type", ctype) {
                    response = response.with_header(h);
                }
                let _ = request.respond(response);
            }
        })
        .map_err(Error::io("metrics thread"))?;
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_names_every_metric_with_the_prefix() {
        let m = Metrics::new();
        m.manifests.inc();
        m.rows.inc_by(42);
        let text = m.render();
        assert!(
            text.contains("hsi_ingest_manifests_submitted_total 1"),
            "{text}"
        );
        assert!(
            text.contains("hsi_ingest_silver_rows_committed_total 42"),
            "{text}"
        );
        assert!(text.contains("hsi_ingest_sqs_queue_depth 0"), "{text}");
        assert!(
            text.contains("hsi_ingest_commit_latency_seconds_bucket"),
            "{text}"
        );
    }
}
