#!/usr/bin/env python3
"""Render a kustomize overlay of k3s/ without kubectl, and check the manifests' policies.

    render.py build k3s/overlays/jetson > jetson.yaml     # the kustomize subset used here
    render.py check jetson jetson.yaml                     # restricted pod, probes, GPU, ...
    render.py same a.yaml b.yaml                           # same objects (order-insensitive)

The renderer supports exactly what k3s/ uses (resources, namespace, images, patches with a
`path` holding a strategic-merge patch whose lists of named items merge by name, patch items first) and refuses
any other kustomization key, so it can never silently ignore one. `scripts/k8s_check.sh`
compares its output with `kubectl kustomize` whenever kubectl is installed.
"""
import os
import sys
import tomllib

import yaml

CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "RuntimeClass", "StorageClass",
                  "ClusterRole", "ClusterRoleBinding", "PriorityClass"}
KEYS = {"apiVersion", "kind", "namespace", "resources", "images", "patches"}


def fail(msg):
    print(f"k8s check: {msg}", file=sys.stderr)
    sys.exit(1)


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def merge(base, patch):
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = merge(base[k], v) if k in base else v
        return out
    if (isinstance(base, list) and isinstance(patch, list)
            and all(isinstance(i, dict) and "name" in i for i in base + patch)):
        # As kustomize's strategic merge: the patch's items first (merged with the base item of
        # the same name), then the base items the patch does not name.
        named = {b["name"]: b for b in base}
        out = [merge(named[i["name"]], i) if i["name"] in named else i for i in patch]
        return out + [b for b in base if b["name"] not in {i["name"] for i in patch}]
    return patch


def containers(doc):
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("containers", []) + spec.get("initContainers", [])


def build(d):
    with open(os.path.join(d, "kustomization.yaml")) as f:
        k = yaml.safe_load(f)
    unknown = set(k) - KEYS
    if unknown:
        fail(f"{d}: kustomization keys {sorted(unknown)} are not supported by render.py")
    docs = []
    for r in k.get("resources", []):
        p = os.path.join(d, r)
        docs += build(p) if os.path.isdir(p) else load(p)
    for patch in k.get("patches", []):
        if set(patch) != {"path"}:
            fail(f"{d}: only `patches: - path:` is supported")
        for pd in load(os.path.join(d, patch["path"])):
            key = (pd["kind"], pd["metadata"]["name"])
            idx = [i for i, doc in enumerate(docs) if (doc["kind"], doc["metadata"]["name"]) == key]
            if len(idx) != 1:
                fail(f"{d}: patch target {key} found {len(idx)} times")
            docs[idx[0]] = merge(docs[idx[0]], pd)
    for img in k.get("images", []):
        for doc in docs:
            for c in containers(doc):
                name = c["image"].split("@")[0]
                repo = name.rsplit(":", 1)[0] if ":" in name.split("/")[-1] else name
                if repo == img["name"]:
                    new = img.get("newName", repo)
                    c["image"] = f"{new}:{img['newTag']}" if "newTag" in img else new
    ns = k.get("namespace")
    if ns:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc.setdefault("metadata", {})["namespace"] = ns
    return docs


def by_key(docs):
    return {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d for d in docs}


