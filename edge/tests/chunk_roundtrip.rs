//! The Kafka chunk contract: a cube's rows cut into Parquet payloads under a size cap come back,
//! decoded and validated, as exactly the same rows in the same order; bad payloads are refused
//! with the record named.

use std::sync::Arc;

use arrow_array::{
    Array, Float32Array, Float64Array, Int32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use hsi_edge::chunk::{ChunkEncoder, ChunkMeta, decode, schema_id};
use hsi_edge::flatten::EncodingOptions;
use hsi_edge::flatten::schema::silver_schema;

const GRID: [f32; 5] = [450.0, 550.0, 670.0, 800.0, 860.0];

/// `rows` Silver rows of cube `c-1`; band values are a deterministic function of the row.
fn batch(first: usize, rows: usize) -> RecordBatch {
    let schema = silver_schema(&GRID);
    let s = |v: &str| Arc::new(StringArray::from(vec![v; rows])) as Arc<dyn Array>;
    let mut cols: Vec<Arc<dyn Array>> = vec![
        s("c-1"),
        s("farm-1"),
        s("field-1"),
        s("sensor-1"),
        Arc::new(
            TimestampMicrosecondArray::from(vec![1_718_000_000_000_000; rows]).with_timezone("UTC"),
        ),
        Arc::new(Int32Array::from_iter_values(
            (first..first + rows).map(|i| (i / 100) as i32),
        )),
        Arc::new(Int32Array::from_iter_values(
            (first..first + rows).map(|i| (i % 100) as i32),
        )),
        Arc::new(Float64Array::from_iter_values(
            (first..first + rows).map(|i| 500_000.0 + i as f64),
        )),
        Arc::new(Float64Array::from_iter_values(
            (first..first + rows).map(|i| 4_000_000.0 - i as f64),
        )),
        s("edge"),
        s("cal-v1"),
    ];
    for b in 0..GRID.len() {
        cols.push(Arc::new(Float32Array::from_iter_values(
            (first..first + rows).map(|i| ((i * 7919 + b * 104_729) % 10_007) as f32 / 10_007.0),
        )));
    }
    RecordBatch::try_new(schema, cols).unwrap()
}

fn meta(i: usize, n: usize, schema: &str) -> ChunkMeta {
    ChunkMeta {
        cube_id: "c-1".into(),
        chunk_index: i as u32,
        chunk_count: n as u32,
        schema: schema.into(),
        calibration_version: "cal-v1".into(),
    }
}

#[test]
fn chunks_stay_under_the_cap_and_round_trip() {
    let schema = silver_schema(&GRID);
    let props = EncodingOptions::default().writer_properties(&GRID);
    let max = 16 * 1024;
    let mut enc = ChunkEncoder::new("c-1", schema.clone(), props, max);
    let mut payloads = Vec::new();
    let mut first = 0;
    for rows in [1000, 7, 2500, 1, 3000] {
        payloads.extend(enc.push(&batch(first, rows)).unwrap());
        first += rows;
    }
    payloads.extend(enc.finish().unwrap());
    assert!(payloads.len() >= 3, "{} chunks", payloads.len());
    assert!(
        payloads.iter().all(|p| p.len() <= max),
        "{:?}",
        payloads.iter().map(Vec::len).collect::<Vec<_>>()
    );

    let id = schema_id(&schema);
    let mut next = 0usize;
    for (i, p) in payloads.iter().enumerate() {
        let chunk = decode("t/0@1", meta(i, payloads.len(), &id), p).unwrap();
        for b in &chunk.batches {
            let expected = batch(next, b.num_rows());
            for c in 0..b.num_columns() {
                assert_eq!(
                    b.column(c).to_data(),
                    expected.column(c).to_data(),
                    "chunk {i} column {c}"
                );
            }
            next += b.num_rows();
        }
    }
    assert_eq!(next, first, "every row exactly once");
}

#[test]
fn bad_payloads_are_refused_with_the_record_named() {
    let schema = silver_schema(&GRID);
    let id = schema_id(&schema);
    let e = decode("hsi.silver.v1/2@17", meta(0, 1, &id), b"PAR1 not really")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("hsi.silver.v1/2@17") && e.contains("not a Parquet file"),
        "{e}"
    );

    let props = EncodingOptions::default().writer_properties(&GRID);
    let mut enc = ChunkEncoder::new("c-1", schema.clone(), props, 1 << 20);
    let mut p = enc.push(&batch(0, 10)).unwrap();
    p.extend(enc.finish().unwrap());
    assert_eq!(p.len(), 1);
    let e = decode("t/0@1", meta(0, 1, "silver.v1:ffffffffffffffff"), &p[0])
        .unwrap_err()
        .to_string();
    assert!(e.contains("hsi-schema"), "{e}");
    let mut m = meta(0, 1, &id);
    m.cube_id = "other".into();
    let e = decode("t/0@1", m, &p[0]).unwrap_err().to_string();
    assert!(e.contains("cube_id") && e.contains("other"), "{e}");
}

