//! Shared helpers of the integration tests: a moto-backed S3 + SQS setup with the real bucket
//! notification and DLQ redrive, config files, and the pyiceberg oracle.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
    QueueConfiguration, S3KeyFilter,
};
use aws_sdk_sqs::types::QueueAttributeName;
use hsi_edge::testkit::Moto;
use hsi_ingest::aws::Clients;
use hsi_ingest::config::AwsConfig;

pub const RAW_BUCKET: &str = "hsi-raw";
pub const ACCOUNT: &str = "123456789012";

/// moto + clients + a raw bucket whose ObjectCreated events under `raw_cubes/` go to a queue
/// with a DLQ after `max_receive` receives.
pub struct Cloud {
    pub moto: Moto,
    pub clients: Clients,
    pub aws: AwsConfig,
    pub queue_url: String,
    pub dlq_url: String,
}

impl Cloud {
    pub async fn start(test: &str, max_receive: u32) -> Option<Cloud> {
        let moto = Moto::start(test)?;
        let aws = AwsConfig {
            region: Some("us-east-1".into()),
            endpoint_url: Some(moto.endpoint().parse().expect("url")),
            access_key_id: Some("test".into()),
            secret_access_key: Some("test".into()),
        };
        let clients = Clients::new(&aws).await;
        let dlq_url = clients
            .sqs
            .create_queue()
            .queue_name("raw-events-dlq")
            .send()
            .await
            .expect("create dlq")
            .queue_url
            .expect("dlq url");
        let redrive = format!(
            r#"{{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:{ACCOUNT}:raw-events-dlq","maxReceiveCount":"{max_receive}"}}"#
        );
        let queue_url = clients
            .sqs
            .create_queue()
            .queue_name("raw-events")
            .attributes(QueueAttributeName::RedrivePolicy, redrive)
            .attributes(QueueAttributeName::VisibilityTimeout, "30")
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("queue url");
        clients
            .s3
            .create_bucket()
            .bucket(RAW_BUCKET)
            .send()
            .await
            .expect("create bucket");
        let filter = NotificationConfigurationFilter::builder()
            .key(
                S3KeyFilter::builder()
                    .filter_rules(
                        FilterRule::builder()
                            .name(FilterRuleName::Prefix)
                            .value("raw_cubes/")
                            .build(),
                    )
                    .build(),
            )
            .build();
        let qc = QueueConfiguration::builder()
            .queue_arn(format!("arn:aws:sqs:us-east-1:{ACCOUNT}:raw-events"))
            .events(Event::from("s3:ObjectCreated:*"))
            .filter(filter)
            .build()
            .expect("queue config");
        clients
            .s3
            .put_bucket_notification_configuration()
            .bucket(RAW_BUCKET)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(qc)
                    .build(),
            )
            .send()
            .await
            .expect("bucket notification");
        Some(Cloud {
            moto,
            clients,
            aws,
            queue_url,
            dlq_url,
        })
    }

    pub async fn put(&self, key: &str, body: Vec<u8>) {
        self.clients
            .s3
            .put_object()
            .bucket(RAW_BUCKET)
            .key(key)
            .body(body.into())
            .send()
            .await
            .expect("put object");
    }

    /// Visible + in-flight messages of a queue.
    pub async fn depth(&self, url: &str) -> i64 {
        let out = self
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes");
        let attrs = out.attributes.unwrap_or_default();
        [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .filter_map(|k| attrs.get(k).and_then(|v| v.parse::<i64>().ok()))
        .sum()
    }

    /// Wait until the queue holds `n` messages (notifications are delivered asynchronously).
    pub async fn wait_depth(&self, url: &str, n: i64) {
        for _ in 0..100 {
            if self.depth(url).await >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "queue {url} never reached {n} messages (has {})",
            self.depth(url).await
        );
    }

    pub async fn tags(&self, key: &str) -> Vec<(String, String)> {
        hsi_ingest::worker::s3io::tags(&self.clients.s3, RAW_BUCKET, key)
            .await
            .expect("tags")
    }

    /// The `[aws]` section for config files.
    pub fn aws_toml(&self) -> String {
        format!(
            "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\naccess_key_id = \"test\"\nsecret_access_key = \"test\"\n",
            self.moto.endpoint()
        )
    }
}

/// The DESIGN §7 key of a raw cube.
pub fn raw_key(region: &str, farm: &str, date: chrono::NaiveDate, cube_id: &str) -> String {
    format!(
        "raw_cubes/{region}/{farm}/{}/{cube_id}.h5",
        date.format("%Y/%m/%d")
    )
}

/// The pyiceberg interpreter, or `None` after `SKIPPED:` (panics with HSI_REQUIRE_PYTHON).
pub fn python(test: &str) -> Option<String> {
    let py = std::env::var("HSI_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import pyiceberg, pyarrow, sqlalchemy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return Some(py);
    }
    let msg = format!("{test}: {py} cannot import pyiceberg (eval \"$(scripts/bootstrap.sh)\")");
    if std::env::var_os("HSI_REQUIRE_PYTHON").is_some() {
        panic!("{msg} and HSI_REQUIRE_PYTHON is set");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

/// Run a pyiceberg script against the local warehouse `root`; parse its JSON stdout.
pub fn pyiceberg(py: &str, root: &Path, script: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(root)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "pyiceberg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json from pyiceberg")
}

/// Write a config file and return its path.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("ingest.toml");
    std::fs::write(&p, text).expect("write config");
    p
}

