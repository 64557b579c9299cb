#!/usr/bin/python3
"""Renders deploy/k8s and checks what a cluster would run.

1. Every object in the kustomize sources validates against the Kubernetes,
   prometheus-operator and CloudNativePG schemas, with unknown keys rejected
   (deploy/k8s/validate/validate.mjs; `make deps` installs its npm packages).
2. Needs kubectl with kustomize v4 or newer (components, `labels`): both
   overlays render with and without each component, and every rendered object
   validates as in 1.
3. The rendered dev overlay runs: each service binary starts with the
   Deployment's command, args and env (ports moved to free loopback ports,
   mounted files to a temporary directory, Redis to a redis-server started with
   the rendered Redis args) and answers its readiness probe's gRPC health check
   with SERVING and its metrics port with /metrics; every SIGHTLINE_* variable
   the overlays set is a flag of the binary (unknown ones would be ignored).

Without a suitable kubectl, 1 runs and the test exits 77 (ctest: skipped).
"""

import base64
import copy
import itertools
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import grpc
import yaml

ROOT = pathlib.Path(sys.argv[1]).resolve()
K8S = ROOT / "deploy" / "k8s"
VALIDATE = K8S / "validate"
COMPONENTS = ["monitoring", "cloudnative-pg"]
SKIP = 77
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, flush=True)


def load_all(text):
    return [d for d in yaml.safe_load_all(text) if d]


def validate(objects, what):
    node = shutil.which("node")
    if node is None or not (VALIDATE / "node_modules").is_dir():
        fail("needs node and deploy/k8s/validate/node_modules (run `make deps` or "
             "scripts/npm-deps.sh deploy/k8s/validate)")
        return
    r = subprocess.run([node, str(VALIDATE / "validate.mjs")], input=json.dumps(objects),
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        fail(f"{what}: schema check failed:\n{r.stdout}{r.stderr}")
    else:
        print(f"{what}: {r.stderr.strip()}", flush=True)


def source_objects():
    """Every object in a resource file of the base, the overlays and the components."""
    objects = []
    for kust in sorted(K8S.glob("**/kustomization.yaml")):
        if "node_modules" in kust.parts:
            continue
        spec = yaml.safe_load(kust.read_text())
        for res in spec.get("resources", []):
            path = kust.parent / res
            if path.is_file():
                objects += load_all(path.read_text())
    return objects


def kubectl_with_components():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None, "no kubectl on PATH"
    r = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True)
    try:
        kv = json.loads(r.stdout).get("kustomizeVersion", "")
    except json.JSONDecodeError:
        kv = ""
    m = re.match(r"v(\d+)\.", kv)
    if not m or int(m.group(1)) < 4:
        return None, f"kubectl's kustomize is {kv or 'unknown'} (Debian 12's kubernetes-client 1.20 has v2)"
    return kubectl, kv


