//! Plot boundaries: GeoJSON in, [`Plot`]s and `ref.field_boundaries` batches out.
//!
//! ## Input format
//!
//! A GeoJSON `FeatureCollection` whose features are `Polygon` or `MultiPolygon` geometries with
//! these properties (all required, extra properties are ignored):
//!
//! | property | JSON type | meaning |
//! |---|---|---|
//! | `farm_id`, `field_id`, `plot_id` | non-empty string | identity of the plot |
//! | `row` | integer (fits `i32`) | the field row the plot lies in |
//! | `crop` | non-empty string | crop name |
//! | `line_id` | non-empty string | breeding line (genotype) sown in the plot |
//! | `trial_id` | non-empty string | the trial the plot belongs to |
//! | `is_check` | boolean | whether the line is a check (reference) variety |
//!
//! Coordinates must be in the same projected CRS as the Silver `x`/`y` columns (the cubes'
//! map CRS); RFC 7946's WGS 84 rule does not apply, and a legacy `crs` member is ignored.
//!
//! ## Invariants of a parsed [`Plot`]
//!
//! - every ring has at least 4 positions, all finite, and is closed (first == last);
//! - `polygon` holds all rings of all parts (outer rings and holes): under the even-odd rule
//!   that [`crate::gold::assign`] uses, a point is inside the plot exactly when it is inside an
//!   odd number of these rings, which is correct for valid (non-overlapping) multi-polygons;
//! - `wkt` is the geometry as `POLYGON`/`MULTIPOLYGON` Well-Known Text, round-tripping exactly;
//! - `(farm_id, field_id, plot_id)` is unique within one file.
//!
//! Every rejection is an [`Error::InvalidInput`] naming the file, the feature (index, and plot
//! id when known) and the reason.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use arrow_array::{Array, ArrayRef, BooleanArray, Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde_json::{Map, Value};

use super::wkt::{self, Polygon, Ring};
use crate::error::{Error, Result};
use crate::gold::columns::{
    bool_column, i32_column, make_batch, required, required_str, str_column,
};

/// The Iceberg table these rows go to.
pub const TABLE: &str = "ref.field_boundaries";

/// One plot of a field trial.
#[derive(Debug, Clone, PartialEq)]
pub struct Plot {
    /// Farm identifier (matches Silver `farm_id`).
    pub farm_id: String,
    /// Field identifier.
    pub field_id: String,
    /// Plot identifier, unique within the field.
    pub plot_id: String,
    /// Field row the plot lies in.
    pub row: i32,
    /// Crop name.
    pub crop: String,
    /// Breeding line (genotype).
    pub line_id: String,
    /// Trial identifier.
    pub trial_id: String,
    /// Whether the line is a check variety.
    pub is_check: bool,
    /// All rings of all parts, closed, in map coordinates (see the module docs).
    pub polygon: Vec<Vec<(f64, f64)>>,
    /// The geometry as WKT.
    pub wkt: String,
}

impl Plot {
    /// The bounding box `(min_x, min_y, max_x, max_y)` of all rings.
    pub fn bbox(&self) -> (f64, f64, f64, f64) {
        self.polygon.iter().flatten().fold(
            (
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ),
            |(x0, y0, x1, y1), &(x, y)| (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
        )
    }
}

/// The Arrow schema of `ref.field_boundaries`.
pub fn arrow_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("farm_id", DataType::Utf8, false),
            Field::new("field_id", DataType::Utf8, false),
            Field::new("plot_id", DataType::Utf8, false),
            Field::new("row", DataType::Int32, false),
            Field::new("crop", DataType::Utf8, false),
            Field::new("line_id", DataType::Utf8, false),
            Field::new("trial_id", DataType::Utf8, false),
            Field::new("is_check", DataType::Boolean, false),
            Field::new("geometry_wkt", DataType::Utf8, false),
        ]))
    });
    SCHEMA.clone()
}

/// Read and parse a GeoJSON boundaries file.
pub fn read_boundaries(path: &Path) -> Result<Vec<Plot>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_boundaries(&text, &path.display().to_string())
}

