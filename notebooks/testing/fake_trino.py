"""A stand-in Trino coordinator for testing the notebooks' Trino code path offline.

    python notebooks/testing/fake_trino.py --warehouse DIR [--catalog lake] [--port-file FILE]

Trino cannot be installed here, so ``scripts/notebooks_check.sh`` runs the notebooks a second
time with ``TRINO_HOST`` pointing at this server. It speaks the part of Trino's client REST
protocol the ``trino`` Python client uses (``POST /v1/statement``, one response holding all
rows, ``columns`` with ``typeSignature``, values in Trino's JSON encoding), checks the
``X-Trino-User`` and ``X-Trino-Catalog`` headers, and answers each statement by running it on
DuckDB through ``hsi_lake`` (sqlglot, Trino dialect -> DuckDB) after mapping the catalog name
back to ``hsi``. ``EXPLAIN ANALYZE`` returns DuckDB's plan as one ``Query Plan`` varchar.

What this proves: the notebooks' Trino branch (connection settings, catalog renaming, result
types as the Trino client decodes them: dates, zoned timestamps, arrays, maps, NULL bigints)
works. What it does not prove: Trino's own SQL semantics — docs/trino/examples.sql and
scripts/trino_sql_check.py cover the SQL as far as sqlglot + DuckDB can.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import pathlib
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import pyarrow as pa  # noqa: E402
from sqlglot import exp  # noqa: E402

import hsi_lake  # noqa: E402


def type_signature(t: pa.DataType) -> dict:
    """Trino's name and typeSignature for an Arrow type."""
    simple = {
        pa.int8(): "tinyint", pa.int16(): "smallint", pa.int32(): "integer", pa.int64(): "bigint",
        pa.float32(): "real", pa.float64(): "double", pa.bool_(): "boolean", pa.date32(): "date",
    }
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        # Unbounded varchar, as Trino sends it (the client reads the length argument).
        return {"rawType": "varchar", "arguments": [{"kind": "LONG", "value": 2147483647}]}
    if t in simple:
        return {"rawType": simple[t], "arguments": []}
    if pa.types.is_timestamp(t):
        raw = "timestamp with time zone" if t.tz else "timestamp"
        return {"rawType": raw, "arguments": [{"kind": "LONG", "value": 6}]}
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return {"rawType": "array", "arguments": [{"kind": "TYPE", "value": type_signature(t.value_type)}]}
    if pa.types.is_map(t):
        return {"rawType": "map", "arguments": [{"kind": "TYPE", "value": type_signature(t.key_type)},
                                                 {"kind": "TYPE", "value": type_signature(t.item_type)}]}
    if pa.types.is_decimal(t):
        return {"rawType": "decimal", "arguments": [{"kind": "LONG", "value": t.precision},
                                                     {"kind": "LONG", "value": t.scale}]}
    raise TypeError(f"no Trino type for Arrow {t}")


def type_name(sig: dict) -> str:
    raw, args = sig["rawType"], sig["arguments"]
    if raw in ("array", "map"):
        return f"{raw}({', '.join(type_name(a['value']) for a in args)})"
    if raw == "timestamp with time zone":
        return f"timestamp({args[0]['value']}) with time zone"
    if raw == "varchar":
        return raw
    if raw in ("timestamp", "decimal"):
        return f"{raw}({', '.join(str(a['value']) for a in args)})"
    return raw


def encode(value, t: pa.DataType):
    """A Python value (from Arrow) in Trino's JSON encoding."""
    if value is None:
        return None
    if pa.types.is_floating(t):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if pa.types.is_timestamp(t):
        if t.tz:
            return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f") + " UTC"
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if pa.types.is_date(t):
        return value.isoformat()
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return [encode(v, t.value_type) for v in value]
    if pa.types.is_map(t):
        return {encode(k, t.key_type): encode(v, t.item_type) for k, v in value}
    if pa.types.is_decimal(t):
        return str(value)
    return value


