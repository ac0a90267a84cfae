"""Read the hsi lakehouse from notebooks and scripts: pyiceberg for the catalog, and Trino SQL run
either on a Trino cluster (when ``TRINO_HOST`` is set) or, transpiled by sqlglot, on DuckDB's
Iceberg extension.

The notebooks in this folder and ``scripts/trino_sql_check.py`` share this module, so the SQL an
engineer reads in a notebook is the SQL Trino would run: it is written once, in Trino's dialect,
against the catalog ``hsi`` (``hsi.<namespace>.<table>``), and

- with ``TRINO_HOST`` set, it goes to Trino unchanged (only the catalog name is replaced when
  ``TRINO_CATALOG`` differs from ``hsi``);
- otherwise sqlglot parses it (``read="trino"``), it is transpiled to DuckDB, and every
  ``hsi.<ns>.<table>`` resolves to a DuckDB view over ``iceberg_scan('<current metadata JSON>')``
  of the real table (the metadata location comes from the catalog, through pyiceberg).
  ``FOR VERSION AS OF <snapshot id>`` and ``FOR TIMESTAMP AS OF <ts>`` become
  ``iceberg_scan(..., snapshot_from_id => ...)`` / ``snapshot_from_timestamp => ...``, and
  Trino's metadata tables ``"<table>$snapshots"`` and ``"<table>$history"`` are materialised from
  pyiceberg's ``inspect`` tables, which have the same columns.

DuckDB's extensions are loaded from the ``duckdb-extension-*`` PyPI packages (a plain
``INSTALL iceberg`` needs the internet), and DuckDB runs with ``TimeZone = 'UTC'`` so that
``date(acquisition_time)`` means the UTC day, as in the tables' ``day()`` partitions.
"""

from __future__ import annotations

import importlib
import os
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

#: The catalog name the SQL is written against (Trino: etc/catalog/hsi.properties).
SQL_CATALOG = "hsi"

#: Extensions loaded into DuckDB, in dependency order (iceberg reads its manifests with avro).
DUCKDB_EXTENSIONS = ("avro", "iceberg", "httpfs")

#: Silver's identity columns (docs/architecture.md, "Silver rows"); the rest are bands.
SILVER_ID_COLUMNS = (
    "cube_id", "farm_id", "field_id", "sensor_id", "acquisition_time", "line", "sample",
    "x", "y", "pipeline", "calibration_version",
)

_BAND = re.compile(r"^b(\d{4})$")


# --------------------------------------------------------------------------------------------
# Catalog


def open_catalog(warehouse: str | None, catalog_name: str = "hsi", catalog_uri: str | None = None):
    """The pyiceberg catalog of a warehouse.

    - ``warehouse`` a local directory and no ``catalog_uri``: the SQLite SQL catalog
      ``WAREHOUSE/catalog.db`` that ``hsi run`` writes (catalog name ``hsi``);
    - ``catalog_uri`` the SQL catalog's URL as the ``hsi`` CLI takes it (``sqlite://PATH?mode=rwc``,
      ``postgres://user:pw@host/db``; the latter needs psycopg2) or as SQLAlchemy does: that
      SQL catalog, with ``warehouse`` as its warehouse location;
    - neither: ``pyiceberg.catalog.load_catalog(catalog_name)``, configured the pyiceberg way
      (``~/.pyiceberg.yaml`` or ``PYICEBERG_CATALOG__<NAME>__*`` variables) — this is how a Glue
      or REST catalog is reached.
    """
    from pyiceberg.catalog import load_catalog
    from pyiceberg.catalog.sql import SqlCatalog

    if not warehouse and not catalog_uri:
        return load_catalog(catalog_name)
    if catalog_uri:
        catalog_uri = sqlalchemy_url(catalog_uri)
    if warehouse and "://" not in warehouse:
        path = pathlib.Path(warehouse).expanduser().resolve()
        if not catalog_uri:
            db = path / "catalog.db"
            if not db.is_file():
                raise FileNotFoundError(
                    f"no SQL catalog at {db}: run `hsi run --warehouse {warehouse}` first "
                    "(README, 'The two commands'), or pass the warehouse the pipeline wrote"
                )
            catalog_uri = f"sqlite:///{db}"
        warehouse = path.as_uri()
    return SqlCatalog(catalog_name, uri=catalog_uri, warehouse=warehouse)


