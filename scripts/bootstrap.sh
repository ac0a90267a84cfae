#!/usr/bin/env bash
# Install what the build and the tests need, idempotently, and print the environment to use.
#
#   eval "$(scripts/bootstrap.sh)"     # exports HSI_PYTHON, HSI_TANSU and CARGO_TARGET_DIR
#
# - Debian packages: libhdf5-dev, pkg-config (the HDF5 reader links libhdf5).
# - A Python venv with numpy/h5py/pyarrow under $HOME/.cache/hsi/venv-<hash of requirements>,
#   reused by later runs.
# - tansu (Kafka broker for tests), built once into $HOME/.cache/hsi/tansu-0.6.0.
# Progress goes to stderr; only `export` lines go to stdout.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${HSI_CACHE:-$HOME/.cache/hsi}"
mkdir -p "$cache"
log() { echo "[bootstrap] $*" >&2; }

if ! pkg-config --exists hdf5 2>/dev/null; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo="sudo"
  if command -v apt-get >/dev/null; then
    log "installing libhdf5-dev pkg-config (apt)"
    $sudo apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libhdf5-dev pkg-config >&2
  else
    log "libhdf5 not found and apt-get unavailable: install HDF5 1.10+ development files"
    exit 1
  fi
fi

req="$root/scripts/requirements.txt"
key=$(sha256sum "$req" | cut -c1-12)
venv="$cache/venv-$key"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  log "creating Python venv $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2
  touch "$venv/.complete"
fi

# The Kafka broker of the integration tests (TOOLING.md): tansu, built once by scripts/tansu.sh.
if [ -z "${HSI_SKIP_TANSU_BUILD:-}" ]; then
  echo "export HSI_TANSU='$("$root/scripts/tansu.sh")'"
fi

# Build outputs live outside the clone, keyed by toolchain, so CI reruns reuse them.
rustv=$(rustc --version | awk '{print $2}')
echo "export HSI_PYTHON='$venv/bin/python'"
echo "export CARGO_TARGET_DIR='${CARGO_TARGET_DIR:-$cache/target-$rustv}'"
