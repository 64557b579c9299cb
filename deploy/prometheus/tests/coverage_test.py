#!/usr/bin/python3
"""Every alert of deploy/prometheus/*.rules.yml is routable, documented and
unit-tested:

- labels `severity` (page or ticket) and `team`; annotations `summary` and
  `runbook_url`, the runbook a section of docs/operating.md;
- at least one promtool case in deploy/prometheus/tests/*.yml where it fires
  (expected alerts) and one where it is expected quiet, or where it fires
  for one series only while a healthy series of the same case stays quiet.

Usage: coverage_test.py SOURCE_DIR
"""

import glob
import os
import re
import sys

import yaml


def main(root):
    errors = []
    alerts = {}
    for path in sorted(glob.glob(os.path.join(root, "deploy", "prometheus", "*.rules.yml"))):
        with open(path) as f:
            for group in yaml.safe_load(f)["groups"]:
                for rule in group["rules"]:
                    if "alert" in rule:
                        alerts[rule["alert"]] = rule
    with open(os.path.join(root, "docs", "operating.md")) as f:
        anchors = {h.strip().lower() for h in re.findall(r"^### (\w+)$", f.read(), re.M)}

    fires, quiet = set(), set()
    for path in sorted(glob.glob(os.path.join(root, "deploy", "prometheus", "tests", "*.yml"))):
        with open(path) as f:
            doc = yaml.safe_load(f)
        for case in doc.get("tests", []):
            series = [s["series"] for s in case.get("input_series", [])]
            for t in case.get("alert_rule_test", []):
                name = t["alertname"]
                expected = t.get("exp_alerts") or []
                if expected:
                    fires.add(name)
                    # A series that differs from every expected alert in a
                    # label they share (another service, cycle, KPI, callee)
                    # is a healthy neighbour the alert left alone.
                    want = [{k: str(v) for k, v in (a.get("exp_labels") or {}).items()}
                            for a in expected]
                    for x in series:
                        have = dict(re.findall(r'(\w+)="([^"]*)"', x))
                        if all(any(k in have and have[k] != v for k, v in w.items())
                               for w in want):
                            quiet.add(name)
                else:
                    quiet.add(name)

    for name, rule in sorted(alerts.items()):
        labels = rule.get("labels", {})
        notes = rule.get("annotations", {})
        if labels.get("severity") not in ("page", "ticket"):
            errors.append(f"{name}: severity must be page or ticket")
        if not labels.get("team"):
            errors.append(f"{name}: no team label")
        if not notes.get("summary"):
            errors.append(f"{name}: no summary")
        runbook = notes.get("runbook_url", "")
        if runbook != f"docs/operating.md#{name.lower()}" or name.lower() not in anchors:
            errors.append(f"{name}: runbook_url {runbook!r} is not its section of docs/operating.md")
        if name not in fires:
            errors.append(f"{name}: no unit test where it fires")
        if name not in quiet:
            errors.append(f"{name}: no unit test where it stays quiet")
    for e in errors:
        print(e)
    print(f"{len(alerts)} alerts, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
