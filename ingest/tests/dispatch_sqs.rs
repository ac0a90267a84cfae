//! The dispatcher against real S3 + SQS (moto): the bucket notification delivers the events,
//! the dispatcher bundles them into one content-addressed manifest, submits it, and deletes
//! the messages only after submission; a failing submission leaves them for redelivery until
//! the queue's redrive moves them to the DLQ.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use common::{Cloud, RAW_BUCKET, raw_key};
use hsi_ingest::dispatch::{DispatchConfig, Dispatcher, JobRunner, Manifest, RunnerConfig};
use hsi_ingest::metrics::Metrics;
use hsi_ingest::shutdown::Shutdown;
use hsi_ingest::worker::read_manifest;

/// A JobRunner that records what it was given (the seam under test is SQS/S3, which are real).
#[derive(Clone, Default)]
struct Recorder {
    submitted: Arc<Mutex<Vec<(Manifest, String)>>>,
    fail: bool,
}

#[async_trait]
impl JobRunner for Recorder {
    async fn submit(&self, manifest: &Manifest, uri: &str) -> hsi_ingest::Result<String> {
        if self.fail {
            return Err(hsi_ingest::Error::Submit {
                manifest_id: manifest.id.clone(),
                reason: "batch is down (test)".into(),
            });
        }
        self.submitted
            .lock()
            .unwrap()
            .push((manifest.clone(), uri.to_owned()));
        Ok(format!("job-{}", manifest.id))
    }
}

