//! The whole system, as one: every real process and protocol server the exactly-once
//! guarantee crosses, killed at random, and the end state checked as users see it.
//!
//! - **Servers:** tansu (Kafka; restarted once mid-run, keeping its data) and moto (S3 + SQS
//!   with the real bucket notification into the queue).
//! - **Processes:** the edge daemon `hsi-edge run` (processing into its outbox, streaming to
//!   Kafka, backhauling raw cubes to S3 once its facility probe answers, retention deleting only
//!   backhauled cubes), `hsi-ingest stream` (Kafka → Silver, refreshing Gold),
//!   `hsi-ingest dispatch` with the local runner, and the `hsi-ingest work` processes it
//!   starts (S3 → Bronze + Silver, refreshing Gold).
//! - **Chaos:** while it runs, each of the four kinds of long-running process is SIGKILLed at
//!   random points, several times, and restarted (workers are restarted by the runner or by
//!   the SQS redelivery).
//! - **Every cube travels both paths:** it is streamed first (the probe is closed), then
//!   backhauled and reprocessed by a worker; the batch version replaces the edge version.
//! - **End state, read through pyiceberg:** current Silver holds each pixel once, all from the
//!   batch path; Gold's `pixel_count` for every plot and date equals the generator's count of
//!   plot pixels (computed independently from the plot polygons and the geotransform) and the
//!   count of a clean, uninterrupted local run over the same raw cubes (`hsi run`'s pipeline, a
//!   separate warehouse: the same maths, none of the distribution); `ndvi_mean` is within 1e-3
//!   of that clean run and within the calibration's accuracy (MAE ≤ 0.01) of the generator's
//!   truth; exactly one decision per line; every raw object is tagged `complete`; the edge freed
//!   disk only for backhauled cubes.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Cloud, RAW_BUCKET, Rng, python, raw_key, synth_trial};
use hsi_edge::calib::{CalibrationConfig, CpuCalibrator};
use hsi_edge::testkit::Tansu;
use hsi_lakehouse::breeding::BreedingRules;
use hsi_lakehouse::pipeline::{self, RunInputs, reference, tables};
use hsi_lakehouse::{LakehouseConfig, open_catalog};

const TOPIC: &str = "hsi.silver.v1";
const CUBES: usize = 4;
const LINES: usize = 40;
const SAMPLES: usize = 48;

/// The `hsi-edge` binary built beside `hsi-ingest` by `cargo test --workspace`.
fn edge_bin() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_BIN_EXE_hsi-ingest")).with_file_name("hsi-edge");
    p.exists().then_some(p)
}

/// A long-running process the test kills and restarts.
struct Proc {
    name: &'static str,
    cmd: Box<dyn Fn() -> Command>,
    child: Option<Child>,
    log: PathBuf,
    kills: u32,
}

impl Proc {
    fn new(name: &'static str, log: PathBuf, cmd: impl Fn() -> Command + 'static) -> Proc {
        Proc {
            name,
            cmd: Box::new(cmd),
            child: None,
            log,
            kills: 0,
        }
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log");
        let err = log.try_clone().expect("log");
        let child = (self.cmd)()
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.name));
        self.child = Some(child);
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            self.kills += 1;
        }
    }

    /// SIGTERM, then wait (SIGKILL after 30 s).
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let end = Instant::now() + Duration::from_secs(30);
            while Instant::now() < end {
                if c.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "--- {} ({} kills) ---\n{}",
            self.name,
            self.kills,
            lines[lines.len().saturating_sub(25)..].join("\n")
        )
    }
}

/// Pids of running `hsi-ingest … work --manifest …` processes of this test (by config path).
fn worker_pids(config: &Path) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    let cfg = config.to_string_lossy();
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmd
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.iter().any(|a| a == "work")
            && args.iter().any(|a| a == "--manifest")
            && args.iter().any(|a| *a == cfg)
        {
            out.push(pid);
        }
    }
    out
}

/// What the warehouse says now (iceberg-rust; the final checks use pyiceberg).
#[derive(Debug, Default)]
struct Progress {
    batch_cubes: BTreeSet<String>,
    edge_cubes: BTreeSet<String>,
    edge_rows: usize,
    silver_snapshot: Option<i64>,
    gold_source: Option<i64>,
}

