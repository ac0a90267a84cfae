//! R2: the Batch worker killed with SIGKILL at random points, ten times in a row, each time
//! rerun on the same manifest. At the end every cube is in Silver exactly once, pixel by pixel
//! (0 duplicates, 0 missing), and once in `bronze.cubes`; every raw object is tagged complete.
//! Also: SIGTERM stops the worker at a cube boundary with exit code 75.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{
    Cloud, RAW_BUCKET, Rng, TABLE_FACTS, local_config, pyiceberg, python, synth_trial, upload_trial,
};
use hsi_ingest::dispatch::{CubeRef, Manifest, write_manifest};

const LINES: usize = 40;
const SAMPLES: usize = 48;
const CUBES: usize = 8;

async fn manifest_for(cloud: &Cloud, keys: &[(String, String)]) -> String {
    let refs: Vec<CubeRef> = keys
        .iter()
        .map(|(_, key)| CubeRef {
            bucket: RAW_BUCKET.into(),
            key: key.clone(),
            etag: None,
            size: None,
            sequencer: None,
            event_time: None,
        })
        .collect();
    let m = Manifest::build(&refs, Utc::now().date_naive()).unwrap();
    write_manifest(&cloud.clients.s3, RAW_BUCKET, "", &m)
        .await
        .unwrap()
}

fn worker(cfg: &std::path::Path, manifest: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hsi-ingest"));
    c.args([
        "--config",
        cfg.to_str().unwrap(),
        "work",
        "--manifest",
        manifest,
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    c
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_ten_times_then_every_pixel_exactly_once() {
    let Some(py) = python("worker_kill") else {
        return;
    };
    let Some(cloud) = Cloud::start("worker_kill", 3).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (scfg, trial) = synth_trial(dir.path(), CUBES, LINES, SAMPLES);
    let cfg = local_config(&cloud, dir.path());
    let keys = upload_trial(&cloud, &scfg, &trial).await;
    let manifest = manifest_for(&cloud, &keys).await;

    // How long a full run takes on a fresh warehouse (measured in a scratch copy).
    let probe = tempfile::tempdir().unwrap();
    let probe_cfg = local_config(&cloud, probe.path());
    let t0 = Instant::now();
    assert!(worker(&probe_cfg, &manifest).status().unwrap().success());
    let full = t0.elapsed();
    eprintln!("one full worker run: {full:?}");

    let seed = 0x5EED_0002_u64 ^ u64::from(std::process::id());
    eprintln!("kill-time seed {seed:#x}");
    let mut rng = Rng(seed);
    let mut killed = 0;
    for round in 0..10 {
        // Each round kills early enough to leave work for the next one.
        let at = Duration::from_millis(30 + rng.below(full.as_millis() as u64 / 4 + 1));
        let mut child = worker(&cfg, &manifest).spawn().unwrap();
        std::thread::sleep(at);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        let status = child.wait().unwrap();
        eprintln!("round {round}: kill after {at:?}: {status:?}");
    }
    assert!(
        killed >= 5,
        "most rounds must really kill a running worker ({killed})"
    );
    assert!(
        worker(&cfg, &manifest).status().unwrap().success(),
        "final run completes"
    );

    let facts = pyiceberg(&py, &dir.path().join("warehouse"), TABLE_FACTS, &[]);
    let per_cube = (LINES * SAMPLES) as u64;
    for (id, key) in &keys {
        assert_eq!(
            facts["silver"][id]["rows"], per_cube,
            "{id}: 0 duplicated, 0 missing"
        );
        assert_eq!(facts["silver"][id]["pixels"], per_cube, "{id}: every pixel");
        assert_eq!(facts["bronze"][id].as_array().unwrap().len(), 1, "{id}");
        let tags = cloud.tags(key).await;
        assert!(
            tags.contains(&("processing_status".into(), "complete".into())),
            "{key}"
        );
    }
    assert_eq!(facts["silver"].as_object().unwrap().len(), CUBES);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_at_a_cube_boundary_with_75_and_the_retry_finishes() {
    let Some(py) = python("worker_sigterm") else {
        return;
    };
    let Some(cloud) = Cloud::start("worker_sigterm", 3).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (scfg, trial) = synth_trial(dir.path(), CUBES, LINES, SAMPLES);
    let cfg = local_config(&cloud, dir.path());
    let keys = upload_trial(&cloud, &scfg, &trial).await;
    let manifest = manifest_for(&cloud, &keys).await;

    let mut child = worker(&cfg, &manifest).spawn().unwrap();
    // SIGTERM as soon as the first cube is committed (its raw object is tagged).
    let first = &keys[0].1;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cloud
        .tags(first)
        .await
        .iter()
        .any(|(k, v)| k == "processing_status" && v == "complete")
    {
        assert!(Instant::now() < deadline, "first cube never committed");
        assert!(child.try_wait().unwrap().is_none(), "worker exited early");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(75),
        "interrupted workers exit 75 so Batch retries"
    );
    let facts = pyiceberg(&py, &dir.path().join("warehouse"), TABLE_FACTS, &[]);
    let done = facts["bronze"].as_object().map_or(0, |o| o.len());
    assert!(
        (1..CUBES).contains(&done),
        "stopped at a boundary after {done} cubes"
    );
    // Whatever was committed is whole, and recorded in bronze.cubes.
    let silver = facts["silver"].as_object().unwrap();
    assert_eq!(silver.len(), done);
    for v in silver.values() {
        assert_eq!(v["rows"], (LINES * SAMPLES) as u64);
    }
    assert!(worker(&cfg, &manifest).status().unwrap().success());
    let facts = pyiceberg(&py, &dir.path().join("warehouse"), TABLE_FACTS, &[]);
    assert_eq!(facts["bronze"].as_object().unwrap().len(), CUBES);
    for (id, _) in &keys {
        assert_eq!(facts["silver"][id]["rows"], (LINES * SAMPLES) as u64);
    }
}