def sqlalchemy_url(uri: str) -> str:
    """A catalog URL in the ``hsi`` CLI's (sqlx) form as SQLAlchemy wants it.

    sqlx reads ``sqlite:///tmp/wh/catalog.db`` as the absolute path ``/tmp/wh/catalog.db`` where
    SQLAlchemy would read ``tmp/wh/catalog.db``; SQLite paths are therefore resolved here and
    ``?mode=rwc`` dropped. ``postgres://`` becomes ``postgresql+psycopg2://``.
    """
    if uri.startswith("sqlite:") and not uri.startswith("sqlite:////"):
        path = re.sub(r"^sqlite:(//)?", "", uri).split("?", 1)[0]
        return f"sqlite:///{pathlib.Path(path).expanduser().resolve()}"
    if uri.startswith("postgres://"):
        return "postgresql+psycopg2://" + uri[len("postgres://"):]
    return uri


def all_tables(catalog) -> list[str]:
    """Every table of the catalog as ``namespace.table``, sorted."""
    out = []
    for ns in catalog.list_namespaces():
        for ident in catalog.list_tables(ns):
            out.append(".".join(ident))
    return sorted(out)


# --------------------------------------------------------------------------------------------
# DuckDB


def duckdb_extension_path(name: str, version: str) -> pathlib.Path:
    """The extension binary shipped in the ``duckdb-extension-<name>`` PyPI package."""
    module = importlib.import_module(f"duckdb_extension_{name}")
    path = pathlib.Path(module.__file__).parent / "extensions" / version / f"{name}.duckdb_extension"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: install duckdb-extension-{name} matching duckdb {version} "
            "(scripts/requirements.txt pins both)"
        )
    return path


def duckdb_connect():
    """An in-memory DuckDB with the Iceberg extension loaded offline, in UTC."""
    import duckdb

    con = duckdb.connect()
    # Never reach for the network: every extension comes from a pinned PyPI package.
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    version = con.execute("PRAGMA version").fetchone()[0]
    for name in DUCKDB_EXTENSIONS:
        con.execute(f"LOAD '{duckdb_extension_path(name, version)}'")
    con.execute("SET TimeZone = 'UTC'")
    return con


def sql_literal(value) -> str:
    """A Trino SQL literal for a parameter value (strings quoted, dates and UTC times typed)."""
    import datetime as dt

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return f"TIMESTAMP '{value.isoformat(sep=' ', timespec='microseconds')} UTC'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return _sql_string(str(value))


def _sql_string(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def metadata_path(location: str) -> str:
    """A metadata location as DuckDB's ``iceberg_scan`` takes it (local paths without file://)."""
    return location[len("file://"):] if location.startswith("file://") else location


# --------------------------------------------------------------------------------------------
# Trino


@dataclass
class TrinoSettings:
    """How to reach Trino, from the environment (``TRINO_HOST`` switches Trino on)."""

    host: str
    port: int = 8080
    user: str = "hsi-notebook"
    catalog: str = SQL_CATALOG
    http_scheme: str = "http"
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env=None) -> "TrinoSettings | None":
        env = os.environ if env is None else env
        host = env.get("TRINO_HOST", "").strip()
        if not host:
            return None
        port = int(env.get("TRINO_PORT", "8080"))
        scheme = env.get("TRINO_HTTP_SCHEME") or ("https" if port == 443 else "http")
        return cls(
            host=host,
            port=port,
            user=env.get("TRINO_USER") or env.get("USER") or "hsi-notebook",
            catalog=env.get("TRINO_CATALOG") or SQL_CATALOG,
            http_scheme=scheme,
            password=env.get("TRINO_PASSWORD") or None,
        )


