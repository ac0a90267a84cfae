#!/usr/bin/env bash
# Install the system packages the build needs, only when they are missing, and print nothing on
# stdout. Used by `scripts/hsi` (the README's first command) and `scripts/bootstrap.sh` (tests).
#
#   scripts/deps.sh [build] [python] [npm]   # default: build; idempotent, and a no-op (no
#                                            # root needed) when all are present
#
# What the build needs beyond Rust: C and C++ compilers and make (librdkafka is built from source
# by rdkafka-sys), pkg-config and the HDF5 1.10+ development files (hdf5-metno links libhdf5).
# `python`: Python 3 with its venv module (the test venv). `npm`: npm (OpenTofu for the
# Terraform checks comes from the npm registry). On Debian/Ubuntu they come from apt, with sudo
# when not root. Elsewhere the script names what is missing and stops.
#
# Why the distribution's libhdf5 and not hdf5-metno's `static` feature: the static build needs
# CMake >= 3.26 (not in Debian 12) and adds about 5 min to every cold build; the edge image
# builds on Ubuntu 22.04 with its libhdf5 to match the Jetson userland (edge/Dockerfile).
# docs/operations.md, "Build prerequisites", records the choice.
set -euo pipefail
log() { echo "[deps] $*" >&2; }

[ $# -eq 0 ] && set -- build
missing=()
for group in "$@"; do
  case "$group" in
    build)
      command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
      # librdkafka's configure insists on a C++ compiler (found by scripts/fresh_machine_check.sh).
      command -v c++ >/dev/null 2>&1 || missing+=(g++)
      command -v make >/dev/null 2>&1 || missing+=(make)
      command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
      pkg-config --exists hdf5 2>/dev/null || missing+=(libhdf5-dev)
      ;;
    python)
      command -v python3 >/dev/null 2>&1 || missing+=(python3)
      python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
      ;;
    npm) command -v npm >/dev/null 2>&1 || missing+=(npm) ;;
    *) log "unknown group $group (build, python, npm)"; exit 2 ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  log "missing: ${missing[*]} (Debian names); install them (HDF5 1.10+ with headers) and rerun"
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    log "missing: ${missing[*]}; not root and no sudo: ask an administrator to run"
    log "  apt-get install -y ${missing[*]}"
    exit 1
  fi
  sudo="sudo"
fi
log "installing ${missing[*]} (apt; once)"
$sudo apt-get update -qq >&2 || true
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
