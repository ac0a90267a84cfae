#!/usr/bin/env bash
# Throughput of read -> calibrate -> resample -> Parquet: hsi-edge vs the NumPy baseline
# (edge/benches/baseline_numpy.py), same cube, both pinned to one core, alternating runs.
#   scripts/bench/throughput.sh [SIZE=512MB] ; REPS=3
set -euo pipefail
source "$(dirname "$0")/common.sh"
size="${1:-512MB}"; reps="${REPS:-3}"
cube=$(synth_cube "$size")
rust=(); numpy=()
for i in $(seq "$reps"); do
  r=$($pin "$bin" process -i "$cube" -o "$work/out-rust" --quiet --json | "$HSI_PYTHON" -c 'import json,sys; print(json.loads(sys.stdin.readline())["raw_gb_per_s"])')
  n=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $pin "$HSI_PYTHON" edge/benches/baseline_numpy.py "$cube" "$work/out-numpy.parquet" | "$HSI_PYTHON" -c 'import json,sys; print(json.loads(sys.stdin.readline())["raw_gb_per_s"])')
  echo "run $i: hsi-edge $r GB/s, numpy $n GB/s" >&2
  rust+=("$r"); numpy+=("$n")
done
r=$(printf '%s\n' "${rust[@]}" | median); n=$(printf '%s\n' "${numpy[@]}" | median)
rsz=$(stat -c %s "$work"/out-rust/*.full.parquet | head -1); nsz=$(stat -c %s "$work/out-numpy.parquet")
echo "cube: $cube ($(stat -c %s "$cube") bytes)"
echo "median raw GB/s per core: hsi-edge $r  numpy-baseline $n  ratio $(awk -v a="$r" -v b="$n" 'BEGIN{printf "%.2f", a/b}')x"
echo "parquet bytes: hsi-edge $rsz  numpy-baseline $nsz"
