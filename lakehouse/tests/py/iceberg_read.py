"""Describe an Iceberg table as JSON, read through pyiceberg (the interop oracle of the
lakehouse tests).

    iceberg_read.py --uri sqlite:////w/catalog.db --warehouse file:///w --table silver.reflectance \
        [--snapshot-id N] [--columns a,b,c] [--filter "cube_id == 'C1'"] [--order-by a,b]

Prints one JSON object on stdout:

    current_snapshot_id, format_version,
    schema:    [{id, name, type, required}],
    spec:      [{source, name, transform}],
    sort:      [{source, transform, direction}],
    snapshots: [{id, parent, operation, summary}]   (metadata order),
    history:   [{snapshot_id, timestamp_ms}],
    rows:      row count of the scan (at --snapshot-id if given, with --filter if given),
    data:      {column: [values]} for --columns (timestamps as epoch microseconds),
    files:     [{partition: {...}, record_count, file_path}] of the current snapshot.
"""

import argparse
import json
import sys

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog.sql import SqlCatalog


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--uri", required=True)
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--catalog-name", default="hsi")
    ap.add_argument("--table", required=True)
    ap.add_argument("--snapshot-id", type=int)
    ap.add_argument("--columns", default="")
    ap.add_argument("--filter", default=None)
    ap.add_argument("--order-by", default="")
    a = ap.parse_args()

    cat = SqlCatalog(a.catalog_name, uri=a.uri, warehouse=a.warehouse)
    t = cat.load_table(a.table)
    md = t.metadata
    schema = t.schema()
    out = {
        "current_snapshot_id": md.current_snapshot_id,
        "format_version": md.format_version,
        "schema": [
            {"id": f.field_id, "name": f.name, "type": str(f.field_type), "required": f.required}
            for f in schema.fields
        ],
        "spec": [
            {"source": schema.find_column_name(pf.source_id), "name": pf.name, "transform": str(pf.transform)}
            for pf in t.spec().fields
        ],
        "sort": [
            {
                "source": schema.find_column_name(sf.source_id),
                "transform": str(sf.transform),
                "direction": str(sf.direction.value),
            }
            for sf in t.sort_order().fields
        ],
        "snapshots": [
            {
                "id": s.snapshot_id,
                "parent": s.parent_snapshot_id,
                "operation": s.summary.operation.value if s.summary else None,
                "summary": {k: v for k, v in (s.summary.additional_properties.items() if s.summary else [])},
            }
            # The metadata file's snapshot list has no defined order (iceberg-rust writes it
            # from a hash map); commit order is the sequence number.
            for s in sorted(md.snapshots, key=lambda s: (s.sequence_number or 0, s.timestamp_ms))
        ],
        "history": [{"snapshot_id": h.snapshot_id, "timestamp_ms": h.timestamp_ms} for h in md.snapshot_log],
    }

    scan_kwargs = {}
    if a.snapshot_id is not None:
        scan_kwargs["snapshot_id"] = a.snapshot_id
    if a.filter:
        scan_kwargs["row_filter"] = a.filter
    columns = [c for c in a.columns.split(",") if c]
    if md.current_snapshot_id is None and a.snapshot_id is None:
        data = pa.table({})
        out["rows"] = 0
    else:
        data = t.scan(**scan_kwargs).to_arrow()
        out["rows"] = data.num_rows
    if columns:
        order = [c for c in a.order_by.split(",") if c]
        if order and data.num_rows:
            data = data.sort_by([(c, "ascending") for c in order])
        cols = {}
        for c in columns:
            col = data.column(c)
            if pa.types.is_timestamp(col.type):
                col = pc.cast(col, pa.timestamp("us", tz="UTC")).cast(pa.int64())
            cols[c] = col.to_pylist()
        out["data"] = cols

    files = []
    if md.current_snapshot_id is not None:
        ft = t.inspect.files()
        for row in ft.select(["partition", "record_count", "file_path"]).to_pylist():
            files.append(row)
    out["files"] = files
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main()
