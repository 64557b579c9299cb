#!/usr/bin/python3
"""The Python client (clients/python) against the real people and goals
binaries on SQLite: tokens, paging, the alignment tree, and a WatchGoals
follower that resumes across a restart of the goals service without missing
or repeating a change; then the example script.

Run by ctest with SIGHTLINE_PEOPLE_BINARY, SIGHTLINE_GOALS_BINARY,
SIGHTLINE_CLI_BINARY and SIGHTLINE_SOURCE_DIR set and PYTHONPATH holding the
generated modules and clients/python.
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc
from google.protobuf import field_mask_pb2

from sightline import auth, paging, watch
from sightline.goals.v1 import goal_service_pb2 as gpb
from sightline.goals.v1 import goal_service_pb2_grpc as ggrpc
from sightline.people.v1 import people_service_pb2 as ppb
from sightline.people.v1 import people_service_pb2_grpc as pgrpc

PEOPLE_BIN = os.environ["SIGHTLINE_PEOPLE_BINARY"]
GOALS_BIN = os.environ["SIGHTLINE_GOALS_BINARY"]
CLI = os.environ["SIGHTLINE_CLI_BINARY"]
SOURCE = os.environ["SIGHTLINE_SOURCE_DIR"]

# Bounds on waits, never expectations of speed.
WAIT = 90.0

TEAMS = [("exec", "", "ceo"), ("eng", "exec", "mgr-eng"), ("sales", "exec", "mgr-sales")]
PEOPLE = [("ceo", "", "exec"), ("hr", "ceo", "exec"), ("mgr-eng", "ceo", "eng"),
          ("ic-eng-1", "mgr-eng", "eng"), ("ic-eng-2", "mgr-eng", "eng"),
          ("mgr-sales", "ceo", "sales"), ("ic-sales-1", "mgr-sales", "sales")]


def email(ext):
    return f"{ext}@example.com"


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
        time.sleep(0.05)


class Service:
    """One binary on loopback ports, stopped by its pid."""

    def __init__(self, name, binary, workdir, args):
        self.name, self.binary, self.args = name, binary, args
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.metrics_port = free_port()
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        with open(self.log_path, "a") as log:
            log.write(f"--- start {self.starts}\n")
            log.flush()
            self.proc = subprocess.Popen(
                [self.binary, f"--grpc_address={self.address}",
                 f"--metrics_address=127.0.0.1:{self.metrics_port}", *self.args],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(f"{self.name} SERVING", self._serving)

    def _serving(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited:\n{self.log()[-3000:]}")
        r = subprocess.run([CLI, "health", self.address], capture_output=True)
        return r.returncode == 0

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def log_since_start(self):
        return self.log().rsplit(f"--- start {self.starts}\n", 1)[-1]

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


class PythonClientTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="sightline-py-")
        cls.secret = os.path.join(cls.dir, "jwt.secret")
        if not os.environ.get("SIGHTLINE_KEEP_TEST_DIR"):
            cls.addClassCleanup(shutil.rmtree, cls.dir, True)  # runs last
        with os.fdopen(os.open(cls.secret, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        # Resume tokens must outlive a process: sign them with a key of the
        # deployment, not the random one of each process.
        token_key = os.path.join(cls.dir, "token.key")
        with os.fdopen(os.open(token_key, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        common = [f"--jwt_key_file={cls.secret}", f"--token_key_file={token_key}",
                  "--change_poll_interval=50ms",
                  "--shutdown_grace=10s"]
        cls.people = Service("people", PEOPLE_BIN, cls.dir,
                             [f"--db={cls.dir}/people.db", *common])
        cls.addClassCleanup(cls.people.stop)
        cls.people.start()
        cls.seed()
        # No metrics service here: point goals at a loopback port nobody serves.
        cls.goals = Service("goals", GOALS_BIN, cls.dir,
                            [f"--db={cls.dir}/goals.db", *common,
                             f"--people_address={cls.people.address}",
                             f"--metrics_service_address=127.0.0.1:{free_port()}"])
        cls.addClassCleanup(cls.goals.stop)  # runs before people's stop
        cls.goals.start()
        cls.wait_for_org()

    @classmethod
    def token(cls, ext, roles=""):
        args = [CLI, "token", f"--key_file={cls.secret}", f"--subject={email(ext)}",
                "--ttl=2h"]
        if roles:
            args.append(f"--roles={roles}")
        return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()

    @classmethod
    def token_file(cls, ext, roles=""):
        path = os.path.join(cls.dir, f"{ext}.token")
        with open(path, "w") as f:
            f.write(cls.token(ext, roles) + "\n")
        return path

    @classmethod
    def seed(cls):
        def records():
            yield ppb.SyncPeopleRequest(options=ppb.SyncOptions(mode=ppb.SyncOptions.FULL,
                                                                 request_id="seed-1"))
            for ext, parent, lead in TEAMS:
                yield ppb.SyncPeopleRequest(team=ppb.TeamRecord(
                    external_id=ext, display_name=f"Team {ext}", parent_external_id=parent,
                    lead_external_id=lead))
            for ext, manager, team in PEOPLE:
                yield ppb.SyncPeopleRequest(person=ppb.PersonRecord(
                    external_id=ext, email=email(ext), display_name=f"Person {ext}",
                    title="Engineer", manager_external_id=manager, team_external_id=team,
                    start_date="2021-03-01"))

        with auth.channel(cls.people.address, token=cls.token("hr", "hr_admin")) as ch:
            stub = pgrpc.PeopleServiceStub(ch)
            stub.SyncPeople(records(), timeout=60)
            cls.person = {}
            for ext, _, _ in PEOPLE:
                cls.person[ext] = stub.LookupPerson(
                    ppb.LookupPersonRequest(external_id=ext), timeout=30).name
            teams = list(paging.items(stub.ListTeams, ppb.ListTeamsRequest(), "teams",
                                      page_size=2, timeout=30))
            assert {t.external_id for t in teams} == {t[0] for t in TEAMS}, teams

    @classmethod
    def wait_for_org(cls):
        # The goals replica follows the people service; every person must
        # resolve from their token before goals can be written for them.
        wait_until("people directory loaded",
                   lambda: "people directory loaded" in cls.goals.log_since_start())
        with auth.channel(cls.goals.address) as ch:
            stub = ggrpc.GoalServiceStub(ch)
            for ext, _, _ in PEOPLE:
                md = auth.bearer_metadata(cls.token(ext))

                def knows():
                    try:
                        stub.ListDueCheckIns(gpb.ListDueCheckInsRequest(
                            person=cls.person[ext]), metadata=md, timeout=10)
                        return True
                    except grpc.RpcError:
                        return False
                wait_until(f"goals knows {ext}", knows)

    def stub_as(self, ext, roles=""):
        # Reconnect soon after the restart below.
        ch = auth.channel(self.goals.address, token_file=self.token_file(ext, roles),
                          options=[("grpc.initial_reconnect_backoff_ms", 100),
                                   ("grpc.max_reconnect_backoff_ms", 1000)])
        self.addCleanup(ch.close)
        return ggrpc.GoalServiceStub(ch)

    def test_client_against_the_services(self):
        hr = self.stub_as("hr", "hr_admin")
        ceo = self.stub_as("ceo")

        # Follow every change from before the first write.
        changes, cond = [], threading.Condition()
        reconnect_errors = []
        release = threading.Event()

        def on_reconnect(err, delay):
            reconnect_errors.append(err.code() if err else None)
            # The first reconnect waits until the test has written while
            # the follower was away.
            if len(reconnect_errors) == 1:
                release.wait(WAIT)

        follower = watch.Follower(ceo.WatchGoals, gpb.WatchGoalsRequest,
                                  backoff=watch.Backoff(initial=0.05, maximum=0.5),
                                  on_reconnect=on_reconnect)
        failure = []

        def run():
            try:
                for c in follower:
                    with cond:
                        changes.append(c)
                        cond.notify_all()
            except Exception as e:  # reported by the test thread
                failure.append(e)
                with cond:
                    cond.notify_all()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.addCleanup(t.join, 30)
        self.addCleanup(follower.stop)
        self.addCleanup(release.set)
        wait_until("the watch is positioned", follower.connected.is_set)

        def wait_for_goal_change(pred, what):
            with cond:
                ok = cond.wait_for(lambda: failure or any(pred(c) for c in changes), WAIT)
            self.assertFalse(failure, failure)
            self.assertTrue(ok, f"no change {what}; got {[describe(c) for c in changes]}")

        # A cycle and a goal tree, written through the client.
        year = time.gmtime().tm_year
        cycle = hr.CreateCycle(gpb.CreateCycleRequest(
            cycle=gpb.Cycle(display_name=f"FY{year}", start_date=f"{year}-01-01",
                            end_date=f"{year}-12-31", state=gpb.Cycle.ACTIVE),
            request_id="cycle-1"), timeout=30)
        self.assertTrue(cycle.name.startswith("cycles/"), cycle)

        def goal(owner, title, level, parent="", by=None):
            stub = by or self.stub_as(owner)
            return stub.CreateGoal(gpb.CreateGoalRequest(
                goal=gpb.Goal(title=title, owner=self.person[owner], level=level,
                              cycle=cycle.name, parent=parent,
                              visibility=gpb.Goal.PUBLIC),
                request_id="goal-" + title.replace(" ", "-")), timeout=30)

        company = goal("ceo", "Grow revenue", gpb.COMPANY, by=ceo)
        eng = goal("mgr-eng", "Ship billing", gpb.TEAM, company.name, by=ceo)
        sales = goal("mgr-sales", "Sell billing", gpb.TEAM, company.name, by=ceo)
        leaves = [goal("ic-eng-1", "Invoices", gpb.INDIVIDUAL, eng.name),
                  goal("ic-eng-2", "Payments", gpb.INDIVIDUAL, eng.name),
                  goal("ic-sales-1", "Ten customers", gpb.INDIVIDUAL, sales.name)]
        created = [company, eng, sales, *leaves]
        parent_of = {g.name: g.parent for g in created}

        # Paging: every goal once, over several pages of two.
        req = gpb.ListGoalsRequest(cycle=cycle.name)
        pages = list(paging.pages(ceo.ListGoals, req, page_size=2, timeout=30))
        self.assertGreaterEqual(len(pages), 3)
        self.assertEqual(req.page_size, 0, "the caller's request is not changed")
        listed = [g.name for g in paging.items(ceo.ListGoals, req, "goals", page_size=2,
                                               timeout=30)]
        self.assertEqual(sorted(listed), sorted(parent_of))
        self.assertEqual(len(listed), len(set(listed)))
        self.assertEqual(listed, [g.name for p in pages for g in p.goals])

        # The alignment tree: every goal, parents before children.
        nodes = [n for chunk in ceo.GetAlignmentTree(
            gpb.GetAlignmentTreeRequest(company=True, cycle=cycle.name), timeout=30)
            for n in chunk.nodes]
        self.assertEqual(sorted(n.name for n in nodes), sorted(parent_of))
        position = {n.name: i for i, n in enumerate(nodes)}
        for n in nodes:
            self.assertFalse(n.restricted, n)
            self.assertEqual(n.parent, parent_of[n.name])
            self.assertEqual(n.depth, 0 if not n.parent else
                             nodes[position[n.parent]].depth + 1)
            if n.parent:
                self.assertLess(position[n.parent], position[n.name])
        titles = {n.name: n.title for n in nodes}
        self.assertEqual(titles[company.name], "Grow revenue")

        # The follower saw every goal created.
        for g in created:
            wait_for_goal_change(
                lambda c, g=g: c.WhichOneof("resource") == "goal" and c.goal.name == g.name
                and c.change_type == gpb.WatchGoalsResponse.CREATED, f"creating {g.title}")
        self.assertEqual(follower.connections, 1)

        # Restart the goals service; write while the follower is away (its
        # first reconnect waits for `release`), then once it is back.
        self.goals.stop()
        wait_until("the follower noticed", lambda: reconnect_errors)
        self.goals.start()
        self.wait_for_org()
        renames = []
        current = leaves[0]
        owner = self.stub_as("ic-eng-1")

        def rename(title):
            nonlocal current
            current = owner.UpdateGoal(gpb.UpdateGoalRequest(
                goal=gpb.Goal(name=current.name, etag=current.etag, title=title),
                update_mask=field_mask_pb2.FieldMask(paths=["title"])), timeout=30)
            renames.append((title, current.revision))

        for i in range(3):
            rename(f"Invoices, while away {i}")
        release.set()
        wait_until("the follower is back", lambda: failure or (
            follower.connections >= 2 and follower.connected.is_set()))
        self.assertFalse(failure, failure)
        # Connected is not yet replayed: the token is taken once the renames
        # made while away have arrived, so that it stands before the next ones.
        wait_for_goal_change(lambda c: c.WhichOneof("resource") == "goal"
                             and c.goal.title == "Invoices, while away 2", "replayed after the restart")
        token_before_last = follower.resume_token
        for i in range(2):
            rename(f"Invoices, after {i}")
        wait_for_goal_change(lambda c: c.WhichOneof("resource") == "goal"
                             and c.goal.title == "Invoices, after 1", "after the restart")
        self.assertFalse(failure, failure)
        self.assertEqual(reconnect_errors[0], grpc.StatusCode.UNAVAILABLE)

        with cond:
            seen = list(changes)
        tokens = [c.resume_token for c in seen]
        self.assertEqual(len(tokens), len(set(tokens)), "a change came twice")
        self.assertTrue(all(tokens), "every change carries a resume token")
        # Every rename of the leaf, in commit order, exactly once.
        leaf_updates = [(c.goal.title, c.goal.revision) for c in seen
                        if c.WhichOneof("resource") == "goal" and c.goal.name == leaves[0].name
                        and c.change_type == gpb.WatchGoalsResponse.UPDATED
                        and c.goal.title != "Invoices"]
        self.assertEqual(leaf_updates, renames)
        # Nothing else changed: the creates, then the renames.
        goal_events = [(c.change_type, c.goal.name) for c in seen
                       if c.WhichOneof("resource") == "goal"]
        for g in created:
            self.assertEqual(goal_events.count((gpb.WatchGoalsResponse.CREATED, g.name)), 1)

        # The example prints the tree and the two changes after the token.
        env = dict(os.environ)
        out = subprocess.run(
            [sys.executable, os.path.join(SOURCE, "clients/python/examples/tree_and_watch.py"),
             "--goals", self.goals.address, "--token_file", self.token_file("ceo"),
             "--cycle", cycle.name, "--resume_token", token_before_last,
             "--max_changes", "2"],
            capture_output=True, text=True, timeout=WAIT, env=env)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        self.assertIn(f"{company.name}  Grow revenue", "\n".join(lines))
        self.assertTrue(any(l.startswith(f"    {leaves[2].name}  Ten customers")
                            for l in lines), out.stdout)
        changed = [l.strip() for l in lines[lines.index("changes:") + 1:]
                   if l.startswith("  ")]
        self.assertEqual(changed, [f"UPDATED goal {leaves[0].name} Invoices, after 0",
                                   f"UPDATED goal {leaves[0].name} Invoices, after 1"])


def describe(c):
    kind = c.WhichOneof("resource")
    res = getattr(c, kind)
    return (f"{gpb.WatchGoalsResponse.ChangeType.Name(c.change_type)} {kind} "
            f"{res.name} rev={getattr(res, 'revision', '')} {getattr(res, 'title', '')}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
