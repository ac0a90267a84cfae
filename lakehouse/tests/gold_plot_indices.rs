//! Per-plot statistics, row × week aggregation and touched partitions on a small hand-made
//! field, checked against numbers computed independently with numpy.

mod gold_common;

use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, Date32Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use chrono::NaiveDate;
use gold_common::{Px, micros, rect_plot, silver_batch};
use hsi_lakehouse::Error;
use hsi_lakehouse::gold::plot_indices::{self, PlotIndicesBuilder, PlotIndicesRow};
use hsi_lakehouse::gold::row_period::{self, RowPeriodRow, compute_row_period, iso_week_start};
use hsi_lakehouse::gold::{compute_plot_indices, touched_partitions};
use hsi_lakehouse::refdata::Plot;

/// R550, R670, R680, R700, R705, R750, R760, R800, R860.
const VNIR: [f32; 9] = [
    550.0, 670.0, 680.0, 700.0, 705.0, 750.0, 760.0, 800.0, 860.0,
];

/// Constant leaf spectrum with R680 = 0.1 and the given R800, so NDVI = (r − 0.1)/(r + 0.1).
fn leaf(r800: f32) -> Vec<f32> {
    vec![0.10, 0.05, 0.10, 0.15, 0.20, 0.40, 0.45, r800, 0.50]
}

fn px(
    cube: &'static str,
    time: &'static str,
    calib: &'static str,
    x: f64,
    y: f64,
    r800: f32,
) -> Px {
    Px {
        cube,
        time,
        calib,
        ..Px::new(x, y, &leaf(r800))
    }
}

