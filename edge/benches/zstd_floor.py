#!/usr/bin/env python3
"""The floor of the `full` profile's output on one core: ZSTD level 1 alone over the band
columns' BYTE_STREAM_SPLIT bytes (per 64 Ki-row row group), and writing the file's bytes to a
new file next to it (1 MiB writes, no fsync: the page-cache copy every writer pays).

    python zstd_floor.py OUT.parquet

Any implementation that writes the same lossless Parquet (BSS + ZSTD 1 band columns) must at
least do this work; `scripts/bench/throughput.sh` adds the baseline's read time to it to bound
the speed-up over the baseline that any implementation can reach. Prints one JSON line.
"""
import os
import json
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

pa.set_cpu_count(1)
pa.set_io_thread_count(1)
table = pq.read_table(sys.argv[1])
bands = [c for c in table.column_names if c.startswith("b")]
codec = pa.Codec("zstd", compression_level=1)
seconds, raw, packed = 0.0, 0, 0
for name in bands:
    values = table.column(name).combine_chunks().to_numpy(zero_copy_only=False).astype(np.float32)
    for start in range(0, len(values), 65536):
        split = values[start:start + 65536].view(np.uint8).reshape(-1, 4).T.copy()
        t = time.perf_counter()
        out = codec.compress(split)
        seconds += time.perf_counter() - t
        raw += split.nbytes
        packed += out.size
with open(sys.argv[1], "rb") as f:
    data = f.read()
copy = sys.argv[1] + ".floor"
view = memoryview(data)
t = time.perf_counter()
with open(copy, "wb", buffering=0) as f:
    for start in range(0, len(data), 1 << 20):
        f.write(view[start:start + (1 << 20)])
write_seconds = time.perf_counter() - t
os.remove(copy)
print(json.dumps({"zstd_seconds": seconds, "band_bytes": raw, "compressed_bytes": packed,
                  "write_seconds": write_seconds, "file_bytes": len(data)}))
