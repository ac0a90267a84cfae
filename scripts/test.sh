#!/usr/bin/env bash
# Run every test of the workspace (unit, integration, doc tests and the pyarrow interop checks).
# This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/bootstrap.sh)"
# The interop tests must not silently skip here: pyarrow is installed by bootstrap.
export HSI_REQUIRE_PYTHON=1
# moto_server (S3 protocol) comes from the same venv; the S3-warehouse test starts it.
export HSI_MOTO_SERVER="$(dirname "$HSI_PYTHON")/moto_server"
export HSI_REQUIRE_MOTO=1
# tansu (Kafka) is built by bootstrap.sh; the Kafka tests start their own brokers with it.
export HSI_REQUIRE_TANSU=1
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
# The notebooks (papermill) and the Trino SQL examples (sqlglot -> DuckDB) against a fresh demo
# warehouse made by the `hsi` binary the tests just built.
if [ -x "$CARGO_TARGET_DIR/debug/hsi" ]; then export HSI_BIN="$CARGO_TARGET_DIR/debug/hsi"; fi
scripts/notebooks_check.sh
# Terraform: tofu fmt -check, HCL parse, contract tests, checkov (tools cached under ~/.cache/hsi).
scripts/infra_check.sh
# The K3s manifests: render both overlays and validate them (kubernetes-validate --strict).
scripts/k8s_check.sh
