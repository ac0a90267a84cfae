#!/usr/bin/env bash
# The README's two commands on a fresh machine, run by hand before a release (not in CI: it is a
# second cold build, about an hour on 2 cores).
#
#   sudo scripts/fresh_machine_check.sh [--ci] [--keep] [--work DIR]
#
# It builds a fresh Debian 12 root with debootstrap (the standard variant, like a new server),
# adds only what "a machine with Rust and Python" has: Python 3, the Rust toolchain this machine
# uses (copied in; with gcc, which rustup's toolchain needs as its linker) and the host's CA
# bundle (the registries may sit behind a TLS proxy). No HDF5, no pkg-config, no npm, no venv
# module, empty ~/.cache and ~/.cargo. It clones this repository's HEAD into DIR/root/work/hsi
# beside a copy of ../shared, then, inside the chroot, runs the README's two commands exactly as
# printed there (read from README.md, the two ```sh blocks of "The two commands"), timing each.
#
# --ci     run `.ci/run` in place of the second command: it runs the same test command as its
#          last step and also prints the CI step times, i.e. the cold CI budget
# --keep   keep DIR afterwards (default: removed on success)
# --resume continue in a kept DIR (--work DIR): pull this repository's HEAD into its clone and
#          run the second command (or .ci/run) again, e.g. after fixing what the first try
#          found; the first command's build and the caches it made stay
# --work   where to build the root (default: a new directory under /var/tmp)
#
# Prints the time of each command; the figures go to docs/benchmarks.md, "CI budget".
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
ci=0 keep=0 work="" resume=0
while [ $# -gt 0 ]; do
  case "$1" in
    --ci) ci=1 ;;
    --keep) keep=1 ;;
    --resume) resume=1; keep=1 ;;
    --work) work="$2"; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "run as root (debootstrap, chroot, mounts)" >&2; exit 1; }
log() { echo "[fresh $(date +%T)] $*" >&2; }
shared="$(cd "$here/../shared" && pwd)"
[ -d "$shared/data" ] || { echo "no ../shared/data beside the repository" >&2; exit 1; }

# The two commands, as the README prints them.
readme_cmds=$(awk '/^## The two commands/{on=1} /^## /&&!/The two commands/{on=0} on&&/^```sh/{b=1;next} on&&/^```/{b=0} b' "$here/README.md")
cmd1=$(echo "$readme_cmds" | sed -n 1p)
cmd2=$(echo "$readme_cmds" | sed -n 2p)
[ -n "$cmd1" ] && [ -n "$cmd2" ] || { echo "cannot find the two commands in README.md" >&2; exit 1; }
log "command 1: $cmd1"
log "command 2: $cmd2"

command -v debootstrap >/dev/null || { log "installing debootstrap"; apt-get install -y -qq debootstrap >&2; }
if [ "$resume" -eq 1 ] && [ ! -d "$work/root/work/hsi" ]; then
  echo "--resume needs --work DIR of a kept run" >&2; exit 2
fi
work="${work:-$(mktemp -d /var/tmp/hsi-fresh-XXXXXX)}"
root="$work/root"
mounted=()
cleanup() {
  local rc=$?
  for ((i=${#mounted[@]}-1; i>=0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
  if [ "$keep" -eq 0 ] && [ "$rc" -eq 0 ]; then rm -rf "$work"; else log "kept $work"; fi
}
trap cleanup EXIT

# 1. A fresh Debian 12 (the base tarball is cached: it is the OS, not the project's caches).
base="${HSI_CACHE:-$HOME/.cache/hsi}/debootstrap-bookworm.tgz"
t=$(date +%s)
if [ ! -f "$base" ]; then
  log "debootstrap bookworm (once; cached as $base)"
  mkdir -p "$(dirname "$base")"
  debootstrap --make-tarball="$base" bookworm "$work/tarball-tmp" http://deb.debian.org/debian >&2
  rm -rf "$work/tarball-tmp"
fi
if [ "$resume" -eq 0 ]; then
  debootstrap --unpack-tarball="$base" bookworm "$root" http://deb.debian.org/debian >&2
  log "root ready in $(( $(date +%s) - t ))s"
fi

mnt() { mount "$@"; mounted+=("${@: -1}"); }
mnt -t proc proc "$root/proc"
mnt -t sysfs sys "$root/sys"
mnt --bind /dev "$root/dev"
mnt --bind /dev/pts "$root/dev/pts"
mnt -t tmpfs tmpfs "$root/dev/shm"
cp /etc/resolv.conf "$root/etc/resolv.conf"
if [ "$resume" -eq 1 ]; then
  git -C "$root/work/hsi" pull -q --ff-only "$here" HEAD
  log "resumed in $work at $(git -C "$root/work/hsi" log --oneline -1)"
else
cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || true
cp /etc/apt/apt.conf.d/99* "$root/etc/apt/apt.conf.d/" 2>/dev/null || true

# 2. "Only Rust and Python": Python 3 and ca-certificates from apt, gcc for rustc's linker, the
#    host's Rust toolchain, the host's CA bundle.
chroot "$root" /bin/bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 ca-certificates gcc libc6-dev' >&2
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
toolchain="$(rustc --print sysroot)"
mkdir -p "$root/opt/rust"
cp -a "$toolchain/." "$root/opt/rust/"
for check in "pkg-config --exists hdf5" "command -v npm" "python3 -c 'import ensurepip'" "test -d /root/.cache"; do
  if chroot "$root" /bin/bash -c "$check" 2>/dev/null; then log "not fresh: '$check' succeeds"; exit 1; fi
done

# 3. The repository (HEAD) beside a copy of shared/.
mkdir -p "$root/work"
git clone -q "$here" "$root/work/hsi"
cp -a "$shared" "$root/work/shared"
fi

# 4. The two commands, as printed, each timed.
run_in() { # label command
  local t0 rc; t0=$(date +%s)
  log "running ($1): $2"
  set +e
  chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
    PATH=/opt/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd /work/hsi && $2" 2>&1 | tee "$work/$1.log"
  rc=${PIPESTATUS[0]}
  set -e
  times+=("$1: exit $rc after $(( $(date +%s) - t0 ))s ($2)")
  return "$rc"
}
times=()
status=0
[ "$resume" -eq 0 ] && { run_in first "$cmd1" || status=1; }
if [ "$ci" -eq 1 ]; then
  run_in ci ".ci/run" || status=1
else
  run_in second "$cmd2" || status=1
fi
echo
echo "fresh machine check ($(nproc) cores, $(date -u +%F)):"
printf '  %s\n' "${times[@]}"
[ "$ci" -eq 1 ] && grep -A40 "=== CI step times" "$work/ci.log" | sed 's/^/  /'
exit "$status"
