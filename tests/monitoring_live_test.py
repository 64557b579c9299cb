#!/usr/bin/python3
"""The alert rules and dashboards against a real Prometheus scraping the real suite.

Starts redis-server and the four services on loopback ports chosen here (as
`make run` does), drives traffic through real RPCs with the `sightline` CLI
(the roster import and the goals, feedback and metrics examples, then a KPI
exported), starts /usr/bin/prometheus with a generated configuration that
scrapes every service each second and loads deploy/prometheus/*.rules.yml,
and asks its HTTP API that:

- every rule group is loaded and every rule evaluates without error;
- every recording rule and every dashboard query (template variables
  replaced as Grafana would with "All") evaluates without error and returns
  data;
- every metric name the rules and dashboards use is in the services' own
  /metrics (or is a recording rule of deploy/prometheus, or `up`).

Run by ctest with SIGHTLINE_*_BINARY, SIGHTLINE_CLI_BINARY and
SIGHTLINE_SOURCE_DIR set.
"""

import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import yaml

SOURCE = os.environ["SIGHTLINE_SOURCE_DIR"]
CLI = os.environ["SIGHTLINE_CLI_BINARY"]
BINARIES = {
    "people": os.environ["SIGHTLINE_PEOPLE_BINARY"],
    "metrics": os.environ["SIGHTLINE_METRICS_BINARY"],
    "goals": os.environ["SIGHTLINE_GOALS_BINARY"],
    "feedback": os.environ["SIGHTLINE_FEEDBACK_BINARY"],
}
PROMETHEUS = os.environ.get("PROMETHEUS_BINARY", "/usr/bin/prometheus")
NAMESPACE = "sightline-live"
# Bounds on waits, never expectations of speed.
WAIT = 60.0

