//! R1: Kafka → Silver exactly once against a real Kafka-protocol broker: rdkafka's
//! `MockCluster` (librdkafka's mock brokers on local TCP ports; the consumer is a separate
//! process). None of these tests restarts the broker, so none needs tansu.
//!
//! - Kill loop, in consumer-group mode (production: MSK) and in manual-assignment mode: chunks
//!   are produced to a 3-partition topic while the `hsi-ingest stream` process is SIGKILLed at
//!   random points 20 times and restarted; Silver ends with exactly the produced rows (0 lost,
//!   0 duplicated), and `hsi.kafka.offsets` equals the topic's end. In group mode each new
//!   member waits for the killed one's session to expire, as on a real cluster.
//! - Rebalance: two consumers in one group, a third joining and one leaving in between; same
//!   result.
//! - Poison: a chunk that is not Parquet and one whose schema header lies go to the DLQ topic
//!   with the reason; everything else is committed.
//! - Re-send: the same cube produced again with other chunking lands once.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{
    Array, Float32Array, Float64Array, Int32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use common::Rng;
use hsi_edge::chunk::{ChunkEncoder, ChunkMeta, schema_id};
use hsi_edge::flatten::EncodingOptions;
use hsi_edge::flatten::schema::silver_schema;
use hsi_edge::testkit::MockKafka;
use hsi_ingest::stream::table_offsets;
use hsi_lakehouse::{LakehouseConfig, open_catalog};
use rdkafka::ClientConfig;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

const GRID: [f32; 4] = [550.0, 670.0, 800.0, 860.0];
const TOPIC: &str = "hsi.silver.v1";
const DLQ: &str = "hsi.silver.v1.dlq";
const GROUP: &str = "silver-ingest";

fn batch(cube: &str, first: usize, rows: usize) -> RecordBatch {
    let s = |v: &str| Arc::new(StringArray::from(vec![v; rows])) as Arc<dyn Array>;
    let mut cols: Vec<Arc<dyn Array>> = vec![
        s(cube),
        s("farm-1"),
        s("field-1"),
        s("sensor-1"),
        Arc::new(
            TimestampMicrosecondArray::from(vec![1_718_000_000_000_000; rows]).with_timezone("UTC"),
        ),
        Arc::new(Int32Array::from_iter_values(
            (first..first + rows).map(|i| (i / 64) as i32),
        )),
        Arc::new(Int32Array::from_iter_values(
            (first..first + rows).map(|i| (i % 64) as i32),
        )),
        Arc::new(Float64Array::from_iter_values(
            (first..first + rows).map(|i| i as f64),
        )),
        Arc::new(Float64Array::from_iter_values(
            (first..first + rows).map(|i| -(i as f64)),
        )),
        s("edge"),
        s("cal-v1"),
    ];
    for b in 0..GRID.len() {
        cols.push(Arc::new(Float32Array::from_iter_values(
            (first..first + rows).map(|i| ((i + b) % 97) as f32 / 97.0),
        )));
    }
    RecordBatch::try_new(silver_schema(&GRID), cols).unwrap()
}

/// The Parquet chunks of one cube of `rows` rows, cut at ~`max` bytes.
fn chunks(cube: &str, rows: usize, max: usize) -> Vec<(ChunkMeta, Vec<u8>)> {
    let schema = silver_schema(&GRID);
    let mut enc = ChunkEncoder::new(
        cube,
        schema.clone(),
        EncodingOptions::default().writer_properties(&GRID),
        max,
    );
    let mut payloads = enc.push(&batch(cube, 0, rows)).unwrap();
    payloads.extend(enc.finish().unwrap());
    let n = payloads.len();
    payloads
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let meta = ChunkMeta {
                cube_id: cube.into(),
                chunk_index: i as u32,
                chunk_count: n as u32,
                schema: schema_id(&schema),
                calibration_version: "cal-v1".into(),
            };
            (meta, p)
        })
        .collect()
}

fn producer(brokers: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .unwrap()
}