fn config(cloud: &Cloud, visibility_s: u64) -> DispatchConfig {
    DispatchConfig {
        queue_url: cloud.queue_url.parse().unwrap(),
        manifest_bucket: RAW_BUCKET.into(),
        manifest_prefix: String::new(),
        raw_prefix: "raw_cubes/".into(),
        suffixes: vec![".h5".into()],
        min_refs: 50,
        max_refs: 200,
        window: Duration::from_millis(500),
        wait_time: Duration::from_secs(1),
        visibility_timeout: Duration::from_secs(visibility_s),
        dedup_capacity: 1000,
        runner: RunnerConfig::Local {
            program: None,
            config: "unused.toml".into(),
            attempts: 1,
        },
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn notifications_become_one_manifest_and_messages_are_deleted_after_submit() {
    let Some(cloud) = Cloud::start("dispatch_manifest", 3).await else {
        return;
    };
    let date = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
    let mut keys = Vec::new();
    for i in 0..5 {
        // Spaces and '+' in keys arrive URL-encoded.
        let key = raw_key("us central", "farm+1", date, &format!("cube-{i}"));
        cloud.put(&key, vec![i as u8; 100]).await;
        keys.push(key);
    }
    cloud
        .put("raw_cubes/us/farm/2026/07/01/readme.txt", b"x".to_vec())
        .await;
    // Same object again with the same content: a duplicate event (same etag, no sequencer).
    cloud.put(&keys[0], vec![0u8; 100]).await;
    cloud.wait_depth(&cloud.queue_url, 8).await; // + the s3:TestEvent

    let recorder = Recorder::default();
    let mut d = Dispatcher::new(
        cloud.clients.s3.clone(),
        cloud.clients.sqs.clone(),
        config(&cloud, 30),
        Box::new(recorder.clone()),
        Metrics::new(),
    );
    let stats = d.run(&Shutdown::default(), true).await.unwrap();
    let submitted = recorder.submitted.lock().unwrap().clone();
    assert_eq!(submitted.len(), 1, "one bundle: {stats:?}");
    let (manifest, uri) = &submitted[0];
    let mut expected = keys.clone();
    expected.sort();
    let got: Vec<String> = manifest.cubes.iter().map(|c| c.key.clone()).collect();
    assert_eq!(got, expected);
    assert_eq!(
        uri,
        &format!(
            "s3://{RAW_BUCKET}/manifests/2026/{}/{}.json",
            manifest.date.format("%m/%d"),
            manifest.id
        )
    );
    // The manifest in S3 is the one submitted, and it verifies its own id.
    let stored = read_manifest(&cloud.clients.s3, uri).await.unwrap();
    assert_eq!(&stored, manifest);
    assert_eq!(stats.manifests, vec![manifest.id.clone()]);
    assert!(stats.received >= 7, "{stats:?}");
    assert_eq!(stats.deleted, stats.received, "{stats:?}");
    assert_eq!(cloud.depth(&cloud.queue_url).await, 0);
    assert_eq!(cloud.depth(&cloud.dlq_url).await, 0);

    // Redelivery of the same events (sent again by hand): the same manifest id comes out.
    for key in &keys {
        let body = serde_json::json!({"Records": [{
            "eventName": "ObjectCreated:Put",
            "eventTime": format!("{date}T12:00:00Z"),
            "s3": {"bucket": {"name": RAW_BUCKET}, "object": {
                "key": key.replace('+', "%2B").replace(' ', "+"),
                "eTag": manifest.cubes.iter().find(|c| &c.key == key).unwrap().etag,
            }}
        }]});
        cloud
            .clients
            .sqs
            .send_message()
            .queue_url(&cloud.queue_url)
            .message_body(body.to_string())
            .send()
            .await
            .unwrap();
    }
    let recorder2 = Recorder::default();
    let mut d2 = Dispatcher::new(
        cloud.clients.s3.clone(),
        cloud.clients.sqs.clone(),
        config(&cloud, 30),
        Box::new(recorder2.clone()),
        Metrics::new(),
    );
    d2.run(&Shutdown::default(), true).await.unwrap();
    let again = recorder2.submitted.lock().unwrap().clone();
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].0.id, manifest.id,
        "a replay makes the same manifest"
    );
    assert_eq!(cloud.depth(&cloud.queue_url).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_submissions_leave_messages_until_the_dlq_takes_them() {
    let Some(cloud) = Cloud::start("dispatch_dlq", 2).await else {
        return;
    };
    let date = NaiveDate::from_ymd_opt(2026, 7, 2).unwrap();
    for i in 0..3 {
        cloud
            .put(&raw_key("r", "f", date, &format!("c{i}")), vec![1; 10])
            .await;
    }
    cloud.wait_depth(&cloud.queue_url, 3).await;
    // Also a message that is not an S3 event at all: never deleted, ends in the DLQ.
    cloud
        .clients
        .sqs
        .send_message()
        .queue_url(&cloud.queue_url)
        .message_body("garbage")
        .send()
        .await
        .unwrap();

    let failing = Recorder {
        fail: true,
        ..Recorder::default()
    };
    let mut d = Dispatcher::new(
        cloud.clients.s3.clone(),
        cloud.clients.sqs.clone(),
        config(&cloud, 1),
        Box::new(failing),
        Metrics::new(),
    );
    let mut failed = 0;
    for _ in 0..20 {
        let stats = d.run(&Shutdown::default(), true).await.unwrap();
        failed = stats.failed_bundles;
        assert!(
            stats.deleted <= 1,
            "only the s3:TestEvent is deleted: {stats:?}"
        );
        if cloud.depth(&cloud.dlq_url).await >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    assert!(
        failed >= 2,
        "each receive led to a failed submission ({failed})"
    );
    assert_eq!(
        cloud.depth(&cloud.dlq_url).await,
        4,
        "3 events + the garbage message"
    );
    assert_eq!(cloud.depth(&cloud.queue_url).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn lambda_handler_reports_exactly_the_messages_to_retry() {
    use aws_lambda_events::event::sqs::SqsEvent;
    use hsi_ingest::dispatch::lambda::{LambdaDispatch, handle};
    use hsi_ingest::dispatch::{BundleLimits, KeyFilter};

    let Some(cloud) = Cloud::start("dispatch_lambda", 3).await else {
        return;
    };
    let record = |key: &str, etag: &str| {
        serde_json::json!({"Records": [{"eventName": "ObjectCreated:Put", "eventTime": "2026-07-03T08:00:00Z",
            "s3": {"bucket": {"name": RAW_BUCKET}, "object": {"key": key, "eTag": etag, "sequencer": "00A1"}}}]})
        .to_string()
    };
    let event: SqsEvent = serde_json::from_value(serde_json::json!({"Records": [
        {"messageId": "m1", "body": record("raw_cubes/r/f/2026/07/03/a.h5", "e1")},
        {"messageId": "m2", "body": "garbage"},
        {"messageId": "m3", "body": r#"{"Service":"Amazon S3","Event":"s3:TestEvent"}"#},
        {"messageId": "m4", "body": record("raw_cubes/r/f/2026/07/03/b.h5", "e2")},
        {"messageId": "m5", "body": record("raw_cubes/r/f/2026/07/03/a.h5", "e1")},
    ]}))
    .unwrap();
    let cfg = LambdaDispatch {
        limits: BundleLimits {
            min_refs: 1,
            max_refs: 200,
            window: Duration::ZERO,
            dedup_capacity: 1000,
        },
        filter: KeyFilter {
            prefix: "raw_cubes/".into(),
            suffixes: vec![".h5".into()],
        },
        manifest_bucket: RAW_BUCKET.into(),
        manifest_prefix: String::new(),
    };
    let ok = Recorder::default();
    let resp = handle(&cfg, &cloud.clients.s3, &ok, event.clone())
        .await
        .unwrap();
    let failed: Vec<&str> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m2"], "only the unparsable message is retried");
    let submitted = ok.submitted.lock().unwrap().clone();
    assert_eq!(submitted.len(), 1);
    assert_eq!(submitted[0].0.cubes.len(), 2, "a.h5 de-duplicated");
    assert_eq!(
        read_manifest(&cloud.clients.s3, &submitted[0].1)
            .await
            .unwrap(),
        submitted[0].0
    );

    let failing = Recorder {
        fail: true,
        ..Recorder::default()
    };
    let resp = handle(&cfg, &cloud.clients.s3, &failing, event)
        .await
        .unwrap();
    let mut failed: Vec<&str> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    failed.sort();
    assert_eq!(
        failed,
        ["m1", "m2", "m4", "m5"],
        "the test event alone is done"
    );
}
