-- Example Trino SQL over the hsi lakehouse, for data engineers.
--
-- The catalog is `hsi` (etc/catalog/hsi.properties: glue.properties, rest.properties or
-- jdbc.properties in this folder); namespaces are Trino schemas: hsi.bronze, hsi.silver,
-- hsi.gold, hsi.ref. The literals (farm-ks-001, 2024-06-14, cube synth-20240614, trial
-- YT-2024-W01) are those of the demo warehouse made by
-- `cargo run --release -p hsi-lakehouse --bin hsi -- run --warehouse hsi-warehouse`.
--
-- scripts/trino_sql_check.py parses every statement below with sqlglot (Trino dialect),
-- transpiles it to DuckDB, runs it against the demo warehouse through DuckDB's Iceberg
-- extension and compares the result with values computed independently through pyiceberg.
-- Each statement starts with a `-- name:` line; the check knows every name.

-- name: silver_partition_pruning
-- Silver is partitioned by identity(farm_id) and day(acquisition_time): with both in the
-- WHERE clause only the data files of one farm and one UTC day are opened (Trino's EXPLAIN
-- ANALYZE shows the input files; the check asserts 1 of 3 files for DuckDB).
SELECT cube_id,
       count(*) AS pixels,
       avg((b0800 - b0680) / (b0800 + b0680)) AS mean_ndvi
FROM hsi.silver.reflectance
WHERE farm_id = 'farm-ks-001'
  AND acquisition_time >= TIMESTAMP '2024-06-14 00:00:00 UTC'
  AND acquisition_time <  TIMESTAMP '2024-06-15 00:00:00 UTC'
GROUP BY cube_id
ORDER BY cube_id;

-- name: silver_pixel_spectrum
-- One pixel's reflectance at a few bands across VNIR and SWIR (red, red edge, NIR, the NDWI
-- band at 1240 nm, SWIR 1650/2200 nm). Band columns are named by wavelength in nm; SWIR
-- columns are null for VNIR-only sensors. The partition filter keeps the scan to one file.
SELECT cube_id, line, sample, x, y,
       b0550, b0680, b0700, b0750, b0800, b0860, b1240, b1650, b2200
FROM hsi.silver.reflectance
WHERE farm_id = 'farm-ks-001'
  AND acquisition_time >= TIMESTAMP '2024-06-14 00:00:00 UTC'
  AND acquisition_time <  TIMESTAMP '2024-06-15 00:00:00 UTC'
  AND cube_id = 'synth-20240614'
  AND line = 40 AND sample = 30;

-- name: gold_ndvi_trend_per_line
-- Season trend per breeding line. Gold holds one current row per plot and date (a refresh
-- replaces what it recomputes; older results are in earlier snapshots), so a plain
-- aggregate is right.
SELECT line_id,
       acquisition_date,
       count(*) AS plots,
       avg(ndvi_mean) AS ndvi,
       avg(ndwi_mean) AS ndwi,
       avg(cire_mean) AS chlorophyll_cire
FROM hsi.gold.plot_indices
WHERE farm_id = 'farm-ks-001'
GROUP BY line_id, acquisition_date
ORDER BY line_id, acquisition_date;

-- name: gold_row_weekly_trend
-- Pixel-weighted indices per crop, field row and ISO week (partitioned by identity(crop)).
SELECT field_id, "row", iso_year, iso_week, week_start, plot_count, pixel_count,
       ndvi_mean, ndwi_mean, ndre_mean
FROM hsi.gold.row_period_indices
WHERE crop = 'wheat'
ORDER BY field_id, "row", week_start;

-- name: breeding_decisions
-- Advance/Discard per line (one current row per trial, season and line) with every reason,
-- the rules version that decided it, when, and from which Silver snapshot.
SELECT line_id, is_check, n_plots, ndvi_mean, check_ndvi_ref, ndwi_mean,
       yield_mean, check_yield_ref, decision,
       array_join(reasons, '; ') AS reasons, rules_version, decided_at, silver_snapshot_id
FROM hsi.gold.breeding_decisions
WHERE season = 2024 AND trial_id = 'YT-2024-W01'
ORDER BY decision, line_id;

-- name: lineage_gold_to_cube
-- From a Gold plot-date back to the calibrated cube and the raw file it came from.
SELECT g.plot_id, g.acquisition_date, g.ndvi_mean, g.silver_snapshot_id,
       c.cube_id, c.calibration_version, c.raw_uri, c.raw_sha256, c.zarr_uri
FROM hsi.gold.plot_indices AS g
CROSS JOIN UNNEST(g.source_cube_ids) AS s(cube_id)
JOIN hsi.bronze.cubes AS c
  ON c.cube_id = s.cube_id AND c.calibration_version = g.calibration_version
WHERE g.plot_id = 'R01C01'
ORDER BY g.acquisition_date, g.silver_snapshot_id;

-- name: silver_snapshots
-- Every Silver commit with the cube and calibration it carries (snapshot summary properties
-- written by the pipeline; see docs/architecture.md, "Commit protocol"). element_at gives
-- NULL for a key a commit lacks, where summary['key'] would fail the query in Trino.
SELECT snapshot_id, parent_id, committed_at, operation,
       element_at(summary, 'hsi.cube.id') AS cube_id,
       element_at(summary, 'hsi.calibration.version') AS calibration_version,
       CAST(element_at(summary, 'total-records') AS bigint) AS total_records
FROM hsi.silver."reflectance$snapshots"
ORDER BY committed_at;

-- name: time_travel_version
-- Silver as of one snapshot. The id is an example: take a real one from the query above or
-- from `hsi snapshots silver.reflectance` (the check substitutes the first Silver snapshot).
SELECT count(*) AS pixels, count(DISTINCT cube_id) AS cubes
FROM hsi.silver.reflectance FOR VERSION AS OF 1234567890123456789;

-- name: time_travel_timestamp
-- Silver as it was at a point in time (the newest snapshot committed at or before it); the
-- check substitutes a time between the first and the second Silver commit.
SELECT count(*) AS pixels, count(DISTINCT cube_id) AS cubes
FROM hsi.silver.reflectance FOR TIMESTAMP AS OF TIMESTAMP '2026-06-01 00:00:00 UTC';
