#!/usr/bin/env bash
# Edge daemon benchmark (issue 5):
#  1. outbox -> broker: chunks/s and MB/s while the daemon drains a full outbox into tansu;
#  2. the daemon's overhead over `hsi-edge process` on the same cubes (same profile, CPU).
#
#   scripts/bench/edge_daemon.sh [CUBES] [SIZE]        # default 4 cubes of 64MB
#   BIN=target/debug/hsi-edge scripts/bench/edge_daemon.sh   # use an existing binary
#
# Needs tansu (HSI_TANSU or ~/.cache/hsi/tansu-0.6.0/bin/tansu) and curl.
set -euo pipefail
n="${1:-4}"
size="${2:-64MB}"
profile="${BENCH_PROFILE:-full}"
max_message="${BENCH_MAX_MESSAGE:-983616}"   # kafka.max_message_bytes (tansu: keep < 5 MiB)
if [ -z "${BIN:-}" ]; then
  source "$(dirname "$0")/common.sh"
else
  root="$(cd "$(dirname "$0")/../.." && pwd)"
  bin="$(cd "$root" && realpath "$BIN")"
  work="${BENCH_DIR:-$HOME/.cache/hsi/bench}"
  mkdir -p "$work"
fi
# The container image's allocator settings (edge/Dockerfile; common.sh sets them too).
export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-1073741824}"
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-67108864}"
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}"
tansu="${HSI_TANSU:-$HOME/.cache/hsi/tansu-0.6.0/bin/tansu}"
[ -x "$tansu" ] || { echo "no tansu at $tansu (scripts/bootstrap.sh builds it)" >&2; exit 1; }

trial="$work/daemon-synth-$size-$n"
if ! [ "$(ls "$trial"/cubes/*.h5 2>/dev/null | wc -l)" -ge "$n" ]; then
  "$bin" synth --out "$trial" --size "$size" --cubes "$n" >&2
fi
run="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$run"; }
trap cleanup EXIT
port=$((20000 + RANDOM % 20000)); http=$((port + 1))

# 1. `hsi-edge process`, the baseline.
t0=$(date +%s.%N)
"$bin" process -i "$trial/cubes" -o "$run/process" --profile "$profile" --device cpu --quiet --json > "$run/process.json"
t1=$(date +%s.%N)
process_s=$(echo "$t1 - $t0" | bc -l)

# 2. The daemon with the broker down: it processes every cube into the outbox.
mkdir -p "$run/landing" "$run/tansu"
cat > "$run/edge.toml" <<TOML
[landing]
dir = "$run/landing"
poll_interval = "100ms"
settle = "0s"
[outbox]
dir = "$run/outbox"
cap_bytes = 68719476736
[state]
dir = "$run/state"
[processing]
profile = "$profile"
device = "cpu"
[kafka]
bootstrap = "127.0.0.1:$port"
max_in_flight = 256
max_message_bytes = $max_message
[http]
listen = "127.0.0.1:$http"
TOML
start_tansu() {
  (cd "$run/tansu" && RUST_LOG=warn exec "$tansu" broker --listener-url "tcp://127.0.0.1:$port" \
     --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine sqlite://tansu.db \
     >>"$run/tansu.log" 2>&1) &
  tansu_pid=$!
  pids+=("$tansu_pid")
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && return; sleep 0.1; done
}
start_tansu
"$tansu" topic create --broker "tcp://127.0.0.1:$port" --partitions 3 hsi.silver.v1 >/dev/null
kill "$tansu_pid"; wait "$tansu_pid" 2>/dev/null || true

"$bin" --log-format json run --config "$run/edge.toml" 2> "$run/daemon.log" &
pids+=($!)
metric() { curl -sf "http://127.0.0.1:$http/metrics" | awk -v m="$1" '$1==m {print $2}'; }
until [ -n "$(metric hsi_edge_cubes_processed_total 2>/dev/null)" ]; do sleep 0.2; done
d0=$(date +%s.%N)
for c in $(ls "$trial"/cubes/*.h5 | head -n "$n"); do
  cp "$c" "$run/landing/$(basename "$c").partial"
  mv "$run/landing/$(basename "$c").partial" "$run/landing/$(basename "$c")"
done
until [ "$(metric hsi_edge_cubes_processed_total)" = "$n" ]; do sleep 0.1; done
d1=$(date +%s.%N)
daemon_s=$(echo "$d1 - $d0" | bc -l)
chunks=$(metric hsi_edge_outbox_chunks_pending)
bytes=$(metric hsi_edge_outbox_bytes)

# 3. Broker back: measure the drain from the first acknowledged chunk to the last.
start_tansu
first=""; last=""
while :; do
  sent=$(metric hsi_edge_kafka_chunks_sent_total)
  now=$(date +%s.%N)
  if [ -z "$first" ] && [ "${sent:-0}" -gt 0 ]; then first=$now; first_sent=$sent; fi
  if [ "${sent:-0}" -ge "$chunks" ]; then last=$now; break; fi
  sleep 0.05
done
drain_s=$(echo "$last - $first" | bc -l)
drained=$((chunks - first_sent))
sent_bytes=$(metric hsi_edge_kafka_bytes_sent_total)

per_cube=$(grep '"cube processed into the outbox"' "$run/daemon.log" | sed -E 's/.*"seconds":([0-9.e-]+).*/\1/' | paste -sd+ | bc -l)
python3 - "$run/process.json" <<PY
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
proc = sum(r["seconds"] for r in rows)
raw = sum(r["raw_bytes"] for r in rows)
print(f"cubes: $n x $size ({raw/1e6:.0f} MB raw), profile $profile, CPU calibrator, max_message_bytes $max_message")
print(f"hsi-edge process: {proc:.2f} s in-process ({$process_s:.2f} s wall)")
print(f"daemon processing: {$per_cube:.2f} s in-process, {$daemon_s:.2f} s landing->outbox wall")
print(f"daemon/process ratio: {$per_cube/proc:.3f} (in-process), {$daemon_s/$process_s:.3f} (wall)")
print(f"outbox: {$chunks} chunks, {$bytes/1e6:.1f} MB")
print(f"outbox -> broker: {$drained} chunks in {$drain_s:.2f} s = {$drained/$drain_s:.0f} chunks/s, "
      f"{$sent_bytes*$drained/$chunks/1e6/$drain_s:.1f} MB/s")
PY
