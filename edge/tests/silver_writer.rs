//! `SilverWriter` (purpose-built band-column pages) against the `parquet` crate's
//! `ArrowWriter` with the same properties: same values bit for bit, same row groups, same
//! chunk statistics, and pyarrow reads it to the same numbers.

mod support;

use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, Float32Array, Float64Array, Int32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use bytes::Bytes;
use hsi_edge::flatten::schema::{band_column_name, silver_schema};
use hsi_edge::flatten::{BandEncoding, EncodingOptions, SilverWriter};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Encoding;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::statistics::Statistics;
use parquet::schema::types::ColumnPath;

const GRID: [f32; 5] = [450.0, 550.0, 670.0, 800.0, 900.0];

/// `n` rows starting at row `start`: band 0 has NaNs, band 1 has ±0 and negatives, band 2
/// has nulls, band 3 is all NaN in rows 0..10, band 4 is smooth reflectance.
fn batch(start: usize, n: usize) -> RecordBatch {
    let schema = silver_schema(&GRID);
    let rows = start..start + n;
    let s =
        |v: &str| -> ArrayRef { Arc::new(StringArray::from_iter_values(rows.clone().map(|_| v))) };
    let mut cols: Vec<ArrayRef> = vec![
        s("cube-1"),
        s("farm"),
        s("field"),
        s("sensor"),
        Arc::new(
            TimestampMicrosecondArray::from(vec![1_718_000_000_000_000; n]).with_timezone("UTC"),
        ),
        Arc::new(Int32Array::from_iter_values(
            rows.clone().map(|r| (r / 100) as i32),
        )),
        Arc::new(Int32Array::from_iter_values(
            rows.clone().map(|r| (r % 100) as i32),
        )),
        Arc::new(Float64Array::from_iter_values(
            rows.clone().map(|r| r as f64 * 0.5),
        )),
        Arc::new(Float64Array::from_iter_values(
            rows.clone().map(|r| -(r as f64)),
        )),
        s("edge"),
        s("v1"),
    ];
    cols.push(Arc::new(Float32Array::from_iter_values(rows.clone().map(
        |r| {
            if r % 7 == 3 {
                f32::NAN
            } else {
                0.1 + (r % 13) as f32 * 0.01
            }
        },
    ))));
    cols.push(Arc::new(Float32Array::from_iter_values(rows.clone().map(
        |r| match r % 4 {
            0 => 0.0,
            1 => -0.0,
            2 => -(r as f32) * 1e-3,
            _ => r as f32 * 1e-3,
        },
    ))));
    cols.push(Arc::new(Float32Array::from_iter(
        rows.clone()
            .map(|r| (r % 5 != 0).then_some(r as f32 * 0.25)),
    )));
    cols.push(Arc::new(Float32Array::from_iter_values(rows.clone().map(
        |r| {
            if r < 10 { f32::NAN } else { (r as f32).sin() }
        },
    ))));
    cols.push(Arc::new(Float32Array::from_iter_values(
        rows.map(|r| 0.3 + 0.2 * ((r as f32) * 0.01).cos()),
    )));
    RecordBatch::try_new(schema, cols).expect("batch")
}

fn batches() -> Vec<RecordBatch> {
    // 2,500 rows in uneven batches; 1,000-row row groups cut through batches.
    let mut out = Vec::new();
    let mut start = 0;
    for n in [700, 1, 999, 300, 500] {
        out.push(batch(start, n));
        start += n;
    }
    out
}

fn write_silver(enc: &EncodingOptions) -> Bytes {
    let mut w = SilverWriter::try_new(
        Vec::new(),
        silver_schema(&GRID),
        enc.writer_properties(&GRID),
    )
    .expect("writer");
    for b in batches() {
        w.write(&b).expect("write");
    }
    Bytes::from(w.finish().expect("finish"))
}

