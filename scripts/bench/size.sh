#!/usr/bin/env bash
# Size ratio (raw cube bytes / Parquet bytes) for each profile, and the NDVI error of `field`
# (and of `field --binning 4`) against `full`, per plot and per pixel/bin, plus `full` against
# the generator's expected NDVI.
#   scripts/bench/size.sh [SIZE=512MB]
set -euo pipefail
source "$(dirname "$0")/common.sh"
size="${1:-512MB}"
cube=$(synth_cube "$size")
dir=$(dirname "$(dirname "$cube")")
out="$work/out-size"
id=$(basename "$cube" .h5)
{
  "$bin" process -i "$cube" -o "$out" --profile full --quiet --json
  "$bin" process -i "$cube" -o "$out" --profile field --quiet --json
  "$bin" process -i "$cube" -o "$out" --profile field --binning 4 --quiet --json
} 2>/dev/null | "$HSI_PYTHON" scripts/bench/summarize.py size
for variant in field field-bin4; do
  echo "-- $variant"
  "$HSI_PYTHON" scripts/bench/ndvi_compare.py "$out/$id.full.parquet" "$out/$id.$variant.parquet" "$dir/plots.geojson" "$dir/expected_ndvi.csv" "$id"
done
