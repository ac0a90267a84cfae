//! Vegetation-index formulas on hand-made Silver batches, against hand-computed values.

mod gold_common;

use std::sync::Arc;

use arrow_array::{Array, Float32Array, Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use gold_common::{Px, silver_batch};
use hsi_lakehouse::Error;
use hsi_lakehouse::gold::indices::{
    DEFAULT_BAND_TOLERANCE_NM, IndexBands, VegetationIndex, compute_indices, compute_indices_with,
    indices_schema,
};

/// A VNIR grid with exactly the bands the formulas name.
const VNIR: [f32; 9] = [
    550.0, 670.0, 680.0, 700.0, 705.0, 750.0, 760.0, 800.0, 860.0,
];

/// R550, R670, R680, R700, R705, R750, R760, R800, R860.
const LEAF: [f32; 9] = [0.10, 0.05, 0.10, 0.15, 0.20, 0.40, 0.45, 0.50, 0.50];

fn close(actual: f32, expected: f32) {
    assert!(
        (actual - expected).abs() <= 1e-6,
        "expected {expected}, found {actual}"
    );
}

#[test]
fn formulas_match_hand_computed_values() {
    let batch = silver_batch(&VNIR, &[Px::new(0.0, 0.0, &LEAF)]);
    let ix = compute_indices(&batch).unwrap();
    // NDVI = (0.5 − 0.1) / (0.5 + 0.1) = 2/3 ≈ 0.6666667. In f32 arithmetic the inputs'
    // rounding gives 0.6666666 (numpy: (f32(.5)-f32(.1))/(f32(.5)+f32(.1)) == 0.6666666269302368).
    close(ix.ndvi.value(0), 0.6666667);
    assert_eq!(ix.ndvi.value(0), 0.666_666_6_f32);
    // NDRE = (0.40 − 0.20) / (0.40 + 0.20) = 1/3.
    close(ix.ndre.value(0), 1.0 / 3.0);
    // CIred-edge = 0.45 / 0.15 − 1 = 2.
    close(ix.cire.value(0), 2.0);
    // MCARI = [(0.15 − 0.05) − 0.2 · (0.15 − 0.10)] · (0.15 / 0.05) = (0.10 − 0.01) · 3 = 0.27.
    close(ix.mcari.value(0), 0.27);
    // VNIR only: no band within 15 nm of 1240 nm, so NDWI is null.
    assert_eq!(ix.ndwi.null_count(), 1);
    assert!(ix.ndvi.is_valid(0) && ix.mcari.is_valid(0));
}

#[test]
fn ndwi_uses_the_swir_band_when_present() {
    let mut grid = VNIR.to_vec();
    grid.push(1240.0);
    let mut bands = LEAF.to_vec();
    bands.push(0.30);
    let ix = compute_indices(&silver_batch(&grid, &[Px::new(0.0, 0.0, &bands)])).unwrap();
    // NDWI = (0.5 − 0.3) / (0.5 + 0.3) = 0.25.
    close(ix.ndwi.value(0), 0.25);
}

#[test]
fn zero_denominators_and_null_bands_give_null_not_nan() {
    let mut dark = LEAF;
    dark[1] = 0.0; // R670 = 0: MCARI divides by zero
    dark[2] = 0.0; // R680 = 0 …
    dark[7] = 0.0; // … and R800 = 0: NDVI is 0/0
    let mut missing = Px::new(0.0, 0.0, &LEAF);
    missing.bands[3] = None; // R700 null: CIre and MCARI null, NDVI still computed
    let batch = silver_batch(&VNIR, &[Px::new(0.0, 0.0, &dark), missing]);
    let ix = compute_indices(&batch).unwrap();
    assert!(ix.ndvi.is_null(0) && ix.mcari.is_null(0));
    close(ix.ndre.value(0), 1.0 / 3.0);
    assert!(ix.cire.is_null(1) && ix.mcari.is_null(1));
    close(ix.ndvi.value(1), 0.6666667);
    for column in [&ix.ndvi, &ix.ndre, &ix.cire, &ix.mcari] {
        for i in 0..2 {
            assert!(column.is_null(i) || column.value(i).is_finite());
        }
    }
}

#[test]
fn nearest_band_on_the_standard_grid_and_tolerance() {
    let grid: Vec<f32> = (0..=60).map(|i| 400.0 + 10.0 * i as f32).collect();
    let schema = hsi_edge::flatten::schema::silver_schema(&grid);
    let bands = IndexBands::resolve(&schema, DEFAULT_BAND_TOLERANCE_NM);
    let nm = |index| {
        bands
            .bands(index)
            .map(|b| b.iter().map(|r| r.nm).collect::<Vec<_>>())
    };
    assert_eq!(nm(VegetationIndex::Ndvi), Some(vec![800.0, 680.0]));
    // 705 nm lies between 700 and 710: ties go to the shorter wavelength.
    assert_eq!(nm(VegetationIndex::Ndre), Some(vec![750.0, 700.0]));
    assert_eq!(nm(VegetationIndex::Mcari), Some(vec![700.0, 670.0, 550.0]));
    assert_eq!(
        nm(VegetationIndex::Ndwi),
        None,
        "400–1000 nm has nothing near 1240"
    );

    // A shifted grid: 805/675 serve 800/680 within 15 nm but not within 2 nm.
    let shifted = [555.0, 675.0, 705.0, 755.0, 805.0];
    let schema = hsi_edge::flatten::schema::silver_schema(&shifted);
    let wide = IndexBands::resolve(&schema, 15.0);
    assert_eq!(
        wide.bands(VegetationIndex::Ndvi)
            .map(|b| (b[0].nm, b[1].nm)),
        Some((805.0, 675.0))
    );
    let narrow = IndexBands::resolve(&schema, 2.0);
    assert!(narrow.bands(VegetationIndex::Ndvi).is_none());
    let batch = silver_batch(&shifted, &[Px::new(0.0, 0.0, &[0.1, 0.1, 0.2, 0.4, 0.5])]);
    let ix = compute_indices_with(&batch, &narrow).unwrap();
    assert!(ix.ndvi.is_null(0));
}

#[test]
fn indices_batch_has_the_documented_schema() {
    let batch = silver_batch(&VNIR, &[Px::new(0.0, 0.0, &LEAF), Px::new(1.0, 0.0, &LEAF)]);
    let out = compute_indices(&batch).unwrap().to_record_batch().unwrap();
    assert_eq!(out.schema(), indices_schema());
    assert_eq!(out.num_rows(), 2);
    let names: Vec<_> = out
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["ndvi", "ndwi", "ndre", "cire", "mcari"]);
}

#[test]
fn a_band_column_of_the_wrong_type_is_an_error_naming_it() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("b0680", DataType::Float32, true),
        Field::new("b0800", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Float32Array::from(vec![0.1])),
            Arc::new(Float64Array::from(vec![0.5])),
        ],
    )
    .unwrap();
    let err = compute_indices(&batch).unwrap_err();
    assert!(matches!(err, Error::ArrowData { .. }));
    assert_eq!(
        err.to_string(),
        "table `silver.reflectance`: Arrow: band column `b0800` has type Float64, expected Float32"
    );
}
