//! Metrics (Prometheus text format) and health of the daemon.
//!
//! Every metric name lives in [`names`]; counters get the `_total` suffix on the wire.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::outbox::OutboxStats;

/// Metric names.
pub mod names {
    /// Cubes processed into the outbox (counter).
    pub const CUBES_PROCESSED: &str = "hsi_edge_cubes_processed";
    /// Cubes that could not be processed (counter).
    pub const CUBES_FAILED: &str = "hsi_edge_cubes_failed";
    /// Rows processed (counter).
    pub const ROWS_PROCESSED: &str = "hsi_edge_rows_processed";
    /// Raw pixel bytes processed (counter).
    pub const RAW_BYTES_PROCESSED: &str = "hsi_edge_raw_bytes_processed";
    /// Cubes whose every chunk Kafka acknowledged (counter).
    pub const CUBES_SENT: &str = "hsi_edge_cubes_sent";
    /// Chunks acknowledged by Kafka (counter).
    pub const CHUNKS_SENT: &str = "hsi_edge_kafka_chunks_sent";
    /// Payload bytes acknowledged by Kafka (counter).
    pub const BYTES_SENT: &str = "hsi_edge_kafka_bytes_sent";
    /// Failed Kafka deliveries; the chunks stay in the outbox (counter).
    pub const DELIVERY_ERRORS: &str = "hsi_edge_kafka_delivery_errors";
    /// Chunks waiting for Kafka (gauge).
    pub const CHUNKS_PENDING: &str = "hsi_edge_outbox_chunks_pending";
    /// Bytes in the outbox, staged + ready (gauge).
    pub const OUTBOX_BYTES: &str = "hsi_edge_outbox_bytes";
    /// The outbox cap (gauge).
    pub const OUTBOX_CAP_BYTES: &str = "hsi_edge_outbox_cap_bytes";
    /// 1 while processing is paused because the outbox is full (gauge).
    pub const BACKPRESSURE: &str = "hsi_edge_outbox_backpressure";
    /// Times processing paused for outbox space (counter).
    pub const BACKPRESSURE_WAITS: &str = "hsi_edge_outbox_backpressure_waits";
    /// Times staging a cube failed because the outbox's disk was full (`ENOSPC`); the cube is
    /// abandoned and retried once acknowledgements free space (counter).
    pub const OUTBOX_DISK_FULL: &str = "hsi_edge_outbox_disk_full";
    /// Outbox cubes quarantined after a failed checksum (counter).
    pub const QUARANTINED: &str = "hsi_edge_outbox_quarantined";
    /// Raw bytes uploaded by backhaul (counter).
    pub const BACKHAUL_BYTES: &str = "hsi_edge_backhaul_bytes";
    /// Multipart parts uploaded (counter).
    pub const BACKHAUL_PARTS: &str = "hsi_edge_backhaul_parts";
    /// Cubes backhauled (counter).
    pub const BACKHAUL_CUBES: &str = "hsi_edge_backhaul_cubes";
    /// Failed backhaul attempts (counter).
    pub const BACKHAUL_ERRORS: &str = "hsi_edge_backhaul_errors";
    /// Landing cubes not yet backhauled (gauge).
    pub const BACKHAUL_PENDING: &str = "hsi_edge_backhaul_pending_cubes";
    /// 1 while a backhaul trigger (facility network, schedule) is active (gauge).
    pub const BACKHAUL_ACTIVE: &str = "hsi_edge_backhaul_active";
    /// Raw cubes deleted by retention (counter).
    pub const RETENTION_DELETED: &str = "hsi_edge_retention_deleted_cubes";
    /// The calibrator in use, `calibrator` label = `cpu` or `cuda` (gauge, value 1).
    pub const CALIBRATOR: &str = "hsi_edge_calibrator_info";
}

