#!/usr/bin/env bash
# Render the k3s overlays and validate every manifest (the K3s deployment's test).
#
#   scripts/k8s_check.sh
#
# - Installs kubernetes-validate (schemas for Kubernetes 1.31, ~110 MB) into its own venv,
#   $HOME/.cache/hsi/venv-k8s-<hash of scripts/requirements-k8s.txt>, once.
# - Renders k3s/overlays/{jetson,cpu} with k3s/render.py; when kubectl is installed, also with
#   `kubectl kustomize`, and fails if the two disagree.
# - Checks the policies (restricted securityContext, probes, scrape annotations, host volumes,
#   the GPU runtime on jetson) and runs `kubernetes-validate --strict -k 1.31.0` on every object.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${HSI_CACHE:-$HOME/.cache/hsi}"
req="$root/scripts/requirements-k8s.txt"
venv="$cache/venv-k8s-$(sha256sum "$req" | cut -c1-12)"
if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -f "$venv/.complete" ]; then
  echo "[k8s_check] installing kubernetes-validate into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2
  touch "$venv/.complete"
fi
py="$venv/bin/python"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for overlay in jetson cpu; do
  dir="$root/k3s/overlays/$overlay"
  "$py" "$root/k3s/render.py" build "$dir" > "$out/$overlay.yaml"
  if command -v kubectl >/dev/null 2>&1; then
    kubectl kustomize "$dir" > "$out/$overlay.kubectl.yaml"
    "$py" "$root/k3s/render.py" same "$out/$overlay.yaml" "$out/$overlay.kubectl.yaml"
  else
    echo "k8s check: kubectl not installed; rendered with k3s/render.py only"
  fi
  "$py" "$root/k3s/render.py" check "$overlay" "$out/$overlay.yaml"
  # One object per file, so a failure names the object.
  "$py" - "$out/$overlay.yaml" "$out/$overlay" <<'PY'
import os, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
os.makedirs(sys.argv[2], exist_ok=True)
for i, d in enumerate(docs):
    with open(os.path.join(sys.argv[2], f"{i:02d}-{d['kind']}-{d['metadata']['name']}.yaml"), "w") as f:
        yaml.safe_dump(d, f)
PY
  "$venv/bin/kubernetes-validate" --strict -k 1.31.0 "$out/$overlay"/*.yaml
done
echo "k8s check: OK"