# What Grafana puts in place of a variable set to "All" and of its own
# interval variables.
GRAFANA_VARIABLES = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and",
                "or", "unless", "bool", "offset", "inf", "nan"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, pred, timeout=WAIT):
    end = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def metric_names(expr):
    """Metric names an expression reads: identifiers left once strings, label
    matchers, ranges, grouping clauses and function calls are taken out."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        rest = e[m.end():].lstrip()
        word = m.group(0)
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue
        if m.start() > 0 and (e[m.start() - 1].isdigit() or e[m.start() - 1] == "."):
            continue  # the unit of a number, as in 1e3
        names.add(word)
    return names


def dashboard_queries():
    """(dashboard, panel, expr) of every panel query and variable query."""
    out = []
    for path in sorted(glob.glob(os.path.join(SOURCE, "deploy", "grafana", "*.json"))):
        with open(path) as f:
            d = json.load(f)
        name = os.path.basename(path)
        variables = {v["name"] for v in d.get("templating", {}).get("list", [])}

        def fill(expr):
            def one(m):
                v = m.group(1)
                if v in GRAFANA_VARIABLES:
                    return GRAFANA_VARIABLES[v]
                if v in variables:
                    return ".+"
                raise AssertionError(f"{name}: unknown variable ${v} in {expr}")
            return re.sub(r"\$\{?(\w+)\}?", one, expr)

        for v in d.get("templating", {}).get("list", []):
            if v.get("type") != "query":
                continue
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.match(r"^label_values\((.*),\s*(\w+)\)$", q.strip(), re.S)
            assert m, f"{name}: variable {v['name']}: {q}"
            out.append((name, f"variable {v['name']}", fill(m.group(1))))
        for p in d.get("panels", []):
            for sub in [p] + p.get("panels", []):
                for t in sub.get("targets", []):
                    out.append((name, sub["title"], fill(t["expr"])))
    return out


def rule_files():
    return sorted(glob.glob(os.path.join(SOURCE, "deploy", "prometheus", "*.rules.yml")))


class Suite:
    """redis-server and the four services, each stopped by its pid."""

    def __init__(self, workdir):
        self.dir = workdir
        self.procs = []
        self.addr = {}
        self.metrics = {}
        self.secret = os.path.join(workdir, "jwt.secret")
        with open(self.secret, "w") as f:
            f.write(os.urandom(32).hex())
        self.token_key = os.path.join(workdir, "token.key")
        with open(self.token_key, "w") as f:
            f.write(os.urandom(32).hex())

    def spawn(self, name, args):
        log = open(os.path.join(self.dir, f"{name}.log"), "w")
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs.append((name, p))
        return p

    def start(self):
        redis_port = free_port()
        self.spawn("redis", ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", self.dir])
        for name in BINARIES:
            self.addr[name] = f"127.0.0.1:{free_port()}"
            self.metrics[name] = f"127.0.0.1:{free_port()}"
        for name, binary in BINARIES.items():
            extra = {
                "goals": [f"--people_address={self.addr['people']}",
                          f"--metrics_service_address={self.addr['metrics']}",
                          "--metrics_refresh=1s"],
                "feedback": [f"--people_address={self.addr['people']}",
                             f"--goals_address={self.addr['goals']}", "--metrics_refresh=1s"],
                "metrics": [f"--people_address={self.addr['people']}",
                            f"--goals_address={self.addr['goals']}",
                            f"--feedback_address={self.addr['feedback']}",
                            "--metrics_refresh=1s"],
            }.get(name, [])
            self.spawn(name, [binary, f"--grpc_address={self.addr[name]}",
                              f"--metrics_address={self.metrics[name]}",
                              f"--db={self.dir}/{name}.db",
                              f"--redis=redis://127.0.0.1:{redis_port}",
                              f"--jwt_key_file={self.secret}",
                              f"--token_key_file={self.token_key}"] + extra)
            wait_until(f"{name} SERVING", lambda n=name: self.healthy(n))

    def healthy(self, name):
        r = subprocess.run([CLI, "health", self.addr[name]], capture_output=True)
        return r.returncode == 0

    def cli(self, *args, token=None):
        env = dict(os.environ)
        if token:
            env["SIGHTLINE_TOKEN"] = token
        r = subprocess.run([CLI, *args], capture_output=True, text=True, env=env, cwd=self.dir)
        if r.returncode != 0:
            raise AssertionError(f"sightline {' '.join(args)}: {r.stdout}{r.stderr}")
        return r.stdout

    def token(self, subject, roles=None):
        args = ["token", f"--key_file={self.secret}", f"--subject={subject}"]
        if roles:
            args.append(f"--roles={roles}")
        return self.cli(*args).strip()

    def example(self, script, service):
        build = os.path.dirname(os.path.dirname(os.path.dirname(CLI)))
        r = subprocess.run([os.path.join(SOURCE, "examples", script), self.addr["people"],
                            self.addr[service], self.secret, build],
                           capture_output=True, text=True, cwd=SOURCE)
        if r.returncode != 0:
            raise AssertionError(f"{script}: {r.stdout}{r.stderr}")

    def stop(self):
        for _, p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for _, p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


class MonitoringLiveTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="monitoring-live-")
        cls.suite = Suite(cls.dir)
        cls.prometheus = None
        try:
            cls.suite.start()
            cls.drive_traffic()
            cls.start_prometheus()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.prometheus is not None and cls.prometheus.poll() is None:
            cls.prometheus.terminate()
            try:
                cls.prometheus.wait(timeout=20)
            except subprocess.TimeoutExpired:
                cls.prometheus.kill()
                cls.prometheus.wait()
        cls.suite.stop()
        if os.environ.get("KEEP_TEST_DIR"):
            print(f"kept {cls.dir}", file=sys.stderr)
        else:
            shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def drive_traffic(cls):
        s = cls.suite
        admin = s.token("tom.fischer@example.com", "hr_admin")
        s.cli("import-roster", s.addr["people"], os.path.join(SOURCE, "examples", "roster.csv"),
              token=admin)
        s.example("goals-demo.sh", "goals")
        s.example("feedback-demo.sh", "feedback")
        s.example("metrics-demo.sh", "metrics")
        # A KPI on /metrics: sightline_kpi_value, _target and _status exist
        # only for exported KPIs.
        ceo = s.token("maya.okafor@example.com")
        s.cli("call", s.addr["metrics"], "sightline.metrics.v1.MetricsService/UpdateKpi",
              '{"kpi":{"name":"kpis/conversion","export":true},"update_mask":"export"}',
              token=ceo)
        # A call that fails, so error series move.
        r = subprocess.run([CLI, "call", s.addr["goals"], "sightline.goals.v1.GoalService/GetGoal",
                            '{"name":"goals/does-not-exist"}'],
                           capture_output=True, env={**os.environ, "SIGHTLINE_TOKEN": ceo})
        assert r.returncode != 0

    @classmethod
    def start_prometheus(cls):
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": rule_files(),
            "scrape_configs": [{
                "job_name": name,
                "static_configs": [{"targets": [cls.suite.metrics[name]],
                                    "labels": {"namespace": NAMESPACE, "service": name}}],
            } for name in BINARIES],
        }
        path = os.path.join(cls.dir, "prometheus.yml")
        with open(path, "w") as f:
            yaml.safe_dump(config, f)
        cls.prom_url = f"http://127.0.0.1:{free_port()}"
        log = open(os.path.join(cls.dir, "prometheus.log"), "w")
        cls.prometheus = subprocess.Popen(
            [PROMETHEUS, f"--config.file={path}", f"--storage.tsdb.path={cls.dir}/tsdb",
             f"--web.listen-address={cls.prom_url[len('http://'):]}",
             "--storage.tsdb.retention.time=1h"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()

        def ready():
            try:
                return http_get(cls.prom_url + "/-/ready").strip() != ""
            except (urllib.error.URLError, ConnectionError, OSError):
                return False
        wait_until("prometheus ready", ready)

        def scraped():
            targets = cls.api("targets")["activeTargets"]
            return len(targets) == len(BINARIES) and all(
                t["health"] == "up" for t in targets)
        wait_until("every target up", scraped)
        # Rates need two samples of every series in their window, census
        # gauges a refresh, rules an evaluation after that.
        def enough_samples():
            res = cls.query(f'count_over_time(up{{namespace="{NAMESPACE}"}}[1m])')
            return len(res) == len(BINARIES) and all(float(r["value"][1]) >= 5 for r in res)
        wait_until("five scrapes of every target", enough_samples)

    @classmethod
    def api(cls, path, **params):
        url = f"{cls.prom_url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            body = http_get(url)
        except urllib.error.HTTPError as e:
            body = e.read().decode()
        got = json.loads(body)
        if got.get("status") != "success":
            raise AssertionError(f"{path} {params}: {got.get('errorType')}: {got.get('error')}")
        return got["data"]

    @classmethod
    def query(cls, expr):
        data = cls.api("query", query=expr)
        return data["result"] if data["resultType"] == "vector" else [data["result"]]

    def loaded_rules(self):
        return [(g, r) for g in self.api("rules")["groups"] for r in g["rules"]]

    def test_every_rule_group_is_loaded_and_every_rule_evaluates(self):
        want = []
        for path in rule_files():
            with open(path) as f:
                for g in yaml.safe_load(f)["groups"]:
                    want += [(g["name"], r.get("record") or r.get("alert")) for r in g["rules"]]
        # Every rule evaluated at least once after the data came in.
        wait_until("every rule evaluated", lambda: all(
            r["lastEvaluation"] > "2000" for _, r in self.loaded_rules()))
        got = self.loaded_rules()
        self.assertEqual(sorted((g["name"], r["name"]) for g, r in got), sorted(want))
        for g, r in got:
            self.assertEqual(r["health"], "ok", f"{g['name']}/{r['name']}: {r.get('lastError')}")

    def test_every_recording_rule_has_data(self):
        records = [r["name"] for _, r in self.loaded_rules() if r["type"] == "recording"]
        self.assertGreater(len(records), 10)
        missing = []
        for name in records:
            # Evaluated each second: give the slowest a few rounds.
            try:
                wait_until(f"{name} has data", lambda n=name: self.query(
                    f'{n}{{namespace="{NAMESPACE}"}}'), timeout=15)
            except AssertionError:
                missing.append(name)
        self.assertEqual(missing, [], "recording rules without data")

    def test_every_dashboard_query_evaluates_with_data(self):
        queries = dashboard_queries()
        self.assertGreater(len(queries), 30)
        empty = []
        for dash, panel, expr in queries:
            with self.subTest(dashboard=dash, panel=panel):
                try:
                    res = wait_until(f"{dash} {panel}", lambda e=expr: self.query(e), timeout=15)
                except AssertionError:
                    res = []
                if not res:
                    empty.append(f"{dash} / {panel}: {expr}")
        self.assertEqual(empty, [], "dashboard queries without data")

    def test_every_metric_name_used_exists_in_the_scrape(self):
        exposed = set()
        for name, addr in self.suite.metrics.items():
            for line in http_get(f"http://{addr}/metrics").splitlines():
                if line and not line.startswith("#"):
                    exposed.add(re.split(r"[{ ]", line, maxsplit=1)[0])
        self.assertIn("grpc_server_handled_total", exposed)
        records = set()
        used = {}
        for path in rule_files():
            with open(path) as f:
                for g in yaml.safe_load(f)["groups"]:
                    for r in g["rules"]:
                        if "record" in r:
                            records.add(r["record"])
                        for n in metric_names(r["expr"]):
                            used.setdefault(n, f"{os.path.basename(path)} {r.get('record') or r.get('alert')}")
        for dash, panel, expr in dashboard_queries():
            for n in metric_names(expr):
                used.setdefault(n, f"{dash} {panel}")
        self.assertIn("sightline_kpi_status", used)
        unknown = {n: where for n, where in used.items()
                   if n not in exposed and n not in records and n != "up"}
        self.assertEqual(unknown, {}, "metric names in rules or dashboards that no service exports")

    # unittest runs a class's tests in name order: this one, which stops
    # Redis, comes last ("z").
    def test_z_redis_down_puts_the_breaker_alert_pending(self):
        """A failure the rules are meant to catch, live: Redis stops, a
        service's breaker opens, and CacheBreakerOpen matches it (pending for
        its minute; promtool's tests cover the firing)."""
        alert = lambda: [a for a in self.api("alerts")["alerts"]
                         if a["labels"]["alertname"] == "SightlineCacheBreakerOpen"]
        self.assertEqual(alert(), [])
        redis = next(p for name, p in self.suite.procs if name == "redis")
        redis.terminate()
        redis.wait(timeout=20)
        s = self.suite
        ceo = s.token("maya.okafor@example.com")
        open_query = f'max by (service, cache) (sightline_cache_breaker_state{{namespace="{NAMESPACE}"}}) == 2'

        def opened():
            # Reads that go to Redis: people looked up by email.
            for email in ("maya.okafor@example.com", "kenji.watanabe@example.com",
                          "omar.nasser@example.com", "chloe.martin@example.com"):
                subprocess.run([CLI, "call", s.addr["people"],
                                "sightline.people.v1.PeopleService/LookupPerson",
                                json.dumps({"email": email})],
                               capture_output=True, env={**os.environ, "SIGHTLINE_TOKEN": ceo})
            return self.query(open_query)
        opened_series = wait_until("a breaker open", opened)
        self.assertIn("people", {r["metric"]["service"] for r in opened_series})
        got = wait_until("CacheBreakerOpen pending", alert)
        for a in got:
            self.assertIn(a["state"], ("pending", "firing"))
            self.assertEqual(a["labels"]["namespace"], NAMESPACE)
            self.assertEqual(a["labels"]["severity"], "ticket")
            self.assertEqual(a["labels"]["team"], "sightline-sre")
            self.assertTrue(a["annotations"]["runbook_url"].startswith("docs/operating.md#"))
        self.assertIn("people", {a["labels"]["service"] for a in got})

    def test_metric_name_extraction(self):
        # The extraction the test above relies on.
        self.assertEqual(
            metric_names('sum by (service, le) (rate(a_bucket{x="b c",le="0.25"}[5m])) / '
                         'ignoring (code) group_left b:rec:ratio > 1e3 and on (x) c'),
            {"a_bucket", "b:rec:ratio", "c"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
