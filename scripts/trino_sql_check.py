#!/usr/bin/env python3
"""Check the Trino material in docs/trino against a real warehouse.

    $HSI_PYTHON scripts/trino_sql_check.py --warehouse DIR [--catalog-name hsi]

1. Every statement of docs/trino/examples.sql (one per `-- name:` marker) must parse with sqlglot
   in the Trino dialect, and survive a Trino -> Trino round trip unchanged.
2. Each is transpiled to DuckDB, `hsi.<ns>.<table>` pointing at `iceberg_scan('<current metadata
   JSON>')` of the real table (metadata location from the SQL catalog through pyiceberg), run, and
   its result compared with values computed independently from pyiceberg scans with
   pandas/numpy: row counts, pixel values, NDVI means, one Gold row per key, decisions,
   snapshot ids. The time-travel examples get a real snapshot id / commit time substituted.
   The partition-pruning example must make DuckDB open exactly the data files pyiceberg plans
   for the same filter, fewer than the table holds.
3. The catalog properties (glue, rest, jdbc) must use only documented Trino Iceberg connector
   properties and set those their catalog type requires.

Trino itself cannot run here; sqlglot + DuckDB is the executable stand-in. Exit status 1 on any
failure, with one line per failure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "notebooks"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import sqlglot  # noqa: E402
from pyiceberg.catalog.sql import SqlCatalog  # noqa: E402
from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, LessThan  # noqa: E402
from sqlglot import exp  # noqa: E402

import hsi_lake  # noqa: E402

CHECKS = {}


def check(name):
    def register(fn):
        CHECKS[name] = fn
        return fn

    return register


class Failure(AssertionError):
    pass


def expect(cond, message):
    if not cond:
        raise Failure(message)


def same_frame(got: pd.DataFrame, want: pd.DataFrame, what: str, rtol=1e-12):
    """Column-by-column equality; floats to `rtol`, everything else exactly."""
    expect(list(got.columns) == list(want.columns),
           f"{what}: columns {list(got.columns)} != expected {list(want.columns)}")
    expect(len(got) == len(want), f"{what}: {len(got)} rows, expected {len(want)}")
    expect(len(got) > 0, f"{what}: empty result (do the literals match the warehouse?)")
    for col in want.columns:
        g = got[col].reset_index(drop=True)
        w = want[col].reset_index(drop=True)
        if pd.api.types.is_float_dtype(w) or pd.api.types.is_float_dtype(g):
            ga = g.to_numpy(dtype=np.float64, na_value=np.nan)
            wa = w.to_numpy(dtype=np.float64, na_value=np.nan)
            ok = np.allclose(ga, wa, rtol=rtol, atol=0.0, equal_nan=True)
            expect(ok, f"{what}: column {col}: {ga.tolist()} != {wa.tolist()}")
        else:
            gl = [normalise(v) for v in g.tolist()]
            wl = [normalise(v) for v in w.tolist()]
            expect(gl == wl, f"{what}: column {col}: {gl} != {wl}")


def normalise(v):
    """Comparable scalar: dates/timestamps as ISO text, numpy scalars as Python ones."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, np.generic):
        return v.item()
    return v


# ---------------------------------------------------------------------------------------------
# Independent expectations (pyiceberg + pandas), one per example statement

FARM = "farm-ks-001"
DAY = dt.date(2024, 6, 14)


def day_filter():
    start = dt.datetime.combine(DAY, dt.time(), dt.timezone.utc)
    end = start + dt.timedelta(days=1)
    return And(
        EqualTo("farm_id", FARM),
        GreaterThanOrEqual("acquisition_time", start.isoformat()),
        LessThan("acquisition_time", end.isoformat()),
    )


def silver_snapshots(lake):
    return sorted(lake.table("silver.reflectance").snapshots(), key=lambda s: s.timestamp_ms)


