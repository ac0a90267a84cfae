#!/usr/bin/env python3
"""Print `hsi-edge process --json` lines (stdin) as benchmark lines: `memory` or `size` mode."""
import json
import sys

mode = sys.argv[1] if len(sys.argv) > 1 else "size"
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"):
        continue
    s = json.loads(line)
    raw, pq, rss = s["raw_bytes"], s["parquet_bytes"], s.get("peak_rss_bytes") or 0
    if mode == "memory":
        print("cube %s: raw %.2f GB, %d rows, %.1f s" % (s["cube_id"], raw / 1e9, s["rows"], s["seconds"]))
        print("peak RSS %.0f MB (%.1f%% of the cube)" % (rss / 1e6, rss / raw * 100))
    else:
        print("profile %-6s: %9d rows x %3d bands, raw %9.1f MB -> parquet %8.2f MB, ratio %6.1fx"
              % (s["profile"], s["rows"], s["bands"], raw / 1e6, pq / 1e6, s["size_ratio"]))
