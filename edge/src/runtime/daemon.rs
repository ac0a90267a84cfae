//! `hsi-edge run`: the daemon's threads and main loop.
//!
//! - **processing** (the calling thread): scan the landing directory, process each new cube
//!   into the outbox (pausing while the outbox is full), record it `processed`, run retention;
//! - **sender**: drain the outbox into Kafka ([`super::kafka::Sender`]);
//! - **http**: `/healthz`, `/metrics`;
//! - **backhaul** (when enabled): upload raw cubes while a trigger is active.
//!
//! Start-up recovers the outbox (deleting interrupted staging), finishes cubes that were fully
//! acknowledged before a crash, and makes sure every committed cube is recorded `processed`.
//! SIGTERM/SIGINT stop the loops; unacknowledged chunks stay in the outbox for the next start.

use std::fs::File;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::backhaul::{self, Backhaul};
use super::config::EdgeConfig;
use super::error::{Error, Result};
use super::fsutil::create_dir;
use super::kafka::Sender;
use super::landing::{self, LandingCube};
use super::metrics::{Health, Metrics};
use super::outbox::Outbox;
use super::pipeline::{CubeJob, process_cube};
use super::state::{Failed, Processed, StateStore, fingerprint};
use crate::calib::{CalibrationConfig, Calibrator, select};
use crate::flatten::Profile;
use crate::process::Progress;

/// How long to wait before retrying a cube after `ENOSPC` when no acknowledgement frees space.
const DISK_FULL_RETRY: Duration = Duration::from_secs(30);

/// A running daemon's shared parts (for tests and the CLI).
pub struct Daemon {
    cfg: EdgeConfig,
    outbox: Arc<Outbox>,
    state: Arc<StateStore>,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: Arc<AtomicBool>,
    _lock: File,
}

impl Daemon {
    /// Take the state directory's daemon lock, recover the outbox and the state store.
    pub fn open(cfg: EdgeConfig, shutdown: Arc<AtomicBool>) -> Result<Daemon> {
        for d in [&cfg.landing.dir, &cfg.outbox.dir, &cfg.state.dir] {
            create_dir(d)?;
        }
        let lock_path = cfg.state.dir.join("daemon.lock");
        let lock = File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
        lock.try_lock().map_err(|_| {
            Error::config(
                lock_path.display().to_string(),
                "another hsi-edge daemon uses this state directory",
            )
        })?;
        let (outbox, recovery) = Outbox::open(&cfg.outbox.dir, cfg.outbox.cap_bytes)?;
        tracing::info!(
            staging_discarded = recovery.staging_discarded,
            cubes_ready = recovery.cubes_ready,
            chunks_pending = recovery.chunks_pending,
            quarantined = recovery.quarantined.len(),
            "outbox recovered"
        );
        let state = Arc::new(StateStore::open(&cfg.state.dir)?);
        let outbox = Arc::new(outbox);
        let metrics = Arc::new(Metrics::new());
        metrics
            .quarantined
            .inc_by(recovery.quarantined.len() as u64);
        // A crash between an outbox commit and the state update: the commit is the truth, so
        // the cube is recorded processed (and not processed a second time).
        for m in outbox.manifests() {
            if state.get(&m.source)?.is_some_and(|r| r.processed.is_some()) {
                continue;
            }
            let now = chrono::Utc::now();
            state.update(&m.source, |r| {
                r.cube_id = Some(m.cube_id.clone());
                r.processed = Some(Processed {
                    at: now,
                    rows: m.rows,
                    chunks: m.chunk_count,
                    calibration_version: m.calibration_version.clone(),
                    calibrator: "unknown (recovered from the outbox)".into(),
                    profile: cfg.processing.profile.clone(),
                });
            })?;
        }
        // Cubes acknowledged in full before a crash: record them sent, then remove them.
        for d in outbox.drained() {
            let now = chrono::Utc::now();
            state.update(&d.source, |r| {
                r.sent_at.get_or_insert(now);
            })?;
            outbox.remove_drained(d.seq)?;
        }
        let stale = (cfg.landing.poll_interval * 5).max(Duration::from_secs(30));
        Ok(Daemon {
            cfg,
            outbox,
            state,
            metrics,
            health: Health::new(stale),
            shutdown,
            _lock: lock,
        })
    }