fn plots() -> Vec<Plot> {
    vec![
        rect_plot("F1", "P1", 1, "L1", false, (0.0, 0.0), (4.0, 2.0)),
        rect_plot("F1", "P2", 1, "CHK", true, (4.0, 0.0), (8.0, 2.0)),
        rect_plot("F1", "P3", 2, "L1", false, (0.0, 3.0), (4.0, 5.0)),
    ]
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Four Silver batches (the fourth from a VNIR+SWIR sensor with a different band grid).
fn silver() -> Vec<RecordBatch> {
    let late = "2025-06-03T23:30:00Z"; // still 3 June in UTC
    let day = "2025-06-03T10:00:00Z";
    let next = "2025-06-04T00:10:00Z";
    let mut far = px("c1", day, "cal-v1", 1.0, 1.0, 0.5);
    far.farm = "F2";
    let b1 = silver_batch(
        &VNIR,
        &[
            px("c2", late, "cal-v1", 0.5, 1.0, 0.30),
            px("c2", late, "cal-v1", 1.5, 1.0, 0.50),
            px("c2", late, "cal-v1", 2.5, 1.0, 0.40),
        ],
    );
    let b2 = silver_batch(
        &VNIR,
        &[
            px("c1", day, "cal-v1", 3.5, 1.0, 0.70),
            px("c1", day, "cal-v1", 0.5, 0.5, 0.35),
            px("c1", day, "cal-v1", 4.5, 1.0, 0.60),
            px("c1", day, "cal-v1", 5.5, 1.0, 0.20),
            px("c1", day, "cal-v1", 6.5, 1.0, 0.90),
            px("c1", day, "cal-v1", 20.0, 1.0, 0.90), // outside every plot
            far,                                      // a farm without plots
        ],
    );
    let b3 = silver_batch(
        &VNIR,
        &[
            px("c3", next, "cal-v2", 0.5, 1.5, 0.45),
            px("c3", next, "cal-v2", 1.5, 1.5, 0.55),
        ],
    );
    // SWIR pixel in P2: R800 = R680 = 0 makes NDVI 0/0 (null); NDWI = (0.5 − 0.3)/(0.5 + 0.3).
    let mut grid = VNIR.to_vec();
    grid.push(1240.0);
    let mut swir = leaf(0.0);
    swir[2] = 0.0;
    swir.push(0.30);
    let b4 = silver_batch(
        &grid,
        &[Px {
            cube: "c4",
            time: "2025-06-03T12:00:00Z",
            calib: "cal-swir",
            ..Px::new(7.5, 1.5, &swir)
        }],
    );
    vec![b1, b2, b3, b4]
}

fn close(actual: Option<f64>, expected: f64) {
    let a = actual.expect("value present");
    assert!(
        (a - expected).abs() <= 1e-12,
        "expected {expected}, found {a}"
    );
}

fn close6(actual: Option<f64>, expected: f64) {
    let a = actual.expect("value present");
    assert!(
        (a - expected).abs() <= 1e-6,
        "expected {expected}, found {a}"
    );
}

#[test]
fn plot_statistics_match_numpy() {
    let plots = plots();
    let mut builder = PlotIndicesBuilder::new(&plots, 7001);
    for batch in silver() {
        builder.push(&batch).unwrap();
    }
    assert_eq!(builder.pixels_seen(), 13);
    assert_eq!(builder.unassigned_pixels(), 2);
    let rows = builder.finish();
    let keys: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.plot_id.as_str(),
                r.acquisition_date.to_string(),
                r.pixel_count,
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("P1", "2025-06-03".to_owned(), 5),
            ("P1", "2025-06-04".to_owned(), 2),
            ("P2", "2025-06-03".to_owned(), 4),
        ]
    );

    // Expected values: numpy 2.4 on the same f32 pixel NDVI, e.g. for P1 on 3 June
    //   a = np.array([.30, .50, .40, .70, .35], np.float32); b = np.float32(.1)
    //   v = ((a - b) / (a + b)).astype(np.float64)
    //   v.mean(), v.std(), np.percentile(v, [10, 50, 90])   # std: ddof=0; linear percentiles
    let p1 = &rows[0];
    close(p1.ndvi_mean, 0.6144444465637207);
    close(p1.ndvi_stddev, 0.08703620562559511);
    close(p1.ndvi_p10, 0.5222222685813904);
    close(p1.ndvi_p50, 0.6000000238418579);
    close(p1.ndvi_p90, 0.7166666150093078);
    // Constant leaf: NDRE = 1/3, CIre = 0.45/0.15 − 1 = 2, MCARI = 0.27 (f32 arithmetic).
    close6(p1.ndre_mean, 1.0 / 3.0);
    close6(p1.cire_mean, 2.0);
    close6(p1.mcari_mean, 0.27);
    assert_eq!(p1.ndwi_mean, None, "VNIR-only pixels");
    assert_eq!(p1.source_cube_ids, ["c1", "c2"]);
    assert_eq!(p1.calibration_version, "cal-v1");
    assert_eq!((p1.row, p1.line_id.as_str(), p1.is_check), (1, "L1", false));
    assert_eq!((p1.crop.as_str(), p1.trial_id.as_str()), ("wheat", "T1"));
    assert_eq!(p1.silver_snapshot_id, 7001);

    // [.45, .55]: mean .6643356680870056, std .027972042560577393,
    // percentiles .6419580340385437, .6643356680870056, .6867133021354676.
    let p1_next = &rows[1];
    close(p1_next.ndvi_mean, 0.6643356680870056);
    close(p1_next.ndvi_stddev, 0.027972042560577393);
    close(p1_next.ndvi_p10, 0.6419580340385437);
    close(p1_next.ndvi_p50, 0.6643356680870056);
    close(p1_next.ndvi_p90, 0.6867133021354676);
    assert_eq!(p1_next.source_cube_ids, ["c3"]);
    assert_eq!(p1_next.calibration_version, "cal-v2");

    // [.60, .20, .90] (the SWIR pixel's NDVI is null): mean .6158729791641235,
    // std .2028270716561293, percentiles .40952378511428833, .714285671710968, .7828570961952209.
    let p2 = &rows[2];
    close(p2.ndvi_mean, 0.6158729791641235);
    close(p2.ndvi_stddev, 0.2028270716561293);
    close(p2.ndvi_p10, 0.40952378511428833);
    close(p2.ndvi_p50, 0.714285671710968);
    close(p2.ndvi_p90, 0.7828570961952209);
    // Only the SWIR pixel has NDWI: (0.5 − 0.3)/(0.5 + 0.3) = 0.25 (f32: 0.2499999850988388).
    close(p2.ndwi_mean, 0.2499999850988388);
    // Four pixels of constant NDRE, the SWIR one included.
    close6(p2.ndre_mean, 1.0 / 3.0);
    assert_eq!(p2.calibration_version, "cal-swir,cal-v1");
    assert_eq!(p2.source_cube_ids, ["c1", "c4"]);
    assert!(p2.is_check);
}

