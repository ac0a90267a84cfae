# Shared setup for the bench scripts: toolchain env, release build, a synthetic cube of a size.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
eval "$(scripts/bootstrap.sh)"
work="${BENCH_DIR:-$HOME/.cache/hsi/bench}"
mkdir -p "$work"
# The container image's build (edge/Dockerfile): on x86_64 it targets x86-64-v3 (AVX2, FMA,
# BMI2: every x86 server CPU since 2013-15), as NumPy, OpenBLAS and pyarrow pick their AVX2/AVX-512
# kernels at run time. BENCH_TARGET_CPU=generic builds for the x86-64 baseline (SSE2) instead.
# Such builds get their own target directory so they do not invalidate the test build's cache.
target_cpu="${BENCH_TARGET_CPU:-}"
if [ -z "$target_cpu" ] && [ "$(uname -m)" = x86_64 ] \
   && grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && grep -qw bmi2 /proc/cpuinfo; then
  target_cpu=x86-64-v3
fi
if [ -n "$target_cpu" ] && [ "$target_cpu" != generic ]; then
  export RUSTFLAGS="${RUSTFLAGS:-} -C target-cpu=$target_cpu"
  export CARGO_TARGET_DIR="$CARGO_TARGET_DIR-$target_cpu"
fi
echo "building release hsi-edge (target cpu: ${target_cpu:-generic}) ..." >&2
cargo build --release -q -p hsi-edge --bin hsi-edge
bin="$CARGO_TARGET_DIR/release/hsi-edge"
# The container image's allocator settings (edge/Dockerfile), for every process the benches run,
# the NumPy baseline included: glibc keeps freed memory instead of trimming and re-faulting it,
# and backs the heap with transparent huge pages (fewer page faults).
# BENCH_GLIBC_TUNED=0 runs everything with glibc's defaults instead.
if [ "${BENCH_GLIBC_TUNED:-1}" != 0 ]; then
  export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-1073741824}"
  export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-67108864}"
  export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}"
fi
pin=""
command -v taskset >/dev/null && pin="taskset -c 0"

# synth_cube SIZE -> prints the path of the first cube of a cached synthetic trial of that size
synth_cube() {
  local dir="$work/synth-$1"
  if ! ls "$dir"/cubes/*.h5 >/dev/null 2>&1; then
    echo "synthesising a $1 field trial in $dir ..." >&2
    "$bin" synth --out "$dir" --size "$1" >&2
  fi
  ls "$dir"/cubes/*.h5 | head -1
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