/// Parse GeoJSON boundaries; `origin` names the file in errors.
pub fn parse_boundaries(text: &str, origin: &str) -> Result<Vec<Plot>> {
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        Error::invalid_input(
            origin,
            format!("line {}, column {}", e.line(), e.column()),
            format!("unparsable JSON: {e}"),
        )
    })?;
    let top = |reason: &str| Error::invalid_input(origin, "FeatureCollection", reason);
    let obj = doc
        .as_object()
        .ok_or_else(|| top("the document is not a JSON object"))?;
    if obj.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(top("`type` must be \"FeatureCollection\""));
    }
    let features = obj
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| top("`features` must be an array"))?;

    let mut seen: HashMap<(String, String, String), usize> = HashMap::new();
    let mut plots = Vec::with_capacity(features.len());
    for (index, feature) in features.iter().enumerate() {
        let plot = parse_feature(feature, index, origin)?;
        let key = (
            plot.farm_id.clone(),
            plot.field_id.clone(),
            plot.plot_id.clone(),
        );
        if let Some(first) = seen.insert(key, index) {
            return Err(Error::invalid_input(
                origin,
                feature_key(index, Some(&plot.plot_id)),
                format!("duplicate plot: same farm_id/field_id/plot_id as features[{first}]"),
            ));
        }
        plots.push(plot);
    }
    Ok(plots)
}

fn feature_key(index: usize, plot_id: Option<&str>) -> String {
    match plot_id {
        Some(id) => format!("features[{index}] (plot_id \"{id}\")"),
        None => format!("features[{index}]"),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a non-integer number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_feature(feature: &Value, index: usize, origin: &str) -> Result<Plot> {
    let bad = |plot_id: Option<&str>, reason: String| {
        Error::invalid_input(origin, feature_key(index, plot_id), reason)
    };
    let obj = feature.as_object().ok_or_else(|| {
        bad(
            None,
            format!("a feature must be an object, found {}", json_type(feature)),
        )
    })?;
    if obj.get("type").and_then(Value::as_str) != Some("Feature") {
        return Err(bad(None, "`type` must be \"Feature\"".into()));
    }
    let props = match obj.get("properties") {
        Some(Value::Object(p)) => p,
        Some(Value::Null) | None => return Err(bad(None, "missing `properties`".into())),
        Some(other) => {
            return Err(bad(
                None,
                format!("`properties` must be an object, found {}", json_type(other)),
            ));
        }
    };
    // The plot id first, so every later error can name it.
    let plot_id = string_prop(props, "plot_id").map_err(|r| bad(None, r))?;
    let pid = Some(plot_id.as_str());
    let s = |name: &str| string_prop(props, name).map_err(|r| bad(pid, r));
    let farm_id = s("farm_id")?;
    let field_id = s("field_id")?;
    let crop = s("crop")?;
    let line_id = s("line_id")?;
    let trial_id = s("trial_id")?;
    let row = int_prop(props, "row").map_err(|r| bad(pid, r))?;
    let is_check = match props.get("is_check") {
        Some(Value::Bool(b)) => *b,
        None => return Err(bad(pid, "missing property `is_check`".into())),
        Some(other) => {
            return Err(bad(
                pid,
                format!(
                    "property `is_check` must be a boolean, found {}",
                    json_type(other)
                ),
            ));
        }
    };
    let parts = parse_geometry(obj.get("geometry")).map_err(|r| bad(pid, r))?;
    let wkt = wkt::write(&parts);
    Ok(Plot {
        farm_id,
        field_id,
        plot_id,
        row,
        crop,
        line_id,
        trial_id,
        is_check,
        polygon: parts.into_iter().flatten().collect(),
        wkt,
    })
}

fn string_prop(props: &Map<String, Value>, name: &str) -> Result<String, String> {
    match props.get(name) {
        None => Err(format!("missing property `{name}`")),
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(format!("property `{name}` must not be empty"))
        }
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "property `{name}` must be a string, found {}",
            json_type(other)
        )),
    }
}

fn int_prop(props: &Map<String, Value>, name: &str) -> Result<i32, String> {
    let v = props
        .get(name)
        .ok_or_else(|| format!("missing property `{name}`"))?;
    let n = v.as_i64().ok_or_else(|| {
        format!(
            "property `{name}` must be an integer, found {} ({v})",
            json_type(v)
        )
    })?;
    i32::try_from(n).map_err(|_| format!("property `{name}` = {n} does not fit a 32-bit integer"))
}

fn parse_geometry(geometry: Option<&Value>) -> Result<Vec<Polygon>, String> {
    let g = match geometry {
        Some(Value::Object(g)) => g,
        Some(Value::Null) | None => return Err("missing `geometry`".into()),
        Some(other) => {
            return Err(format!(
                "`geometry` must be an object, found {}",
                json_type(other)
            ));
        }
    };
    let kind = g
        .get("type")
        .and_then(Value::as_str)
        .ok_or("geometry has no `type`")?;
    let coords = g
        .get("coordinates")
        .ok_or("geometry has no `coordinates`")?;
    match kind {
        "Polygon" => Ok(vec![parse_polygon(coords, "coordinates")?]),
        "MultiPolygon" => {
            let polys = coords
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or("MultiPolygon `coordinates` must be a non-empty array of polygons")?;
            polys
                .iter()
                .enumerate()
                .map(|(i, p)| parse_polygon(p, &format!("coordinates[{i}]")))
                .collect()
        }
        other => Err(format!(
            "geometry type {other} is not supported (expected Polygon or MultiPolygon)"
        )),
    }
}