/// A small synthetic trial: `n` cubes of `lines × samples`, generated into `dir`.
pub fn synth_trial(
    dir: &Path,
    n: usize,
    lines: usize,
    samples: usize,
) -> (hsi_edge::synth::SynthConfig, hsi_edge::synth::SynthOutput) {
    let cfg = hsi_edge::synth::SynthConfig {
        lines,
        samples,
        plot_rows: 2,
        plot_cols: 3,
        n_cubes: n,
        lines_per_block: 16,
        ..hsi_edge::synth::SynthConfig::default()
    };
    let spectra = hsi_edge::testdata::usgs_spectra().expect("shared spectra");
    let out = hsi_edge::synth::generate(&cfg, &spectra, &dir.join("trial")).expect("synth");
    (cfg, out)
}

/// Upload the trial's cubes under their DESIGN §7 keys; returns (cube id, key) in order.
pub async fn upload_trial(
    cloud: &Cloud,
    cfg: &hsi_edge::synth::SynthConfig,
    out: &hsi_edge::synth::SynthOutput,
) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    for (k, path) in out.cubes.iter().enumerate() {
        let id = cfg.cube_id_for(k);
        let key = raw_key(
            &cfg.region,
            &cfg.farm_id,
            cfg.acquisition_time_for(k).date_naive(),
            &id,
        );
        cloud
            .put(&key, std::fs::read(path).expect("cube bytes"))
            .await;
        keys.push((id, key));
    }
    keys
}

/// The ingest config for a local warehouse in `dir` with the local runner.
pub fn local_config(cloud: &Cloud, dir: &Path) -> PathBuf {
    let warehouse = dir.join("warehouse");
    let text = format!(
        r#"
[lakehouse]
warehouse = "{wh}"

{aws}
[dispatch]
queue_url = "{queue}"
manifest_bucket = "{bucket}"
min_refs = 50
max_refs = 200
window = "1s"
wait_time = "1s"
visibility_timeout = "300s"

[dispatch.runner]
kind = "local"
program = "{exe}"
config = "{cfg}"
attempts = 3

[worker]
zarr_root = "{zarr}"
scratch_dir = "{scratch}"
bronze_uri = "s3://{bucket}/bronze_zarr/"
"#,
        wh = warehouse.display(),
        aws = cloud.aws_toml(),
        queue = cloud.queue_url,
        bucket = RAW_BUCKET,
        exe = env!("CARGO_BIN_EXE_hsi-ingest"),
        cfg = dir.join("ingest.toml").display(),
        zarr = dir.join("zarr").display(),
        scratch = dir.join("scratch").display(),
    );
    write_config(dir, &text)
}

/// Per-cube Silver facts from pyiceberg: rows, distinct pixels; Bronze rows per cube;
/// Gold plot rows; the Silver snapshots' `hsi.manifest.id`s.
pub const TABLE_FACTS: &str = r#"
import json, sys
from pyiceberg.catalog.sql import SqlCatalog
import pyarrow.compute as pc
root = sys.argv[1]
cat = SqlCatalog("hsi", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}")
def rows(name, cols):
    t = cat.load_table(name)
    return t.scan(selected_fields=cols).to_arrow().to_pydict() if t.current_snapshot() else {c: [] for c in cols}
s = rows("silver.reflectance", ("cube_id", "line", "sample"))
silver = {}
for c, l, m in zip(s["cube_id"], s["line"], s["sample"]):
    d = silver.setdefault(c, {"rows": 0, "pixels": set()})
    d["rows"] += 1
    d["pixels"].add((l, m))
b = rows("bronze.cubes", ("cube_id", "raw_uri"))
bronze = {}
for c, u in zip(b["cube_id"], b["raw_uri"]):
    bronze.setdefault(c, []).append(u)
g = cat.load_table("gold.plot_indices")
gold_rows = g.scan().to_arrow().num_rows if g.current_snapshot() else 0
manifests = sorted({s.summary.additional_properties.get("hsi.manifest.id") for s in cat.load_table("silver.reflectance").snapshots()} - {None})
print(json.dumps({
  "silver": {c: {"rows": d["rows"], "pixels": len(d["pixels"])} for c, d in silver.items()},
  "bronze": bronze, "gold_rows": gold_rows, "manifests": manifests,
}))
"#;

/// `s3://…/manifests/{yyyy}/{mm}/{dd}/{id}.json` of a manifest id (dated by its events).
pub async fn find_manifest(cloud: &Cloud, id: &str) -> String {
    let out = cloud
        .clients
        .s3
        .list_objects_v2()
        .bucket(RAW_BUCKET)
        .prefix("manifests/")
        .send()
        .await
        .expect("list manifests");
    let key = out
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .find(|k| k.ends_with(&format!("/{id}.json")))
        .expect("manifest stored")
        .to_owned();
    format!("s3://{RAW_BUCKET}/{key}")
}

/// A tiny deterministic PRNG (xorshift64*), for kill times.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
