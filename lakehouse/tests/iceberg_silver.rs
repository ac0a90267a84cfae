//! Silver appends: partitioning, values, snapshot properties and idempotency, checked through
//! iceberg-rust and through pyiceberg.

mod iceberg_common;

use std::collections::BTreeMap;

use arrow_array::{Float32Array, Int32Array, RecordBatch, StringArray};
use futures::TryStreamExt;
use hsi_lakehouse::silver::append_silver;
use hsi_lakehouse::table::{self, AppendOutcome, IdempotencyKey, silver_reflectance};
use iceberg_common::*;

async fn read_all(lake: &Lake) -> Vec<RecordBatch> {
    let t = lake
        .catalog()
        .load_table(&silver_reflectance())
        .await
        .unwrap();
    t.scan()
        .select_all()
        .build()
        .unwrap()
        .to_arrow()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn silver_append_partitions_values_and_summary() {
    let lake = Lake::new().await;
    table::init(lake.catalog()).await.unwrap();
    let ident = silver_reflectance();
    let before = lake.catalog().load_table(&ident).await.unwrap();
    // A second init is a no-op: same metadata file, no snapshot.
    table::init(lake.catalog()).await.unwrap();
    let again = lake.catalog().load_table(&ident).await.unwrap();
    assert_eq!(before.metadata_location(), again.metadata_location());
    assert!(again.metadata().current_snapshot_id().is_none());

    let grid = vnir_grid();
    let cubes = three_cubes();
    let batches: Vec<RecordBatch> = cubes.iter().map(|c| silver_batch(c, &grid)).collect();
    let expected_rows: usize = cubes.iter().map(|c| (c.lines * c.samples) as usize).sum();
    assert_eq!(expected_rows, 12 + 10 + 8);

    let key = IdempotencyKey::manifest("manifest-0001").unwrap();
    let out = append_silver(lake.catalog(), &ident, &batches, "cal-v1", &key)
        .await
        .unwrap();
    let AppendOutcome::Committed {
        snapshot_id,
        rows,
        data_files,
    } = out
    else {
        panic!("expected a commit, got {out:?}")
    };
    assert_eq!(rows, expected_rows as u64);
    // One file per (farm, day) partition: (a, d1), (a, d2), (b, d1).
    assert_eq!(data_files, 3);

    // Read back through iceberg-rust.
    let read = read_all(&lake).await;
    assert_eq!(total_rows(&read), expected_rows);

    // Data files sit in Hive-style partition directories and carry a UUID in their name.
    let files = walk(&lake.root.join("silver/reflectance/data"));
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        let name = f.rsplit('/').next().unwrap();
        assert!(
            uuid::Uuid::parse_str(&name[..36]).is_ok(),
            "no UUID in {name}"
        );
        assert!(
            f.contains("/farm_id=farm-") && f.contains("/acquisition_time_day=2025-07-1"),
            "{f}"
        );
    }
    let t = lake.catalog().load_table(&ident).await.unwrap();
    let summary = &t
        .metadata()
        .current_snapshot()
        .unwrap()
        .summary()
        .additional_properties;
    assert_eq!(summary["hsi.calibration.version"], "cal-v1");
    assert_eq!(summary["hsi.manifest.id"], "manifest-0001");
    assert_eq!(summary["added-records"], expected_rows.to_string());

    let Some(py) = python("silver_append_partitions_values_and_summary") else {
        return;
    };
    let j = pyiceberg_read(
        &py,
        &lake,
        "silver.reflectance",
        &[
            "--columns",
            "cube_id,farm_id,acquisition_time,line,sample,x,y,b0400,b0680,b0800,b1000",
            "--order-by",
            "cube_id,line,sample",
        ],
    );
    assert_eq!(j["rows"], expected_rows);
    assert_eq!(j["current_snapshot_id"], snapshot_id);
    assert_eq!(j["format_version"], 2);
    let spec: Vec<(String, String)> = j["spec"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["source"].as_str().unwrap().to_owned(),
                f["transform"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        spec,
        [
            ("farm_id".to_owned(), "identity".to_owned()),
            ("acquisition_time".to_owned(), "day".to_owned())
        ]
    );
    let sort: Vec<String> = j["sort"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["source"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sort, ["cube_id", "line", "sample"]);
    let snap = &j["snapshots"][0];
    assert_eq!(snap["operation"], "append");
    assert_eq!(snap["summary"]["hsi.calibration.version"], "cal-v1");
    assert_eq!(snap["summary"]["hsi.manifest.id"], "manifest-0001");

    // Partition values of the data files: days since epoch of 2025-07-14 and -15.
    let d1 = day1().timestamp() / 86_400;
    let d2 = day2().timestamp() / 86_400;
    let mut parts: Vec<(String, i64, i64)> = j["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["partition"];
            let day = match &p["acquisition_time_day"] {
                serde_json::Value::Number(n) => n.as_i64().unwrap(),
                serde_json::Value::String(s) => {
                    let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
                    date.signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
                        .num_days()
                }
                other => panic!("unexpected day partition value {other}"),
            };
            (
                p["farm_id"].as_str().unwrap().to_owned(),
                day,
                f["record_count"].as_i64().unwrap(),
            )
        })
        .collect();
    parts.sort();
    assert_eq!(
        parts,
        [
            ("farm-a".into(), d1, 12),
            ("farm-a".into(), d2, 10),
            ("farm-b".into(), d1, 8)
        ]
    );
    for f in j["files"].as_array().unwrap() {
        let path = f["file_path"].as_str().unwrap();
        let name = path.rsplit('/').next().unwrap();
        assert!(
            uuid::Uuid::parse_str(&name[..36]).is_ok(),
            "no UUID in data file name {name}"
        );
    }

    // Every value pyiceberg returns equals what was appended.
    let data = &j["data"];
    let ids = strs(&data["cube_id"]);
    let lines = i64s(&data["line"]);
    let samples = i64s(&data["sample"]);
    let times = i64s(&data["acquisition_time"]);
    let mut expected = Vec::new();
    for c in &cubes {
        for l in 0..c.lines {
            for s in 0..c.samples {
                expected.push((c.clone(), l, s));
            }
        }
    }
    assert_eq!(ids.len(), expected.len());
    for (i, (c, l, s)) in expected.iter().enumerate() {
        assert_eq!(ids[i], c.cube_id);
        assert_eq!((lines[i], samples[i]), (*l as i64, *s as i64));
        assert_eq!(times[i], c.acquisition_time.timestamp_micros());
        assert_eq!(data["x"][i].as_f64().unwrap(), map_x(*s));
        assert_eq!(data["y"][i].as_f64().unwrap(), map_y(*l));
        for nm in [400.0, 680.0, 800.0, 1000.0] {
            let got = f32s(&data[band(nm).as_str()])[i];
            assert_eq!(
                got,
                Some(reflectance(c.index, *l, *s, nm)),
                "{} ({l},{s}) {nm} nm",
                c.cube_id
            );
        }
    }
}

#[tokio::test]
async fn silver_same_key_twice_does_not_duplicate() {
    let lake = Lake::new().await;
    table::init(lake.catalog()).await.unwrap();
    let ident = silver_reflectance();
    let grid = vnir_grid();
    let cubes = three_cubes();
    let first = [silver_batch(&cubes[0], &grid)];
    let key = IdempotencyKey::cube("C1", "cal-v1").unwrap();

    let a = append_silver(lake.catalog(), &ident, &first, "cal-v1", &key)
        .await
        .unwrap();
    let AppendOutcome::Committed { snapshot_id, .. } = a else {
        panic!("{a:?}")
    };
    let b = append_silver(lake.catalog(), &ident, &first, "cal-v1", &key)
        .await
        .unwrap();
    assert_eq!(b, AppendOutcome::AlreadyCommitted { snapshot_id });

    // A different key (another cube) commits; then the first key is still recognised behind it.
    let second = [silver_batch(&cubes[1], &grid)];
    let key2 = IdempotencyKey::cube("C2", "cal-v1").unwrap();
    let c = append_silver(lake.catalog(), &ident, &second, "cal-v1", &key2)
        .await
        .unwrap();
    assert!(matches!(c, AppendOutcome::Committed { .. }), "{c:?}");
    let d = append_silver(lake.catalog(), &ident, &first, "cal-v1", &key)
        .await
        .unwrap();
    assert_eq!(d, AppendOutcome::AlreadyCommitted { snapshot_id });

    // The same cube under a new calibration version is new data.
    let key_v2 = IdempotencyKey::cube("C1", "cal-v2").unwrap();
    let mut c1_v2 = cubes[0].clone();
    c1_v2.calibration_version = "cal-v2".into();
    let e = append_silver(
        lake.catalog(),
        &ident,
        &[silver_batch(&c1_v2, &grid)],
        "cal-v2",
        &key_v2,
    )
    .await
    .unwrap();
    assert!(matches!(e, AppendOutcome::Committed { .. }), "{e:?}");

    let rows = total_rows(&read_all(&lake).await);
    assert_eq!(rows, 12 + 10 + 12);

    if let Some(py) = python("silver_same_key_twice_does_not_duplicate") {
        let j = pyiceberg_read(
            &py,
            &lake,
            "silver.reflectance",
            &["--filter", "cube_id == 'C1'"],
        );
        assert_eq!(j["rows"], 24, "C1 under cal-v1 and cal-v2, once each");
        assert_eq!(j["snapshots"].as_array().unwrap().len(), 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_with_one_key_commit_once() {
    let lake = Lake::new().await;
    table::init(lake.catalog()).await.unwrap();
    let grid = vnir_grid();
    let batch = silver_batch(&three_cubes()[2], &grid);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let catalog = lake.catalog.clone();
        let batch = batch.clone();
        tasks.push(tokio::spawn(async move {
            let key = IdempotencyKey::manifest("manifest-race").unwrap();
            append_silver(
                catalog.as_ref(),
                &silver_reflectance(),
                &[batch],
                "cal-v1",
                &key,
            )
            .await
        }));
    }
    let mut committed = 0;
    let mut skipped = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            AppendOutcome::Committed { .. } => committed += 1,
            AppendOutcome::AlreadyCommitted { .. } => skipped += 1,
            AppendOutcome::Empty => panic!("empty"),
        }
    }
    assert_eq!((committed, skipped), (1, 3));
    assert_eq!(total_rows(&read_all(&lake).await), 8);
    // No orphan data files from the losers: only the one committed file is on disk.
    let data_dir = lake.root.join("silver/reflectance/data");
    let files = walk(&data_dir)
        .into_iter()
        .filter(|p| p.ends_with(".parquet"))
        .count();
    assert_eq!(files, 1);
}

#[tokio::test]
async fn append_rejects_bad_rows_and_plain_append_is_not_idempotent() {
    let lake = Lake::new().await;
    table::init(lake.catalog()).await.unwrap();
    let ident = silver_reflectance();
    let grid = vnir_grid();
    let c = &three_cubes()[0];

    // calibration_version in rows must match the commit's.
    let key = IdempotencyKey::manifest("m").unwrap();
    let err = append_silver(
        lake.catalog(),
        &ident,
        &[silver_batch(c, &grid)],
        "cal-OTHER",
        &key,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, hsi_lakehouse::Error::InvalidInput { .. }),
        "{err}"
    );

    // An unknown non-band column is a schema error, nothing is committed.
    let b = silver_batch(c, &grid);
    let mut fields = b.schema().fields().to_vec();
    fields.push(std::sync::Arc::new(arrow_schema::Field::new(
        "mystery",
        arrow_schema::DataType::Int32,
        true,
    )));
    let mut cols = b.columns().to_vec();
    cols.push(std::sync::Arc::new(Int32Array::from(vec![1; b.num_rows()])));
    let odd =
        RecordBatch::try_new(std::sync::Arc::new(arrow_schema::Schema::new(fields)), cols).unwrap();
    let err = append_silver(lake.catalog(), &ident, &[odd], "cal-v1", &key)
        .await
        .unwrap_err();
    assert!(
        matches!(err, hsi_lakehouse::Error::Schema { ref column, .. } if column == "mystery"),
        "{err}"
    );
    let t = lake.catalog().load_table(&ident).await.unwrap();
    assert!(t.metadata().current_snapshot_id().is_none());

    // Plain appends commit every time.
    let props = BTreeMap::from([("hsi.note".to_owned(), "plain".to_owned())]);
    for _ in 0..2 {
        let out = table::append_batches(
            lake.catalog(),
            &ident,
            &[silver_batch(c, &grid)],
            props.clone(),
        )
        .await
        .unwrap();
        assert!(
            matches!(out, AppendOutcome::Committed { rows: 12, .. }),
            "{out:?}"
        );
    }
    let read = read_all(&lake).await;
    assert_eq!(total_rows(&read), 24);
    // Rows come back sorted within each file by (cube_id, line, sample) and with the values
    // that went in.
    let b0 = &read[0];
    let ids = b0
        .column_by_name("cube_id")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let v = b0
        .column_by_name("b0800")
        .unwrap()
        .as_any()
        .downcast_ref::<Float32Array>()
        .unwrap();
    let lines = b0
        .column_by_name("line")
        .unwrap()
        .as_any()
        .downcast_ref::<Int32Array>()
        .unwrap();
    let samples = b0
        .column_by_name("sample")
        .unwrap()
        .as_any()
        .downcast_ref::<Int32Array>()
        .unwrap();
    for i in 0..b0.num_rows() {
        assert_eq!(ids.value(i), "C1");
        assert_eq!(
            v.value(i),
            reflectance(1, lines.value(i), samples.value(i), 800.0)
        );
    }
    // Empty input commits nothing.
    let empty = silver_batch(c, &grid).slice(0, 0);
    let out = table::append_batches(lake.catalog(), &ident, &[empty], BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(out, AppendOutcome::Empty);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}