    /// The metrics (shared).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Run until shutdown. `on_listen` receives the HTTP address once bound.
    pub fn run(self, on_listen: impl FnOnce(SocketAddr)) -> Result<()> {
        let profile = Profile::by_name(&self.cfg.processing.profile)?;
        let calibration = match &self.cfg.processing.calibration {
            Some(p) => CalibrationConfig::from_toml_file(p)?,
            None => CalibrationConfig::default(),
        };
        let mut calibrator = select::make_calibrator(self.cfg.processing.device)?;
        let described = select::describe(calibrator.as_ref());
        self.metrics.set_calibrator(calibrator.name());
        tracing::info!(calibrator = %described, profile = %profile.name, "daemon starting");

        let (addr, http) = super::http::serve(
            self.cfg.http.listen,
            self.metrics.clone(),
            self.health.clone(),
            self.outbox.clone(),
            self.shutdown.clone(),
        )?;
        tracing::info!(%addr, "serving /healthz and /metrics");
        on_listen(addr);
        let sender = self.spawn_sender()?;
        let backhaul = self.spawn_backhaul()?;
        self.health.beat_main();
        self.health.set_started();

        let result = self.main_loop(&profile, &calibration, calibrator.as_mut());
        self.shutdown.store(true, Ordering::Relaxed);
        let sent = sender.join();
        if let Some(b) = backhaul {
            let _ = b.join();
        }
        let _ = http.join();
        tracing::info!(pending = self.outbox.pending_chunks(), "daemon stopped");
        match sent {
            // Without a sender nothing drains: fail so the supervisor restarts the daemon.
            Ok(Err(e)) => {
                tracing::error!(error = %e, "sender stopped with an error");
                result.and(Err(e))
            }
            Err(_) => result.and(Err(Error::Kafka {
                topic: self.cfg.kafka.topic.clone(),
                cube: None,
                reason: "the sender thread panicked".into(),
                retryable: true,
            })),
            Ok(Ok(stats)) => {
                tracing::info!(
                    chunks = stats.chunks,
                    errors = stats.errors,
                    "sender stopped"
                );
                result
            }
        }
    }

    fn spawn_sender(&self) -> Result<JoinHandle<Result<super::kafka::DeliveryStats>>> {
        let sender = Sender::new(
            self.cfg.kafka.clone(),
            self.outbox.clone(),
            self.state.clone(),
            self.metrics.clone(),
            self.health.clone(),
        );
        let shutdown = self.shutdown.clone();
        std::thread::Builder::new()
            .name("hsi-sender".into())
            .spawn(move || {
                let r = sender.run(&shutdown);
                if r.is_err() {
                    // Without a sender nothing drains: stop so the supervisor restarts us.
                    shutdown.store(true, Ordering::Relaxed);
                }
                r
            })
            .map_err(|e| Error::io("hsi-sender thread", e))
    }

    fn spawn_backhaul(&self) -> Result<Option<JoinHandle<()>>> {
        if !self.cfg.backhaul.enabled {
            return Ok(None);
        }
        let b = Backhaul::new(
            &self.cfg.backhaul,
            &self.cfg.identity,
            &self.cfg.state.dir,
            self.state.clone(),
            self.metrics.clone(),
        )?;
        let (cfg, shutdown, metrics) = (
            self.cfg.clone(),
            self.shutdown.clone(),
            self.metrics.clone(),
        );
        let handle = std::thread::Builder::new()
            .name("hsi-backhaul".into())
            .spawn(move || {
                while !shutdown.load(Ordering::Relaxed) {
                    match backhaul::trigger::active(&cfg.backhaul.trigger, chrono::Utc::now()) {
                        Some(why) => {
                            metrics.backhaul_active.set(1);
                            tracing::debug!(trigger = %why, "backhaul pass");
                            if let Err(e) =
                                b.pass(&cfg.landing.dir, cfg.landing.settle, None, &shutdown)
                            {
                                metrics.backhaul_errors.inc();
                                tracing::warn!(error = %e, "backhaul pass failed");
                            }
                        }
                        None => {
                            metrics.backhaul_active.set(0);
                        }
                    }
                    sleep_until(&shutdown, cfg.backhaul.trigger.check_interval, || {});
                }
            })
            .map_err(|e| Error::io("hsi-backhaul thread", e))?;
        Ok(Some(handle))
    }

