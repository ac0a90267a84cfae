//! Plot boundaries: GeoJSON parsing, WKT, the `ref.field_boundaries` batch, and every
//! rejection naming file, feature and reason.

use std::io::Write as _;

use arrow_array::{Array, BooleanArray, Int32Array, StringArray};
use hsi_lakehouse::Error;
use hsi_lakehouse::gold::point_in_rings;
use hsi_lakehouse::refdata::boundaries::{self, arrow_schema, from_record_batch, to_record_batch};
use hsi_lakehouse::refdata::{parse_boundaries, read_boundaries};
use serde_json::{Value, json};

const FILE: &str = "plots.geojson";

fn props(plot_id: &str, row: i64, line: &str, is_check: bool) -> Value {
    json!({
        "farm_id": "F1", "field_id": "A", "plot_id": plot_id, "row": row, "crop": "wheat",
        "line_id": line, "trial_id": "T1", "is_check": is_check, "note": "extra is fine"
    })
}

fn feature(properties: Value, geometry: Value) -> Value {
    json!({ "type": "Feature", "properties": properties, "geometry": geometry })
}

fn collection(features: Vec<Value>) -> String {
    json!({ "type": "FeatureCollection", "features": features }).to_string()
}

fn polygon_with_hole() -> Value {
    json!({ "type": "Polygon", "coordinates": [
        [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0], [0.0, 0.0]],
        [[4.0, 4.0], [4.0, 6.0], [6.0, 6.0], [6.0, 4.0], [4.0, 4.0]]
    ]})
}

fn two_squares() -> Value {
    json!({ "type": "MultiPolygon", "coordinates": [
        [[[20.0, 0.0], [21.5, 0.0], [21.5, 1.0], [20.0, 1.0], [20.0, 0.0]]],
        [[[30.0, 0.0], [31.0, 0.0], [31.0, 1.0], [30.0, 1.0], [30.0, 0.0]]]
    ]})
}

fn good() -> String {
    collection(vec![
        feature(props("P1", 1, "L1", false), polygon_with_hole()),
        feature(props("P2", 2, "CHK", true), two_squares()),
    ])
}

#[test]
fn parses_polygons_multipolygons_and_properties() {
    let plots = parse_boundaries(&good(), FILE).unwrap();
    assert_eq!(plots.len(), 2);
    let p1 = &plots[0];
    assert_eq!(
        (
            p1.farm_id.as_str(),
            p1.field_id.as_str(),
            p1.plot_id.as_str(),
            p1.row
        ),
        ("F1", "A", "P1", 1)
    );
    assert_eq!(
        (p1.crop.as_str(), p1.line_id.as_str(), p1.trial_id.as_str()),
        ("wheat", "L1", "T1")
    );
    assert!(!p1.is_check && plots[1].is_check);
    assert_eq!(p1.polygon.len(), 2, "outer ring and hole");
    assert_eq!(
        p1.wkt,
        "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0), (4 4, 4 6, 6 6, 6 4, 4 4))"
    );
    assert!(point_in_rings(&p1.polygon, 2.0, 2.0) && !point_in_rings(&p1.polygon, 5.0, 5.0));
    assert_eq!(p1.bbox(), (0.0, 0.0, 10.0, 10.0));

    let p2 = &plots[1];
    assert_eq!(p2.polygon.len(), 2, "one ring per part");
    assert_eq!(
        p2.wkt,
        "MULTIPOLYGON (((20 0, 21.5 0, 21.5 1, 20 1, 20 0)), ((30 0, 31 0, 31 1, 30 1, 30 0)))"
    );
    assert!(point_in_rings(&p2.polygon, 30.5, 0.5) && !point_in_rings(&p2.polygon, 25.0, 0.5));
}

#[test]
fn arrow_batch_and_round_trip() {
    let plots = parse_boundaries(&good(), FILE).unwrap();
    let batch = to_record_batch(&plots).unwrap();
    assert_eq!(batch.schema(), arrow_schema());
    let names: Vec<_> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "farm_id",
            "field_id",
            "plot_id",
            "row",
            "crop",
            "line_id",
            "trial_id",
            "is_check",
            "geometry_wkt"
        ]
    );
    let col = |n: &str| batch.column_by_name(n).unwrap().clone();
    let rows = col("row");
    assert_eq!(
        rows.as_any()
            .downcast_ref::<Int32Array>()
            .unwrap()
            .values()
            .to_vec(),
        [1, 2]
    );
    let checks = col("is_check");
    let checks = checks.as_any().downcast_ref::<BooleanArray>().unwrap();
    assert!(!checks.value(0) && checks.value(1));
    let wkt = col("geometry_wkt");
    assert!(
        wkt.as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .value(1)
            .starts_with("MULTIPOLYGON")
    );
    assert_eq!(from_record_batch(&batch).unwrap(), plots);
    assert_eq!(boundaries::TABLE, "ref.field_boundaries");
}

