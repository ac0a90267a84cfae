#!/usr/bin/env bash
# Size ratio (raw cube bytes / Parquet bytes) for each profile, and the NDVI error of `field`
# against `full` (per plot and per bin), plus `full` against the generator's expected NDVI.
#   scripts/bench/size.sh [SIZE=512MB]
set -euo pipefail
source "$(dirname "$0")/common.sh"
size="${1:-512MB}"
cube=$(synth_cube "$size")
dir=$(dirname "$(dirname "$cube")")
for p in full field; do
  "$bin" process -i "$cube" -o "$work/out-size" --profile "$p" --quiet --json
done | "$HSI_PYTHON" -c '
import json, sys
for line in sys.stdin:
    s = json.loads(line)
    print(f"profile {s["profile"]:6}: {s["rows"]:>9} rows x {s["bands"]:>3} bands, raw {s["raw_bytes"]/1e6:9.1f} MB -> parquet {s["parquet_bytes"]/1e6:8.2f} MB, ratio {s["size_ratio"]:6.1f}x")'
id=$(basename "$cube" .h5)
"$HSI_PYTHON" scripts/bench/ndvi_compare.py "$work/out-size/$id.full.parquet" "$work/out-size/$id.field.parquet" "$dir/plots.geojson" "$dir/expected_ndvi.csv" "$id"