    fn main_loop(
        &self,
        profile: &Profile,
        calibration: &CalibrationConfig,
        calibrator: &mut dyn Calibrator,
    ) -> Result<()> {
        let rows_hint = std::sync::Mutex::new(None);
        let job = CubeJob {
            identity: &self.cfg.identity,
            profile,
            calibration,
            max_message_bytes: self.cfg.kafka.max_message_bytes,
            shutdown: &self.shutdown,
            rows_hint: &rows_hint,
        };
        while !self.shutdown.load(Ordering::Relaxed) {
            self.health.beat_main();
            self.metrics.observe_outbox(&self.outbox.stats());
            for cube in landing::scan(&self.cfg.landing.dir, self.cfg.landing.settle)? {
                if self.shutdown.load(Ordering::Relaxed) {
                    break;
                }
                // Only a record of this very capture counts (a reused name is a new cube), and
                // `sent_at` alone is enough: the sender may record it and drop the cube from the
                // outbox before `processed` is written, and the cube must not be sent again.
                let fp = fingerprint(&cube.files)?;
                if let Some(r) = self.state.current(&cube.source, &fp)?
                    && (r.processed.is_some() || r.sent_at.is_some() || r.failed.is_some())
                {
                    continue;
                }
                self.wait_for_space()?;
                match self.process(&cube, &job, calibrator) {
                    Ok(()) => {}
                    Err(Error::Shutdown) => break,
                    Err(e) if e.is_disk_full() => {
                        self.metrics.disk_full.inc();
                        let s = self.outbox.stats();
                        tracing::warn!(
                            source = %cube.source,
                            error = %e,
                            outbox_ready_bytes = s.ready_bytes,
                            "no space left on the outbox disk: cube abandoned, retried when acknowledgements free space"
                        );
                        self.wait_after_disk_full(s.ready_bytes)?;
                        break;
                    }
                    Err(e) if e.retryable() => {
                        tracing::warn!(source = %cube.source, error = %e, "cube interrupted; retried on the next scan");
                        break;
                    }
                    Err(e) => {
                        self.metrics.cubes_failed.inc();
                        tracing::error!(source = %cube.source, error = %e, "cube failed; recorded and skipped");
                        let now = chrono::Utc::now();
                        let reason = e.to_string();
                        let fp = fingerprint(&cube.files).ok();
                        self.state.update(&cube.source, |r| {
                            r.failed = Some(Failed { at: now, reason });
                            r.fingerprint = r.fingerprint.take().or(fp);
                        })?;
                    }
                }
            }
            let deleted = backhaul::retention::enforce(
                &self.cfg.landing.dir,
                &self.cfg.retention,
                &self.state,
            )?;
            self.metrics.retention_deleted.inc_by(u64::from(deleted));
            let health = self.health.clone();
            sleep_until(&self.shutdown, self.cfg.landing.poll_interval, || {
                health.beat_main()
            });
        }
        Ok(())
    }

    /// Wait (heart beating) until the outbox is below its cap.
    fn wait_for_space(&self) -> Result<()> {
        loop {
            self.health.beat_main();
            if self.shutdown.load(Ordering::Relaxed) {
                return Err(Error::Shutdown);
            }
            let s = self.outbox.stats();
            if s.bytes() < s.cap_bytes || s.ready_bytes == 0 {
                return Ok(());
            }
            self.metrics.observe_outbox(&s);
            if self
                .outbox
                .wait_below_cap_for(&self.shutdown, Duration::from_millis(500))?
            {
                return Ok(());
            }
        }
    }

    /// After `ENOSPC`: wait (heart beating) until acknowledgements shrink the ready bytes below
    /// `ready_bytes`, or for [`DISK_FULL_RETRY`] when nothing can drain (the space may be taken by
    /// something else), so a cube is not re-processed in a tight loop against a full disk.
    fn wait_after_disk_full(&self, ready_bytes: u64) -> Result<()> {
        let end = Instant::now() + DISK_FULL_RETRY;
        loop {
            self.health.beat_main();
            self.metrics.observe_outbox(&self.outbox.stats());
            if self.shutdown.load(Ordering::Relaxed) {
                return Err(Error::Shutdown);
            }
            let s = self.outbox.stats();
            if s.ready_bytes < ready_bytes || Instant::now() >= end {
                return Ok(());
            }
            self.outbox.wait_for_change(Duration::from_millis(500));
        }
    }

