#!/usr/bin/env bash
# Peak RSS of `hsi-edge process` on a >= 2 GB cube (target <= 1 GB). Prints the cube size and
# the peak RSS measured by the process itself (VmHWM) and, when present, by GNU time.
#   scripts/bench/memory.sh [SIZE=2GB]
set -euo pipefail
source "$(dirname "$0")/common.sh"
size="${1:-2GB}"
cube=$(synth_cube "$size")
json=$("$bin" process -i "$cube" -o "$work/out-mem" --quiet --json)
echo "$json" | "$HSI_PYTHON" scripts/bench/summarize.py memory
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f "GNU time: max RSS %M kB" "$bin" process -i "$cube" -o "$work/out-mem" --quiet --json >/dev/null
fi