#[test]
fn one_call_api_and_arrow_round_trip() {
    let plots = plots();
    let rows = compute_plot_indices(&silver(), &plots, 42).unwrap();
    assert_eq!(rows.len(), 3);
    let batch = plot_indices::to_record_batch(&rows).unwrap();
    assert_eq!(batch.schema(), plot_indices::arrow_schema());
    let dates = batch
        .column_by_name("acquisition_date")
        .unwrap()
        .as_any()
        .downcast_ref::<Date32Array>()
        .unwrap();
    // 2025-06-03 is day 20242 since 1970-01-01 (Python: (date(2025,6,3) - date(1970,1,1)).days).
    assert_eq!(dates.values().to_vec(), [20242, 20243, 20242]);
    assert_eq!(batch.column_by_name("ndwi_mean").unwrap().null_count(), 2);
    assert_eq!(plot_indices::from_record_batch(&batch).unwrap(), rows);
}

#[test]
fn a_bad_batch_is_rejected_whole() {
    let plots = plots();
    let mut builder = PlotIndicesBuilder::new(&plots, 1);
    let good = &silver()[0];
    let no_x = good
        .project(&[0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13])
        .unwrap();
    let err = builder.push(&no_x).unwrap_err();
    assert!(matches!(err, Error::ArrowData { .. }));
    assert_eq!(
        err.to_string(),
        "table `silver.reflectance`: Arrow: missing column `x`"
    );
    let ids_only = good.project(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).unwrap();
    assert!(
        builder
            .push(&ids_only)
            .unwrap_err()
            .to_string()
            .contains("no band columns")
    );
    assert_eq!(builder.pixels_seen(), 0);
    assert!(builder.finish().is_empty());
}

fn row(
    plot: &str,
    crop: &str,
    row: i32,
    day: &str,
    pixels: i64,
    ndvi: f64,
    ndwi: Option<f64>,
) -> PlotIndicesRow {
    PlotIndicesRow {
        farm_id: "F1".into(),
        field_id: "A".into(),
        plot_id: plot.into(),
        acquisition_date: date(day),
        row,
        pixel_count: pixels,
        ndvi_mean: Some(ndvi),
        ndvi_stddev: Some(0.0),
        ndvi_p10: Some(ndvi),
        ndvi_p50: Some(ndvi),
        ndvi_p90: Some(ndvi),
        ndwi_mean: ndwi,
        ndre_mean: Some(0.3),
        cire_mean: Some(2.0),
        mcari_mean: None,
        line_id: "L".into(),
        trial_id: "T1".into(),
        is_check: false,
        crop: crop.into(),
        calibration_version: "cal".into(),
        source_cube_ids: vec!["c".into()],
        silver_snapshot_id: 1,
    }
}