fn write_arrow(enc: &EncodingOptions) -> Bytes {
    let mut w = ArrowWriter::try_new(
        Vec::new(),
        silver_schema(&GRID),
        Some(enc.writer_properties(&GRID)),
    )
    .expect("writer");
    for b in batches() {
        w.write(&b).expect("write");
    }
    Bytes::from(w.into_inner().expect("finish"))
}

fn read(file: &Bytes) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(file.clone())
        .expect("reader")
        .build()
        .expect("build")
        .collect::<Result<_, _>>()
        .expect("batches")
}

/// `code` run by pyarrow's Python on `file` (its path is `sys.argv[1]`), its one line of JSON
/// parsed; `None` (with the helper's message) when pyarrow is not available.
fn pyarrow_json(file: &Bytes, code: &str) -> Option<serde_json::Value> {
    let py = support::python_with_pyarrow()?;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("silver.parquet");
    std::fs::write(&path, file).expect("write");
    let out = support::run_python(&py, code, &[path.to_str().expect("utf8")]);
    Some(serde_json::from_str(out.trim()).expect("json"))
}

/// Every column of both files, as bits (NaN-exact) or debug strings for identity columns.
fn assert_same_rows(a: &[RecordBatch], b: &[RecordBatch]) {
    let concat = |bs: &[RecordBatch]| {
        arrow_select::concat::concat_batches(&bs[0].schema(), bs).expect("concat")
    };
    let (a, b) = (concat(a), concat(b));
    assert_eq!(a.num_rows(), b.num_rows());
    assert_eq!(a.schema().fields(), b.schema().fields());
    for (i, (x, y)) in a.columns().iter().zip(b.columns()).enumerate() {
        match (
            x.as_any().downcast_ref::<Float32Array>(),
            y.as_any().downcast_ref::<Float32Array>(),
        ) {
            (Some(x), Some(y)) => {
                assert_eq!(x.nulls(), y.nulls(), "column {i} nulls");
                for r in 0..x.len() {
                    if x.is_valid(r) {
                        assert_eq!(
                            x.value(r).to_bits(),
                            y.value(r).to_bits(),
                            "column {i} row {r}"
                        );
                    }
                }
            }
            _ => assert_eq!(x.to_data(), y.to_data(), "column {i}"),
        }
    }
}

#[test]
fn silver_writer_matches_the_arrow_writer_value_for_value_and_in_statistics() {
    for enc in [
        EncodingOptions {
            row_group_rows: 1_000,
            ..EncodingOptions::default()
        },
        EncodingOptions {
            row_group_rows: 1_000,
            zstd_level: 1,
            ..EncodingOptions::default()
        },
        EncodingOptions {
            row_group_rows: 1_000,
            bands: BandEncoding::Plain,
            zstd_level: 0,
            ..EncodingOptions::default()
        },
        EncodingOptions {
            row_group_rows: 1_000,
            bands: BandEncoding::Dictionary,
            zstd_level: 3,
            ..EncodingOptions::default()
        },
    ] {
        let ours = write_silver(&enc);
        let theirs = write_arrow(&enc);
        assert_same_rows(&read(&ours), &read(&theirs));

        let m1 = ParquetMetaDataReader::new()
            .parse_and_finish(&ours)
            .expect("meta");
        let m2 = ParquetMetaDataReader::new()
            .parse_and_finish(&theirs)
            .expect("meta");
        let rows: Vec<i64> = m1.row_groups().iter().map(|g| g.num_rows()).collect();
        assert_eq!(rows, vec![1_000, 1_000, 500], "{enc:?}");
        // A fast ZSTD level (the `full` default) is recorded in the footer.
        let fast = m1
            .file_metadata()
            .key_value_metadata()
            .into_iter()
            .flatten()
            .find(|kv| kv.key == "hsi.band_zstd_level")
            .and_then(|kv| kv.value.clone());
        let want = (enc.zstd_level < 0).then(|| enc.zstd_level.to_string());
        assert_eq!(fast, want, "{enc:?}");
        assert_eq!(m2.row_groups().len(), 3);
        for (g1, g2) in m1.row_groups().iter().zip(m2.row_groups()) {
            assert_eq!(g1.num_rows(), g2.num_rows());
            for (c1, c2) in g1.columns().iter().zip(g2.columns()) {
                let path = c1.column_path().string();
                assert_eq!(c1.compression(), c2.compression(), "{path}");
                assert_eq!(c1.num_values(), c2.num_values(), "{path}");
                let (s1, s2) = (c1.statistics(), c2.statistics());
                match (s1, s2) {
                    (Some(Statistics::Float(a)), Some(Statistics::Float(b))) => {
                        let bits = |v: Option<&f32>| v.map(|x| x.to_bits());
                        assert_eq!(bits(a.min_opt()), bits(b.min_opt()), "{path} min");
                        assert_eq!(bits(a.max_opt()), bits(b.max_opt()), "{path} max");
                        assert_eq!(a.null_count_opt(), b.null_count_opt(), "{path} nulls");
                    }
                    (a, b) => assert_eq!(a, b, "{path}"),
                }
            }
        }
    }
}