/// The daemon's metrics. Cheap to update from any thread.
pub struct Metrics {
    registry: Registry,
    /// See [`names::CUBES_PROCESSED`].
    pub cubes_processed: Counter,
    /// See [`names::CUBES_FAILED`].
    pub cubes_failed: Counter,
    /// See [`names::ROWS_PROCESSED`].
    pub rows_processed: Counter,
    /// See [`names::RAW_BYTES_PROCESSED`].
    pub raw_bytes_processed: Counter,
    /// See [`names::CUBES_SENT`].
    pub cubes_sent: Counter,
    /// See [`names::CHUNKS_SENT`].
    pub chunks_sent: Counter,
    /// See [`names::BYTES_SENT`].
    pub bytes_sent: Counter,
    /// See [`names::DELIVERY_ERRORS`].
    pub delivery_errors: Counter,
    /// See [`names::QUARANTINED`].
    pub quarantined: Counter,
    /// See [`names::OUTBOX_DISK_FULL`].
    pub disk_full: Counter,
    /// See [`names::BACKHAUL_BYTES`].
    pub backhaul_bytes: Counter,
    /// See [`names::BACKHAUL_PARTS`].
    pub backhaul_parts: Counter,
    /// See [`names::BACKHAUL_CUBES`].
    pub backhaul_cubes: Counter,
    /// See [`names::BACKHAUL_ERRORS`].
    pub backhaul_errors: Counter,
    /// See [`names::BACKHAUL_PENDING`].
    pub backhaul_pending: Gauge,
    /// See [`names::BACKHAUL_ACTIVE`].
    pub backhaul_active: Gauge,
    /// See [`names::RETENTION_DELETED`].
    pub retention_deleted: Counter,
    chunks_pending: Gauge,
    outbox_bytes: Gauge,
    outbox_cap: Gauge,
    backpressure: Gauge,
    backpressure_waits: Counter,
    calibrator: Family<Vec<(String, String)>, Gauge>,
    seen_waits: AtomicU64,
    /// Serialises scrapes (the registry encoder is not reentrant-safe for our refresh step).
    scrape: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Register every metric.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let counter = |r: &mut Registry, name: &str, help: &str| {
            let c = Counter::default();
            r.register(name, help, c.clone());
            c
        };
        let gauge = |r: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            r.register(name, help, g.clone());
            g
        };
        let r = &mut registry;
        let calibrator = Family::<Vec<(String, String)>, Gauge>::default();
        r.register(names::CALIBRATOR, "Calibrator in use", calibrator.clone());
        Metrics {
            cubes_processed: counter(r, names::CUBES_PROCESSED, "Cubes processed into the outbox"),
            cubes_failed: counter(r, names::CUBES_FAILED, "Cubes that could not be processed"),
            rows_processed: counter(r, names::ROWS_PROCESSED, "Rows processed"),
            raw_bytes_processed: counter(
                r,
                names::RAW_BYTES_PROCESSED,
                "Raw pixel bytes processed",
            ),
            cubes_sent: counter(
                r,
                names::CUBES_SENT,
                "Cubes whose every chunk Kafka acknowledged",
            ),
            chunks_sent: counter(r, names::CHUNKS_SENT, "Chunks acknowledged by Kafka"),
            bytes_sent: counter(r, names::BYTES_SENT, "Payload bytes acknowledged by Kafka"),
            delivery_errors: counter(
                r,
                names::DELIVERY_ERRORS,
                "Failed Kafka deliveries (re-sent later)",
            ),
            quarantined: counter(
                r,
                names::QUARANTINED,
                "Outbox cubes quarantined after a failed checksum",
            ),
            disk_full: counter(
                r,
                names::OUTBOX_DISK_FULL,
                "Cubes abandoned (and retried) because the outbox disk was full (ENOSPC)",
            ),
            backhaul_bytes: counter(r, names::BACKHAUL_BYTES, "Raw bytes uploaded"),
            backhaul_parts: counter(r, names::BACKHAUL_PARTS, "Multipart parts uploaded"),
            backhaul_cubes: counter(r, names::BACKHAUL_CUBES, "Cubes backhauled"),
            backhaul_errors: counter(r, names::BACKHAUL_ERRORS, "Failed backhaul attempts"),
            backhaul_pending: gauge(
                r,
                names::BACKHAUL_PENDING,
                "Landing cubes not yet backhauled",
            ),
            backhaul_active: gauge(
                r,
                names::BACKHAUL_ACTIVE,
                "1 while a backhaul trigger is active",
            ),
            retention_deleted: counter(
                r,
                names::RETENTION_DELETED,
                "Raw cubes deleted by retention",
            ),
            chunks_pending: gauge(r, names::CHUNKS_PENDING, "Chunks waiting for Kafka"),
            outbox_bytes: gauge(
                r,
                names::OUTBOX_BYTES,
                "Bytes in the outbox (staged + ready)",
            ),
            outbox_cap: gauge(r, names::OUTBOX_CAP_BYTES, "Outbox size cap"),
            backpressure: gauge(
                r,
                names::BACKPRESSURE,
                "1 while processing waits for outbox space",
            ),
            backpressure_waits: counter(
                r,
                names::BACKPRESSURE_WAITS,
                "Times processing paused for outbox space",
            ),
            calibrator,
            seen_waits: AtomicU64::new(0),
            scrape: Mutex::new(()),
            registry,
        }
    }

    /// Record the calibrator in use (`cpu`, `cuda`).
    pub fn set_calibrator(&self, name: &str) {
        self.calibrator
            .get_or_create(&vec![("calibrator".to_owned(), name.to_owned())])
            .set(1);
    }

    /// Update the outbox gauges from a snapshot.
    pub fn observe_outbox(&self, s: &OutboxStats) {
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.chunks_pending.set(clamp(s.chunks_pending as u64));
        self.outbox_bytes.set(clamp(s.bytes()));
        self.outbox_cap.set(clamp(s.cap_bytes));
        self.backpressure.set(i64::from(s.backpressure));
        let before = self
            .seen_waits
            .swap(s.backpressure_waits, Ordering::Relaxed);
        self.backpressure_waits
            .inc_by(s.backpressure_waits.saturating_sub(before));
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let _g = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Liveness of the daemon's loops, for `/healthz`.
pub struct Health {
    started: AtomicBool,
    main: AtomicU64,
    sender: AtomicU64,
    stale_after: Duration,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Health {
    /// A loop that has not beaten for `stale_after` is reported unhealthy.
    pub fn new(stale_after: Duration) -> Arc<Self> {
        Arc::new(Health {
            started: AtomicBool::new(false),
            main: AtomicU64::new(0),
            sender: AtomicU64::new(0),
            stale_after,
        })
    }

    /// Recovery is done and the loops run.
    pub fn set_started(&self) {
        self.started.store(true, Ordering::Relaxed);
    }

    /// The processing loop is alive (called per scan, per block, and while paused).
    pub fn beat_main(&self) {
        self.main.store(now_ms(), Ordering::Relaxed);
    }

    /// The sender loop is alive.
    pub fn beat_sender(&self) {
        self.sender.store(now_ms(), Ordering::Relaxed);
    }

    /// `Ok` when started and both loops beat recently, else what is wrong. While processing is
    /// `paused` for outbox space (backpressure) its silence is expected.
    pub fn check(&self, paused: bool) -> Result<(), String> {
        if !self.started.load(Ordering::Relaxed) {
            return Err("starting (outbox recovery)".into());
        }
        let limit = self.stale_after.as_millis() as u64;
        let now = now_ms();
        for (name, at) in [("processing", &self.main), ("sender", &self.sender)] {
            if paused && name == "processing" {
                continue;
            }
            let age = now.saturating_sub(at.load(Ordering::Relaxed));
            if age > limit {
                return Err(format!("{name} loop silent for {age} ms"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_every_metric() {
        let m = Metrics::new();
        m.set_calibrator("cpu");
        m.cubes_processed.inc();
        m.observe_outbox(&OutboxStats {
            chunks_pending: 3,
            ready_bytes: 100,
            staging_bytes: 20,
            cap_bytes: 1000,
            backpressure: true,
            backpressure_waits: 2,
            cubes_ready: 1,
        });
        let text = m.render();
        for line in [
            "hsi_edge_cubes_processed_total 1",
            "hsi_edge_outbox_chunks_pending 3",
            "hsi_edge_outbox_bytes 120",
            "hsi_edge_outbox_cap_bytes 1000",
            "hsi_edge_outbox_backpressure 1",
            "hsi_edge_outbox_backpressure_waits_total 2",
            "hsi_edge_kafka_delivery_errors_total 0",
            "hsi_edge_calibrator_info{calibrator=\"cpu\"} 1",
            "hsi_edge_backhaul_bytes_total 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in\n{text}"
            );
        }
    }

    #[test]
    fn health_needs_both_loops() {
        let h = Health::new(Duration::from_secs(60));
        assert!(h.check(false).is_err());
        h.set_started();
        h.beat_main();
        assert!(
            h.check(false)
                .expect_err("sender silent")
                .contains("sender")
        );
        h.beat_sender();
        assert_eq!(h.check(false), Ok(()));
        let h = Health::new(Duration::ZERO);
        h.set_started();
        h.beat_sender();
        std::thread::sleep(Duration::from_millis(5));
        // Both silent: processing is reported first unless it is paused by backpressure.
        assert!(h.check(false).expect_err("stale").contains("processing"));
        assert!(h.check(true).expect_err("stale").contains("sender"));
    }
}
