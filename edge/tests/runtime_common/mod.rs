//! Helpers of the edge-runtime integration tests: synthetic cubes, the daemon as a child
//! process, a Kafka reader that counts duplicate records, and an HTTP GET.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use hsi_edge::calib::{CalibrationConfig, CpuCalibrator};
use hsi_edge::chunk::{ChunkMeta, decode};
use hsi_edge::flatten::Profile;
use hsi_edge::process::{NoProgress, process_file};
use hsi_edge::synth::{self, SynthConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

pub const TOPIC: &str = "hsi.silver.v1";
pub const PARTITIONS: u32 = 3;
/// Small chunks, so every cube is several records.
pub const MAX_MESSAGE: usize = 96 * 1024;

/// `n` synthetic HDF5 cubes of `lines` x `samples` in `dir/cubes/` (distinct cube ids).
pub fn synth_cubes(dir: &Path, n: usize, lines: usize, samples: usize) -> Vec<PathBuf> {
    let cfg = SynthConfig {
        lines,
        samples,
        n_cubes: n,
        plot_rows: 2,
        plot_cols: 2,
        ..SynthConfig::default()
    };
    let spectra = hsi_edge::testdata::usgs_spectra().expect("shared test data");
    synth::generate(&cfg, &spectra, dir)
        .expect("synthesis")
        .cubes
}

/// A small real ENVI chip (header + binary) from the shared data.
pub fn envi_chip() -> (PathBuf, PathBuf) {
    let stem = "ang20140912t192359_corr_v1c_img_400-410_10-20";
    let hdr = hsi_edge::testdata::shared_file(format!("envi/{stem}.hdr")).expect("ENVI fixture");
    let img = hsi_edge::testdata::shared_file(format!("envi/{stem}.img")).expect("ENVI fixture");
    (hdr, img)
}

/// Put a file into the landing directory the way a sensor must: write `NAME.partial`, then
/// rename to `NAME` (rename-on-close).
pub fn land(src: &Path, landing: &Path) {
    let name = src.file_name().expect("file name");
    let mut partial = name.to_owned();
    partial.push(".partial");
    std::fs::copy(src, landing.join(&partial)).expect("copy");
    std::fs::rename(landing.join(&partial), landing.join(name)).expect("rename");
}

/// Rows of each cube by cube id, as `hsi-edge process` produces them (the oracle).
pub fn expected_rows(cubes: &[PathBuf], profile: &str) -> BTreeMap<String, u64> {
    let out = tempfile::tempdir().expect("tempdir");
    let profile = Profile::by_name(profile).expect("profile");
    cubes
        .iter()
        .map(|c| {
            let s = process_file(
                c,
                out.path(),
                &profile,
                &CalibrationConfig::default(),
                &mut CpuCalibrator::new(),
                &mut NoProgress,
            )
            .expect("process");
            (s.cube_id, s.rows)
        })
        .collect()
}

/// The daemon's directories and configuration.
pub struct Setup {
    pub root: tempfile::TempDir,
    pub landing: PathBuf,
    pub config: PathBuf,
    pub http_port: u16,
}

impl Setup {
    /// Directories under a temp root and an `edge.toml` for `bootstrap`.
    pub fn new(bootstrap: &str, cap_bytes: u64, extra: &str) -> Setup {
        let root = tempfile::tempdir().expect("tempdir");
        let landing = root.path().join("landing");
        std::fs::create_dir_all(&landing).expect("mkdir");
        let http_port = hsi_edge::testkit::free_port().expect("port");
        let config = root.path().join("edge.toml");
        let text = format!(
            r#"
[landing]
dir = "{landing}"
poll_interval = "200ms"
settle = "0s"
[outbox]
dir = "{root}/outbox"
cap_bytes = {cap_bytes}
[state]
dir = "{root}/state"
[processing]
profile = "full"
device = "cpu"
[kafka]
bootstrap = "{bootstrap}"
topic = "{TOPIC}"
max_message_bytes = {MAX_MESSAGE}
retry_backoff = "500ms"
[kafka.librdkafka]
"message.timeout.ms" = "30000"
[http]
listen = "127.0.0.1:{http_port}"
[identity]
farm_id = "farm-edge-test"
field_id = "field-1"
region = "us-test"
sensor_id = "sensor-1"
{extra}
"#,
            landing = landing.display(),
            root = root.path().display(),
        );
        std::fs::write(&config, text).expect("write config");
        Setup {
            root,
            landing,
            config,
            http_port,
        }
    }

    pub fn outbox(&self) -> PathBuf {
        self.root.path().join("outbox")
    }

    pub fn state(&self) -> PathBuf {
        self.root.path().join("state")
    }

    /// Start `hsi-edge run`; its JSON log goes to `root/daemon-N.log`.
    pub fn spawn(&self, n: usize) -> Child {
        let log = std::fs::File::create(self.root.path().join(format!("daemon-{n}.log")))
            .expect("log file");
        Command::new(env!("CARGO_BIN_EXE_hsi-edge"))
            .args(["--log-format", "json", "run", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn hsi-edge run")
    }

    /// All daemon logs, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for n in 0..1000 {
            let p = self.root.path().join(format!("daemon-{n}.log"));
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            out.push_str(&format!("--- daemon-{n}.log (last lines)\n"));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    /// `GET path` on the daemon's HTTP port: (status, body).
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.http_port, path)
    }

    /// The value of a metric line `name value` (no labels).
    pub fn metric(&self, name: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics")?;
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    }

    /// Wait until `/healthz` answers (the daemon is up).
    pub fn wait_up(&self, timeout: Duration) -> bool {
        wait_until(timeout, || self.get("/healthz").is_some())
    }
}

pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

pub fn wait_until(timeout: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    ok()
}

/// What the topic holds: every record counted (`records`), distinct (cube id, chunk index)
/// kept once in `chunks` so a lost chunk is found; `duplicates()` reports the second copies.
#[derive(Debug, Default)]
pub struct TopicContents {
    /// Records read (duplicates included).
    pub records: usize,
    /// Distinct (cube id, chunk index).
    pub chunks: BTreeMap<(String, u32), ChunkSummary>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChunkSummary {
    pub rows: usize,
    pub count: u32,
    pub payload_len: usize,
    /// (line, sample) of the first row: identical for a duplicate.
    pub first_pixel: (i32, i32),
    pub partition: i32,
}

impl TopicContents {
    /// Rows per cube over the distinct chunks; panics when a cube's chunk set is incomplete.
    pub fn rows_per_cube(&self) -> BTreeMap<String, u64> {
        let mut rows: BTreeMap<String, u64> = BTreeMap::new();
        let mut seen: BTreeMap<String, (u32, u32)> = BTreeMap::new();
        for ((cube, _), c) in &self.chunks {
            *rows.entry(cube.clone()).or_default() += c.rows as u64;
            let e = seen.entry(cube.clone()).or_insert((0, c.count));
            e.0 += 1;
            assert_eq!(
                e.1, c.count,
                "cube {cube}: chunks disagree on the chunk count"
            );
        }
        for (cube, (n, count)) in &seen {
            assert_eq!(n, count, "cube {cube}: {n} of {count} chunks");
        }
        rows
    }

    pub fn duplicates(&self) -> usize {
        self.records - self.chunks.len()
    }
}

/// Read the whole topic until `want_cubes` cubes are complete (or `timeout`), decoding and
/// validating every record (DESIGN §6 headers, Parquet payload, size cap, key = cube id).
pub fn read_topic(bootstrap: &str, want_cubes: usize, timeout: Duration) -> TopicContents {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("hsi-test-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS as i32 {
        tpl.add_partition_offset(TOPIC, p, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&tpl).expect("assign");
    let mut out = TopicContents::default();
    let end = Instant::now() + timeout;
    let mut bytes = [0u64; PARTITIONS as usize];
    let complete = |out: &TopicContents| {
        let mut per: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
        for ((cube, _), c) in &out.chunks {
            let e = per.entry(cube).or_insert((0, c.count));
            e.0 += 1;
        }
        per.values().filter(|(n, c)| n == c).count()
    };
    let mut quiet_since = Instant::now();
    while Instant::now() < end {
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            // Everything wanted is in and nothing new for a second: done.
            if complete(&out) >= want_cubes && quiet_since.elapsed() > Duration::from_secs(1) {
                break;
            }
            continue;
        };
        quiet_since = Instant::now();
        let msg = msg.expect("kafka message");
        let origin = format!("{}/{}@{}", msg.topic(), msg.partition(), msg.offset());
        let headers: Vec<(String, Vec<u8>)> = msg
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                    .collect()
            })
            .unwrap_or_default();
        let meta = ChunkMeta::from_headers(
            &origin,
            headers
                .iter()
                .map(|(k, v)| (k.as_str(), Some(v.as_slice()))),
        )
        .expect("DESIGN §6 headers");
        assert_eq!(
            msg.key(),
            Some(meta.cube_id.as_bytes()),
            "{origin}: key = cube id"
        );
        let payload = msg.payload().unwrap_or_default();
        if let Some(b) = bytes.get_mut(msg.partition() as usize) {
            *b += payload.len() as u64;
        }
        assert!(
            payload.len() <= MAX_MESSAGE,
            "{origin}: {} bytes",
            payload.len()
        );
        let chunk = decode(&origin, meta.clone(), payload).expect("valid chunk");
        let b = &chunk.batches[0];
        let line = b
            .column_by_name("line")
            .expect("line")
            .as_primitive::<Int32Type>()
            .value(0);
        let sample = b
            .column_by_name("sample")
            .expect("sample")
            .as_primitive::<Int32Type>()
            .value(0);
        let summary = ChunkSummary {
            rows: chunk.rows,
            count: meta.chunk_count,
            payload_len: payload.len(),
            first_pixel: (line, sample),
            partition: msg.partition(),
        };
        out.records += 1;
        let key = (meta.cube_id.clone(), meta.chunk_index);
        if let Some(prev) = out.chunks.get(&key) {
            assert_eq!(
                prev, &summary,
                "{origin}: a duplicate must be the same chunk"
            );
        } else {
            out.chunks.insert(key, summary);
        }
    }
    // A broker that dropped the head of a partition (the mock brokers keep ~5 MiB each) would
    // look like lost chunks: say so instead.
    for p in 0..PARTITIONS as i32 {
        let (low, _) = consumer
            .fetch_watermarks(TOPIC, p, Duration::from_secs(10))
            .expect("watermarks");
        assert_eq!(
            low, 0,
            "partition {p}: the broker dropped its first {low} records (retention; {} bytes \
             read): the test's data is too large for this broker",
            bytes[p as usize]
        );
    }

    out
}

/// Start an in-process mock Kafka cluster with the topic (for tests that never restart it).
pub fn mock_kafka(test: &str) -> hsi_edge::testkit::MockKafka {
    let k = hsi_edge::testkit::MockKafka::start(test, 1);
    k.create_topic(TOPIC, PARTITIONS).expect("create topic");
    k
}

/// Start tansu with the topic, or `None` (skipped) when it is not installed. Only for tests
/// that restart the broker and need its data back.
pub fn tansu(test: &str) -> Option<hsi_edge::testkit::Tansu> {
    let t = hsi_edge::testkit::Tansu::start(test)?;
    t.create_topic(TOPIC, PARTITIONS).expect("create topic");
    Some(t)
}