@check("silver_partition_pruning")
def _(lake, sql):
    silver = lake.table("silver.reflectance")
    # The whole table through pandas, filtered in pandas: no pushdown involved.
    df = silver.scan(selected_fields=("cube_id", "farm_id", "acquisition_time", "b0800", "b0680")).to_pandas()
    day = df["acquisition_time"].dt.tz_convert("UTC").dt.date
    df = df[(df["farm_id"] == FARM) & (day == DAY)].copy()
    df["ndvi"] = hsi_lake.ndvi(df["b0800"], df["b0680"]).astype(np.float64)
    want = (df.groupby("cube_id", sort=True)
              .agg(pixels=("ndvi", "size"), mean_ndvi=("ndvi", "mean"))
              .reset_index())
    got = lake.sql(sql)
    got["pixels"] = got["pixels"].astype(np.int64)
    same_frame(got, want, "silver_partition_pruning", rtol=1e-6)
    planned = len(list(silver.scan(row_filter=day_filter()).plan_files()))
    total = len(list(silver.scan().plan_files()))
    read = lake.files_read(sql)
    expect(read == planned, f"DuckDB read {read} data files, pyiceberg plans {planned} for the same filter")
    expect(planned < total, f"the filter pruned nothing ({planned} of {total} files)")
    return f"{want['pixels'].sum()} pixels, NDVI {want['mean_ndvi'].iloc[0]:.6f}, {read} of {total} files read"


@check("silver_pixel_spectrum")
def _(lake, sql):
    got = lake.sql(sql)
    cols = list(got.columns)
    rows = lake.table("silver.reflectance").scan(
        row_filter=And(EqualTo("cube_id", "synth-20240614"), And(EqualTo("line", 40), EqualTo("sample", 30))),
        selected_fields=tuple(cols),
    ).to_pandas()[cols]
    expect(len(rows) == 1, f"pyiceberg finds {len(rows)} rows for the pixel, expected 1")
    same_frame(got, rows, "silver_pixel_spectrum", rtol=0.0)
    return f"{len(hsi_lake.band_columns(cols))} bands equal"


def trend_expected(g: pd.DataFrame) -> pd.DataFrame:
    g = g[g["farm_id"] == FARM]
    return (g.groupby(["line_id", "acquisition_date"], sort=True)
              .agg(plots=("plot_id", "size"), ndvi=("ndvi_mean", "mean"), ndwi=("ndwi_mean", "mean"),
                   chlorophyll_cire=("cire_mean", "mean"))
              .reset_index())


def run_trend(lake, sql) -> pd.DataFrame:
    got = lake.sql(sql)
    got["plots"] = got["plots"].astype(np.int64)
    return got


@check("gold_ndvi_trend_per_line")
def _(lake, sql):
    g = lake.table("gold.plot_indices").scan().to_pandas()
    # Gold holds one current row per plot and date (refreshes replace what they recompute), so
    # the example aggregates plainly; a duplicate key would be a pipeline defect.
    keys = ["farm_id", "field_id", "plot_id", "acquisition_date"]
    expect(not g.duplicated(keys).any(), "gold.plot_indices holds a plot-date twice")
    want = trend_expected(g)
    same_frame(run_trend(lake, sql), want, "gold_ndvi_trend_per_line")
    return f"{want['line_id'].nunique()} lines x {want['acquisition_date'].nunique()} dates; one row per plot-date"


@check("gold_row_weekly_trend")
def _(lake, sql):
    cols = ["field_id", "row", "iso_year", "iso_week", "week_start", "plot_count", "pixel_count",
            "ndvi_mean", "ndwi_mean", "ndre_mean"]
    r = lake.table("gold.row_period_indices").scan(row_filter=EqualTo("crop", "wheat")).to_pandas()
    want = r.sort_values(["field_id", "row", "week_start"], kind="stable")[cols]
    same_frame(lake.sql(sql), want, "gold_row_weekly_trend")
    return f"{len(want)} row-weeks"


