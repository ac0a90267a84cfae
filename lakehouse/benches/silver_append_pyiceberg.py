"""pyiceberg side of the Silver append benchmark (driven by benches/silver_append.rs).

    silver_append_pyiceberg.py --parquet DATA.parquet --uri sqlite:////w/catalog.db \
        --warehouse file:///w --table silver.reflectance --reps 3

Loads the Parquet file into one pyarrow Table (not timed), then times `table.append(pa_table)`
REPS times into the given (existing, empty, partitioned) table. Prints one JSON line:
{"rows": n, "seconds": [..], "pyiceberg": version}.
"""

import argparse
import json
import time

import pyarrow.parquet as pq
import pyiceberg
from pyiceberg.catalog.sql import SqlCatalog


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parquet", required=True)
    ap.add_argument("--uri", required=True)
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--table", default="silver.reflectance")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()

    data = pq.read_table(a.parquet)
    cat = SqlCatalog("hsi", uri=a.uri, warehouse=a.warehouse)
    seconds = []
    for _ in range(a.reps):
        table = cat.load_table(a.table)
        t0 = time.perf_counter()
        table.append(data)
        seconds.append(time.perf_counter() - t0)
    print(json.dumps({"rows": data.num_rows, "seconds": seconds, "pyiceberg": pyiceberg.__version__}))


if __name__ == "__main__":
    main()
