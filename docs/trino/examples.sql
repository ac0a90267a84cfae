-- Example Trino SQL for data engineers (catalog `hsi`). Each statement is separated by a blank
-- line and a `-- name:` comment.

-- name: silver_partition_pruning
-- Only the files of one farm and one day are read (identity(farm_id), day(acquisition_time)).
SELECT cube_id, count(*) AS pixels, avg((b0800 - b0680) / (b0800 + b0680)) AS mean_ndvi
FROM hsi.silver.reflectance
WHERE farm_id = 'farm-001'
  AND acquisition_time >= TIMESTAMP '2024-06-14 00:00:00 UTC'
  AND acquisition_time <  TIMESTAMP '2024-06-15 00:00:00 UTC'
GROUP BY cube_id;

-- name: gold_ndvi_trend_per_line
-- Latest row per plot and date (Gold is append-only; the newest Silver snapshot wins).
SELECT line_id, acquisition_date, avg(ndvi_mean) AS ndvi
FROM (
  SELECT *, row_number() OVER (PARTITION BY farm_id, field_id, plot_id, acquisition_date
                               ORDER BY silver_snapshot_id DESC) AS rn
  FROM hsi.gold.plot_indices
) WHERE rn = 1
GROUP BY line_id, acquisition_date
ORDER BY line_id, acquisition_date;

-- name: time_travel
-- Silver as it was at a snapshot (see `hsi snapshots silver.reflectance` or the $snapshots table).
SELECT count(*) FROM hsi.silver.reflectance FOR VERSION AS OF 1234567890123;