fn parse_polygon(v: &Value, at: &str) -> Result<Polygon, String> {
    let rings = v
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| format!("{at}: a polygon must be a non-empty array of rings"))?;
    rings
        .iter()
        .enumerate()
        .map(|(i, r)| parse_ring(r, &format!("{at}[{i}]")))
        .collect()
}

fn parse_ring(v: &Value, at: &str) -> Result<Ring, String> {
    let positions = v
        .as_array()
        .ok_or_else(|| format!("{at}: a ring must be an array of positions"))?;
    let ring = positions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let nums: Option<Vec<f64>> = p
                .as_array()
                .map(|a| a.iter().map(Value::as_f64).collect())
                .unwrap_or(None);
            match nums.as_deref() {
                Some([x, y, ..]) if x.is_finite() && y.is_finite() => Ok((*x, *y)),
                _ => Err(format!(
                    "{at}[{i}]: a position must be an array of at least 2 finite numbers, found {p}"
                )),
            }
        })
        .collect::<Result<Ring, String>>()?;
    check_ring(&ring).map_err(|reason| format!("{at}: {reason}"))?;
    Ok(ring)
}

/// The ring invariants: at least 4 positions, closed (first == last).
fn check_ring(ring: &[(f64, f64)]) -> Result<(), String> {
    if ring.len() < 4 {
        return Err(format!(
            "a ring needs at least 4 positions (a closed triangle), found {}",
            ring.len()
        ));
    }
    if let (Some(first), Some(last)) = (ring.first(), ring.last())
        && first != last
    {
        return Err(format!(
            "ring is not closed: first position {first:?} != last position {last:?}"
        ));
    }
    Ok(())
}

/// Build a `ref.field_boundaries` batch (schema [`arrow_schema()`]).
pub fn to_record_batch(plots: &[Plot]) -> Result<RecordBatch> {
    let strings = |f: fn(&Plot) -> &str| -> ArrayRef {
        Arc::new(plots.iter().map(|p| Some(f(p))).collect::<StringArray>())
    };
    let columns: Vec<ArrayRef> = vec![
        strings(|p| &p.farm_id),
        strings(|p| &p.field_id),
        strings(|p| &p.plot_id),
        Arc::new(plots.iter().map(|p| p.row).collect::<Int32Array>()),
        strings(|p| &p.crop),
        strings(|p| &p.line_id),
        strings(|p| &p.trial_id),
        Arc::new(
            plots
                .iter()
                .map(|p| Some(p.is_check))
                .collect::<BooleanArray>(),
        ),
        strings(|p| &p.wkt),
    ];
    make_batch(TABLE, arrow_schema(), columns)
}

/// Read plots back from a `ref.field_boundaries` batch (e.g. scanned from the table).
pub fn from_record_batch(batch: &RecordBatch) -> Result<Vec<Plot>> {
    let names = [
        "farm_id",
        "field_id",
        "plot_id",
        "crop",
        "line_id",
        "trial_id",
        "geometry_wkt",
    ];
    let cols = names
        .iter()
        .map(|n| str_column(batch, TABLE, n))
        .collect::<Result<Vec<_>>>()?;
    let row_col = i32_column(batch, TABLE, "row")?;
    let check_col = bool_column(batch, TABLE, "is_check")?;
    (0..batch.num_rows())
        .map(|i| {
            let s = |k: usize| required_str(&cols[k], TABLE, names[k], i).map(str::to_owned);
            let wkt_text = s(6)?;
            let parts = wkt::parse(&wkt_text)
                .and_then(|parts| {
                    parts.iter().flatten().try_for_each(|r| check_ring(r))?;
                    Ok(parts)
                })
                .map_err(|reason| {
                    Error::arrow_data(TABLE, format!("column `geometry_wkt` at row {i}: {reason}"))
                })?;
            if !check_col.is_valid(i) {
                return Err(Error::arrow_data(
                    TABLE,
                    format!("column `is_check` is null at row {i}"),
                ));
            }
            Ok(Plot {
                farm_id: s(0)?,
                field_id: s(1)?,
                plot_id: s(2)?,
                row: required(row_col, TABLE, "row", i)?,
                crop: s(3)?,
                line_id: s(4)?,
                trial_id: s(5)?,
                is_check: check_col.value(i),
                polygon: parts.into_iter().flatten().collect(),
                wkt: wkt_text,
            })
        })
        .collect()
}
