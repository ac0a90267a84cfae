//! Bronze: the calibrated cube as Zarr, and one `bronze.cubes` row per (cube, calibration).
//!
//! `bronze.cubes` is the Batch worker's ledger (DESIGN §7): a cube already recorded under the
//! same `calibration_version` is skipped ([`is_processed`]); a new calibration version is a new
//! row next to the old one, so reprocessing never rewrites history.
//!
//! | column | type | note |
//! |---|---|---|
//! | `cube_id`, `farm_id`, `field_id`, `sensor_id`, `region` | string, required | identity |
//! | `acquisition_time` | timestamptz, required | partition source (`day`) |
//! | `raw_uri`, `raw_sha256` | string, required | the raw cube and its SHA-256 (hex) |
//! | `zarr_uri` | string, required | the calibrated Zarr store ([`write_zarr`]) |
//! | `lines`, `samples`, `bands` | int, required | Zarr shape |
//! | `wavelengths_nm` | list<float>, required | the band grid |
//! | `calibration_version` | string, required | |
//! | `processed_at` | timestamptz, required | when the worker committed it |
//!
//! Partitioned by `identity(farm_id)`, `day(acquisition_time)`. [`record_cube`] commits with the
//! idempotency key `hsi.cube.id` + `hsi.calibration.version`, so recording twice is harmless.