#[test]
fn reads_files_and_names_the_path_in_errors() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(good().as_bytes()).unwrap();
    assert_eq!(read_boundaries(f.path()).unwrap().len(), 2);

    let mut bad = tempfile::NamedTempFile::new().unwrap();
    bad.write_all(b"{ not json").unwrap();
    let msg = read_boundaries(bad.path()).unwrap_err().to_string();
    assert!(msg.starts_with(&bad.path().display().to_string()), "{msg}");

    let missing = read_boundaries(std::path::Path::new("/nonexistent/plots.geojson")).unwrap_err();
    assert!(matches!(missing, Error::Io { .. }));
    assert!(!missing.retryable());
}

/// Parse, expect an `InvalidInput`, and return `(key, reason)`.
fn reject(text: &str) -> (String, String) {
    match parse_boundaries(text, FILE).unwrap_err() {
        Error::InvalidFile { file, key, reason } => {
            assert_eq!(file, FILE);
            (key, reason)
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

/// A collection whose second feature (index 1) is `bad`.
fn second(bad: Value) -> String {
    collection(vec![
        feature(props("P1", 1, "L1", false), polygon_with_hole()),
        bad,
    ])
}

fn with_props(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut p = props("P7", 3, "L3", false);
    edit(p.as_object_mut().unwrap());
    second(feature(p, polygon_with_hole()))
}

#[test]
fn rejects_unparsable_json_with_position() {
    let (key, reason) = reject("{\"type\": \"FeatureCollection\",\n \"features\": [,]}");
    assert_eq!(key, "line 2, column 15");
    assert!(reason.starts_with("unparsable JSON"), "{reason}");
    let (key, reason) = reject(r#"{"type": "Feature"}"#);
    assert_eq!(
        (key.as_str(), reason.as_str()),
        ("FeatureCollection", "`type` must be \"FeatureCollection\"")
    );
    let (_, reason) = reject(r#"{"type": "FeatureCollection"}"#);
    assert_eq!(reason, "`features` must be an array");
}

#[test]
fn rejects_missing_and_mistyped_properties() {
    let full = |key: &str, reason: &str, text: String| {
        let err = parse_boundaries(&text, FILE).unwrap_err();
        assert_eq!(err.to_string(), format!("{FILE}: {key}: {reason}"));
    };
    full(
        "features[1] (plot_id \"P7\")",
        "missing property `row`",
        with_props(|p| {
            p.remove("row");
        }),
    );
    full(
        "features[1]",
        "missing property `plot_id`",
        with_props(|p| {
            p.remove("plot_id");
        }),
    );
    full(
        "features[1] (plot_id \"P7\")",
        "property `row` must be an integer, found a string (\"3\")",
        with_props(|p| {
            p.insert("row".into(), json!("3"));
        }),
    );
    full(
        "features[1] (plot_id \"P7\")",
        "property `row` must be an integer, found a non-integer number (2.5)",
        with_props(|p| {
            p.insert("row".into(), json!(2.5));
        }),
    );
    full(
        "features[1] (plot_id \"P7\")",
        "property `is_check` must be a boolean, found a string",
        with_props(|p| {
            p.insert("is_check".into(), json!("yes"));
        }),
    );
    full(
        "features[1] (plot_id \"P7\")",
        "property `line_id` must be a string, found an integer",
        with_props(|p| {
            p.insert("line_id".into(), json!(17));
        }),
    );
    full(
        "features[1] (plot_id \"P7\")",
        "property `crop` must not be empty",
        with_props(|p| {
            p.insert("crop".into(), json!(""));
        }),
    );
    full(
        "features[1] (plot_id \"P7\")",
        "property `row` = 3000000000 does not fit a 32-bit integer",
        with_props(|p| {
            p.insert("row".into(), json!(3_000_000_000i64));
        }),
    );
    let (key, reason) = reject(&second(
        json!({"type": "Feature", "geometry": polygon_with_hole()}),
    ));
    assert_eq!(
        (key.as_str(), reason.as_str()),
        ("features[1]", "missing `properties`")
    );
}

#[test]
fn rejects_non_polygon_geometries() {
    for (geometry, kind) in [
        (json!({"type": "Point", "coordinates": [1.0, 2.0]}), "Point"),
        (
            json!({"type": "LineString", "coordinates": [[0.0, 0.0], [1.0, 1.0]]}),
            "LineString",
        ),
    ] {
        let (key, reason) = reject(&second(feature(props("P9", 1, "L", false), geometry)));
        assert_eq!(key, "features[1] (plot_id \"P9\")");
        assert_eq!(
            reason,
            format!("geometry type {kind} is not supported (expected Polygon or MultiPolygon)")
        );
    }
    let (_, reason) = reject(&second(feature(props("P9", 1, "L", false), Value::Null)));
    assert_eq!(reason, "missing `geometry`");
}

#[test]
fn rejects_bad_rings() {
    let unclosed = json!({"type": "Polygon", "coordinates": [
        [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    ]});
    let (key, reason) = reject(&second(feature(props("P9", 1, "L", false), unclosed)));
    assert_eq!(key, "features[1] (plot_id \"P9\")");
    assert_eq!(
        reason,
        "coordinates[0]: ring is not closed: first position (0.0, 0.0) != last position (0.0, 1.0)"
    );

    let short = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]]});
    let (_, reason) = reject(&second(feature(props("P9", 1, "L", false), short)));
    assert_eq!(
        reason,
        "coordinates[0]: a ring needs at least 4 positions (a closed triangle), found 3"
    );

    // The hole of the second part of a multi-polygon is short: the path says so.
    let deep = json!({"type": "MultiPolygon", "coordinates": [
        [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]],
        [[[5.0, 5.0], [9.0, 5.0], [9.0, 9.0], [5.0, 5.0]], [[6.0, 6.0], [7.0, 6.0], [6.0, 6.0]]]
    ]});
    let (_, reason) = reject(&second(feature(props("P9", 1, "L", false), deep)));
    assert!(
        reason.starts_with("coordinates[1][1]: a ring needs at least 4 positions"),
        "{reason}"
    );

    let text = json!({"type": "Polygon", "coordinates": [
        [[0.0, 0.0], ["a", 0.0], [1.0, 1.0], [0.0, 0.0]]
    ]});
    let (_, reason) = reject(&second(feature(props("P9", 1, "L", false), text)));
    assert!(
        reason.starts_with(
            "coordinates[0][1]: a position must be an array of at least 2 finite numbers"
        ),
        "{reason}"
    );
}

#[test]
fn rejects_duplicate_plots() {
    let text = collection(vec![
        feature(props("P1", 1, "L1", false), polygon_with_hole()),
        feature(props("P2", 1, "L1", false), polygon_with_hole()),
        feature(props("P1", 2, "L2", false), two_squares()),
    ]);
    let (key, reason) = reject(&text);
    assert_eq!(key, "features[2] (plot_id \"P1\")");
    assert_eq!(
        reason,
        "duplicate plot: same farm_id/field_id/plot_id as features[0]"
    );
}

#[test]
fn from_record_batch_rejects_bad_wkt() {
    let plots = parse_boundaries(&good(), FILE).unwrap();
    let batch = to_record_batch(&plots).unwrap();
    let mut columns = batch.columns().to_vec();
    columns[8] = std::sync::Arc::new(StringArray::from(vec![
        "POINT (1 2)",
        "POLYGON ((0 0, 1 0, 1 1, 0 0))",
    ]));
    let bad = arrow_array::RecordBatch::try_new(batch.schema(), columns).unwrap();
    let err = from_record_batch(&bad).unwrap_err().to_string();
    assert_eq!(
        err,
        "table `ref.field_boundaries`: Arrow: column `geometry_wkt` at row 0: geometry type POINT is not supported (expected POLYGON or MULTIPOLYGON)"
    );
    // Parsable WKT must still satisfy the ring invariants.
    let mut columns = batch.columns().to_vec();
    columns[8] = std::sync::Arc::new(StringArray::from(vec![
        "POLYGON ((0 0, 1 0, 1 1, 0 0))",
        "POLYGON ((0 0, 1 0, 1 1, 0 1))",
    ]));
    let open = arrow_array::RecordBatch::try_new(batch.schema(), columns).unwrap();
    assert_eq!(
        from_record_batch(&open).unwrap_err().to_string(),
        "table `ref.field_boundaries`: Arrow: column `geometry_wkt` at row 1: ring is not closed: first position (0.0, 0.0) != last position (0.0, 1.0)"
    );
}
