//! Stream ingest figures against tansu: sustained rows/s from Kafka into Silver (a backlog
//! consumed at full speed), and the p50/p95 time from produce to visibility in a Silver
//! snapshot (`hsi.kafka.offsets` past the record) at the default commit interval (5 s), with a
//! steady producer. Run: `cargo bench -p hsi-ingest --bench stream_latency` (needs tansu).
//! Sizes: HSI_BENCH_BACKLOG_ROWS (default 300000), HSI_BENCH_SECONDS (default 40).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{
    Array, Float32Array, Float64Array, Int32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use hsi_edge::chunk::{ChunkEncoder, ChunkMeta, schema_id};
use hsi_edge::flatten::EncodingOptions;
use hsi_edge::flatten::schema::silver_schema;
use hsi_edge::testkit::Tansu;
use hsi_ingest::metrics::Metrics;
use hsi_ingest::shutdown::Shutdown;
use hsi_ingest::stream::{StreamConfig, StreamIngest, table_offsets};
use hsi_lakehouse::LakeCatalog;
use hsi_lakehouse::{LakehouseConfig, open_catalog};
use rdkafka::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

const TOPIC: &str = "hsi.silver.v1";
const GROUP: &str = "bench";

fn grid() -> Vec<f32> {
    (0..61).map(|i| 400.0 + 10.0 * i as f32).collect()
}

fn batch(cube: &str, rows: usize) -> RecordBatch {
    let g = grid();
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
            (0..rows).map(|i| (i / 500) as i32),
        )),
        Arc::new(Int32Array::from_iter_values(
            (0..rows).map(|i| (i % 500) as i32),
        )),
        Arc::new(Float64Array::from_iter_values((0..rows).map(|i| i as f64))),
        Arc::new(Float64Array::from_iter_values(
            (0..rows).map(|i| -(i as f64)),
        )),
        s("edge"),
        s("cal-v1"),
    ];
    for b in 0..g.len() {
        cols.push(Arc::new(Float32Array::from_iter_values(
            (0..rows).map(|i| ((i * 31 + b * 7) % 1000) as f32 / 1000.0),
        )));
    }
    RecordBatch::try_new(silver_schema(&g), cols).unwrap()
}

fn payloads(cube: &str, rows: usize) -> Vec<(ChunkMeta, Vec<u8>)> {
    let g = grid();
    let schema = silver_schema(&g);
    let mut enc = ChunkEncoder::new(
        cube,
        schema.clone(),
        EncodingOptions::default().writer_properties(&g),
        hsi_edge::chunk::DEFAULT_MAX_MESSAGE_BYTES,
    );
    let mut p = enc.push(&batch(cube, rows)).unwrap();
    p.extend(enc.finish().unwrap());
    let n = p.len();
    p.into_iter()
        .enumerate()
        .map(|(i, v)| {
            (
                ChunkMeta {
                    cube_id: cube.into(),
                    chunk_index: i as u32,
                    chunk_count: n as u32,
                    schema: schema_id(&schema),
                    calibration_version: "cal-v1".into(),
                },
                v,
            )
        })
        .collect()
}