@check("breeding_decisions")
def _(lake, sql):
    cols = ["line_id", "is_check", "n_plots", "ndvi_mean", "check_ndvi_ref", "ndwi_mean",
            "yield_mean", "check_yield_ref", "decision", "reasons", "rules_version", "decided_at",
            "silver_snapshot_id"]
    d = lake.table("gold.breeding_decisions").scan().to_pandas()
    expect(not d.duplicated(["trial_id", "season", "line_id"]).any(),
           "gold.breeding_decisions holds a line twice")
    d = d[(d["season"] == 2024) & (d["trial_id"] == "YT-2024-W01")].copy()
    d["reasons"] = d["reasons"].map(lambda rs: "; ".join(rs))
    want = d.sort_values(["decision", "line_id"], kind="stable")[cols]
    same_frame(lake.sql(sql), want, "breeding_decisions")
    counts = want["decision"].value_counts().to_dict()
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


@check("lineage_gold_to_cube")
def _(lake, sql):
    g = lake.table("gold.plot_indices").scan(row_filter=EqualTo("plot_id", "R01C01")).to_pandas()
    g = g.explode("source_cube_ids").rename(columns={"source_cube_ids": "cube_id"})
    c = lake.table("bronze.cubes").scan().to_pandas()
    m = g.merge(c, on=["cube_id", "calibration_version"], suffixes=("", "_bronze"))
    cols = ["plot_id", "acquisition_date", "ndvi_mean", "silver_snapshot_id", "cube_id",
            "calibration_version", "raw_uri", "raw_sha256", "zarr_uri"]
    want = m.sort_values(["acquisition_date", "silver_snapshot_id"], kind="stable")[cols]
    same_frame(lake.sql(sql), want, "lineage_gold_to_cube")
    return f"{len(want)} plot-dates traced to {want['cube_id'].nunique()} cubes"


@check("silver_snapshots")
def _(lake, sql):
    snaps = silver_snapshots(lake)
    want = pd.DataFrame({
        "snapshot_id": [s.snapshot_id for s in snaps],
        "parent_id": [s.parent_snapshot_id for s in snaps],
        "committed_at": [pd.Timestamp(s.timestamp_ms, unit="ms", tz="UTC") for s in snaps],
        "operation": [s.summary.operation.value for s in snaps],
        "cube_id": [s.summary.get("hsi.cube.id") for s in snaps],
        "calibration_version": [s.summary.get("hsi.calibration.version") for s in snaps],
        "total_records": [int(s.summary.get("total-records")) for s in snaps],
    })
    got = lake.sql(sql)
    got["committed_at"] = pd.to_datetime(got["committed_at"], utc=True).dt.as_unit("ms")
    same_frame(got, want, "silver_snapshots")
    return f"{len(snaps)} snapshots"


def substitute_version(sql: str, make) -> str:
    """The statement with its `FOR ... AS OF` value replaced by `make()` (a sqlglot node)."""
    tree = hsi_lake.parse_trino(sql)
    versions = list(tree.find_all(exp.Version))
    expect(len(versions) == 1, f"expected one FOR ... AS OF clause, found {len(versions)}")
    versions[0].set("expression", make())
    return tree.sql(dialect="trino")


def counts_at(lake, snapshot_id) -> pd.DataFrame:
    t = lake.table("silver.reflectance").scan(snapshot_id=snapshot_id, selected_fields=("cube_id",)).to_arrow()
    return pd.DataFrame({"pixels": [t.num_rows], "cubes": [len(set(t.column("cube_id").to_pylist()))]})


def as_int(df: pd.DataFrame) -> pd.DataFrame:
    return df.astype(np.int64)


@check("time_travel_version")
def _(lake, sql):
    snaps = silver_snapshots(lake)
    expect(len(snaps) >= 2, "time travel needs at least two Silver snapshots")
    first = snaps[0].snapshot_id
    real = substitute_version(sql, lambda: exp.Literal.number(first))
    want = counts_at(lake, first)
    now = counts_at(lake, lake.table("silver.reflectance").current_snapshot().snapshot_id)
    expect(want["pixels"][0] != now["pixels"][0], "the first snapshot has as many rows as the current one")
    same_frame(as_int(lake.sql(real)), want, "time_travel_version")
    return f"snapshot {first}: {want['pixels'][0]} pixels (now {now['pixels'][0]})"