#[test]
fn row_period_is_pixel_weighted_per_iso_week() {
    let rows = vec![
        row("P1", "wheat", 1, "2025-06-02", 10, 0.5, None), // Monday, ISO 2025-W23
        row("P1", "wheat", 1, "2025-06-08", 30, 0.7, Some(0.2)), // Sunday, same week
        row("P2", "wheat", 1, "2025-06-05", 20, 0.6, Some(0.1)),
        row("P1", "wheat", 1, "2025-06-09", 10, 0.4, None), // next Monday: W24
        row("P3", "wheat", 2, "2025-06-03", 5, 0.9, None),  // another field row
        row("P9", "maize", 1, "2025-06-03", 8, 0.8, None),  // another crop
        row("P1", "wheat", 1, "2024-12-31", 4, 0.3, None),  // ISO 2025-W01 starts 2024-12-30
    ];
    let out = compute_row_period(&rows);
    let keys: Vec<_> = out
        .iter()
        .map(|r| {
            (
                r.crop.as_str(),
                r.row,
                r.week_start.to_string(),
                r.iso_year,
                r.iso_week,
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("maize", 1, "2025-06-02".into(), 2025, 23),
            ("wheat", 1, "2024-12-30".into(), 2025, 1),
            ("wheat", 1, "2025-06-02".into(), 2025, 23),
            ("wheat", 1, "2025-06-09".into(), 2025, 24),
            ("wheat", 2, "2025-06-02".into(), 2025, 23),
        ]
    );
    let w23: &RowPeriodRow = &out[2];
    // Two distinct plots, 10 + 30 + 20 pixels.
    assert_eq!((w23.plot_count, w23.pixel_count), (2, 60));
    // NDVI: (10·0.5 + 30·0.7 + 20·0.6) / 60 = 38/60.
    close(w23.ndvi_mean, 38.0 / 60.0);
    // NDWI: only rows with a value weigh: (30·0.2 + 20·0.1) / 50 = 0.16.
    close(w23.ndwi_mean, 0.16);
    close(w23.ndre_mean, 0.3);
    assert_eq!(w23.mcari_mean, None);
    assert_eq!(out[3].plot_count, 1);
    close(out[3].ndvi_mean, 0.4);

    let batch = row_period::to_record_batch(&out).unwrap();
    assert_eq!(batch.schema(), row_period::arrow_schema());
    assert_eq!(batch.num_rows(), 5);
    assert_eq!(iso_week_start(date("2025-06-08")), date("2025-06-02"));
}

#[test]
fn row_period_from_computed_plot_rows() {
    let plots = plots();
    let rows = compute_plot_indices(&silver(), &plots, 1).unwrap();
    let out = compute_row_period(&rows);
    assert_eq!(
        out.len(),
        1,
        "P1 and P2 are in row 1; 3 and 4 June are one ISO week"
    );
    assert_eq!((out[0].plot_count, out[0].pixel_count), (2, 11));
    // numpy: w = [5, 2, 4]; v = [.6144444465637207, .6643356680870056, .6158729791641235];
    // (w * v).sum() / w.sum() == 0.624035044149919
    close(out[0].ndvi_mean, 0.624035044149919);
}

#[test]
fn touched_partitions_are_farm_and_utc_day() {
    let touched = touched_partitions(&silver()).unwrap();
    let got: Vec<_> = touched
        .iter()
        .map(|(f, d)| (f.as_str(), d.to_string()))
        .collect();
    assert_eq!(
        got,
        [
            ("F1", "2025-06-03".to_owned()),
            ("F1", "2025-06-04".to_owned()),
            ("F2", "2025-06-03".to_owned()),
        ]
    );

    // Readers may label UTC as "+00:00" (iceberg-rust does): same instants, same days.
    let t = TimestampMicrosecondArray::from(vec![micros("2025-06-04T00:10:00Z")])
        .with_timezone("+00:00");
    let batch = RecordBatch::try_from_iter([
        (
            "farm_id",
            Arc::new(StringArray::from(vec!["F7"])) as ArrayRef,
        ),
        ("acquisition_time", Arc::new(t) as ArrayRef),
    ])
    .unwrap();
    let touched = touched_partitions(&[batch]).unwrap();
    assert!(touched.contains(&("F7".to_owned(), date("2025-06-04"))));

    let wrong = RecordBatch::try_from_iter([
        (
            "farm_id",
            Arc::new(StringArray::from(vec!["F7"])) as ArrayRef,
        ),
        (
            "acquisition_time",
            Arc::new(StringArray::from(vec!["2025-06-04"])) as ArrayRef,
        ),
    ])
    .unwrap();
    assert_eq!(
        touched_partitions(&[wrong]).unwrap_err().to_string(),
        "table `silver.reflectance`: Arrow: column `acquisition_time` has type Utf8, expected Timestamp"
    );
}