class FakeTrino:
    def __init__(self, warehouse: str, catalog: str, user: str | None, catalog_name: str = "hsi"):
        self.lake = hsi_lake.Lakehouse(hsi_lake.open_catalog(warehouse, catalog_name))
        self.catalog = catalog
        self.user = user
        self.lock = threading.Lock()  # one DuckDB connection: one statement at a time
        self.statements = 0

    def run(self, sql: str) -> pa.Table:
        text = sql.strip().rstrip(";")
        explain = text.upper().startswith("EXPLAIN ANALYZE")
        if explain:
            text = text[len("EXPLAIN ANALYZE"):]
        tree = hsi_lake.parse_trino(text)
        for t in tree.find_all(exp.Table):
            if t.catalog == self.catalog:
                t.set("catalog", exp.to_identifier(hsi_lake.SQL_CATALOG))
            elif t.catalog:
                raise ValueError(f"Catalog '{t.catalog}' not found")
        duck_sql = self.lake.to_duckdb(tree.sql(dialect="trino"))
        with self.lock:
            self.statements += 1
            con = self.lake.duckdb()
            if explain:
                plan = con.execute("EXPLAIN ANALYZE " + duck_sql).fetchall()
                return pa.table({"Query Plan": ["\n".join(str(r[-1]) for r in plan)]})
            return con.execute(duck_sql).to_arrow_table()


def make_handler(server_state: FakeTrino):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _reply(self, status: int, body: dict):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            if self.path != "/v1/statement":
                self._reply(404, {"message": f"no {self.path}"})
                return
            sql = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            qid = f"fake_{uuid.uuid4().hex[:12]}"
            base = {"id": qid, "infoUri": f"http://{self.headers.get('Host')}/ui/query.html?{qid}",
                    "stats": {"state": "FINISHED"}, "warnings": []}
            user = self.headers.get("X-Trino-User")
            catalog = self.headers.get("X-Trino-Catalog")
            try:
                if not user or (server_state.user and user != server_state.user):
                    raise PermissionError(f"unexpected X-Trino-User {user!r}")
                if catalog != server_state.catalog:
                    raise ValueError(f"session catalog {catalog!r}, this server serves {server_state.catalog!r}")
                table = server_state.run(sql)
            except Exception as e:  # noqa: BLE001 (reported to the client as a query failure)
                base["stats"] = {"state": "FAILED"}
                base["error"] = {"message": f"{type(e).__name__}: {e}", "errorCode": 1,
                                 "errorName": "GENERIC_USER_ERROR", "errorType": "USER_ERROR",
                                 "failureInfo": {"type": type(e).__name__, "message": str(e), "stack": []}}
                self._reply(200, base)
                return
            columns, sigs = [], []
            for f in table.schema:
                sig = type_signature(f.type)
                sigs.append(f.type)
                columns.append({"name": f.name, "type": type_name(sig), "typeSignature": sig})
            rows = [[encode(v, t) for v, t in zip(r.values(), sigs)] for r in table.to_pylist()]
            self._reply(200, {**base, "columns": columns, "data": rows})

    return Handler


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--catalog", default="hsi", help="the Trino catalog name clients must use")
    ap.add_argument("--catalog-name", default="hsi", help="the warehouse's SQL catalog name")
    ap.add_argument("--user", default=None, help="the only X-Trino-User accepted (default: any)")
    ap.add_argument("--port", type=int, default=0, help="0: any free port")
    ap.add_argument("--port-file", help="write the port here once listening")
    args = ap.parse_args(argv)
    state = FakeTrino(args.warehouse, args.catalog, args.user, args.catalog_name)
    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(state))
    port = httpd.server_address[1]
    if args.port_file:
        tmp = pathlib.Path(args.port_file + ".tmp")
        tmp.write_text(str(port))
        tmp.rename(args.port_file)
    print(f"fake Trino on 127.0.0.1:{port}, catalog {args.catalog}", file=sys.stderr, flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