async fn produce(p: &FutureProducer, cube: &str, chunks: &[(ChunkMeta, Vec<u8>)]) {
    for (meta, payload) in chunks {
        let mut headers = OwnedHeaders::new();
        for (k, v) in meta.headers() {
            headers = headers.insert(Header {
                key: k,
                value: Some(&v),
            });
        }
        p.send(
            FutureRecord::to(TOPIC)
                .key(cube)
                .payload(payload)
                .headers(headers),
            Duration::from_secs(30),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    }
}

struct Env {
    kafka: MockKafka,
    dir: tempfile::TempDir,
    cfg: std::path::PathBuf,
}

/// `extra`: more `[stream]` lines (e.g. `assignment = "manual"`).
fn setup(test: &str, interval: &str, extra: &str) -> Env {
    let kafka = MockKafka::start(test, 1);
    kafka.create_topic(TOPIC, 3).unwrap();
    kafka.create_topic(DLQ, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[lakehouse]
warehouse = "{wh}"

[stream]
brokers = "{brokers}"
topic = "{TOPIC}"
dlq_topic = "{DLQ}"
group_id = "{GROUP}"
commit_interval = "{interval}"
commit_rows = 20000
session_timeout = "3s"
max_poll_interval = "4s"
rejoin_idle_after = "12s"
{extra}
"#,
        wh = dir.path().join("warehouse").display(),
        brokers = kafka.bootstrap(),
    );
    let cfg = common::write_config(dir.path(), &text);
    Env { kafka, dir, cfg }
}

fn spawn_stream(cfg: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(cfg.with_file_name("stream.log"))
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_hsi-ingest"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--log-format",
            "text",
            "stream",
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn terminate(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Rows per cube and distinct (cube, line, sample) in Silver, read with iceberg-rust, plus the
/// table-held offsets.
async fn silver_facts(warehouse: &Path) -> (BTreeMap<String, (usize, usize)>, BTreeMap<i32, i64>) {
    use futures::TryStreamExt;
    let catalog = open_catalog(&LakehouseConfig::local(warehouse))
        .await
        .unwrap();
    // The consumer creates the table when it starts; before that there is nothing yet.
    let Ok(t) = catalog
        .load_table(&hsi_lakehouse::table::silver_reflectance())
        .await
    else {
        return (BTreeMap::new(), BTreeMap::new());
    };
    let offsets = table_offsets(t.metadata(), "silver.reflectance", TOPIC, GROUP)
        .unwrap()
        .0;
    let mut per: BTreeMap<String, (usize, std::collections::HashSet<(i32, i32)>)> = BTreeMap::new();
    if t.metadata().current_snapshot_id().is_some() {
        let batches: Vec<RecordBatch> = t
            .scan()
            .select(["cube_id", "line", "sample"])
            .build()
            .unwrap()
            .to_arrow()
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        for b in &batches {
            let c = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
            let l = b.column(1).as_any().downcast_ref::<Int32Array>().unwrap();
            let s = b.column(2).as_any().downcast_ref::<Int32Array>().unwrap();
            for i in 0..b.num_rows() {
                let e = per.entry(c.value(i).to_owned()).or_default();
                e.0 += 1;
                e.1.insert((l.value(i), s.value(i)));
            }
        }
    }
    (
        per.into_iter()
            .map(|(k, (n, set))| (k, (n, set.len())))
            .collect(),
        offsets,
    )
}

fn high_watermarks(brokers: &str) -> BTreeMap<i32, i64> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "probe")
        .create()
        .unwrap();
    (0..3)
        .map(|p| {
            (
                p,
                c.fetch_watermarks(TOPIC, p, Duration::from_secs(10))
                    .unwrap()
                    .1,
            )
        })
        .collect()
}

/// Wait until the table's offsets reach the topic's end.
async fn wait_caught_up(warehouse: &Path, brokers: &str, timeout: Duration) -> BTreeMap<i32, i64> {
    let high = high_watermarks(brokers);
    let deadline = Instant::now() + timeout;
    loop {
        let (_, offsets) = silver_facts(warehouse).await;
        let done = high
            .iter()
            .all(|(p, h)| *h == 0 || offsets.get(p) == Some(h));
        if done {
            return offsets;
        }
        if Instant::now() >= deadline {
            let log =
                std::fs::read_to_string(warehouse.with_file_name("stream.log")).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            panic!("not caught up: table {offsets:?}, topic {high:?}\n{tail}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The three tests run one at a time: each starts its own broker and consumers, and on a 2-core
/// machine three brokers plus their consumer groups at once starve the group heartbeats
/// (3 s session timeout) into endless rebalances.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// R1 with the consumer in `assignment = "manual"` mode: each restarted consumer assigns every
/// partition at the table-held offsets itself (the same exactly-once path, Iceberg offsets +
/// fenced commit, without a group coordinator).
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_twenty_times_then_silver_holds_exactly_the_produced_rows() {
    sigkill_twenty_times("stream_kill", "assignment = \"manual\"").await;
}

/// R1 in consumer-group mode, the production mode (MSK): every SIGKILLed member's partitions
/// return to the group when its session expires, and the next member resumes at the offsets
/// in the table.
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_twenty_times_in_group_mode() {
    sigkill_twenty_times("stream_kill_group", "").await;
}

async fn sigkill_twenty_times(test: &str, extra: &str) {
    let _serial = SERIAL.lock().await;
    let env = setup(test, "300ms", extra);
    let brokers = env.kafka.bootstrap();
    let warehouse = env.dir.path().join("warehouse");
    let p = producer(&brokers);
    let cubes: Vec<(String, usize)> = (0..12)
        .map(|i| (format!("cube-{i:02}"), 1500 + 250 * i))
        .collect();
    let mut rng = Rng(0xC0FFEE ^ u64::from(std::process::id()));
    let mut next_cube = 0;
    for round in 0..20 {
        let child = spawn_stream(&env.cfg);
        // Produce while the consumer runs (some rounds produce nothing).
        if next_cube < cubes.len() && round % 2 == 0 {
            let (id, rows) = &cubes[next_cube];
            produce(&p, id, &chunks(id, *rows, 48 * 1024)).await;
            next_cube += 1;
        }
        tokio::time::sleep(Duration::from_millis(200 + rng.below(3300))).await;
        let mut child = child;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    for (id, rows) in &cubes[next_cube..] {
        produce(&p, id, &chunks(id, *rows, 48 * 1024)).await;
    }
    let child = spawn_stream(&env.cfg);
    let offsets = wait_caught_up(&warehouse, &brokers, Duration::from_secs(150)).await;
    terminate(child);
    let (per, _) = silver_facts(&warehouse).await;
    for (id, rows) in &cubes {
        assert_eq!(
            per.get(id),
            Some(&(*rows, *rows)),
            "{id}: rows and distinct pixels"
        );
    }
    assert_eq!(per.len(), cubes.len());
    assert_eq!(offsets, high_watermarks(&brokers));
    let rows: usize = cubes.iter().map(|(_, r)| r).sum();
    eprintln!(
        "{test}: 20 SIGKILLs, {} cubes, {rows} rows: 0 lost, 0 duplicated",
        cubes.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_consumers_and_a_rebalance_commit_every_row_once() {
    let _serial = SERIAL.lock().await;
    let env = setup("stream_rebalance", "300ms", "");
    let brokers = env.kafka.bootstrap();
    let warehouse = env.dir.path().join("warehouse");
    let p = producer(&brokers);
    let cubes: Vec<(String, usize)> = (0..9)
        .map(|i| (format!("reb-{i}"), 2000 + 100 * i))
        .collect();
    let a = spawn_stream(&env.cfg);
    let b = spawn_stream(&env.cfg);
    for (id, rows) in &cubes[..3] {
        produce(&p, id, &chunks(id, *rows, 32 * 1024)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    // A third consumer joins (rebalance), then the first one is killed (rebalance again).
    let c = spawn_stream(&env.cfg);
    for (id, rows) in &cubes[3..6] {
        produce(&p, id, &chunks(id, *rows, 32 * 1024)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut a = a;
    a.kill().unwrap();
    a.wait().unwrap();
    for (id, rows) in &cubes[6..] {
        produce(&p, id, &chunks(id, *rows, 32 * 1024)).await;
    }
    wait_caught_up(&warehouse, &brokers, Duration::from_secs(120)).await;
    terminate(b);
    terminate(c);
    let (per, _) = silver_facts(&warehouse).await;
    for (id, rows) in &cubes {
        assert_eq!(per.get(id), Some(&(*rows, *rows)), "{id}");
    }
}

/// Zombie fencing: two `manual` consumers own the same partitions (as a stale pod and its
/// replacement would) and both commit; the fence lets exactly one copy of each batch in.
#[tokio::test(flavor = "multi_thread")]
async fn two_manual_consumers_on_the_same_partitions_commit_every_row_once() {
    let _serial = SERIAL.lock().await;
    let env = setup("stream_zombie", "300ms", "assignment = \"manual\"");
    let brokers = env.kafka.bootstrap();
    let warehouse = env.dir.path().join("warehouse");
    let p = producer(&brokers);
    let cubes: Vec<(String, usize)> = (0..8)
        .map(|i| (format!("zombie-{i}"), 1800 + 150 * i))
        .collect();
    let mut a = spawn_stream(&env.cfg);
    let mut b = spawn_stream(&env.cfg);
    for (id, rows) in &cubes {
        produce(&p, id, &chunks(id, *rows, 32 * 1024)).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    wait_caught_up(&warehouse, &brokers, Duration::from_secs(120)).await;
    // Both are still running: a refused batch is dropped and re-read, never fatal.
    assert!(a.try_wait().unwrap().is_none(), "consumer a exited");
    assert!(b.try_wait().unwrap().is_none(), "consumer b exited");
    terminate(a);
    terminate(b);
    let log = std::fs::read_to_string(env.dir.path().join("stream.log")).unwrap_or_default();
    eprintln!("fenced batches: {}", log.matches("batch fenced").count());
    let (per, _) = silver_facts(&warehouse).await;
    assert_eq!(per.len(), cubes.len(), "{per:?}");
    for (id, rows) in &cubes {
        assert_eq!(per.get(id), Some(&(*rows, *rows)), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn poison_chunks_go_to_the_dlq_and_the_rest_is_committed() {
    let _serial = SERIAL.lock().await;
    let env = setup("stream_poison", "300ms", "");
    let brokers = env.kafka.bootstrap();
    let warehouse = env.dir.path().join("warehouse");
    let p = producer(&brokers);
    let good = chunks("good-1", 3000, 64 * 1024);
    produce(&p, "good-1", &good[..1]).await;
    // Not Parquet at all.
    let mut bad_meta = good[0].0.clone();
    bad_meta.cube_id = "bad-1".into();
    produce(&p, "bad-1", &[(bad_meta, b"PAR1 but not really".to_vec())]).await;
    // Valid Parquet, but the schema header lies.
    let mut lie = chunks("bad-2", 100, 64 * 1024);
    lie[0].0.schema = "silver.v1:0000000000000000".into();
    produce(&p, "bad-2", &lie).await;
    produce(&p, "good-1", &good[1..]).await;

    let child = spawn_stream(&env.cfg);
    wait_caught_up(&warehouse, &brokers, Duration::from_secs(60)).await;
    terminate(child);
    let (per, _) = silver_facts(&warehouse).await;
    assert_eq!(per.len(), 1, "{per:?}");
    assert_eq!(per["good-1"], (3000, 3000));

    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "dlq-reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    c.subscribe(&[DLQ]).unwrap();
    let mut dead = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while dead.len() < 2 && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            use rdkafka::message::Headers;
            let h = m.headers().unwrap();
            let get = |name: &str| {
                h.iter()
                    .find(|x| x.key == name)
                    .and_then(|x| x.value)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            };
            dead.push((
                get("hsi-cube-id").unwrap(),
                get("hsi-dlq-reason").unwrap(),
                get("hsi-dlq-origin").unwrap(),
            ));
        }
    }
    dead.sort();
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert_eq!(dead[0].0, "bad-1");
    assert!(dead[0].1.contains("Parquet"), "{dead:?}");
    assert_eq!(dead[1].0, "bad-2");
    assert!(dead[1].1.contains("schema"), "{dead:?}");
    assert!(dead[0].2.starts_with(&format!("{TOPIC}/")), "{dead:?}");
}

/// The edge re-sends a cube after a restart, cut into different chunks (new offsets), and a
/// suffix once more: Silver holds each row once. Silver is read with iceberg-rust counting
/// rows and distinct pixels separately, so a duplicate shows.
#[tokio::test(flavor = "multi_thread")]
async fn a_cube_resent_with_other_chunking_lands_once() {
    let _serial = SERIAL.lock().await;
    let env = setup("stream_resend", "300ms", "assignment = \"manual\"");
    let brokers = env.kafka.bootstrap();
    let warehouse = env.dir.path().join("warehouse");
    let p = producer(&brokers);
    let rows = 6000;
    produce(&p, "resend-k", &chunks("resend-k", rows, 48 * 1024)).await;
    let child = spawn_stream(&env.cfg);
    wait_caught_up(&warehouse, &brokers, Duration::from_secs(60)).await;
    terminate(child);
    // The re-send: the whole cube at another chunk size, then a suffix at a third.
    produce(&p, "resend-k", &chunks("resend-k", rows, 20 * 1024)).await;
    let third = chunks("resend-k", rows, 12 * 1024);
    produce(&p, "resend-k", &third[third.len() / 2..]).await;
    let child = spawn_stream(&env.cfg);
    wait_caught_up(&warehouse, &brokers, Duration::from_secs(60)).await;
    terminate(child);
    let (per, _) = silver_facts(&warehouse).await;
    assert_eq!(per.get("resend-k"), Some(&(rows, rows)), "{per:?}");
    let log = std::fs::read_to_string(env.dir.path().join("stream.log")).unwrap_or_default();
    assert!(
        log.contains("dropped rows already in Silver"),
        "the consumer saw the re-send"
    );
}
