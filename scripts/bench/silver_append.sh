#!/usr/bin/env bash
# Silver append throughput: hsi-lakehouse (iceberg-rust) vs pyiceberg `table.append`, same Arrow
# data (200k rows x 61 bands by default), same partitioned table kind, SQLite catalog.
#   scripts/bench/silver_append.sh [ROWS=200000] ; BENCH_REPS=3
# Needs pyiceberg in $HSI_PYTHON (pip install 'pyiceberg[sql-sqlite,pyarrow]==0.12.0'),
# otherwise only the Rust side runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
eval "$(scripts/bootstrap.sh)"
export BENCH_ROWS="${1:-${BENCH_ROWS:-200000}}"
export BENCH_REPS="${BENCH_REPS:-3}"
cargo bench -q -p hsi-lakehouse --bench silver_append