mod zarr;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::table::commit::LakeCatalog;
use arrow_array::builder::{Float32Builder, ListBuilder};
use arrow_array::{
    Array, ArrayRef, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use iceberg::TableIdent;
use iceberg::expr::Reference;
use iceberg::spec::Datum;

pub use zarr::{ZarrInfo, read_zarr_blocks, write_zarr};

use crate::error::{Error, Result};
use crate::table::{
    AppendOutcome, IdempotencyKey, PROP_CALIBRATION_VERSION, PartitionField, TableDef,
    append_batches_once, bronze_cubes,
};

/// One `bronze.cubes` row.
#[derive(Debug, Clone, PartialEq)]
pub struct BronzeCube {
    /// Cube id.
    pub cube_id: String,
    /// Farm.
    pub farm_id: String,
    /// Field.
    pub field_id: String,
    /// Sensor.
    pub sensor_id: String,
    /// Region (raw object key prefix).
    pub region: String,
    /// Acquisition time.
    pub acquisition_time: DateTime<Utc>,
    /// Raw cube URI (`s3://…/raw_cubes/…` or `file://…`).
    pub raw_uri: String,
    /// SHA-256 of the raw cube, lowercase hex.
    pub raw_sha256: String,
    /// Zarr store URI.
    pub zarr_uri: String,
    /// Lines.
    pub lines: u32,
    /// Samples.
    pub samples: u32,
    /// Bands.
    pub bands: u32,
    /// Band centres, nm.
    pub wavelengths_nm: Vec<f32>,
    /// Calibration version.
    pub calibration_version: String,
    /// When it was processed.
    pub processed_at: DateTime<Utc>,
}

/// The Arrow schema of `bronze.cubes`.
pub fn bronze_schema() -> SchemaRef {
    let ts = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let s = |name: &str| Field::new(name, DataType::Utf8, false);
    let i = |name: &str| Field::new(name, DataType::Int32, false);
    Arc::new(Schema::new(vec![
        s("cube_id"),
        s("farm_id"),
        s("field_id"),
        s("sensor_id"),
        s("region"),
        Field::new("acquisition_time", ts(), false),
        s("raw_uri"),
        s("raw_sha256"),
        s("zarr_uri"),
        i("lines"),
        i("samples"),
        i("bands"),
        Field::new(
            "wavelengths_nm",
            DataType::List(Arc::new(Field::new("item", DataType::Float32, false))),
            false,
        ),
        s("calibration_version"),
        Field::new("processed_at", ts(), false),
    ]))
}

/// The `bronze.cubes` definition.
pub fn bronze_table_def() -> TableDef {
    TableDef {
        ident: bronze_cubes(),
        schema: bronze_schema(),
        partition: vec![
            PartitionField::identity("farm_id"),
            PartitionField::day("acquisition_time"),
        ],
        sort: vec![],
    }
}

/// Rows of `bronze.cubes` as one Arrow batch.
pub fn bronze_batch(cubes: &[BronzeCube]) -> Result<RecordBatch> {
    let strings = |f: fn(&BronzeCube) -> &str| -> ArrayRef {
        Arc::new(cubes.iter().map(|c| Some(f(c))).collect::<StringArray>())
    };
    let times = |f: fn(&BronzeCube) -> DateTime<Utc>| -> ArrayRef {
        Arc::new(
            TimestampMicrosecondArray::from(
                cubes
                    .iter()
                    .map(|c| f(c).timestamp_micros())
                    .collect::<Vec<_>>(),
            )
            .with_timezone("UTC"),
        )
    };
    let ints = |name: &str, f: fn(&BronzeCube) -> u32| -> Result<ArrayRef> {
        let v = cubes
            .iter()
            .map(|c| {
                i32::try_from(f(c)).map_err(|_| Error::InvalidInput {
                    reason: format!("cube {}: {name} = {} exceeds i32", c.cube_id, f(c)),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(Int32Array::from(v)))
    };
    let mut wl = ListBuilder::new(Float32Builder::new()).with_field(Arc::new(Field::new(
        "item",
        DataType::Float32,
        false,
    )));
    for c in cubes {
        if c.wavelengths_nm.len() != c.bands as usize {
            return Err(Error::InvalidInput {
                reason: format!(
                    "cube {}: {} bands but {} wavelengths",
                    c.cube_id,
                    c.bands,
                    c.wavelengths_nm.len()
                ),
            });
        }
        wl.values().append_slice(&c.wavelengths_nm);
        wl.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        strings(|c| &c.cube_id),
        strings(|c| &c.farm_id),
        strings(|c| &c.field_id),
        strings(|c| &c.sensor_id),
        strings(|c| &c.region),
        times(|c| c.acquisition_time),
        strings(|c| &c.raw_uri),
        strings(|c| &c.raw_sha256),
        strings(|c| &c.zarr_uri),
        ints("lines", |c| c.lines)?,
        ints("samples", |c| c.samples)?,
        ints("bands", |c| c.bands)?,
        Arc::new(wl.finish()),
        strings(|c| &c.calibration_version),
        times(|c| c.processed_at),
    ];
    RecordBatch::try_new(bronze_schema(), columns).map_err(Error::arrow("build bronze.cubes rows"))
}

/// Record one processed cube in `bronze.cubes` (idempotent per cube and calibration version).
pub async fn record_cube(catalog: &dyn LakeCatalog, cube: &BronzeCube) -> Result<AppendOutcome> {
    record_cube_in(catalog, &bronze_cubes(), cube).await
}

/// [`record_cube`] into another table with the `bronze.cubes` schema.
pub async fn record_cube_in(
    catalog: &dyn LakeCatalog,
    ident: &TableIdent,
    cube: &BronzeCube,
) -> Result<AppendOutcome> {
    record_cube_with(catalog, ident, cube, BTreeMap::new()).await
}

/// [`record_cube_in`] with extra snapshot summary properties (lineage such as
/// `hsi.manifest.id`; not part of the idempotency key).
pub async fn record_cube_with(
    catalog: &dyn LakeCatalog,
    ident: &TableIdent,
    cube: &BronzeCube,
    extra_properties: BTreeMap<String, String>,
) -> Result<AppendOutcome> {
    let key = IdempotencyKey::cube(&cube.cube_id, &cube.calibration_version)?;
    let batch = bronze_batch(std::slice::from_ref(cube))?;
    let mut props = extra_properties;
    props.insert(
        PROP_CALIBRATION_VERSION.to_owned(),
        cube.calibration_version.clone(),
    );
    append_batches_once(catalog, ident, &[batch], props, &key).await
}

/// Whether `bronze.cubes` holds `cube_id` under `calibration_version`.
pub async fn is_processed(
    catalog: &dyn LakeCatalog,
    cube_id: &str,
    calibration_version: &str,
) -> Result<bool> {
    is_processed_in(catalog, &bronze_cubes(), cube_id, calibration_version).await
}

/// [`is_processed`] against another table with the `bronze.cubes` schema.
pub async fn is_processed_in(
    catalog: &dyn LakeCatalog,
    ident: &TableIdent,
    cube_id: &str,
    calibration_version: &str,
) -> Result<bool> {
    let name = ident.to_string();
    let table = catalog
        .load_table(ident)
        .await
        .map_err(Error::iceberg(format!("load {name}")))?;
    let filter = Reference::new("cube_id")
        .equal_to(Datum::string(cube_id))
        .and(Reference::new("calibration_version").equal_to(Datum::string(calibration_version)));
    let scan = table
        .scan()
        .select(["cube_id", "calibration_version"])
        .with_filter(filter)
        .build()
        .map_err(Error::iceberg(format!("plan scan of {name}")))?;
    let batches: Vec<RecordBatch> = scan
        .to_arrow()
        .await
        .map_err(Error::iceberg(format!("scan {name}")))?
        .try_collect()
        .await
        .map_err(Error::iceberg(format!("read {name}")))?;
    // The scan filter prunes files and rows; check the values anyway so a reader that only
    // prunes at file level cannot produce a false positive.
    for batch in &batches {
        let (Some(ids), Some(versions)) = (
            string_column(batch, "cube_id"),
            string_column(batch, "calibration_version"),
        ) else {
            return Err(Error::Schema {
                table: name,
                column: "cube_id/calibration_version".into(),
                reason: "scan returned no string column".into(),
            });
        };
        let hit = (0..batch.num_rows()).any(|i| {
            ids.is_valid(i)
                && versions.is_valid(i)
                && ids.value(i) == cube_id
                && versions.value(i) == calibration_version
        });
        if hit {
            return Ok(true);
        }
    }
    Ok(false)
}

fn string_column<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a StringArray> {
    batch
        .column_by_name(name)?
        .as_any()
        .downcast_ref::<StringArray>()
}

/// The content digests (`raw_sha256`) recorded in `bronze.cubes` for `cube_id`, any version.
pub async fn recorded_digests(catalog: &dyn LakeCatalog, cube_id: &str) -> Result<Vec<String>> {
    let ident = bronze_cubes();
    let name = ident.to_string();
    let table = catalog
        .load_table(&ident)
        .await
        .map_err(Error::iceberg(format!("load {name}")))?;
    let scan = table
        .scan()
        .select(["cube_id", "raw_sha256"])
        .with_filter(Reference::new("cube_id").equal_to(Datum::string(cube_id)))
        .build()
        .map_err(Error::iceberg(format!("plan scan of {name}")))?;
    let batches: Vec<RecordBatch> = scan
        .to_arrow()
        .await
        .map_err(Error::iceberg(format!("scan {name}")))?
        .try_collect()
        .await
        .map_err(Error::iceberg(format!("read {name}")))?;
    let mut out = Vec::new();
    for batch in &batches {
        let (Some(ids), Some(digests)) = (
            string_column(batch, "cube_id"),
            string_column(batch, "raw_sha256"),
        ) else {
            continue;
        };
        for i in 0..batch.num_rows() {
            if ids.is_valid(i) && digests.is_valid(i) && ids.value(i) == cube_id {
                let d = digests.value(i).to_owned();
                if !out.contains(&d) {
                    out.push(d);
                }
            }
        }
    }
    Ok(out)
}
