#!/usr/bin/env bash
# Install what the build and the tests need, idempotently, and print the environment to use.
#
#   eval "$(scripts/bootstrap.sh)"     # exports HSI_PYTHON, HSI_TANSU and CARGO_TARGET_DIR
#
# - System packages, when missing (scripts/deps.sh): a C compiler, make, pkg-config,
#   libhdf5-dev, python3-venv (apt; sudo when not root).
# - A Python venv with numpy/h5py/pyarrow under $HOME/.cache/hsi/venv-<hash of requirements>,
#   reused by later runs.
# - tansu (the Kafka broker of the tests that restart it), built once by scripts/tansu.sh,
#   unless HSI_SKIP_TANSU_BUILD=1 (scripts/test.sh builds it in the background instead, while
#   the tests that need no tansu run); HSI_TANSU is exported when the binary exists.
# Progress goes to stderr; only `export` lines go to stdout.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${HSI_CACHE:-$HOME/.cache/hsi}"
mkdir -p "$cache"
log() { echo "[bootstrap] $*" >&2; }

# System packages (a C compiler, make, pkg-config, libhdf5-dev, python3-venv), only if missing.
"$root/scripts/deps.sh" build python

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
elif tansu=$("$root/scripts/tansu.sh" --path) && [ -x "$tansu" ]; then
  echo "export HSI_TANSU='$tansu'"
fi

# Build outputs live outside the clone, keyed by toolchain, so CI reruns reuse them.
rustv=$(rustc --version | awk '{print $2}')
echo "export HSI_PYTHON='$venv/bin/python'"
echo "export CARGO_TARGET_DIR='${CARGO_TARGET_DIR:-$cache/target-$rustv}'"
