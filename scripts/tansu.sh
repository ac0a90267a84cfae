#!/usr/bin/env bash
# Build the tansu Kafka broker (TOOLING.md) once into $HOME/.cache/hsi/tansu-0.6.0 and print its path.
# The Kafka integration tests start their own brokers with it (hsi_edge::testkit::Tansu).
# A cold build takes 20-40 min on 2 cores; later calls return at once.
#
#   scripts/tansu.sh            # build if missing, print the binary's path
#   scripts/tansu.sh --path     # print the path only (the binary may not exist yet)
#   nice scripts/tansu.sh &     # what .ci/run and scripts/test.sh do, in the background
set -euo pipefail
version=0.6.0
cache="${HSI_CACHE:-$HOME/.cache/hsi}"
root="$cache/tansu-$version"
bin="$root/bin/tansu"
if [ "${1:-}" = "--path" ]; then
  echo "$bin"
  exit 0
fi
if [ ! -x "$bin" ]; then
  echo "[tansu] building tansu $version into $root (once; 20-40 min on 2 cores)" >&2
  mkdir -p "$cache"
  # Own lock: two concurrent callers must not both build.
  exec 9>"$cache/tansu-$version.lock"
  flock 9
  if [ ! -x "$bin" ]; then
    cargo install tansu --version "$version" --locked --features libsql,dynostore \
      --root "$root" --target-dir "$cache/tansu-build" >&2
    rm -rf "$cache/tansu-build"
  fi
fi
echo "$bin"