def render(kubectl, tree, overlay, components):
    kust = tree / "overlays" / overlay / "kustomization.yaml"
    spec = yaml.safe_load(kust.read_text())
    if components:
        spec["components"] = [f"../../components/{c}" for c in components]
    kust.write_text(yaml.safe_dump(spec, sort_keys=False))
    r = subprocess.run([kubectl, "kustomize", str(kust.parent)], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail(f"kubectl kustomize {overlay} + {components}: {r.stderr.strip()}")
        return None
    return load_all(r.stdout)


def check_rendering(objects, overlay, components):
    """What must hold in every rendering, beyond the schemas."""
    label = f"{overlay} + {', '.join(components) or 'no components'}"
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    namespaces = {o["metadata"].get("namespace") for o in objects}
    if len(namespaces) != 1 or None in namespaces:
        fail(f"{label}: objects not all in the overlay's namespace: {namespaces}")
    if ("NetworkPolicy", "default-deny") not in kinds:
        fail(f"{label}: no default-deny NetworkPolicy")
    if ("PodDisruptionBudget", "redis") not in kinds and overlay == "production":
        fail(f"{label}: Redis has no PodDisruptionBudget")
    if "monitoring" in components:
        if not any(k == "ServiceMonitor" for k, _ in kinds):
            fail(f"{label}: no ServiceMonitor")
        services = [o for o in objects if o["kind"] == "Service"
                    and o["metadata"].get("labels", {}).get("app.kubernetes.io/name")]
        for svc in services:
            if "metrics" not in [p["name"] for p in svc["spec"]["ports"]]:
                fail(f"{label}: Service {svc['metadata']['name']} is scraped but has no metrics port")
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    # Ports as rendered: probes, flags, annotations and Services agree.
    for name, d in deployments.items():
        if name == "redis":
            continue
        tmpl = d["spec"]["template"]
        (c,) = tmpl["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        args = c.get("args", [])
        if f"--grpc_address=0.0.0.0:{ports.get('grpc')}" not in args:
            fail(f"{label}: {name} --grpc_address is not its grpc port {ports.get('grpc')}")
        if f"--metrics_address=0.0.0.0:{ports.get('metrics')}" not in args:
            fail(f"{label}: {name} --metrics_address is not its metrics port {ports.get('metrics')}")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if c.get(probe, {}).get("grpc", {}).get("port") != ports.get("grpc"):
                fail(f"{label}: {name} {probe} is not a gRPC probe on port {ports.get('grpc')}")
        if tmpl["metadata"].get("annotations", {}).get("prometheus.io/port") != str(ports.get("metrics")):
            fail(f"{label}: {name} prometheus.io/port is not its metrics port")
        for svc in (o for o in objects if o["kind"] == "Service" and o["spec"].get("selector") == {"app": name}):
            for port in svc["spec"]["ports"]:
                if port["targetPort"] not in ports or ports[port["targetPort"]] != port["port"]:
                    fail(f"{label}: Service {svc['metadata']['name']} port {port} does not match {ports}")
    if "cloudnative-pg" in components and overlay == "production":
        clusters = {o["metadata"]["name"] for o in objects if o["kind"] == "Cluster"}
        for name, d in deployments.items():
            if name == "redis":
                continue
            env = {e["name"]: e for e in d["spec"]["template"]["spec"]["containers"][0].get("env", [])}
            ref = env.get("SIGHTLINE_DB", {}).get("valueFrom", {}).get("secretKeyRef", {})
            if ref != {"name": f"{name}-db-app", "key": "uri"} or f"{name}-db" not in clusters:
                fail(f"{label}: {name} does not read its database from the Cluster {name}-db's Secret: {ref}")
        if ("NetworkPolicy", "allow-external-postgres") in kinds:
            fail(f"{label}: the external PostgreSQL egress stays with the operator's clusters")
    return deployments


# --- running the rendered services -------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health_request(service):
    data = service.encode()
    return b"\x0a" + bytes([len(data)]) + data if data else b""


def health_status(port, service):
    """grpc.health.v1 Check, encoded by hand: 1 = SERVING."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        check = ch.unary_unary("/grpc.health.v1.Health/Check")
        try:
            answer = check(health_request(service), timeout=2)
        except grpc.RpcError as e:
            return e.code().name
    return {b"\x08\x01": "SERVING", b"\x08\x02": "NOT_SERVING"}.get(answer, answer.hex())


def known_flags(binary):
    r = subprocess.run([binary, "--helpfull"], capture_output=True, text=True, timeout=30)
    return set(re.findall(r"^\s+--([a-z0-9_]+) \(", r.stdout + r.stderr, re.M))


def run_dev(objects, binaries, tmp):
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "sightline-config")
    secrets = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Secret"}
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    order = [n for n in ("people", "goals", "feedback", "metrics") if n in deployments]
    ports = {n: (free_port(), free_port()) for n in order}
    procs = []
    try:
        # Redis with the rendered arguments.
        (rc,) = deployments["redis"]["spec"]["template"]["spec"]["containers"]
        redis_port = free_port()
        rdir = tmp / "redis"
        rdir.mkdir()
        redis = subprocess.Popen(["redis-server", *rc.get("args", []), "--port", str(redis_port),
                                  "--bind", "127.0.0.1", "--dir", str(rdir)],
                                 stdout=open(rdir / "log", "w"), stderr=subprocess.STDOUT)
        procs.append(("redis", redis))
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", redis_port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if redis.poll() is not None or time.monotonic() > deadline:
                fail(f"redis-server does not start with the rendered args: {(rdir / 'log').read_text()}")
                return
            time.sleep(0.1)

        def rewrite(value, mounts):
            for mount, local in mounts.items():
                if value.startswith(mount):
                    value = str(local) + value[len(mount):]
            value = value.replace("redis:6379", f"127.0.0.1:{redis_port}")
            for n, (g, _) in ports.items():
                value = re.sub(rf"\b{n}(-headless)?:\d+\b", f"127.0.0.1:{g}", value)
            return value.replace("0.0.0.0:", "127.0.0.1:")

        for name in order:
            pod = deployments[name]["spec"]["template"]["spec"]
            (c,) = pod["containers"]
            binary = binaries.get(os.path.basename(c["command"][0]))
            if binary is None:
                fail(f"{name}: no built binary for {c['command'][0]}")
                continue
            flags = known_flags(binary)
            root = tmp / name
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            mounts = {}
            for vm in c.get("volumeMounts", []):
                local = root / vm["mountPath"].lstrip("/")
                local.mkdir(parents=True)
                vol = volumes[vm["name"]]
                if "secret" in vol:
                    secret = secrets.get(vol["secret"]["secretName"])
                    if secret is None:
                        fail(f"{name}: mounts Secret {vol['secret']['secretName']}, which the overlay does not make")
                        continue
                    for key, b64 in secret.get("data", {}).items():
                        (local / key).write_bytes(base64.b64decode(b64))
                mounts[vm["mountPath"]] = local
            env = {"PATH": "/usr/bin:/bin"}
            for src in c.get("envFrom", []):
                env.update(config["data"] if src.get("configMapRef", {}).get("name") == "sightline-config" else {})
            for e in c.get("env", []):
                if "value" in e:
                    env[e["name"]] = e["value"]
                else:
                    fail(f"{name}: env {e['name']} comes from {e.get('valueFrom')} in the dev overlay")
            for var in env:
                if var.startswith("SIGHTLINE_") and var[len("SIGHTLINE_"):].lower() not in flags:
                    fail(f"{name}: {var} is not a flag of {c['command'][0]}")
            env = {k: rewrite(v, mounts) for k, v in env.items()}
            args = [rewrite(a, mounts) for a in c.get("args", [])]
            grpc_port, metrics_port = ports[name]
            args = [re.sub(r"^(--grpc_address=127\.0\.0\.1:)\d+$", rf"\g<1>{grpc_port}", a) for a in args]
            args = [re.sub(r"^(--metrics_address=127\.0\.0\.1:)\d+$", rf"\g<1>{metrics_port}", a) for a in args]
            log = root / "log"
            p = subprocess.Popen([binary, *args], env=env, cwd=root, stdout=open(log, "w"),
                                 stderr=subprocess.STDOUT)
            procs.append((name, p))
            service = c["readinessProbe"]["grpc"].get("service", "")
            deadline = time.monotonic() + 60
            status = None
            while time.monotonic() < deadline and p.poll() is None:
                status = health_status(grpc_port, service)
                if status == "SERVING":
                    break
                time.sleep(0.2)
            if status != "SERVING":
                fail(f"{name}: readiness check of {service!r} is {status}, exit {p.poll()}:\n{log.read_text()[-2000:]}")
                continue
            if health_status(grpc_port, "") != "SERVING":
                fail(f"{name}: the liveness probe's (overall) health is not SERVING")
            body = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
            if "grpc_server_started_total" not in body:
                fail(f"{name}: the metrics port serves no gRPC server metrics")
            print(f"{name}: {os.path.basename(binary)} {' '.join(args)} -> SERVING, /metrics ok", flush=True)
    finally:
        for name, p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in reversed(procs):
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def main():
    validate(source_objects(), "kustomize sources")
    kubectl, why = kubectl_with_components()
    if kubectl is None:
        print(f"SKIPPED rendering, rendered-object schemas and running the rendered dev overlay: {why}; "
              "they need kubectl >= 1.21 (kustomize v4+) on PATH", flush=True)
        return 1 if failures else SKIP
    print(f"kubectl: {kubectl} (kustomize {why})", flush=True)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = pathlib.Path(tmpdir)
        dev = None
        for overlay in ("dev", "production"):
            for n in range(len(COMPONENTS) + 1):
                for components in itertools.combinations(COMPONENTS, n):
                    tree = tmp / f"tree-{overlay}-{n}-{'-'.join(components)}"
                    shutil.copytree(K8S, tree, ignore=shutil.ignore_patterns("node_modules"))
                    objects = render(kubectl, tree, overlay, list(components))
                    if objects is None:
                        continue
                    label = f"{overlay} + {', '.join(components) or 'no components'}"
                    validate(objects, label)
                    check_rendering(objects, overlay, list(components))
                    if overlay == "dev" and not components:
                        dev = objects
                    if overlay == "production" and not components:
                        flags_only(objects)
        binaries = {}
        for var in ("PEOPLE", "GOALS", "FEEDBACK", "METRICS"):
            path = os.environ.get(f"SIGHTLINE_{var}_BINARY")
            if path:
                binaries[os.path.basename(path)] = path
        if dev is not None:
            run = tmp / "run"
            run.mkdir()
            run_dev(dev, binaries, run)
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("ok")
    return 0


def flags_only(objects):
    """Production sets other variables (RS256, service token): each must be a flag."""
    binaries = {os.path.basename(p): p for p in
                (os.environ.get(f"SIGHTLINE_{v}_BINARY") for v in ("PEOPLE", "GOALS", "FEEDBACK", "METRICS")) if p}
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "sightline-config")
    for d in objects:
        if d["kind"] != "Deployment" or d["metadata"]["name"] == "redis":
            continue
        (c,) = d["spec"]["template"]["spec"]["containers"]
        binary = binaries.get(os.path.basename(c["command"][0]))
        if binary is None:
            fail(f"production {d['metadata']['name']}: no built binary for {c['command'][0]}")
            continue
        flags = known_flags(binary)
        names = list(config["data"]) + [e["name"] for e in c.get("env", [])]
        names += [a.split("=")[0][2:].upper() for a in c.get("args", [])]
        for var in names:
            flag = var[len("SIGHTLINE_"):].lower() if var.startswith("SIGHTLINE_") else var.lower()
            if flag not in flags:
                fail(f"production {d['metadata']['name']}: {var} is not a flag of {c['command'][0]}")


if __name__ == "__main__":
    sys.exit(main())