@check("time_travel_timestamp")
def _(lake, sql):
    snaps = silver_snapshots(lake)
    expect(len(snaps) >= 2, "time travel needs at least two Silver snapshots")
    t0, t1 = snaps[0].timestamp_ms, snaps[1].timestamp_ms
    expect(t1 - t0 >= 2, "the first two Silver commits are less than 2 ms apart")
    mid_ms = (t0 + t1) // 2
    mid = dt.datetime.fromtimestamp(mid_ms / 1000, dt.timezone.utc)
    literal = f"TIMESTAMP '{mid.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]} UTC'"
    real = substitute_version(sql, lambda: sqlglot.parse_one(literal, read="trino"))
    snap = lake.table("silver.reflectance").snapshot_as_of_timestamp(mid_ms)
    expect(snap is not None and snap.snapshot_id == snaps[0].snapshot_id,
           "pyiceberg does not resolve the midpoint to the first snapshot")
    want = counts_at(lake, snap.snapshot_id)
    same_frame(as_int(lake.sql(real)), want, "time_travel_timestamp")
    return f"{literal} -> snapshot {snap.snapshot_id}: {want['pixels'][0]} pixels"


# ---------------------------------------------------------------------------------------------
# Catalog properties

COMMON = {
    "connector.name", "iceberg.catalog.type", "iceberg.file-format", "iceberg.compression-codec",
    "iceberg.security", "fs.native-s3.enabled", "s3.region", "s3.endpoint", "s3.path-style-access",
}
BY_TYPE = {
    "glue": ({"hive.metastore.glue.region"},
             {"hive.metastore.glue.region", "hive.metastore.glue.catalogid", "hive.metastore.glue.iam-role",
              "hive.metastore.glue.default-warehouse-dir", "iceberg.glue.cache-table-metadata"}),
    "rest": ({"iceberg.rest-catalog.uri"},
             {"iceberg.rest-catalog.uri", "iceberg.rest-catalog.warehouse", "iceberg.rest-catalog.prefix",
              "iceberg.rest-catalog.security", "iceberg.rest-catalog.oauth2.credential",
              "iceberg.rest-catalog.oauth2.token", "iceberg.rest-catalog.oauth2.scope",
              "iceberg.rest-catalog.vended-credentials-enabled"}),
    "jdbc": ({"iceberg.jdbc-catalog.driver-class", "iceberg.jdbc-catalog.connection-url",
              "iceberg.jdbc-catalog.catalog-name", "iceberg.jdbc-catalog.default-warehouse-dir"},
             {"iceberg.jdbc-catalog.driver-class", "iceberg.jdbc-catalog.connection-url",
              "iceberg.jdbc-catalog.connection-user", "iceberg.jdbc-catalog.connection-password",
              "iceberg.jdbc-catalog.catalog-name", "iceberg.jdbc-catalog.default-warehouse-dir",
              "iceberg.jdbc-catalog.schema-version"}),
}


def read_properties(path: pathlib.Path) -> dict[str, str]:
    props: dict[str, str] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        expect("=" in line, f"{path.name}:{n}: not key=value: {line!r}")
        key, value = (s.strip() for s in line.split("=", 1))
        expect(key not in props, f"{path.name}:{n}: {key} set twice")
        props[key] = value
    return props