# --------------------------------------------------------------------------------------------
# The lakehouse handle

_NULLABLE_INTS = {
    pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype(),
}


class Lakehouse:
    """A warehouse opened for reading: ``.table(name)`` (pyiceberg) and ``.sql(trino_sql)``."""

    def __init__(self, catalog, trino: TrinoSettings | None = None):
        self.catalog = catalog
        self.trino = trino
        self._duck = None
        self._trino_conn = None
        self._tables: dict[str, Any] = {}

    @classmethod
    def open(cls, warehouse: str | None, catalog_name: str = "hsi", catalog_uri: str | None = None,
             env=None) -> "Lakehouse":
        """Open the catalog; use Trino for SQL when ``TRINO_HOST`` is set in ``env``."""
        return cls(open_catalog(warehouse, catalog_name, catalog_uri or None),
                   TrinoSettings.from_env(env))

    @property
    def engine(self) -> str:
        return "trino" if self.trino else "duckdb"

    def describe(self) -> str:
        if self.trino:
            t = self.trino
            return f"Trino at {t.http_scheme}://{t.host}:{t.port}, catalog {t.catalog}, user {t.user}"
        import duckdb

        return f"DuckDB {duckdb.__version__} with the Iceberg extension (SQL written for Trino, transpiled by sqlglot)"

    # -- pyiceberg ---------------------------------------------------------------------------

    def table(self, name: str):
        """The pyiceberg table ``namespace.table`` (loaded once; see :meth:`refresh`)."""
        if name not in self._tables:
            self._tables[name] = self.catalog.load_table(name)
        return self._tables[name]

    def refresh(self) -> None:
        """Forget loaded tables and DuckDB views, so the next query sees new commits."""
        self._tables.clear()
        if self._duck is not None:
            self._duck.close()
            self._duck = None

    # -- SQL ---------------------------------------------------------------------------------

    def sql(self, trino_sql: str) -> pd.DataFrame:
        """Run one Trino SQL statement and return its result."""
        if self.trino:
            return self._run_trino(self.for_trino(trino_sql))
        # Through Arrow, so DATE stays a date (as from pyiceberg and Trino), not a timestamp, and
        # integer columns with NULLs stay exact (nullable Int64): snapshot ids need all 64 bits.
        table = self.duckdb().execute(self.to_duckdb(trino_sql)).to_arrow_table()
        return table.to_pandas(types_mapper=_NULLABLE_INTS.get)

    def for_trino(self, trino_sql: str) -> str:
        """The statement for the Trino cluster (catalog renamed if ``TRINO_CATALOG`` differs)."""
        if not self.trino or self.trino.catalog == SQL_CATALOG:
            return trino_sql
        from sqlglot import exp

        m = re.match(r"\s*(EXPLAIN(?:\s+ANALYZE)?)\s+", trino_sql, flags=re.I)
        prefix, body = (m.group(1) + " ", trino_sql[m.end():]) if m else ("", trino_sql)
        tree = parse_trino(body)
        for t in tree.find_all(exp.Table):
            if t.catalog == SQL_CATALOG:
                t.set("catalog", exp.to_identifier(self.trino.catalog))
        return prefix + tree.sql(dialect="trino")

    def to_duckdb(self, trino_sql: str) -> str:
        """Transpile a Trino statement to DuckDB over this warehouse's tables."""
        from sqlglot import exp

        tree = parse_trino(trino_sql)
        for t in list(tree.find_all(exp.Table)):
            version = t.args.get("version")
            if version is None or t.catalog != SQL_CATALOG:
                continue
            name = f"{t.db}.{t.name}"
            kind = str(version.this).upper()
            if kind not in ("VERSION", "TIMESTAMP"):
                raise ValueError(f"unsupported time travel {version.sql('trino')!r} on {name}")
            arg = "snapshot_from_id" if kind == "VERSION" else "snapshot_from_timestamp"
            scan = exp.Anonymous(
                this="iceberg_scan",
                expressions=[
                    exp.Literal.string(metadata_path(self.table(name).metadata_location)),
                    exp.Kwarg(this=exp.var(arg), expression=version.expression.copy()),
                ],
            )
            alias = t.args.get("alias") or exp.TableAlias(this=exp.to_identifier(t.name))
            t.replace(exp.Table(this=scan, alias=alias.copy()))
        return tree.sql(dialect="duckdb")

    def duckdb(self):
        """The DuckDB connection with a view per table under the ``hsi`` catalog."""
        if self._duck is None:
            con = duckdb_connect()
            con.execute(f"ATTACH ':memory:' AS {SQL_CATALOG}")
            for name in all_tables(self.catalog):
                ns, tbl = name.split(".", 1)
                table = self.table(name)
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {SQL_CATALOG}.{_ident(ns)}")
                target = f"{SQL_CATALOG}.{_ident(ns)}"
                if table.metadata.current_snapshot_id is not None:
                    scan = f"iceberg_scan({_sql_string(metadata_path(table.metadata_location))})"
                    con.execute(f"CREATE VIEW {target}.{_ident(tbl)} AS SELECT * FROM {scan}")
                else:  # no snapshot yet: an empty table with the table's columns
                    con.register("hsi_empty", table.schema().as_arrow().empty_table())
                    con.execute(f"CREATE TABLE {target}.{_ident(tbl)} AS SELECT * FROM hsi_empty")
                    con.unregister("hsi_empty")
                # Trino's metadata tables; pyiceberg's inspect tables have the same columns.
                con.register("hsi_snapshots", table.inspect.snapshots())
                con.execute(
                    f"CREATE TABLE {target}.{_ident(tbl + '$snapshots')} AS SELECT "
                    "CAST(committed_at AS TIMESTAMPTZ) AS committed_at, snapshot_id, parent_id, "
                    "operation, manifest_list, summary FROM hsi_snapshots"
                )
                con.unregister("hsi_snapshots")
                con.register("hsi_history", table.inspect.history())
                con.execute(
                    f"CREATE TABLE {target}.{_ident(tbl + '$history')} AS SELECT "
                    "CAST(made_current_at AS TIMESTAMPTZ) AS made_current_at, snapshot_id, "
                    "parent_id, is_current_ancestor FROM hsi_history"
                )
                con.unregister("hsi_history")
            self._duck = con
        return self._duck

    def files_read(self, trino_sql: str) -> int:
        """How many data files DuckDB's Iceberg scans read for a query (``EXPLAIN ANALYZE``).

        0 when no scan ran (DuckDB answers e.g. a bare ``count(*)`` from the manifests alone).
        """
        plan = self.duckdb().execute("EXPLAIN ANALYZE " + self.to_duckdb(trino_sql)).fetchall()
        text = "\n".join(str(row[-1]) for row in plan)
        return sum(int(n) for n in re.findall(r"Total Files Read: (\d+)", text))

    def _run_trino(self, statement: str) -> pd.DataFrame:
        if self._trino_conn is None:
            import trino

            t = self.trino
            auth = (trino.auth.BasicAuthentication(t.user, t.password) if t.password else None)
            self._trino_conn = trino.dbapi.connect(
                host=t.host, port=t.port, user=t.user, catalog=t.catalog,
                http_scheme=t.http_scheme, auth=auth,
            )
        cur = self._trino_conn.cursor()
        cur.execute(statement)
        rows = cur.fetchall()
        columns = {}
        for i, d in enumerate(cur.description):
            values = [r[i] for r in rows]
            kind = str(d[1]).split("(")[0]
            dtype = _TRINO_DTYPES.get(kind)
            if dtype in ("float32", "float64"):  # NULL -> NaN, as from DuckDB
                columns[d[0]] = np.array([np.nan if v is None else v for v in values], dtype=dtype)
            elif dtype:
                columns[d[0]] = pd.array(values, dtype=dtype)
            else:
                columns[d[0]] = pd.Series(values, dtype=object)
        return pd.DataFrame(columns)