/// The encoder compresses pages itself (one reused ZSTD context): every column of a payload is
/// ZSTD (at the profile's level), with the same page bytes the Parquet writer would produce, so
/// the payload is the size of the writer's own ZSTD file (less its page index).
#[test]
fn payload_pages_are_zstd_like_the_writers_own() {
    use bytes::Bytes;
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    let schema = silver_schema(&GRID);
    let opts = EncodingOptions {
        zstd_level: 3,
        ..EncodingOptions::default()
    };
    let props = opts.writer_properties(&GRID);
    let rows = 4000;
    let mut enc = ChunkEncoder::new("c-1", schema.clone(), props.clone(), 1 << 20);
    let mut p = enc.push(&batch(0, rows)).unwrap();
    p.extend(enc.finish().unwrap());
    assert_eq!(p.len(), 1);
    let ours = Bytes::from(p.remove(0));

    let mut w = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props)).unwrap();
    w.write(&batch(0, rows)).unwrap();
    let theirs = Bytes::from(w.into_inner().unwrap());

    let a = SerializedFileReader::new(ours.clone()).unwrap();
    let b = SerializedFileReader::new(theirs.clone()).unwrap();
    assert_eq!(a.metadata().num_row_groups(), b.metadata().num_row_groups());
    for (ra, rb) in a
        .metadata()
        .row_groups()
        .iter()
        .zip(b.metadata().row_groups())
    {
        assert_eq!(ra.num_rows(), rb.num_rows());
        for (ca, cb) in ra.columns().iter().zip(rb.columns()) {
            // The file records the codec, not the level (read back as the default).
            assert!(
                matches!(ca.compression(), Compression::ZSTD(_)),
                "{}: {}",
                ca.column_path(),
                ca.compression()
            );
            assert_eq!(ca.num_values(), cb.num_values());
            assert_eq!(ca.statistics(), cb.statistics(), "{}", ca.column_path());
            // Identity columns: the same page bodies, headers may differ by a byte or two.
            // Band columns: each BYTE_STREAM_SPLIT stream is a ZSTD block of its own (see
            // `flatten::pages`), never more than a few block headers larger.
            let (sa, sb) = (ca.compressed_size(), cb.compressed_size());
            let band = ca.column_path().string().starts_with('b');
            let ok = if band {
                sa <= sb + 16
            } else {
                (sa - sb).abs() <= 8
            };
            assert!(ok, "{}: {sa} vs {sb}", ca.column_path());
        }
    }
    let page_index = b.metadata().row_groups()[0]
        .columns()
        .iter()
        .map(|c| c.offset_index_length().unwrap_or(0) as usize)
        .sum::<usize>();
    assert!(
        ours.len() <= theirs.len() - page_index + 64,
        "{} vs {} bytes ({page_index} of page index)",
        ours.len(),
        theirs.len()
    );
    let id = schema_id(&schema);
    let chunk = decode("t/0@1", meta(0, 1, &id), &ours).unwrap();
    assert_eq!(chunk.rows, rows);
}

/// A rows-per-chunk hint (what the previous cube learned) sets the first chunk's size, and the
/// estimate still adapts to the encoded sizes.
#[test]
fn a_rows_hint_sets_the_first_chunk_and_the_estimate_adapts() {
    let schema = silver_schema(&GRID);
    let props = EncodingOptions::default().writer_properties(&GRID);
    let mut enc = ChunkEncoder::new("c-1", schema.clone(), props, 1 << 20).with_rows_per_chunk(300);
    assert_eq!(enc.rows_per_chunk(), 300);
    let p = enc.push(&batch(0, 1000)).unwrap();
    assert!(!p.is_empty());
    let id = schema_id(&schema);
    let first = decode("t/0@1", meta(0, 2, &id), &p[0]).unwrap();
    assert_eq!(first.rows, 300);
    // 300 rows are far below 1 MiB: the next chunks may be larger.
    assert!(enc.rows_per_chunk() > 300, "{}", enc.rows_per_chunk());
}
