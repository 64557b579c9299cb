#!/usr/bin/python3
"""Checks deploy/k8s: every manifest parses, every service Deployment has
probes on its gRPC port (readiness on its own gRPC service name, which must be
defined in proto/), resource requests and a memory limit, runs as non-root
with a read-only root file system, gives shutdown enough time (grace period >
drain + in-flight grace), and its Services point at ports the container
declares. Every service binary (services/<name>/main.cc built by
add_executable(sightline-<name>)) has its manifests everywhere a service is
named: base, both overlays' patches, NetworkPolicy, ServiceMonitor,
CloudNativePG cluster, and the image. With kubectl on PATH, both overlays
must also render (deploy_render_test.py checks the renderings)."""

import pathlib
import re
import shutil
import subprocess
import sys

import yaml

ROOT = pathlib.Path(sys.argv[1])
K8S = ROOT / "deploy" / "k8s"
failures = []


def fail(msg):
    failures.append(msg)


def duration_seconds(text):
    m = re.fullmatch(r"(\d+)s", text)
    if not m:
        fail(f"duration {text!r} is not in seconds")
        return 0
    return int(m.group(1))


proto_services = set()
for proto in (ROOT / "proto").rglob("*.proto"):
    body = proto.read_text()
    package = re.search(r"^package\s+([\w.]+);", body, re.M).group(1)
    for name in re.findall(r"^service\s+(\w+)", body, re.M):
        proto_services.add(f"{package}.{name}")

base = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
docs = []
for resource in base["resources"]:
    path = K8S / "base" / resource
    if not path.exists():
        fail(f"kustomization names a missing file: {resource}")
        continue
    docs += [d for d in yaml.safe_load_all(path.read_text()) if d]

config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "sightline-config")
drain = duration_seconds(config["data"]["SIGHTLINE_SHUTDOWN_DRAIN"])
grace = duration_seconds(config["data"]["SIGHTLINE_SHUTDOWN_GRACE"])

services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
checked = 0
for d in docs:
    if d["kind"] != "Deployment" or d["metadata"]["name"] == "redis":
        continue
    checked += 1
    name = d["metadata"]["name"]
    spec = d["spec"]["template"]["spec"]
    if spec.get("terminationGracePeriodSeconds", 30) <= drain + grace:
        fail(f"{name}: terminationGracePeriodSeconds must exceed drain {drain}s + grace {grace}s")
    if not spec.get("securityContext", {}).get("runAsNonRoot"):
        fail(f"{name}: must run as non-root")
    (c,) = spec["containers"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    grpc_port = ports.get("grpc")
    args = " ".join(c.get("args", []))
    if f"--grpc_address=0.0.0.0:{grpc_port}" not in args:
        fail(f"{name}: --grpc_address does not match the grpc port {grpc_port}")
    if f"--metrics_address=0.0.0.0:{ports.get('metrics')}" not in args:
        fail(f"{name}: --metrics_address does not match the metrics port")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        p = c.get(probe, {}).get("grpc")
        if not p or p.get("port") != grpc_port:
            fail(f"{name}: {probe} must be a gRPC probe on port {grpc_port}")
    readiness = c["readinessProbe"]["grpc"].get("service")
    if readiness not in proto_services:
        fail(f"{name}: readiness probe service {readiness!r} is not a service in proto/")
    res = c.get("resources", {})
    if "requests" not in res or "memory" not in res.get("limits", {}):
        fail(f"{name}: needs resource requests and a memory limit")
    sc = c.get("securityContext", {})
    if not sc.get("readOnlyRootFilesystem") or sc.get("allowPrivilegeEscalation", True):
        fail(f"{name}: needs a read-only root file system and no privilege escalation")
    for svc_name in (name, f"{name}-headless"):
        svc = services.get(svc_name)
        if svc is None:
            fail(f"{name}: no Service {svc_name}")
            continue
        for port in svc["spec"]["ports"]:
            if port["targetPort"] not in ports:
                fail(f"{svc_name}: targetPort {port['targetPort']} is not a container port")

if checked == 0:
    fail("no service Deployment found")

# Every service binary the build makes is deployed.
binaries = []
for cmake in sorted((ROOT / "services").glob("*/CMakeLists.txt")):
    name = cmake.parent.name
    if (cmake.parent / "main.cc").exists() and re.search(
            rf"add_executable\(\s*sightline-{re.escape(name)}\b", cmake.read_text()):
        binaries.append(name)
if not binaries:
    fail("no service binary found under services/")
deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
texts = {
    "the dev overlay's patches": (K8S / "overlays" / "dev" / "kustomization.yaml").read_text(),
    "the production overlay's patches": (K8S / "overlays" / "production" / "kustomization.yaml").read_text(),
    "the ServiceMonitor": (K8S / "components" / "monitoring" / "service-monitor.yaml").read_text(),
    "the CloudNativePG clusters": (K8S / "components" / "cloudnative-pg" / "clusters.yaml").read_text(),
    "the CloudNativePG component": (K8S / "components" / "cloudnative-pg" / "kustomization.yaml").read_text(),
    "deploy/docker/Dockerfile": (ROOT / "deploy" / "docker" / "Dockerfile").read_text(),
    "deploy/image/build.sh": (ROOT / "deploy" / "image" / "build.sh").read_text(),
}
patterns = {
    "the dev overlay's patches": r'name: "[^"]*\b{n}\b',
    "the production overlay's patches": r'name: "[^"]*\b{n}\b',
    "the ServiceMonitor": r"values: \[[^\]]*\b{n}\b",
    "the CloudNativePG clusters": r"name: {n}-db\b",
    "the CloudNativePG component": r"secretKeyRef: {{name: {n}-db-app, key: uri}}",
    "deploy/docker/Dockerfile": r"\bsightline-{n}\b",
    "deploy/image/build.sh": r"\bsightline-{n}\b",
}
for name in binaries:
    if f"{name}.yaml" not in base["resources"]:
        fail(f"service {name}: deploy/k8s/base/{name}.yaml is not in the base kustomization")
    if name not in deployments:
        fail(f"service {name}: no Deployment in the base")
    if not any(p["spec"]["podSelector"].get("matchLabels") == {"app": name} for p in policies):
        fail(f"service {name}: no NetworkPolicy of its own (callers and egress)")
    for what, text in texts.items():
        if not re.search(patterns[what].format(n=re.escape(name)), text):
            fail(f"service {name}: missing from {what}")

kubectl = shutil.which("kubectl")
for overlay in ("dev", "production"):
    path = K8S / "overlays" / overlay / "kustomization.yaml"
    if not path.exists():
        fail(f"missing overlay {overlay}")
        continue
    yaml.safe_load(path.read_text())
    if kubectl:
        r = subprocess.run([kubectl, "kustomize", str(path.parent)], capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"kubectl kustomize {overlay}: {r.stderr.strip()}")
        elif overlay == "dev" and "HorizontalPodAutoscaler" in r.stdout:
            fail("dev overlay keeps an autoscaler: SQLite must not have replicas")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"services {', '.join(binaries)}; checked {checked} deployments; kubectl {'used' if kubectl else 'not found: overlays parsed only'}")