def check(overlay, docs):
    objs = by_key(docs)
    get = lambda kind, name, ns="hsi-edge": objs.get((kind, "" if kind in CLUSTER_SCOPED else ns, name))
    nsdoc = get("Namespace", "hsi-edge")
    if not nsdoc or nsdoc["metadata"]["labels"].get("pod-security.kubernetes.io/enforce") != "restricted":
        fail("the hsi-edge namespace must enforce the restricted Pod Security Standard")
    dep = get("Deployment", "hsi-edge")
    if not dep:
        fail("no Deployment hsi-edge")
    tpl = dep["spec"]["template"]
    pod = tpl["spec"]
    psc = pod.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True or psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        fail("pod securityContext must set runAsNonRoot and the RuntimeDefault seccomp profile")
    if any("hostPath" in v for v in pod.get("volumes", [])):
        fail("pods may not use hostPath volumes under the restricted standard: use the PVs")
    ann = tpl["metadata"].get("annotations", {})
    if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/path") != "/metrics":
        fail("Prometheus scrape annotations are missing")
    c = next(c for c in pod["containers"] if c["name"] == "hsi-edge")
    sc = c.get("securityContext", {})
    if not (sc.get("allowPrivilegeEscalation") is False and sc.get("readOnlyRootFilesystem") is True
            and sc.get("runAsNonRoot") is True and "ALL" in sc.get("capabilities", {}).get("drop", [])):
        fail(f"container securityContext is not restricted: {sc}")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    if int(ann["prometheus.io/port"]) not in ports.values():
        fail("prometheus.io/port is not a container port")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        g = c.get(probe, {}).get("httpGet", {})
        if g.get("path") != "/healthz" or ports.get(g.get("port"), g.get("port")) not in ports.values():
            fail(f"{probe} must GET /healthz on the container port")
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    for name in ("landing", "outbox", "state"):
        claim = vols[name].get("persistentVolumeClaim", {}).get("claimName")
        pvc = get("PersistentVolumeClaim", claim)
        pv = pvc and get("PersistentVolume", pvc["spec"].get("volumeName"))
        if not pv or "hostPath" not in pv["spec"] or pv["spec"].get("persistentVolumeReclaimPolicy") != "Retain":
            fail(f"volume {name} must be a retained host directory (PVC -> hostPath PV)")
    cm = get("ConfigMap", "hsi-edge-config")
    cfg = tomllib.loads(cm["data"]["edge.toml"])
    for section, mount in (("landing", "landing"), ("outbox", "outbox"), ("state", "state")):
        if cfg[section]["dir"] != mounts[mount]:
            fail(f"edge.toml [{section}].dir {cfg[section]['dir']} is not the mount {mounts[mount]}")
    if int(cfg["http"]["listen"].rsplit(":", 1)[1]) != int(ann["prometheus.io/port"]):
        fail("edge.toml [http].listen port differs from the scrape port")
    if any(d.get("kind") == "Secret" for d in docs):
        fail("no Secret may be rendered: re-applying would reset the operator's credentials")
    secret_refs = [e["valueFrom"]["secretKeyRef"] for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
    if {r["name"] for r in secret_refs} != {"hsi-edge-kafka"} or not all(r.get("optional") for r in secret_refs):
        fail("the container must read the Kafka credentials from the operator's Secret, optionally")
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    limits = c.get("resources", {}).get("limits", {})
    if overlay == "jetson":
        if pod.get("runtimeClassName") != "nvidia" or int(limits.get("nvidia.com/gpu", 0)) < 1:
            fail("jetson: runtimeClassName nvidia and an nvidia.com/gpu limit are required")
        if not get("RuntimeClass", "nvidia") or env.get("HSI_DEVICE") != "cuda":
            fail("jetson: RuntimeClass nvidia and HSI_DEVICE=cuda are required")
        if not c["image"].endswith("-jetson"):
            fail("jetson: the image must be the L4T build")
    elif overlay == "cpu":
        if "runtimeClassName" in pod or "nvidia.com/gpu" in limits or env.get("HSI_DEVICE") != "cpu":
            fail("cpu: no GPU runtime or limit, HSI_DEVICE=cpu")
        if not c["image"].endswith("-cpu"):
            fail("cpu: the image must be the slim build")
    print(f"k8s check: {overlay}: {len(docs)} objects, policies OK")


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "build" and len(sys.argv) == 3:
        yaml.safe_dump_all(build(sys.argv[2]), sys.stdout, sort_keys=True)
    elif cmd == "check" and len(sys.argv) == 4:
        check(sys.argv[2], load(sys.argv[3]))
    elif cmd == "same" and len(sys.argv) == 4:
        a, b = by_key(load(sys.argv[2])), by_key(load(sys.argv[3]))
        if a != b:
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            fail(f"render.py and kubectl kustomize disagree on {diff}")
        print(f"k8s check: render.py matches kubectl kustomize ({len(a)} objects)")
    else:
        fail(__doc__)


if __name__ == "__main__":
    main()