async fn progress(warehouse: &Path) -> Progress {
    use futures::TryStreamExt;
    let mut p = Progress::default();
    let Ok(catalog) = open_catalog(&LakehouseConfig::local(warehouse)).await else {
        return p;
    };
    let Ok(t) = catalog
        .load_table(&hsi_lakehouse::table::silver_reflectance())
        .await
    else {
        return p;
    };
    p.silver_snapshot = t.metadata().current_snapshot_id();
    if p.silver_snapshot.is_some() {
        let batches: Vec<arrow_array::RecordBatch> = match t
            .scan()
            .select(["cube_id", "pipeline"])
            .build()
            .expect("plan")
            .to_arrow()
            .await
        {
            Ok(s) => s.try_collect().await.unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        for b in &batches {
            use arrow_array::Array;
            let c = b
                .column(0)
                .as_any()
                .downcast_ref::<arrow_array::StringArray>();
            let q = b
                .column(1)
                .as_any()
                .downcast_ref::<arrow_array::StringArray>();
            let (Some(c), Some(q)) = (c, q) else { continue };
            for i in 0..b.num_rows() {
                if c.is_valid(i) && q.value(i) == "batch" {
                    p.batch_cubes.insert(c.value(i).to_owned());
                } else {
                    p.edge_rows += 1;
                    p.edge_cubes.insert(c.value(i).to_owned());
                }
            }
        }
    }
    if let Ok(g) = catalog.load_table(&tables::plot_indices()).await {
        p.gold_source = hsi_lakehouse::table::Expect::newest(
            g.metadata(),
            hsi_lakehouse::pipeline::gold::PROP_GOLD_SOURCE,
        )
        .and_then(|v| v.parse().ok());
    }
    p
}

const ORACLE: &str = r#"
import json, sys
from collections import Counter
from pyiceberg.catalog.sql import SqlCatalog
def lake(root):
    return SqlCatalog("hsi", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}")
out = {}
for label, root in (("system", sys.argv[1]), ("reference", sys.argv[2])):
    cat = lake(root)
    s = cat.load_table("silver.reflectance").scan(
        selected_fields=("cube_id", "line", "sample", "pipeline")).to_arrow().to_pydict()
    keys = Counter(zip(s["cube_id"], s["line"], s["sample"]))
    g = cat.load_table("gold.plot_indices").scan().to_arrow().to_pydict()
    d = cat.load_table("gold.breeding_decisions").scan().to_arrow().to_pydict()
    out[label] = {
        "silver_rows": len(s["cube_id"]),
        "silver_distinct": len(keys),
        "silver_pipelines": sorted(set(s["pipeline"])),
        "gold": {f"{p}@{a}": [n, v] for p, a, n, v in zip(
            g["plot_id"], map(str, g["acquisition_date"]), g["pixel_count"], g["ndvi_mean"])},
        "gold_rows": len(g["plot_id"]),
        "decisions": len(d["line_id"]),
        "decision_keys": len(set(zip(d["trial_id"], d["season"], d["line_id"]))),
    }
print(json.dumps(out))
"#;

/// Tests that restart the broker and need its data back: tansu. `scripts/test.sh` runs them
/// last (`broker_restart::`), once tansu is built.
mod broker_restart {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn the_whole_system_counts_every_pixel_once_through_kills_and_a_broker_restart() {
        let Some(py) = python("system") else { return };
        let Some(mut tansu) = Tansu::start("system") else {
            return;
        };
        let Some(cloud) = Cloud::start("system", 10).await else {
            return;
        };
        let Some(edge) = edge_bin() else {
            panic!(
                "system: the hsi-edge binary is not built beside hsi-ingest (cargo test --workspace builds it)"
            );
        };
        tansu.create_topic(TOPIC, 3).expect("topic");
        tansu
            .create_topic("hsi.silver.v1.dlq", 1)
            .expect("dlq topic");
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path();
        let (cfg, trial) = synth_trial(root, CUBES, LINES, SAMPLES);
        let warehouse = root.join("warehouse");
        let reference_wh = root.join("reference");
        std::fs::create_dir_all(&warehouse).expect("mkdir");
        std::fs::create_dir_all(&reference_wh).expect("mkdir");

        // Reference data in the system's warehouse (an operator's `hsi run` loads it the same way).
        {
            let catalog = open_catalog(&LakehouseConfig::local(&warehouse))
                .await
                .expect("catalog");
            tables::init_all(catalog.as_ref()).await.expect("init");
            reference::load(catalog.as_ref(), &trial.plots_geojson, &trial.yields_csv)
                .await
                .expect("references");
        }
        // The oracle: a clean, uninterrupted local run over the same raw cubes.
        {
            let catalog = open_catalog(&LakehouseConfig::local(&reference_wh))
                .await
                .expect("catalog");
            let run = pipeline::run_local(
                catalog.as_ref(),
                &reference_wh.join("bronze_zarr"),
                &RunInputs {
                    cubes: trial.cubes.clone(),
                    plots: trial.plots_geojson.clone(),
                    yields: trial.yields_csv.clone(),
                },
                &CalibrationConfig::default(),
                &mut CpuCalibrator::default(),
                &BreedingRules::embedded().expect("rules"),
            )
            .await
            .expect("reference run");
            assert!(run.failed.is_empty(), "{:?}", run.failed);
        }

        // Edge daemon config: the facility probe is closed until the test opens it.
        let landing = root.join("landing");
        std::fs::create_dir_all(&landing).expect("mkdir");
        let probe_port = hsi_edge::testkit::free_port().expect("port");
        let http_port = hsi_edge::testkit::free_port().expect("port");
        let edge_cfg = root.join("edge.toml");
        std::fs::write(
            &edge_cfg,
            format!(
                r#"
[landing]
dir = "{landing}"
poll_interval = "200ms"
settle = "0s"
[outbox]
dir = "{root}/edge/outbox"
cap_bytes = 1073741824
[state]
dir = "{root}/edge/state"
[processing]
profile = "field"
device = "cpu"
[kafka]
bootstrap = "{brokers}"
topic = "{TOPIC}"
retry_backoff = "500ms"
[kafka.librdkafka]
"message.timeout.ms" = "30000"
[http]
listen = "127.0.0.1:{http_port}"
[backhaul]
enabled = true
bucket = "{RAW_BUCKET}"
endpoint = "{endpoint}"
force_path_style = true
[backhaul.trigger]
facility_probe = "127.0.0.1:{probe_port}"
check_interval = "300ms"
[retention]
enabled = true
high_water_bytes = 1
low_water_bytes = 0
"#,
                landing = landing.display(),
                root = root.display(),
                brokers = tansu.bootstrap(),
                endpoint = cloud.moto.endpoint(),
            ),
        )
        .expect("edge config");

        // Cloud config: dispatcher + local runner + worker + stream consumer on one warehouse.
        let ingest_cfg = root.join("ingest.toml");
        std::fs::write(
            &ingest_cfg,
            format!(
                r#"
[lakehouse]
warehouse = "{wh}"

{aws}
[dispatch]
queue_url = "{queue}"
manifest_bucket = "{RAW_BUCKET}"
min_refs = 1
max_refs = 200
window = "1s"
wait_time = "1s"
visibility_timeout = "20s"

[dispatch.runner]
kind = "local"
program = "{exe}"
config = "{cfg}"
attempts = 3

[worker]
zarr_root = "{root}/zarr"
scratch_dir = "{root}/scratch"

[stream]
brokers = "{brokers}"
topic = "{TOPIC}"
dlq_topic = "hsi.silver.v1.dlq"
group_id = "silver-ingest"
commit_interval = "500ms"
session_timeout = "3s"
max_poll_interval = "4s"
assignment = "manual"
gold_refresh_interval = "1s"
"#,
                wh = warehouse.display(),
                aws = cloud.aws_toml(),
                queue = cloud.queue_url,
                exe = env!("CARGO_BIN_EXE_hsi-ingest"),
                cfg = ingest_cfg.display(),
                root = root.display(),
                brokers = tansu.bootstrap(),
            ),
        )
        .expect("ingest config");

        let ingest = |args: &'static [&'static str]| {
            let cfg = ingest_cfg.clone();
            move || {
                let mut c = Command::new(env!("CARGO_BIN_EXE_hsi-ingest"));
                c.arg("--config")
                    .arg(&cfg)
                    .args(args)
                    .env("RUST_LOG", "info");
                c
            }
        };
        let mut daemon = Proc::new("edge daemon", root.join("edge.log"), {
            let (edge, cfg) = (edge.clone(), edge_cfg.clone());
            move || {
                let mut c = Command::new(&edge);
                c.args(["--log-format", "json", "run", "--config"])
                    .arg(&cfg)
                    .env("RUST_LOG", "info")
                    .env("AWS_ACCESS_KEY_ID", "test")
                    .env("AWS_SECRET_ACCESS_KEY", "test")
                    .env("AWS_EC2_METADATA_DISABLED", "true");
                c
            }
        });
        let mut stream = Proc::new("stream", root.join("stream.log"), ingest(&["stream"]));
        let mut dispatch = Proc::new("dispatch", root.join("dispatch.log"), ingest(&["dispatch"]));
        daemon.start();
        stream.start();
        dispatch.start();

        let seed = std::env::var("HSI_SYSTEM_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| u64::from(std::process::id()) ^ 0x5EED);
        eprintln!("system seed {seed} (HSI_SYSTEM_SEED replays it)");
        let mut rng = Rng(seed | 1);
        let mut worker_kills = 0u32;
        let mut broker_restarted = false;
        let start = Instant::now();
        let deadline = start + Duration::from_secs(420);
        let mut chaos_rounds = 0u32;
        let expected_cubes: BTreeSet<String> = (0..CUBES).map(|k| cfg.cube_id_for(k)).collect();

        // Phase 1, away from the facility: every cube is landed, processed and streamed while the
        // daemon and the stream consumer are killed at random; streamed rows reach Gold.
        for src in &trial.cubes {
            let name = src.file_name().expect("name");
            let partial = landing.join(format!("{}.partial", name.to_string_lossy()));
            std::fs::copy(src, &partial).expect("copy");
            std::fs::rename(&partial, landing.join(name)).expect("rename");
        }
        let mut streamed_gold = false;
        while !streamed_gold {
            if Instant::now() > deadline {
                panic!(
                    "streamed data never reached Gold\n{}\n{}",
                    daemon.tail(),
                    stream.tail()
                );
            }
            std::thread::sleep(Duration::from_millis(800 + rng.below(2000)));
            chaos_rounds += 1;
            if rng.below(2) == 0 {
                daemon.kill9();
                daemon.start();
            } else {
                stream.kill9();
                stream.start();
            }
            if !broker_restarted && chaos_rounds == 4 {
                tansu.restart().expect("broker restart");
                broker_restarted = true;
            }
            // Settled enough? All four cubes have edge rows and Gold covers the newest Silver.
            if chaos_rounds >= 6 {
                tokio::time::sleep(Duration::from_secs(4)).await;
                let p = progress(&warehouse).await;
                streamed_gold = p.edge_cubes == expected_cubes
                    && p.batch_cubes.is_empty()
                    && p.silver_snapshot.is_some()
                    && p.gold_source == p.silver_snapshot;
            }
        }
        let streamed_at = start.elapsed();

        // Phase 2, home: backhaul → S3 → SQS → dispatcher → workers, with every kind of process
        // (workers included: each kill waits for one to be running) killed at random.
        let home = std::net::TcpListener::bind(("127.0.0.1", probe_port)).expect("probe");
        let phase2 = Instant::now();
        // The first workers are killed as soon as they run (they are short-lived on small cubes);
        // the runner's retry and the SQS redelivery start them again.
        for _ in 0..2 {
            let until = Instant::now() + Duration::from_secs(40);
            while Instant::now() < until {
                let pids = worker_pids(&ingest_cfg);
                if !pids.is_empty() {
                    std::thread::sleep(Duration::from_millis(rng.below(300)));
                    for pid in pids {
                        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                        worker_kills += 1;
                    }
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        while phase2.elapsed() < Duration::from_secs(50) {
            std::thread::sleep(Duration::from_millis(800 + rng.below(2000)));
            chaos_rounds += 1;
            match rng.below(4) {
                0 => {
                    daemon.kill9();
                    daemon.start();
                }
                1 => {
                    stream.kill9();
                    stream.start();
                }
                2 => {
                    dispatch.kill9();
                    dispatch.start();
                }
                _ => {
                    let until = Instant::now() + Duration::from_secs(6);
                    while Instant::now() < until {
                        let pids = worker_pids(&ingest_cfg);
                        if !pids.is_empty() {
                            std::thread::sleep(Duration::from_millis(rng.below(1500)));
                            for pid in pids {
                                let _ =
                                    Command::new("kill").args(["-9", &pid.to_string()]).status();
                                worker_kills += 1;
                            }
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
        }
        // Phase 3, calm: wait for the end state.
        loop {
            let p = progress(&warehouse).await;
            let done = p.batch_cubes == expected_cubes
                && p.edge_rows == 0
                && p.silver_snapshot.is_some()
                && p.gold_source == p.silver_snapshot
                && std::fs::read_dir(&landing).map(|d| d.count()).unwrap_or(1) == 0;
            if done {
                break;
            }
            if Instant::now() > deadline {
                panic!(
                    "system did not settle: {p:?}\n{}\n{}\n{}",
                    daemon.tail(),
                    stream.tail(),
                    dispatch.tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        drop(home);
        eprintln!("system: streamed rows were in Gold after {streamed_at:?}");
        eprintln!(
            "system: {chaos_rounds} chaos rounds; kills: daemon {}, stream {}, dispatch {}, workers {worker_kills}; broker restarted: {broker_restarted}; settled after {:?}",
            daemon.kills,
            stream.kills,
            dispatch.kills,
            start.elapsed()
        );
        assert!(broker_restarted);
        assert!(
            daemon.kills >= 2 && stream.kills >= 2 && dispatch.kills >= 1 && worker_kills >= 1,
            "every kind of process was killed (daemon {}, stream {}, dispatch {}, workers {worker_kills})",
            daemon.kills,
            stream.kills,
            dispatch.kills
        );
        // Let the stream's last Gold refresh and any in-flight work finish, then stop everything.
        tokio::time::sleep(Duration::from_secs(3)).await;
        for p in [&mut daemon, &mut stream, &mut dispatch] {
            p.stop();
        }

        // Every raw object is in S3 and tagged complete.
        for k in 0..CUBES {
            let key = raw_key(
                &cfg.region,
                &cfg.farm_id,
                cfg.acquisition_time_for(k).date_naive(),
                &cfg.cube_id_for(k),
            );
            let tags = cloud.tags(&key).await;
            assert!(
                tags.iter()
                    .any(|(k, v)| k == "processing_status" && v == "complete"),
                "{key}: {tags:?}"
            );
        }
        // The edge freed its disk only for backhauled cubes.
        let state = root.join("edge/state/cubes");
        let mut deleted = 0;
        for e in std::fs::read_dir(&state).expect("state").flatten() {
            if e.path().extension().is_some_and(|x| x == "json") {
                let r: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(e.path()).expect("read")).expect("json");
                if r["deleted_at"].is_string() {
                    deleted += 1;
                    assert!(
                        r["backhauled"].is_object(),
                        "deleted but not backhauled: {r}"
                    );
                    assert!(r["processed"].is_object(), "deleted but not processed: {r}");
                }
            }
        }
        assert_eq!(deleted, CUBES, "every cube was freed once backhauled");

        // The end state a user sees, through pyiceberg, against the clean reference run.
        let out = Command::new(&py)
            .arg("-c")
            .arg(ORACLE)
            .arg(&warehouse)
            .arg(&reference_wh)
            .output()
            .expect("python");
        assert!(
            out.status.success(),
            "oracle: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let (sys, reference) = (&v["system"], &v["reference"]);
        assert_eq!(sys["silver_rows"], reference["silver_rows"], "{v}");
        assert_eq!(
            sys["silver_distinct"], sys["silver_rows"],
            "each pixel once: {v}"
        );
        assert_eq!(sys["silver_pipelines"], serde_json::json!(["batch"]));
        assert_eq!(sys["gold_rows"], reference["gold_rows"], "{v}");
        let want: BTreeMap<String, (i64, f64)> = reference["gold"]
            .as_object()
            .expect("gold")
            .iter()
            .map(|(k, x)| {
                (
                    k.clone(),
                    (
                        x[0].as_i64().unwrap_or(-1),
                        x[1].as_f64().unwrap_or(f64::NAN),
                    ),
                )
            })
            .collect();
        let got = sys["gold"].as_object().expect("gold");
        assert_eq!(got.len(), want.len());
        for (k, (n, ndvi)) in &want {
            let g = &got[k];
            assert_eq!(g[0].as_i64(), Some(*n), "{k}: pixel_count");
            let d = g[1].as_f64().unwrap_or(f64::NAN);
            assert!((d - ndvi).abs() <= 1e-3, "{k}: ndvi {d} vs {ndvi}");
        }
        assert_eq!(
            sys["decisions"], sys["decision_keys"],
            "one decision per line: {v}"
        );
        assert_eq!(sys["decisions"], reference["decisions"], "{v}");
    }
}
