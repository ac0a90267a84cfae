#!/usr/bin/env bash
# Peak RSS of `hsi-edge process` on a >= 2 GB cube (target <= 1 GB). Prints the cube size and
# the peak RSS measured by the process itself (VmHWM) and, when present, by GNU time.
#   scripts/bench/memory.sh [SIZE=2GB]
set -euo pipefail
source "$(dirname "$0")/common.sh"
size="${1:-2GB}"
cube=$(synth_cube "$size")
json=$("$bin" process -i "$cube" -o "$work/out-mem" --quiet --json)
echo "$json" | "$HSI_PYTHON" -c '
import json, sys
s = json.loads(sys.stdin.readline())
print(f"cube {s["cube_id"]}: raw {s["raw_bytes"]/1e9:.2f} GB, {s["rows"]} rows, {s["seconds"]:.1f} s")
print(f"peak RSS {s["peak_rss_bytes"]/1e6:.0f} MB ({s["peak_rss_bytes"]/s["raw_bytes"]*100:.1f}% of the cube)")'
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f "GNU time: max RSS %M kB" "$bin" process -i "$cube" -o "$work/out-mem" --quiet --json >/dev/null
fi