    fn process(
        &self,
        cube: &LandingCube,
        job: &CubeJob<'_>,
        calibrator: &mut dyn Calibrator,
    ) -> Result<()> {
        let started = Instant::now();
        let fp = fingerprint(&cube.files)?;
        // The record exists (with this capture's fingerprint) before the outbox commit, so a
        // sender that acknowledges everything before `processed` is written updates the
        // right record.
        self.state
            .update(&cube.source, |r| r.fingerprint = Some(fp.clone()))?;
        let mut progress = Beat(&self.health);
        let out = process_cube(cube, job, calibrator, &self.outbox, &mut progress)?;
        let now = chrono::Utc::now();
        let files: Vec<String> = cube
            .files
            .iter()
            .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        self.state.update(&cube.source, |r| {
            r.cube_id = Some(out.header.cube_id.clone());
            r.files = files;
            r.processed = Some(Processed {
                at: now,
                rows: out.rows,
                chunks: out.chunks,
                calibration_version: out.calibration_version.clone(),
                calibrator: calibrator.name().to_owned(),
                profile: job.profile.name.clone(),
            });
        })?;
        // A cube without rows has no chunk to wait for.
        for d in self.outbox.drained() {
            self.state.update(&d.source, |r| {
                r.sent_at.get_or_insert(now);
            })?;
            self.outbox.remove_drained(d.seq)?;
        }
        self.metrics.cubes_processed.inc();
        self.metrics.rows_processed.inc_by(out.rows);
        self.metrics.raw_bytes_processed.inc_by(out.raw_bytes);
        tracing::info!(
            cube_id = %out.header.cube_id,
            source = %cube.source,
            rows = out.rows,
            chunks = out.chunks,
            seconds = started.elapsed().as_secs_f64(),
            "cube processed into the outbox"
        );
        Ok(())
    }
}

/// Progress hook that keeps `/healthz` green while a long cube is processed.
struct Beat<'a>(&'a Health);

impl Progress for Beat<'_> {
    fn advance(&mut self, _lines: u64) {
        self.0.beat_main();
    }
}

/// Sleep up to `total`, waking early on shutdown; `tick` runs every step.
fn sleep_until(shutdown: &AtomicBool, total: Duration, tick: impl Fn()) {
    let end = Instant::now() + total;
    while !shutdown.load(Ordering::Relaxed) && Instant::now() < end {
        tick();
        std::thread::sleep(Duration::from_millis(100).min(end - Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(root: &std::path::Path) -> EdgeConfig {
        let text = format!(
            "[landing]\ndir = \"{r}/landing\"\n[outbox]\ndir = \"{r}/outbox\"\n[state]\ndir = \"{r}/state\"\n[kafka]\nbootstrap = \"127.0.0.1:1\"\n",
            r = root.display()
        );
        EdgeConfig::parse("test", &text).expect("config")
    }

    #[test]
    fn start_up_finishes_what_a_crash_interrupted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = config(dir.path());
        {
            let (outbox, _) = Outbox::open(&cfg.outbox.dir, 1 << 20).expect("outbox");
            let stop = AtomicBool::new(false);
            // Committed, then killed before the state store recorded it processed.
            let mut s = outbox.begin("cube-a", "a.h5").expect("begin");
            s.add(b"chunk-a0", &stop).expect("add");
            s.commit("silver.v1:00", "cal+1", 42).expect("commit");
            // Committed and fully acknowledged, then killed before it was recorded sent.
            let mut s = outbox.begin("cube-b", "b.h5").expect("begin");
            s.add(b"chunk-b0", &stop).expect("add");
            let seq = s.commit("silver.v1:00", "cal+1", 7).expect("commit");
            outbox
                .ack(crate::runtime::outbox::ChunkId { seq, index: 0 })
                .expect("ack");
        }
        let daemon = Daemon::open(cfg, Arc::new(AtomicBool::new(false))).expect("open");
        let a = daemon.state.get("a.h5").expect("get").expect("a recorded");
        let p = a.processed.expect("a is processed");
        assert_eq!((p.rows, p.chunks), (42, 1));
        assert_eq!(a.cube_id.as_deref(), Some("cube-a"));
        assert!(a.sent_at.is_none(), "a still has a chunk to send");
        let b = daemon.state.get("b.h5").expect("get").expect("b recorded");
        assert!(b.processed.is_some() && b.sent_at.is_some());
        assert_eq!(daemon.outbox.stats().cubes_ready, 1);
        assert_eq!(daemon.outbox.pending_chunks(), 1);
        // A second daemon on the same state directory is refused.
        let again = Daemon::open(config(dir.path()), Arc::new(AtomicBool::new(false)));
        let e = again.err().expect("locked").to_string();
        assert!(e.contains("another hsi-edge daemon"), "{e}");
    }
}
