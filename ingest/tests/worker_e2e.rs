//! End to end against moto: synthetic raw cubes under the DESIGN §7 keys → the real bucket
//! notification → dispatcher → manifest → local runner → `hsi-ingest work` processes →
//! Bronze, Silver, Gold. pyiceberg checks every cube exactly once; every raw object is tagged
//! `processing_status=complete`; a corrupt cube is quarantined and tagged `failed`; the same
//! events delivered again, and the manifest run again, add no rows.

mod common;

use std::path::Path;
use std::process::Command;

use common::{
    Cloud, RAW_BUCKET, TABLE_FACTS, local_config, pyiceberg, python, synth_trial, upload_trial,
};
use hsi_ingest::IngestConfig;
use hsi_ingest::dispatch::{Dispatcher, runner};
use hsi_ingest::metrics::Metrics;
use hsi_ingest::shutdown::Shutdown;
use hsi_lakehouse::{LakehouseConfig, open_catalog};

const LINES: usize = 40;
const SAMPLES: usize = 48;

async fn dispatch_once(cloud: &Cloud, cfg: &IngestConfig) -> hsi_ingest::dispatch::DispatchStats {
    let d = cfg.dispatch().unwrap().clone();
    let runner = runner::from_config(&d.runner, cloud.clients.batch.clone()).unwrap();
    let mut dispatcher = Dispatcher::new(
        cloud.clients.s3.clone(),
        cloud.clients.sqs.clone(),
        d,
        runner,
        Metrics::new(),
    );
    dispatcher.run(&Shutdown::default(), true).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_events_to_tables_exactly_once_with_tags_and_quarantine() {
    let Some(py) = python("worker_e2e") else {
        return;
    };
    let Some(cloud) = Cloud::start("worker_e2e", 3).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (scfg, trial) = synth_trial(dir.path(), 3, LINES, SAMPLES);
    let cfg_path = local_config(&cloud, dir.path());
    let cfg = IngestConfig::load(&cfg_path).unwrap();

    // Reference data for Gold, loaded once by an operator (as `hsi run` does).
    let warehouse = dir.path().join("warehouse");
    let catalog = open_catalog(&LakehouseConfig::local(&warehouse))
        .await
        .unwrap();
    hsi_lakehouse::pipeline::tables::init_all(catalog.as_ref())
        .await
        .unwrap();
    hsi_lakehouse::pipeline::reference::load(
        catalog.as_ref(),
        &trial.plots_geojson,
        &trial.yields_csv,
    )
    .await
    .unwrap();

    let cubes = upload_trial(&cloud, &scfg, &trial).await;
    let bad_key = "raw_cubes/us-central/farm-ks-001/2024/06/14/corrupt.h5";
    cloud.put(bad_key, b"this is not HDF5".to_vec()).await;
    cloud.wait_depth(&cloud.queue_url, 5).await; // + the s3:TestEvent

    let stats = dispatch_once(&cloud, &cfg).await;
    assert_eq!(stats.manifests.len(), 1, "{stats:?}");
    assert_eq!(stats.failed_bundles, 0, "{stats:?}");
    assert_eq!(cloud.depth(&cloud.queue_url).await, 0);

    let facts = pyiceberg(&py, &warehouse, TABLE_FACTS, &[]);
    let per_cube = (LINES * SAMPLES) as u64;
    for (id, key) in &cubes {
        assert_eq!(facts["silver"][id]["rows"], per_cube, "{id}: {facts}");
        assert_eq!(facts["silver"][id]["pixels"], per_cube, "{id}");
        let uris = facts["bronze"][id].as_array().unwrap();
        assert_eq!(uris.len(), 1, "{id} once in bronze.cubes");
        assert_eq!(uris[0], format!("s3://{RAW_BUCKET}/{key}"));
        let tags = cloud.tags(key).await;
        assert!(
            tags.contains(&("processing_status".into(), "complete".into())),
            "{key}: {tags:?}"
        );
        // Bronze: the Zarr store was published to S3 before the commit.
        let listed = cloud
            .clients
            .s3
            .list_objects_v2()
            .bucket(RAW_BUCKET)
            .prefix(format!("bronze_zarr/{id}.zarr/"))
            .send()
            .await
            .unwrap();
        let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
        assert!(
            keys.iter().any(|k| k.ends_with("zarr.json")) && keys.len() >= 2,
            "{id}: Bronze store in S3: {keys:?}"
        );
    }
    assert_eq!(facts["silver"].as_object().unwrap().len(), 3);
    assert_eq!(facts["manifests"], serde_json::json!([stats.manifests[0]]));
    assert_eq!(
        facts["gold_rows"].as_u64().unwrap() as usize,
        trial.expected.len(),
        "one Gold row per plot and date"
    );

    // The corrupt cube: tagged failed, with a quarantine record naming it and the manifest.
    let tags = cloud.tags(bad_key).await;
    assert!(
        tags.contains(&("processing_status".into(), "failed".into())),
        "{tags:?}"
    );
    let q = hsi_ingest::worker::s3io::get_text(
        &cloud.clients.s3,
        RAW_BUCKET,
        &format!("quarantine/{bad_key}.error.json"),
    )
    .await
    .unwrap();
    let q: serde_json::Value = serde_json::from_str(&q).unwrap();
    assert_eq!(q["key"], bad_key);
    assert_eq!(q["manifest_id"], stats.manifests[0]);
    assert!(!q["error"].as_str().unwrap().is_empty());

    // Duplicates and redelivery: every object written again with the same bytes (the
    // notification fires again), and the manifest re-run by hand: nothing is added.
    for (k, (_, key)) in cubes.iter().enumerate() {
        cloud
            .put(key, std::fs::read(&trial.cubes[k]).unwrap())
            .await;
    }
    cloud.wait_depth(&cloud.queue_url, 3).await;
    let again = dispatch_once(&cloud, &cfg).await;
    assert_eq!(again.manifests.len(), 1);
    let manifest_uri = common::find_manifest(&cloud, &stats.manifests[0]).await;
    // Run it as AWS Batch would: the job definition's command from the Terraform, with
    // `Ref::manifest` replaced by the parameter the dispatcher submits, and the config from
    // HSI_INGEST_CONFIG as the job definition's environment sets it.
    let command = batch_command(&manifest_uri);
    assert_eq!(command[0], "hsi-ingest", "{command:?}");
    let status = Command::new(env!("CARGO_BIN_EXE_hsi-ingest"))
        .args(&command[1..])
        .env("HSI_INGEST_CONFIG", &cfg_path)
        .status()
        .unwrap();
    assert!(status.success(), "{command:?}: {status}");
    let facts2 = pyiceberg(&py, &warehouse, TABLE_FACTS, &[]);
    assert_eq!(
        facts2["silver"], facts["silver"],
        "no rows added by duplicates or re-runs"
    );
    assert_eq!(facts2["bronze"], facts["bronze"]);
    // Tags of a cube are merged, not replaced.
    for (_, key) in &cubes {
        let tags = cloud.tags(key).await;
        assert_eq!(
            tags.iter()
                .filter(|(k, _)| k == "processing_status")
                .count(),
            1
        );
    }
}

/// The Batch job definition's command (`terraform/modules/batch/main.tf`), with the job
/// parameter `manifest` substituted as Batch does for `Ref::manifest`.
fn batch_command(manifest_uri: &str) -> Vec<String> {
    let tf = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../terraform/modules/batch/main.tf"),
    )
    .unwrap();
    let line = tf
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("command ") && l.contains('['))
        .expect("the job definition's command");
    let list = &line[line.find('[').unwrap() + 1..line.rfind(']').unwrap()];
    let param = format!("Ref::{}", hsi_ingest::dispatch::runner::MANIFEST_PARAMETER);
    list.split(',')
        .map(|a| a.trim().trim_matches('"').to_owned())
        .map(|a| {
            if a == param {
                manifest_uri.to_owned()
            } else {
                a
            }
        })
        .collect()
}
