#!/usr/bin/python3
"""deploy/k8s/components/monitoring is generated from deploy/prometheus and
deploy/grafana by its generate.py: the committed files must be what it makes
now (one copy of every rule and dashboard). Then the generator itself, on a
sample rule file and dashboard in a temporary tree: each rule file becomes a
PrometheusRule holding its groups unchanged, each dashboard a ConfigMap
labelled grafana_dashboard: "1" holding the file's bytes, and the rendered
component passes the schema check (with kubectl; see deploy_render_test.py).
Other JSON beside the dashboards (package.json) is left out; a rule file
without groups is refused."""

import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(sys.argv[1]).resolve()
COMPONENT = ROOT / "deploy" / "k8s" / "components" / "monitoring"
GENERATE = [sys.executable, str(COMPONENT / "generate.py")]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, flush=True)


SAMPLE_RULES = """groups:
  - name: sample
    rules:
      - record: job:grpc_server_handled:rate5m
        expr: sum by (job) (rate(grpc_server_handled_total[5m]))
      - alert: SampleDown
        expr: up == 0
        for: 5m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.job }} is down"}
"""
SAMPLE_DASHBOARD = json.dumps({"title": "Sample", "uid": "sample", "panels": [], "schemaVersion": 39},
                              indent=2) + "\n"

r = subprocess.run(GENERATE + ["--check"], capture_output=True, text=True)
if r.returncode != 0:
    fail(f"generate.py --check: {r.stdout}{r.stderr}")
else:
    print("committed component matches generate.py", flush=True)

with tempfile.TemporaryDirectory() as tmpdir:
    tmp = pathlib.Path(tmpdir)
    (tmp / "deploy" / "prometheus").mkdir(parents=True)
    (tmp / "deploy" / "grafana").mkdir(parents=True)
    (tmp / "deploy" / "prometheus" / "sample_slo.rules.yml").write_text(SAMPLE_RULES)
    (tmp / "deploy" / "prometheus" / "README.md").write_text("not a rule file\n")
    (tmp / "deploy" / "grafana" / "Service_Health.json").write_text(SAMPLE_DASHBOARD)
    (tmp / "deploy" / "grafana" / "package.json").write_text('{"name": "dashboards", "private": true}\n')
    shutil.copytree(ROOT / "deploy" / "k8s", tmp / "k8s", ignore=shutil.ignore_patterns("node_modules"))
    out = tmp / "k8s" / "components" / "monitoring"
    r = subprocess.run(GENERATE + ["--root", str(tmp), "--out", str(out)], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"generate.py on the sample: {r.stderr}")
    else:
        kust = yaml.safe_load((out / "kustomization.yaml").read_text())
        rules = [d for d in yaml.safe_load_all((out / "prometheus-rules.yaml").read_text()) if d]
        if [d["metadata"]["name"] for d in rules] != ["sightline-sample-slo"]:
            fail(f"PrometheusRules made: {[d['metadata']['name'] for d in rules]}")
        elif rules[0]["spec"]["groups"] != yaml.safe_load(SAMPLE_RULES)["groups"]:
            fail("the PrometheusRule's groups differ from the rule file's")
        gens = kust.get("configMapGenerator", [])
        if [g["name"] for g in gens] != ["sightline-dashboard-service-health"]:
            fail(f"dashboard ConfigMaps: {[g['name'] for g in gens]}")
        elif gens[0]["options"]["labels"].get("grafana_dashboard") != "1":
            fail("the dashboard ConfigMap is not labelled grafana_dashboard: \"1\"")
        if sorted(p.name for p in (out / "dashboards").iterdir()) != ["Service_Health.json"]:
            fail(f"dashboards copied: {sorted(p.name for p in (out / 'dashboards').iterdir())}")
        elif (out / "dashboards" / "Service_Health.json").read_text() != SAMPLE_DASHBOARD:
            fail("the dashboard copy differs from its source")

        kubectl = shutil.which("kubectl")
        version = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True,
                                 text=True).stdout if kubectl else "{}"
        kv = json.loads(version or "{}").get("kustomizeVersion", "")
        if kv.startswith("v") and int(kv[1:].split(".")[0]) >= 4:
            overlay = tmp / "k8s" / "overlays" / "production" / "kustomization.yaml"
            spec = yaml.safe_load(overlay.read_text())
            spec["components"] = ["../../components/monitoring"]
            overlay.write_text(yaml.safe_dump(spec))
            r = subprocess.run([kubectl, "kustomize", str(overlay.parent)], capture_output=True, text=True)
            if r.returncode != 0:
                fail(f"kubectl kustomize with the sample component: {r.stderr}")
            else:
                objects = [d for d in yaml.safe_load_all(r.stdout) if d]
                cms = [o for o in objects if o["kind"] == "ConfigMap"
                       and o["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
                if len(cms) != 1 or cms[0]["data"].get("Service_Health.json") != SAMPLE_DASHBOARD:
                    fail(f"rendered dashboard ConfigMaps: {[c['metadata']['name'] for c in cms]}")
                if cms and cms[0]["metadata"].get("namespace") != "sightline":
                    fail("the dashboard ConfigMap is not in the overlay's namespace")
                picked = [o for o in objects if o["kind"] in ("PrometheusRule", "ServiceMonitor", "ConfigMap")]
                v = subprocess.run(["node", str(ROOT / "deploy" / "k8s" / "validate" / "validate.mjs")],
                                   input=json.dumps(picked), capture_output=True, text=True)
                if v.returncode != 0:
                    fail(f"schema check of the sample component: {v.stdout}{v.stderr}")
                else:
                    print(f"sample component renders; {v.stderr.strip()}", flush=True)
        else:
            print("kubectl with kustomize v4+ not found: the sample component is not rendered", flush=True)

    # A stale generated file is reported by --check.
    (tmp / "bad" / "deploy" / "prometheus").mkdir(parents=True)
    (tmp / "bad" / "deploy" / "prometheus" / "broken.rules.yml").write_text("rules: []\n")
    r = subprocess.run(GENERATE + ["--root", str(tmp / "bad"), "--out", str(tmp / "bad-out")],
                       capture_output=True, text=True)
    if r.returncode == 0 or "no `groups` list" not in r.stderr:
        fail(f"a rule file without groups was accepted: {r.returncode} {r.stderr}")
    r = subprocess.run(GENERATE + ["--check", "--root", str(tmp)], capture_output=True, text=True)
    if r.returncode == 0 or "missing: dashboards/Service_Health.json" not in r.stdout:
        fail(f"--check against other sources did not report the difference: {r.stdout}")

if failures:
    print(f"{len(failures)} failures")
    sys.exit(1)
print("ok")