#: pandas dtypes for Trino result columns; integers stay exact when NULLs occur.
_TRINO_DTYPES = {
    "tinyint": "Int8", "smallint": "Int16", "integer": "Int32", "bigint": "Int64",
    "boolean": "boolean", "real": "float32", "double": "float64",
}


def parse_trino(sql: str):
    """Parse exactly one Trino statement with sqlglot, raising on any parse error."""
    import sqlglot
    from sqlglot.errors import ErrorLevel

    trees = [t for t in sqlglot.parse(sql, read="trino", error_level=ErrorLevel.RAISE) if t is not None]
    if len(trees) != 1:
        raise ValueError(f"expected one statement, found {len(trees)}")
    return trees[0]


# --------------------------------------------------------------------------------------------
# Example SQL files


def read_named_statements(path) -> dict[str, str]:
    """Statements of a SQL file, each introduced by a ``-- name: <name>`` comment line.

    The text from one marker to the next (comments included, the trailing ``;`` removed) is the
    statement. Names must be unique.
    """
    text = pathlib.Path(path).read_text()
    parts = re.split(r"^--\s*name:\s*(\S+)\s*$", text, flags=re.M)
    out: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2]):
        if name in out:
            raise ValueError(f"{path}: statement name {name!r} used twice")
        body = body.strip()
        if body.endswith(";"):
            body = body[:-1].rstrip()
        if ";" in re.sub(r"--[^\n]*|'[^']*'", "", body):
            raise ValueError(f"{path}: {name!r} holds more than one statement")
        out[name] = body
    return out


