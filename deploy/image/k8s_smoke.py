#!/usr/bin/python3
"""make k8s-smoke: the dev overlay, rendered by kubectl, run by `podman play
kube` from the image `make image` built, then called through the network.

Each Deployment becomes a Pod of one replica (imagePullPolicy: Never, the
image's local tag), on a podman network of its own with a fixed address per
Pod; the Services' names (people, people-headless, redis, ...) become
hostAliases of every Pod, so the rendered addresses are used unchanged. The
ConfigMap is inlined as env, Secret and emptyDir volumes become host
directories (podman 4.3 plays neither gRPC probes nor Services, so the probes'
health checks are made from here, and it would publish container ports on the
host, so they are left out). redis:7.0 is replaced by the local
sightline-redis:7.0. Checks: each service's readiness health check is SERVING,
then real RPCs: people imports examples/roster.csv, goals creates a cycle and
a company goal, feedback records praise (goals and feedback ask people),
metrics builds the CEO's scorecard (it reads goals and feedback: the goals
part must be COMPLETE, no part MISSING). Everything is torn down.

Usage: k8s_smoke.py REPO BUILD_DIR   (as root; needs podman, kubectl)
"""

import base64
import copy
import json
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile
import time

import grpc
import yaml

ROOT = pathlib.Path(sys.argv[1]).resolve()
BUILD = pathlib.Path(sys.argv[2]).resolve()
CLI = str(BUILD / "tools" / "cli" / "sightline")
IMAGES = {"sightline": "localhost/sightline:0.1.0", "redis": "localhost/sightline-redis:7.0"}
ENV = dict(os.environ, CONTAINERS_CONF=str(ROOT / "deploy" / "image" / "containers.conf"))
ORDER = ["redis", "people", "goals", "feedback", "metrics"]


def run(*args, **kw):
    return subprocess.run(list(args), env=ENV, text=True, capture_output=True, **kw)


def health(address, service):
    data = service.encode()
    with grpc.insecure_channel(address) as ch:
        try:
            answer = ch.unary_unary("/grpc.health.v1.Health/Check")(
                (b"\x0a" + bytes([len(data)]) + data) if data else b"", timeout=2)
        except grpc.RpcError as e:
            return e.code().name
    return "SERVING" if answer == b"\x08\x01" else answer.hex()