#[test]
fn statistics_are_the_hand_computed_ones() {
    let file = write_silver(&EncodingOptions {
        row_group_rows: 1_000,
        ..EncodingOptions::default()
    });
    let meta = ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .expect("meta");
    let g = &meta.row_groups()[0]; // rows 0..1000
    let stat = |name: &str| -> (Option<f32>, Option<f32>, Option<u64>) {
        let c = g
            .columns()
            .iter()
            .find(|c| c.column_path().string() == name)
            .expect("column");
        match c.statistics() {
            Some(Statistics::Float(s)) => (
                s.min_opt().copied(),
                s.max_opt().copied(),
                s.null_count_opt(),
            ),
            other => panic!("{name}: {other:?}"),
        }
    };
    // Band 0: 0.1 + (r % 13)·0.01 with NaN at r % 7 == 3 (r = 3, 10, …; r % 13 hits 0 and 12).
    let (mn, mx, nulls) = stat(&band_column_name(GRID[0]));
    assert_eq!(
        (mn, mx, nulls),
        (Some(0.1), Some(0.1 + 12.0 * 0.01), Some(0))
    );
    // Band 1: min −998·10⁻³ (r = 998), max 999·10⁻³ (r = 999), in f32 arithmetic.
    let (mn, mx, _) = stat(&band_column_name(GRID[1]));
    assert_eq!((mn, mx), (Some(-998.0f32 * 1e-3), Some(999.0f32 * 1e-3)));
    // Band 2: 200 nulls (r % 5 == 0), max 999·0.25.
    let (mn, mx, nulls) = stat(&band_column_name(GRID[2]));
    assert_eq!((mn, mx, nulls), (Some(0.25), Some(249.75), Some(200)));

    // A column of only zeros has min −0 and max +0 (Parquet's rule for float zeros).
    let schema = silver_schema(&GRID[..1]);
    let b = batch(0, 4);
    let mut cols: Vec<ArrayRef> = b.columns()[..11].to_vec();
    cols.push(Arc::new(Float32Array::from(vec![0.0, -0.0, 0.0, 0.0])));
    let mut w = SilverWriter::try_new(
        Vec::new(),
        schema.clone(),
        EncodingOptions::default().writer_properties(&GRID[..1]),
    )
    .expect("writer");
    w.write(&RecordBatch::try_new(schema, cols).expect("batch"))
        .expect("write");
    let file = Bytes::from(w.finish().expect("finish"));
    let meta = ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .expect("meta");
    match meta.row_groups()[0].columns()[11].statistics() {
        Some(Statistics::Float(s)) => {
            assert!(
                s.min_opt()
                    .is_some_and(|v| *v == 0.0 && v.is_sign_negative())
            );
            assert!(
                s.max_opt()
                    .is_some_and(|v| *v == 0.0 && v.is_sign_positive())
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn pyarrow_reads_the_silver_writer_to_the_same_numbers() {
    let file = write_silver(&EncodingOptions {
        row_group_rows: 1_000,
        ..EncodingOptions::default()
    });
    let code = r#"
import json, math, sys
import pyarrow.parquet as pq
f = pq.ParquetFile(sys.argv[1])
t = f.read()
names = [n for n in t.schema.names if n.startswith("b")]
out = {"rows": t.num_rows, "row_groups": f.metadata.num_row_groups, "sums": {}, "nans": {}, "nulls": {},
       "stats": {}}
for n in names:
    v = t.column(n).to_pylist()
    out["nulls"][n] = sum(x is None for x in v)
    out["nans"][n] = sum(x is not None and math.isnan(x) for x in v)
    out["sums"][n] = math.fsum(x for x in v if x is not None and not math.isnan(x))
    s = f.metadata.row_group(0).column(t.schema.names.index(n)).statistics
    out["stats"][n] = [s.min, s.max, s.null_count] if s.has_min_max else [None, None, s.null_count]
print(json.dumps(out))
"#;
    let Some(v) = pyarrow_json(&file, code) else {
        return;
    };
    assert_eq!(v["rows"], 2_500);
    assert_eq!(v["row_groups"], 3);
    // Independent sums of the same rows, computed here in f64.
    let all = batches();
    for (j, nm) in GRID.iter().enumerate() {
        let name = band_column_name(*nm);
        let (mut sum, mut nans, mut nulls) = (0.0f64, 0u64, 0u64);
        for b in &all {
            let col = b
                .column(11 + j)
                .as_any()
                .downcast_ref::<Float32Array>()
                .expect("f32");
            for r in 0..col.len() {
                if col.is_null(r) {
                    nulls += 1;
                } else if col.value(r).is_nan() {
                    nans += 1;
                } else {
                    sum += f64::from(col.value(r));
                }
            }
        }
        assert_eq!(v["nulls"][&name], nulls, "{name}");
        assert_eq!(v["nans"][&name], nans, "{name}");
        let got = v["sums"][&name].as_f64().expect("sum");
        assert!(
            (got - sum).abs() <= 1e-9 * sum.abs().max(1.0),
            "{name}: {got} vs {sum}"
        );
    }
    let s = &v["stats"][band_column_name(GRID[2])];
    assert_eq!(s[0].as_f64(), Some(0.25));
    assert_eq!(s[1].as_f64(), Some(249.75));
    assert_eq!(s[2], 200);
}

/// A string column that is constant in one slice and not in the next (never in a Silver
/// file, where they are constant per cube) is handed to the Arrow writer with the rows taken
/// so far: the rows and statistics still equal the Arrow writer's.
#[test]
fn a_string_column_that_stops_being_constant_is_written_correctly() {
    let with_pipeline = |b: RecordBatch, value: &str| {
        let mut cols = b.columns().to_vec();
        cols[9] = Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
            value,
            b.num_rows(),
        )));
        RecordBatch::try_new(b.schema(), cols).expect("batch")
    };
    let inputs = [
        with_pipeline(batch(0, 600), "edge"),
        with_pipeline(batch(600, 300), "batch"),
        with_pipeline(batch(900, 700), "edge"),
        with_pipeline(batch(1_600, 900), "edge"),
    ];
    let enc = EncodingOptions {
        row_group_rows: 1_000,
        ..EncodingOptions::default()
    };
    let mut ours = SilverWriter::try_new(
        Vec::new(),
        silver_schema(&GRID),
        enc.writer_properties(&GRID),
    )
    .expect("writer");
    let mut theirs = ArrowWriter::try_new(
        Vec::new(),
        silver_schema(&GRID),
        Some(enc.writer_properties(&GRID)),
    )
    .expect("writer");
    for b in &inputs {
        ours.write(b).expect("write");
        theirs.write(b).expect("write");
    }
    let ours = Bytes::from(ours.finish().expect("finish"));
    let theirs = Bytes::from(theirs.into_inner().expect("finish"));
    assert_same_rows(&read(&ours), &read(&theirs));
    let m1 = ParquetMetaDataReader::new()
        .parse_and_finish(&ours)
        .expect("meta");
    let m2 = ParquetMetaDataReader::new()
        .parse_and_finish(&theirs)
        .expect("meta");
    for (g1, g2) in m1.row_groups().iter().zip(m2.row_groups()) {
        // Column 9 is `pipeline`: mixed in row group 0, constant "edge" in 1 and 2.
        assert_eq!(g1.column(9).statistics(), g2.column(9).statistics());
        assert_eq!(g1.column(0).statistics(), g2.column(0).statistics());
    }
    let stats = m1.row_groups()[0].column(9).statistics().expect("stats");
    assert_eq!(stats.min_bytes_opt(), Some(&b"batch"[..]));
    assert_eq!(stats.max_bytes_opt(), Some(&b"edge"[..]));
}

/// Both writers over the same batches and properties; returns (ours, theirs).
fn write_both(inputs: &[RecordBatch], props: WriterProperties) -> (Bytes, Bytes) {
    let mut ours =
        SilverWriter::try_new(Vec::new(), silver_schema(&GRID), props.clone()).expect("writer");
    let mut theirs =
        ArrowWriter::try_new(Vec::new(), silver_schema(&GRID), Some(props)).expect("writer");
    for b in inputs {
        ours.write(b).expect("write");
        theirs.write(b).expect("write");
    }
    let ours = Bytes::from(ours.finish().expect("finish"));
    let theirs = Bytes::from(theirs.into_inner().expect("finish"));
    (ours, theirs)
}

/// The numeric identity columns (`acquisition_time`, `line`, `sample`, `x`, `y`: columns
/// 4–8) go through the writer's own dictionary chunks: same rows, chunk statistics and page
/// index (min/max per page, boundary order) as the Arrow writer's, including the signed zeros
/// of `x` (min 0.0) and `y` (max −0.0). A chunk the dictionary writer cannot take (a NaN in
/// `x`, a dictionary over the page size limit) goes to the Arrow writer with its rows so far.
#[test]
fn identity_columns_match_the_arrow_writer_with_their_page_index() {
    let enc = EncodingOptions {
        row_group_rows: 1_000,
        ..EncodingOptions::default()
    };
    let meta = |f: &Bytes| {
        ParquetMetaDataReader::new()
            .with_page_index_policy(PageIndexPolicy::Optional)
            .parse_and_finish(f)
            .expect("meta")
    };
    // The profiles' chunk statistics, and page statistics (a column index per chunk).
    let page_stats = enc
        .writer_properties(&GRID)
        .into_builder()
        .set_statistics_enabled(EnabledStatistics::Page)
        .build();
    let mut m1 = None;
    for props in [enc.writer_properties(&GRID), page_stats] {
        let page = props.statistics_enabled(&ColumnPath::from("x")) == EnabledStatistics::Page;
        let (ours, theirs) = write_both(&batches(), props);
        assert_same_rows(&read(&ours), &read(&theirs));
        let (ours, theirs) = (meta(&ours), meta(&theirs));
        for (g, (g1, g2)) in ours
            .row_groups()
            .iter()
            .zip(theirs.row_groups())
            .enumerate()
        {
            for c in 4..=8 {
                let path = g1.column(c).column_path().string();
                assert_eq!(
                    g1.column(c).statistics(),
                    g2.column(c).statistics(),
                    "{path}"
                );
                let index = |m: &ParquetMetaData| m.column_index().map(|i| i[g][c].clone());
                let (i1, i2) = (index(&ours), index(&theirs));
                assert_eq!(i1, i2, "row group {g} {path} column index");
                assert_eq!(
                    page,
                    !matches!(i1, None | Some(ColumnIndexMetaData::NONE)),
                    "{path}: {i1:?}"
                );
                let encodings: Vec<_> = g1.column(c).encodings().collect();
                assert_eq!(
                    encodings,
                    [Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY]
                );
            }
        }
        m1.get_or_insert(ours);
    }
    let m1 = m1.expect("written");

    // Pages of exactly the row count limit (the Arrow writer cuts at its 1,024-row write
    // batches instead, so this also shows the dictionary chunks wrote these columns): 300-row
    // pages, and `line` = row / 100 per page, hand-computed.
    let props = enc
        .writer_properties(&GRID)
        .into_builder()
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_data_page_row_count_limit(300)
        .build();
    let (ours, theirs) = write_both(&batches(), props);
    assert_same_rows(&read(&ours), &read(&theirs));
    let ours = meta(&ours);
    let offsets = ours.offset_index().expect("offset index");
    for (g, rows) in [(0, 1_000), (2, 500)] {
        for (c, column) in offsets[g].iter().enumerate().take(9).skip(4) {
            let pages = &column.page_locations;
            let firsts: Vec<i64> = pages.iter().map(|p| p.first_row_index).collect();
            let want: Vec<i64> = (0..rows).step_by(300).collect();
            assert_eq!(firsts, want, "row group {g} column {c}");
        }
    }
    let line_index = &ours.column_index().expect("column index")[0][5];
    assert_eq!(
        line_index.get_boundary_order(),
        Some(parquet::basic::BoundaryOrder::ASCENDING)
    );
    match line_index {
        ColumnIndexMetaData::INT32(index) => {
            let mins: Vec<_> = (0..4).map(|p| index.min_value(p).copied()).collect();
            let maxs: Vec<_> = (0..4).map(|p| index.max_value(p).copied()).collect();
            assert_eq!(mins, [Some(0), Some(3), Some(6), Some(9)]);
            assert_eq!(maxs, [Some(2), Some(5), Some(8), Some(9)]);
        }
        other => panic!("line column index {other:?}"),
    }
    // Hand-computed: row group 1 holds rows 1,000..2,000; line = row / 100, x = row / 2.
    match m1.row_groups()[1].column(5).statistics() {
        Some(Statistics::Int32(s)) => {
            assert_eq!((s.min_opt(), s.max_opt()), (Some(&10), Some(&19)))
        }
        other => panic!("line statistics {other:?}"),
    }
    match m1.row_groups()[0].column(7).statistics() {
        Some(Statistics::Double(s)) => {
            let min = *s.min_opt().expect("min");
            assert!(min == 0.0 && min.is_sign_negative(), "x min {min}");
            assert_eq!(s.max_opt(), Some(&499.5));
        }
        other => panic!("x statistics {other:?}"),
    }

    // A NaN in `x` in the middle of row group 1, and a dictionary limit `sample` and `x`
    // outgrow (128 bytes: `sample` has 100 4-byte values, `x` up to 1,000 8-byte ones):
    // both hand over.
    let mut inputs = batches();
    let mut cols = inputs[2].columns().to_vec();
    let x: Vec<f64> = (0..inputs[2].num_rows())
        .map(|r| {
            if r == 500 {
                f64::NAN
            } else {
                (701 + r) as f64 * 0.5
            }
        })
        .collect();
    cols[7] = Arc::new(Float64Array::from(x));
    inputs[2] = RecordBatch::try_new(inputs[2].schema(), cols).expect("batch");
    for props in [
        enc.writer_properties(&GRID),
        enc.writer_properties(&GRID)
            .into_builder()
            .set_dictionary_page_size_limit(128)
            .build(),
    ] {
        let (ours, theirs) = write_both(&inputs, props);
        assert_same_rows(&read(&ours), &read(&theirs));
        let (m1, m2) = (meta(&ours), meta(&theirs));
        for (g1, g2) in m1.row_groups().iter().zip(m2.row_groups()) {
            for c in 4..=8 {
                let path = g1.column(c).column_path().string();
                assert_eq!(
                    g1.column(c).statistics(),
                    g2.column(c).statistics(),
                    "{path}"
                );
            }
        }
    }
}

/// `n` rows from `start` whose band values carry sensor-like noise in the low mantissa bytes
/// (the streams the page encoder stores raw once a probe page found them incompressible);
/// band 2 has a null every 50,000 rows.
fn noisy_batch(start: usize, n: usize) -> RecordBatch {
    let template = batch(start, n);
    let mut cols: Vec<ArrayRef> = template.columns()[..11].to_vec();
    for j in 0..GRID.len() {
        let value = move |r: usize| {
            let mut h = (r as u64 * 5 + j as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            h ^= h >> 29;
            let noise = (h % 10_007) as f32 / 10_007.0 - 0.5;
            0.2 + 0.1 * j as f32 + 0.05 * (r as f32 * 0.001).sin() + 2e-3 * noise
        };
        let col: ArrayRef = if j == 2 {
            Arc::new(Float32Array::from_iter(
                (start..start + n).map(|r| (r % 50_000 != 7).then(|| value(r))),
            ))
        } else {
            Arc::new(Float32Array::from_iter_values(
                (start..start + n).map(value),
            ))
        };
        cols.push(col);
    }
    RecordBatch::try_new(template.schema(), cols).expect("batch")
}

/// ZSTD frames in `file` whose first block is raw and longer than two 32 Ki-value streams
/// (pages hold up to 64 Ki values): the levels and both noise streams stored without
/// compressing them.
fn spliced_frames(file: &[u8]) -> usize {
    file.windows(12)
        .filter(|w| {
            let h = u32::from(w[9]) | u32::from(w[10]) << 8 | u32::from(w[11]) << 16;
            w[..5] == [0x28, 0xb5, 0x2f, 0xfd, 0xa0] && h >> 1 & 3 == 0 && (h >> 3) > 2 * 32_768
        })
        .count()
}

/// Columns of many pages, whose noise streams are stored raw between probe pages, read back
/// bit for bit by the `parquet` crate and to the same bit checksums by pyarrow.
#[test]
fn noisy_multi_page_columns_round_trip_through_every_reader() {
    const ROWS: usize = 600_000;
    let blocks: Vec<RecordBatch> = (0..ROWS)
        .step_by(9_400)
        .map(|s| noisy_batch(s, 9_400.min(ROWS - s)))
        .collect();
    let enc = EncodingOptions::default();
    let mut w = SilverWriter::try_new(
        Vec::new(),
        silver_schema(&GRID),
        enc.writer_properties(&GRID),
    )
    .expect("writer");
    for b in &blocks {
        w.write(b).expect("write");
    }
    let file = Bytes::from(w.finish().expect("finish"));
    // 10 row groups × 5 bands × 1 page (64 Ki values); every column's first page and every
    // 16th is a probe.
    let spliced = spliced_frames(&file);
    assert!(spliced >= 30, "only {spliced} pages with a raw prefix");
    let got = read(&file);
    assert_same_rows(&got, &blocks);

    // An independent reader: pyarrow's sums of the values' bits, per band.
    let code = r#"
import json, sys
import numpy as np
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
out = {}
for n in [n for n in t.schema.names if n.startswith("b")]:
    c = t.column(n).combine_chunks()
    bits = c.drop_null().to_numpy().view("<u4").astype(np.uint64)
    out[n] = [int(bits.sum()), int(c.null_count)]
print(json.dumps(out))
"#;
    let Some(v) = pyarrow_json(&file, code) else {
        return;
    };
    for (j, nm) in GRID.iter().enumerate() {
        let (mut sum, mut nulls) = (0u64, 0u64);
        for b in &blocks {
            let col = b
                .column(11 + j)
                .as_any()
                .downcast_ref::<Float32Array>()
                .expect("f32");
            for r in 0..col.len() {
                if col.is_null(r) {
                    nulls += 1;
                } else {
                    sum += u64::from(col.value(r).to_bits());
                }
            }
        }
        let name = band_column_name(*nm);
        assert_eq!(v[&name][0].as_u64(), Some(sum), "{name}");
        assert_eq!(v[&name][1].as_u64(), Some(nulls), "{name}");
    }
}
