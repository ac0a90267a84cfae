//! Dispatcher throughput: 10,000 S3 ObjectCreated events → manifests.
//!
//! Two figures: (1) the pure bundling path (parse, de-duplicate, bundle, build and hash the
//! manifests) in process; (2) the full path against moto: 10,000 messages in SQS, the dispatcher
//! long-polls, writes the manifests to S3, "submits" (a recording runner) and deletes the
//! messages. Run: `cargo bench -p hsi-ingest --bench dispatch_events` (needs moto_server:
//! HSI_MOTO_SERVER or PATH).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use chrono::Utc;
use hsi_edge::testkit::Moto;
use hsi_ingest::aws::Clients;
use hsi_ingest::config::AwsConfig;
use hsi_ingest::dispatch::{
    BundleLimits, Bundler, DispatchConfig, Dispatcher, JobRunner, KeyFilter, Manifest,
    RunnerConfig, parse_message,
};
use hsi_ingest::metrics::Metrics;
use hsi_ingest::shutdown::Shutdown;

const EVENTS_DEFAULT: usize = 10_000;

fn events() -> usize {
    std::env::var("HSI_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(EVENTS_DEFAULT)
}

fn body(i: usize) -> String {
    serde_json::json!({"Records": [{
        "eventName": "ObjectCreated:Put",
        "eventTime": "2026-07-01T10:00:00.000Z",
        "s3": {"bucket": {"name": "hsi-raw"}, "object": {
            "key": format!("raw_cubes/us-central/farm-{:03}/2026/07/01/cube-{i:06}.h5", i % 97),
            "size": 4_000_000_000u64, "eTag": format!("\"{i:032x}\""),
            "sequencer": format!("{i:016X}")}}
    }]})
    .to_string()
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<usize>>);

#[async_trait]
impl JobRunner for Recorder {
    async fn submit(&self, m: &Manifest, _uri: &str) -> hsi_ingest::Result<String> {
        *self.0.lock().unwrap() += m.cubes.len();
        Ok(m.id.clone())
    }
}

fn pure() {
    const EVENTS: usize = EVENTS_DEFAULT;
    let bodies: Vec<String> = (0..EVENTS).map(body).collect();
    let t0 = Instant::now();
    let mut b = Bundler::new(
        BundleLimits {
            min_refs: 50,
            max_refs: 200,
            window: Duration::from_secs(60),
            dedup_capacity: 100_000,
        },
        KeyFilter {
            prefix: "raw_cubes/".into(),
            suffixes: vec![".h5".into()],
        },
    );
    let mut manifests = 0;
    let now = Instant::now();
    for (i, text) in bodies.iter().enumerate() {
        let parsed = parse_message(&i.to_string(), text).unwrap();
        b.add(i.to_string(), parsed, now);
        if b.due(now, false) {
            let bundle = b.take().unwrap();
            let m = Manifest::build(&bundle.refs, Utc::now().date_naive()).unwrap();
            std::hint::black_box(m.to_json());
            manifests += 1;
        }
    }
    let dt = t0.elapsed();
    println!(
        "dispatch/pure: {EVENTS} events -> {manifests} manifests in {:.1} ms ({:.0} events/s)",
        dt.as_secs_f64() * 1e3,
        EVENTS as f64 / dt.as_secs_f64()
    );
}

async fn with_moto() {
    let n = events();
    let Some(moto) = Moto::start("dispatch_events bench") else {
        return;
    };
    let aws = AwsConfig {
        region: Some("us-east-1".into()),
        endpoint_url: Some(moto.endpoint().parse().unwrap()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
    };
    let c = Clients::new(&aws).await;
    c.s3.create_bucket().bucket("hsi-raw").send().await.unwrap();
    let q = c
        .sqs
        .create_queue()
        .queue_name("events")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    // `prefill` (default): queue every event first, then time the dispatcher alone.
    // `concurrent`: a feeder sends while the dispatcher drains (events arriving over time, as
    // S3 delivers them); timed from the first send to the last manifest. moto's SQS scans its
    // whole queue on every receive and delete, so prefilling 10,000 is quadratic there; the
    // concurrent feed keeps the queue short.
    let concurrent = std::env::var("HSI_BENCH_FEED").is_ok_and(|v| v == "concurrent");
    let feed = {
        let (sqs, q) = (c.sqs.clone(), q.clone());
        async move {
            for chunk in (0..n).collect::<Vec<_>>().chunks(10) {
                let entries: Vec<_> = chunk
                    .iter()
                    .map(|i| {
                        SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(body(*i))
                            .build()
                            .unwrap()
                    })
                    .collect();
                sqs.send_message_batch()
                    .queue_url(&q)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .unwrap();
            }
        }
    };
    let t_fill = Instant::now();
    let feeder = if concurrent {
        Some(tokio::spawn(feed))
    } else {
        feed.await;
        println!(
            "dispatch/moto: queued {n} events in {:.1} s",
            t_fill.elapsed().as_secs_f64()
        );
        None
    };
    let cfg = DispatchConfig {
        queue_url: q.parse().unwrap(),
        manifest_bucket: "hsi-raw".into(),
        manifest_prefix: String::new(),
        raw_prefix: "raw_cubes/".into(),
        suffixes: vec![".h5".into()],
        min_refs: 50,
        max_refs: 200,
        window: Duration::from_secs(60),
        wait_time: Duration::from_secs(1),
        visibility_timeout: Duration::from_secs(600),
        dedup_capacity: 100_000,
        runner: RunnerConfig::Local {
            program: None,
            config: "unused".into(),
            attempts: 1,
        },
    };
    let rec = Recorder::default();
    let mut d = Dispatcher::new(
        c.s3.clone(),
        c.sqs.clone(),
        cfg,
        Box::new(rec.clone()),
        Metrics::new(),
    );
    let t0 = Instant::now();
    let stop = Shutdown::default();
    let watcher = {
        let (stop, rec) = (stop.clone(), rec.clone());
        tokio::spawn(async move {
            while *rec.0.lock().unwrap() < n {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            stop.request();
        })
    };
    // Prefilled: stop when the queue is drained; concurrent: when every event is in a manifest.
    let stats = d.run(&stop, !concurrent).await.unwrap();
    let dt = t0.elapsed();
    watcher.abort();
    if let Some(f) = feeder {
        f.await.unwrap();
    }
    assert_eq!(*rec.0.lock().unwrap(), n);
    let mode = if concurrent {
        "fed concurrently, from the first send"
    } else {
        "prefilled; last idle poll of 1 s included"
    };
    println!(
        "dispatch/moto: {n} events -> {} manifests (written to S3, messages deleted) in {:.1} s ({:.0} events/s; {mode})",
        stats.manifests.len(),
        dt.as_secs_f64(),
        n as f64 / dt.as_secs_f64()
    );
}

fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`: stay quick there.
    if !std::env::args().any(|a| a == "--bench") && std::env::var_os("HSI_BENCH_RUN").is_none() {
        println!("bench skipped (run with `cargo bench`, or set HSI_BENCH_RUN=1)");
        return;
    }
    pure();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(with_moto());
}