def pods(objects, ips, tmp):
    objects = copy.deepcopy(objects)
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
    secrets = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Secret"}
    services = [o["metadata"]["name"] for o in objects if o["kind"] == "Service"]
    aliases = [{"ip": ips[s.removesuffix("-headless")], "hostnames": [s]} for s in services]
    out = []
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    for name in ORDER:
        spec = deployments[name]["spec"]["template"]["spec"]
        for c in spec["containers"]:
            repo, _, _ = c["image"].partition(":")
            c["image"] = IMAGES[repo]
            c["imagePullPolicy"] = "Never"
            env = [{"name": k, "value": v} for k, v in config.items()] if c.pop("envFrom", None) else []
            c["env"] = env + c.get("env", [])
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                c.pop(probe, None)
            # podman 4.3 publishes every containerPort on the host; the Pods
            # are reached at their own addresses instead.
            c.pop("ports", None)
        for v in spec.get("volumes", []):
            local = tmp / name / v["name"]
            local.mkdir(parents=True)
            if "secret" in v:
                for key, b64 in secrets[v.pop("secret")["secretName"]]["data"].items():
                    (local / key).write_bytes(base64.b64decode(b64))
                    (local / key).chmod(0o444)
            else:
                v.pop("emptyDir")
                local.chmod(0o777)
            v["hostPath"] = {"path": str(local), "type": "Directory"}
        spec["hostAliases"] = aliases
        out.append({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": f"smoke-{name}", "labels": {"app": name}}, "spec": spec})
    return out


def main():
    rendered = subprocess.run(["kubectl", "kustomize", str(ROOT / "deploy" / "k8s" / "overlays" / "dev")],
                              check=True, capture_output=True, text=True).stdout
    objects = [d for d in yaml.safe_load_all(rendered) if d]
    for image in IMAGES.values():
        if run("podman", "image", "exists", image).returncode != 0:
            sys.exit(f"no image {image}: run `make image` first")
    net = f"sightline-smoke-{os.getpid()}"
    subnet = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}"
    ips = {name: f"{subnet}.{10 + i}" for i, name in enumerate(ORDER)}
    failures = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = pathlib.Path(tmpdir)
        kube = tmp / "pods.yaml"
        kube.write_text(yaml.safe_dump_all(pods(objects, ips, tmp), sort_keys=False))
        r = run("podman", "network", "create", "--subnet", f"{subnet}.0/24", net)
        if r.returncode != 0:
            sys.exit(f"podman network create: {r.stderr}")
        try:
            args = ["podman", "play", "kube", "--network", net]
            for name in ORDER:
                args += ["--ip", ips[name]]
            r = run(*args, str(kube))
            if r.returncode != 0:
                failures.append(f"podman play kube: {r.stderr}")
                return failures
            ports = {}
            for d in objects:
                if d["kind"] == "Deployment" and d["metadata"]["name"] != "redis":
                    (c,) = d["spec"]["template"]["spec"]["containers"]
                    ports[d["metadata"]["name"]] = (c["readinessProbe"]["grpc"]["port"],
                                                    c["readinessProbe"]["grpc"]["service"])
            for name in ORDER[1:]:
                port, service = ports[name]
                address = f"{ips[name]}:{port}"
                deadline = time.monotonic() + 90
                status = None
                while time.monotonic() < deadline:
                    status = health(address, service)
                    if status == "SERVING":
                        break
                    time.sleep(0.5)
                print(f"{name:9} {address:20} health {service}: {status}", flush=True)
                if status != "SERVING":
                    logs = run("podman", "logs", f"smoke-{name}-{name}")
                    failures.append(f"{name}: {status}\n{logs.stdout[-1500:]}{logs.stderr[-1500:]}")
            for name in ORDER[1:]:
                r = run("podman", "inspect", f"smoke-{name}-{name}", "--format",
                        "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}")
                if r.stdout.split() != ["65532", "true"]:
                    failures.append(f"{name}: runs as user/read-only root {r.stdout.strip()}, not 65532 true")
            if not failures:
                print("services run as user 65532 on a read-only root file system")
                failures += rpcs(ips, ports, tmp, objects)
        finally:
            for name in ORDER:
                if failures:
                    logs = run("podman", "logs", "--tail", "5", f"smoke-{name}-{name}")
                    print(f"--- {name} log tail\n{logs.stdout}{logs.stderr}")
            down = run("podman", "play", "kube", "--down", str(kube))
            rm = run("podman", "network", "rm", net)
            print(f"torn down: pods {'ok' if down.returncode == 0 else down.stderr.strip()}, "
                  f"network {'ok' if rm.returncode == 0 else rm.stderr.strip()}")
    print(f"smoke took {time.monotonic() - started:.0f} s")
    return failures


def rpcs(ips, ports, tmp, objects):
    secret = next(o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"].startswith("sightline-jwt"))
    key = tmp / "jwt.key"
    key.write_bytes(base64.b64decode(secret["data"]["key"]))
    addr = {n: f"{ips[n]}:{ports[n][0]}" for n in ports}
    failures = []

    def token(subject, roles=None):
        args = [CLI, "token", f"--key_file={key}", f"--subject={subject}"] + ([f"--roles={roles}"] if roles else [])
        return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()

    def call(name, what, args, tok):
        r = subprocess.run([CLI, *args], capture_output=True, text=True, env=dict(os.environ, SIGHTLINE_TOKEN=tok),
                           timeout=60)
        ok = r.returncode == 0
        print(f"{name:9} {what}: {'OK' if ok else 'FAILED'}", flush=True)
        if not ok:
            failures.append(f"{name} {what}: {r.stdout[-800:]}{r.stderr[-800:]}")
            return {}
        try:
            return json.loads(r.stdout)
        except json.JSONDecodeError:
            return {"text": r.stdout}

    hr = token("tom.fischer@example.com", "hr_admin")
    ceo_email, em_email = "maya.okafor@example.com", "ana.souza@example.com"
    call("people", "import-roster examples/roster.csv",
         ["import-roster", addr["people"], str(ROOT / "examples" / "roster.csv")], hr)
    ceo = call("people", "LookupPerson", ["call", addr["people"], "sightline.people.v1.PeopleService/LookupPerson",
                                          json.dumps({"email": ceo_email})], hr).get("name", "")
    em = call("people", "LookupPerson", ["call", addr["people"], "sightline.people.v1.PeopleService/LookupPerson",
                                         json.dumps({"email": em_email})], hr).get("name", "")
    year = time.gmtime().tm_year
    cycle = call("goals", "CreateCycle", ["call", addr["goals"], "sightline.goals.v1.GoalService/CreateCycle", json.dumps(
        {"cycle": {"display_name": f"{year}", "start_date": f"{year}-01-01", "end_date": f"{year}-12-31",
                   "state": "ACTIVE"}})], hr).get("name", "")
    call("goals", "CreateGoal", ["call", addr["goals"], "sightline.goals.v1.GoalService/CreateGoal", json.dumps(
        {"goal": {"title": "Run on Kubernetes", "owner": ceo, "level": "COMPANY", "cycle": cycle}})],
         token(ceo_email))
    call("feedback", "CreateFeedback", ["call", addr["feedback"], "sightline.feedback.v1.FeedbackService/CreateFeedback",
                                        json.dumps({"feedback": {"subject": em, "kind": "PRAISE", "visibility": "PUBLIC",
                                                                 "body": "Shipped the deploy smoke test"}})],
         token(ceo_email))
    card = call("metrics", "GetScorecard", ["call", addr["metrics"], "sightline.metrics.v1.MetricsService/GetScorecard",
                                            json.dumps({"subject": ceo, "period_start": f"{year}-01-01T00:00:00Z",
                                                        "period_end": f"{year + 1}-01-01T00:00:00Z"})],
                token(ceo_email))
    if card:
        parts = {p: card.get(p, {}).get("status", {}).get("state") for p in ("goals", "feedback")}
        print(f"metrics   scorecard parts read from goals and feedback: {parts}")
        # MISSING: the service the part comes from did not answer.
        if parts["goals"] != "COMPLETE" or parts["feedback"] not in ("COMPLETE", "NO_DATA", "WITHHELD"):
            failures.append(f"metrics could not read goals or feedback: {parts}")
    return failures


if __name__ == "__main__":
    problems = main()
    for p in problems:
        print("FAIL:", p)
    print("k8s-smoke:", "FAILED" if problems else "ok")
    sys.exit(1 if problems else 0)