# --------------------------------------------------------------------------------------------
# Bands, indices and plots (the same definitions as lakehouse/src/gold)


def band_columns(names) -> list[tuple[str, int]]:
    """``(column, nm)`` of the band columns (``bNNNN``) among ``names``, by wavelength."""
    out = [(n, int(m.group(1))) for n in names if (m := _BAND.match(n))]
    return sorted(out, key=lambda c: c[1])


def ndvi(b800, b680) -> np.ndarray:
    """Per-pixel NDVI as Gold computes it: float32 arithmetic, NaN where undefined."""
    nir = np.asarray(b800, dtype=np.float32)
    red = np.asarray(b680, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (nir - red) / (nir + red)
    return np.where(np.isfinite(v), v, np.nan).astype(np.float32)


def parse_wkt(wkt: str) -> list[list[tuple[float, float]]]:
    """The rings of a WKT ``POLYGON`` or ``MULTIPOLYGON`` (every ring, outer and holes)."""
    s = wkt.strip()
    kind = s.split("(", 1)[0].strip().upper()
    if kind not in ("POLYGON", "MULTIPOLYGON"):
        raise ValueError(f"unsupported geometry {kind!r}")
    rings = []
    for ring in re.findall(r"\(([^()]+)\)", s):
        pts = [tuple(float(v) for v in p.split()[:2]) for p in ring.split(",")]
        rings.append(pts)
    if not rings:
        raise ValueError(f"no rings in {wkt!r}")
    return rings


def points_in_rings(rings, x, y) -> np.ndarray:
    """Even-odd point-in-polygon with the half-open edge rule of ``gold::assign``.

    An edge counts as crossed when ``y_low <= y < y_high`` and the point is strictly left of the
    edge at that height, so on an axis-aligned rectangle the left and bottom edges are inside
    and the right and top edges outside.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    inside = np.zeros(x.shape, dtype=bool)
    for ring in rings:
        pts = list(ring)
        for prev, cur in zip([pts[-1]] + pts[:-1], pts):
            lo, hi = (prev, cur) if prev[1] <= cur[1] else (cur, prev)
            if lo[1] == hi[1]:
                continue
            band = (lo[1] <= y) & (y < hi[1])
            x_cross = lo[0] + (y - lo[1]) * (hi[0] - lo[0]) / (hi[1] - lo[1])
            inside ^= band & (x < x_cross)
    return inside