def check_properties(path: pathlib.Path, catalog_name: str) -> str:
    props = read_properties(path)
    expect(props.get("connector.name") == "iceberg", f"{path.name}: connector.name must be iceberg")
    kind = props.get("iceberg.catalog.type")
    expect(kind in BY_TYPE, f"{path.name}: iceberg.catalog.type {kind!r} is not one of {sorted(BY_TYPE)}")
    required, allowed = BY_TYPE[kind]
    missing = sorted(required - props.keys())
    expect(not missing, f"{path.name}: missing {missing}")
    unknown = sorted(props.keys() - allowed - COMMON)
    expect(not unknown, f"{path.name}: properties not in the Trino Iceberg connector docs: {unknown}")
    expect(props.get("iceberg.file-format", "PARQUET") == "PARQUET", f"{path.name}: tables are Parquet")
    if kind == "jdbc":
        expect(props["iceberg.jdbc-catalog.catalog-name"] == catalog_name,
               f"{path.name}: catalog-name must be {catalog_name!r}, the name `hsi` writes into the catalog")
    if kind == "rest" and props.get("iceberg.rest-catalog.security") == "OAUTH2":
        expect(any(k in props for k in ("iceberg.rest-catalog.oauth2.credential", "iceberg.rest-catalog.oauth2.token")),
               f"{path.name}: OAUTH2 needs a credential or a token")
    return f"{kind}, {len(props)} properties"


# ---------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--warehouse", required=True, help="warehouse directory made by `hsi run`")
    ap.add_argument("--catalog-name", default="hsi")
    ap.add_argument("--catalog-uri", default=None, help="SQLAlchemy URL of the SQL catalog (default: WAREHOUSE/catalog.db)")
    ap.add_argument("--sql", default=str(ROOT / "docs/trino/examples.sql"))
    ap.add_argument("--properties", default=str(ROOT / "docs/trino"), help="folder of *.properties")
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    failures: list[str] = []
    statements = hsi_lake.read_named_statements(args.sql)
    names = list(statements)
    for name in sorted(set(names) - CHECKS.keys()):
        failures.append(f"{name}: no check for this statement (add one to {pathlib.Path(__file__).name})")
    for name in sorted(CHECKS.keys() - set(names)):
        failures.append(f"{name}: checked but missing from {args.sql}")

    # 1. Parse every statement (Trino dialect) and round-trip it.
    parsed = 0
    for name, sql in statements.items():
        try:
            tree = hsi_lake.parse_trino(sql)
            again = hsi_lake.parse_trino(tree.sql(dialect="trino"))
            expect(again == tree, "Trino -> Trino round trip changes the statement")
            parsed += 1
        except Exception as e:  # noqa: BLE001 (report every statement)
            failures.append(f"{name}: sqlglot cannot parse it as Trino SQL: {e}")

    # 2. Run each on DuckDB against the warehouse and compare with pyiceberg.
    lake = hsi_lake.Lakehouse(hsi_lake.open_catalog(args.warehouse, args.catalog_name, args.catalog_uri))
    ran = 0
    for name, sql in statements.items():
        if name not in CHECKS:
            continue
        try:
            detail = CHECKS[name](lake, sql)
            ran += 1
            print(f"ok   {name}: {detail}")
        except Exception as e:  # noqa: BLE001
            failures.append(f"{name}: {type(e).__name__}: {e}")
            print(f"FAIL {name}")

    # 3. Catalog properties.
    props = sorted(pathlib.Path(args.properties).glob("*.properties"))
    if not props:
        failures.append(f"no *.properties in {args.properties}")
    for path in props:
        try:
            print(f"ok   {path.name}: {check_properties(path, args.catalog_name)}")
        except Failure as e:
            failures.append(str(e))
            print(f"FAIL {path.name}")

    took = time.monotonic() - t0
    if failures:
        print(f"\ntrino SQL check FAILED ({len(failures)}):", file=sys.stderr)
        for f in failures:
            print(f"  - {f}", file=sys.stderr)
        return 1
    print(f"trino SQL check passed: {parsed} statements parsed (sqlglot {sqlglot.__version__}, Trino dialect), "
          f"{ran} run on DuckDB and verified against pyiceberg, {len(props)} catalog files ({took:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