async fn send(p: &FutureProducer, meta: &ChunkMeta, v: &[u8]) -> (i32, i64) {
    let mut h = OwnedHeaders::new();
    for (k, val) in meta.headers() {
        h = h.insert(Header {
            key: k,
            value: Some(&val),
        });
    }
    let d = p
        .send(
            FutureRecord::to(TOPIC)
                .key(&meta.cube_id)
                .payload(v)
                .headers(h),
            Duration::from_secs(30),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    (d.partition, d.offset)
}

async fn offsets(catalog: &dyn LakeCatalog) -> BTreeMap<i32, i64> {
    let t = catalog
        .load_table(&hsi_lakehouse::table::silver_reflectance())
        .await
        .unwrap();
    table_offsets(t.metadata(), "silver.reflectance", TOPIC, GROUP)
        .unwrap()
        .0
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run() {
    let Some(tansu) = Tansu::start("stream_latency bench") else {
        return;
    };
    tansu.create_topic(TOPIC, 3).unwrap();
    tansu.create_topic("hsi.silver.v1.dlq", 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let catalog = open_catalog(&LakehouseConfig::local(dir.path()))
        .await
        .unwrap();
    hsi_lakehouse::table::init(catalog.as_ref()).await.unwrap();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", tansu.bootstrap())
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let cfg = |interval: Duration| StreamConfig {
        brokers: tansu.bootstrap(),
        topic: TOPIC.into(),
        group_id: GROUP.into(),
        dlq_topic: "hsi.silver.v1.dlq".into(),
        commit_interval: interval,
        commit_rows: 500_000,
        table: "silver.reflectance".into(),
        kafka: BTreeMap::new(),
        session_timeout: Duration::from_secs(10),
        max_poll_interval: Duration::from_secs(60),
        instance_id: None,
        rejoin_idle_after: None,
        assignment: hsi_ingest::stream::Assignment::Group,
        partitions: Vec::new(),
        gold_refresh_interval: Duration::from_secs(10),
        refresh_gold: false,
        breeding_rules: None,
    };

    // 1. Backlog throughput.
    let backlog = env_usize("HSI_BENCH_BACKLOG_ROWS", 300_000);
    let per_cube = 20_000;
    let mut last = BTreeMap::new();
    for c in 0..backlog.div_ceil(per_cube) {
        for (m, v) in payloads(&format!("backlog-{c}"), per_cube) {
            let (p, o) = send(&producer, &m, &v).await;
            last.insert(p, o + 1);
        }
    }
    let stop = Shutdown::default();
    let consumer = StreamIngest::new(
        Arc::clone(&catalog),
        cfg(Duration::from_secs(5)),
        Metrics::new(),
        stop.clone(),
    );
    let t0 = Instant::now();
    let task = tokio::spawn(consumer.run());
    loop {
        let o = offsets(catalog.as_ref()).await;
        if last.iter().all(|(p, e)| o.get(p) >= Some(e)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dt = t0.elapsed();
    let rows = backlog.div_ceil(per_cube) * per_cube;
    println!(
        "stream/backlog: {rows} rows (61 bands) into Silver in {:.1} s = {:.0} rows/s (commit_rows 500000, interval 5 s)",
        dt.as_secs_f64(),
        rows as f64 / dt.as_secs_f64()
    );

    // 2. Produce -> visible latency with a steady producer, default interval.
    let seconds = env_usize("HSI_BENCH_SECONDS", 40);
    let mut k = 0;
    let mut visible: Vec<Duration> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(seconds as u64 + 30);
    let cat2 = Arc::clone(&catalog);
    let watcher = tokio::spawn(async move {
        let mut stamps: Vec<(Instant, BTreeMap<i32, i64>)> = Vec::new();
        while Instant::now() < deadline {
            stamps.push((Instant::now(), offsets(cat2.as_ref()).await));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stamps
    });
    let mut sent2: Vec<(i32, i64, Instant)> = Vec::new();
    let start2 = Instant::now();
    while start2.elapsed() < Duration::from_secs(seconds as u64) {
        for (m, v) in payloads(&format!("steady2-{k}"), 2_000) {
            let t = Instant::now();
            let (p, o) = send(&producer, &m, &v).await;
            sent2.push((p, o, t));
        }
        k += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stamps = watcher.await.unwrap();
    for (p, o, t) in &sent2 {
        if let Some((at, _)) = stamps
            .iter()
            .find(|(at, offs)| *at >= *t && offs.get(p).is_some_and(|n| n > o))
        {
            visible.push(*at - *t);
        }
    }
    visible.sort();
    let q = |f: f64| visible[((visible.len() as f64 - 1.0) * f).round() as usize];
    println!(
        "stream/latency: {} records ({} rows each, 5 per s), produce->visible p50 {:.2} s, p95 {:.2} s, max {:.2} s (commit interval 5 s; goal p95 <= 7 s); {} of {} seen",
        visible.len(),
        2_000,
        q(0.5).as_secs_f64(),
        q(0.95).as_secs_f64(),
        visible.last().unwrap().as_secs_f64(),
        visible.len(),
        sent2.len()
    );
    stop.request();
    let stats = task.await.unwrap().unwrap();
    println!("stream/stats: {stats:?}");
    drop(tansu);
}

fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`: stay quick there.
    if !std::env::args().any(|a| a == "--bench") && std::env::var_os("HSI_BENCH_RUN").is_none() {
        println!("bench skipped (run with `cargo bench`, or set HSI_BENCH_RUN=1)");
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
}
