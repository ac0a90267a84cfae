//! Shared builders for the Gold integration tests: hand-made Silver batches and plots.
#![allow(dead_code)] // each test binary uses a different subset

use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float32Array, Float64Array, Int32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use hsi_edge::flatten::schema::silver_schema;
use hsi_lakehouse::refdata::{Plot, wkt};

/// One Silver pixel.
#[derive(Clone)]
pub struct Px {
    pub cube: &'static str,
    pub farm: &'static str,
    /// RFC 3339 acquisition time.
    pub time: &'static str,
    pub x: f64,
    pub y: f64,
    pub calib: &'static str,
    /// One value per band of the grid (`None` = null).
    pub bands: Vec<Option<f32>>,
}

impl Px {
    pub fn new(x: f64, y: f64, bands: &[f32]) -> Self {
        Px {
            cube: "cube-1",
            farm: "F1",
            time: "2025-06-03T10:00:00Z",
            x,
            y,
            calib: "cal-v1",
            bands: bands.iter().map(|&v| Some(v)).collect(),
        }
    }
}

pub fn micros(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .expect("test timestamps are valid")
        .timestamp_micros()
}

/// A Silver batch following the edge crate's schema contract.
pub fn silver_batch(grid: &[f32], pixels: &[Px]) -> RecordBatch {
    let schema = silver_schema(grid);
    let s = |f: fn(&Px) -> &str| -> ArrayRef {
        Arc::new(pixels.iter().map(|p| Some(f(p))).collect::<StringArray>())
    };
    let n = pixels.len() as i32;
    let mut columns: Vec<ArrayRef> = vec![
        s(|p| p.cube),
        s(|p| p.farm),
        Arc::new(StringArray::from(vec!["A"; pixels.len()])),
        Arc::new(StringArray::from(vec!["sensor"; pixels.len()])),
        Arc::new(
            TimestampMicrosecondArray::from(
                pixels.iter().map(|p| micros(p.time)).collect::<Vec<_>>(),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(Int32Array::from((0..n).collect::<Vec<_>>())),
        Arc::new(Int32Array::from(vec![0; pixels.len()])),
        Arc::new(Float64Array::from(
            pixels.iter().map(|p| p.x).collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            pixels.iter().map(|p| p.y).collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(vec!["batch"; pixels.len()])),
        s(|p| p.calib),
    ];
    for b in 0..grid.len() {
        columns.push(Arc::new(
            pixels.iter().map(|p| p.bands[b]).collect::<Float32Array>(),
        ));
    }
    RecordBatch::try_new(schema, columns).expect("test batch matches the Silver schema")
}

/// A rectangular plot `[x0, x1] × [y0, y1]`.
pub fn rect_plot(
    farm: &str,
    plot_id: &str,
    row: i32,
    line: &str,
    is_check: bool,
    (x0, y0): (f64, f64),
    (x1, y1): (f64, f64),
) -> Plot {
    polygon_plot(
        farm,
        plot_id,
        row,
        line,
        is_check,
        vec![vec![vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]]],
    )
}

/// A plot from explicit parts (each part: outer ring then holes).
pub fn polygon_plot(
    farm: &str,
    plot_id: &str,
    row: i32,
    line: &str,
    is_check: bool,
    parts: Vec<wkt::Polygon>,
) -> Plot {
    Plot {
        farm_id: farm.into(),
        field_id: "A".into(),
        plot_id: plot_id.into(),
        row,
        crop: "wheat".into(),
        line_id: line.into(),
        trial_id: "T1".into(),
        is_check,
        wkt: wkt::write(&parts),
        polygon: parts.into_iter().flatten().collect(),
    }
}
