#!/usr/bin/env bash
# Execute both notebooks end to end with papermill against a demo warehouse, and run the Trino
# SQL check (docs/trino, via sqlglot + DuckDB). Exits non-zero on any failure.
#
#   scripts/notebooks_check.sh [--warehouse DIR] [--catalog-name NAME] [--out DIR]
#
# --warehouse DIR   use an existing warehouse (made by `hsi run --warehouse DIR`); without it a
#                   fresh demo warehouse is made in a temporary directory with
#                   `cargo run -p hsi-lakehouse --bin hsi -- run` (debug profile, so after
#                   `cargo test` it reuses that build), or with $HSI_BIN when that is set.
# --catalog-name    the SQL catalog's name (default hsi).
# --out DIR         keep the executed notebooks there (must be outside the repository);
#                   by default they go to the temporary directory and are deleted.
#
# Also checks that the committed notebooks carry no outputs. Python comes from the venv of
# scripts/bootstrap.sh (papermill, ipykernel, pyiceberg, duckdb + extensions, sqlglot, ...).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd -P)"
cd "$root"
t0=$(date +%s)
log() { echo "[notebooks $(( $(date +%s) - t0 ))s] $*" >&2; }

warehouse="" catalog="hsi" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --warehouse) warehouse="${2:?--warehouse needs a directory}"; shift 2 ;;
    --catalog-name) catalog="${2:?--catalog-name needs a name}"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

eval "$(scripts/bootstrap.sh)"
py="$HSI_PYTHON"
venv="$(cd "$(dirname "$py")/.." && pwd)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/hsi-notebooks.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
if [ -z "$out" ]; then
  out="$tmp/out"
else
  out="$(realpath -m "$out")"
  case "$out/" in "$root"/*) echo "--out $out is inside the repository; pick a directory outside it" >&2; exit 2 ;; esac
fi
mkdir -p "$out"

log "committed notebooks carry no outputs"
"$py" - notebooks/*.ipynb <<'EOF'
import sys
import nbformat

bad = []
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    if not any("parameters" in c.metadata.get("tags", []) for c in nb.cells):
        bad.append(f"{path}: no cell tagged 'parameters' (papermill injects parameters after it)")
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code" and (c.outputs or c.execution_count is not None):
            bad.append(f"{path}: cell {i} has outputs or an execution count")
    if "papermill" in nb.metadata:
        bad.append(f"{path}: papermill metadata (an executed copy was committed)")
if bad:
    print("\n".join(bad) + "\nclear them, e.g. jupyter nbconvert --clear-output --inplace FILE", file=sys.stderr)
    sys.exit(1)
EOF

# A kernel that runs this venv's python whatever kernels the user has installed elsewhere:
# JUPYTER_PATH is searched before the user's and the system's kernel directories.
kernel="hsi-venv"
export JUPYTER_PATH="$venv/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
if ! grep -qF "\"$py\"" "$venv/share/jupyter/kernels/$kernel/kernel.json" 2>/dev/null; then
  log "registering the Jupyter kernel $kernel for $py"
  "$py" -m ipykernel install --prefix "$venv" --name "$kernel" --display-name "Python (hsi venv)" >&2
fi

if [ -z "$warehouse" ]; then
  warehouse="$tmp/wh"
  log "creating the demo warehouse $warehouse"
  if [ -n "${HSI_BIN:-}" ]; then
    "$HSI_BIN" run --warehouse "$warehouse" --trial-dir "$tmp/trial" >"$tmp/hsi-run.log" 2>&1 \
      || { cat "$tmp/hsi-run.log" >&2; exit 1; }
  else
    cargo run -q -p hsi-lakehouse --bin hsi -- run --warehouse "$warehouse" --trial-dir "$tmp/trial" \
      >"$tmp/hsi-run.log" 2>&1 || { cat "$tmp/hsi-run.log" >&2; exit 1; }
  fi
fi
[ -f "$warehouse/catalog.db" ] || { echo "no catalog at $warehouse/catalog.db" >&2; exit 1; }
warehouse="$(cd "$warehouse" && pwd)"

log "Trino SQL check (docs/trino) against $warehouse"
"$py" scripts/trino_sql_check.py --warehouse "$warehouse" --catalog-name "$catalog"

# Headless plots. Each notebook runs twice: on DuckDB (no TRINO_HOST), then with TRINO_HOST
# pointing at notebooks/testing/fake_trino.py, a stand-in that speaks Trino's client protocol
# (catalog renamed to `lake` to exercise TRINO_CATALOG) and answers through DuckDB: it tests the
# notebooks' Trino branch and result types, not Trino's SQL semantics.
export MPLBACKEND=Agg
unset TRINO_HOST TRINO_PORT TRINO_USER TRINO_CATALOG TRINO_PASSWORD TRINO_HTTP_SCHEME
fake_pid=""
trap 'if [ -n "$fake_pid" ]; then kill "$fake_pid" 2>/dev/null || true; fi; rm -rf "$tmp"' EXIT
"$py" notebooks/testing/fake_trino.py --warehouse "$warehouse" --catalog-name "$catalog" --catalog lake --user hsi-check \
  --port-file "$tmp/trino.port" 2>"$tmp/fake-trino.log" &
fake_pid=$!
# Up to 2 min: importing duckdb/pyiceberg is slow on a loaded 2-core machine.
for _ in $(seq 1 600); do
  [ -s "$tmp/trino.port" ] && break
  kill -0 "$fake_pid" 2>/dev/null || break
  sleep 0.2
done
[ -s "$tmp/trino.port" ] || { cat "$tmp/fake-trino.log" >&2; echo "the fake Trino server did not start" >&2; exit 1; }
trino_port="$(cat "$tmp/trino.port")"

run_notebook() {  # run_notebook ENGINE NOTEBOOK
  local engine="$1" nb="$2" name extra=() s
  name="$(basename "$nb" .ipynb)-$engine.ipynb"
  if grep -q '"scratch_dir = ' "$nb"; then extra=(-p scratch_dir "$tmp/scratch-$name"); fi
  log "papermill $(basename "$nb") ($engine)"
  s=$(date +%s)
  if ! "$venv/bin/papermill" "$nb" "$out/$name" --kernel "$kernel" --cwd notebooks \
      --no-progress-bar --execution-timeout 600 \
      -p warehouse "$warehouse" -p catalog_name "$catalog" "${extra[@]}" 2>"$tmp/papermill.log"; then
    grep -v "Kernel is running over TCP" "$tmp/papermill.log" >&2 || true
    if [ "$out" = "$tmp/out" ]; then
      mkdir -p "${TMPDIR:-/tmp}/hsi-notebooks-failed"
      cp "$out/$name" "${TMPDIR:-/tmp}/hsi-notebooks-failed/" 2>/dev/null || true
      echo "notebook $name failed; the executed copy is in ${TMPDIR:-/tmp}/hsi-notebooks-failed/$name" >&2
    else
      echo "notebook $name failed; the executed copy is $out/$name" >&2
    fi
    exit 1
  fi
  log "$name ok ($(( $(date +%s) - s ))s, $(du -k "$out/$name" | cut -f1) KB executed)"
}

for nb in notebooks/*.ipynb; do
  run_notebook duckdb "$nb"
done
for nb in notebooks/*.ipynb; do
  TRINO_HOST=127.0.0.1 TRINO_PORT="$trino_port" TRINO_CATALOG=lake TRINO_USER=hsi-check \
    run_notebook trino "$nb"
done
kill "$fake_pid" 2>/dev/null || true
fake_pid=""

log "all notebooks and the Trino SQL check passed"
