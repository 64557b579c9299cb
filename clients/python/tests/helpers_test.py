#!/usr/bin/python3
"""The Python client's helpers without a server: token files, paging, and the
Watch follower against scripted streams."""

import os
import tempfile
import unittest

import grpc

from sightline import auth, paging, watch
from sightline.goals.v1 import goal_service_pb2 as gpb


class TokenTest(unittest.TestCase):

    def test_metadata(self):
        self.assertEqual(auth.bearer_metadata(" abc\n"), (("authorization", "Bearer abc"),))
        with self.assertRaises(ValueError):
            auth.bearer_metadata(" \n")

    def test_file_is_read_again_when_it_changes(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "token")
            with open(path, "w") as f:
                f.write("first\n")
            src = auth.TokenSource.from_file(path)
            self.assertEqual(src.token(), "first")
            with open(path, "w") as f:
                f.write("second-token\n")
            os.utime(path, ns=(1, 1))  # a new stamp even within one clock tick
            self.assertEqual(src.token(), "second-token")
            self.assertEqual(src.metadata(), (("authorization", "Bearer second-token"),))

    def test_exactly_one_source(self):
        with self.assertRaises(ValueError):
            auth.TokenSource()
        with self.assertRaises(ValueError):
            auth.TokenSource(token="a", path="/nonexistent")
        with self.assertRaises(FileNotFoundError):
            auth.TokenSource(path="/nonexistent/token")


class PagingTest(unittest.TestCase):

    def test_follows_next_page_token(self):
        data = {"": (["a", "b"], "p2"), "p2": (["c", "d"], "p3"), "p3": (["e"], "")}
        asked = []

        def list_goals(req, timeout=None):
            asked.append((req.page_token, req.page_size, req.cycle, timeout))
            names, nxt = data[req.page_token]
            return gpb.ListGoalsResponse(goals=[gpb.Goal(name=n) for n in names],
                                         next_page_token=nxt)

        req = gpb.ListGoalsRequest(cycle="cycles/c")
        got = [g.name for g in paging.items(list_goals, req, "goals", page_size=2, timeout=5)]
        self.assertEqual(got, ["a", "b", "c", "d", "e"])
        self.assertEqual(asked, [("", 2, "cycles/c", 5), ("p2", 2, "cycles/c", 5),
                                 ("p3", 2, "cycles/c", 5)])
        self.assertEqual(req.page_size, 0)

    def test_a_repeated_token_stops_the_loop(self):
        def list_goals(req):
            return gpb.ListGoalsResponse(goals=[gpb.Goal(name="x")], next_page_token="same")

        with self.assertRaisesRegex(RuntimeError, "repeated"):
            list(paging.items(list_goals, gpb.ListGoalsRequest(), "goals"))


class FakeError(grpc.RpcError):

    def __init__(self, code):
        self._code = code

    def code(self):
        return self._code


class FakeCall:
    """A server stream: its changes, then an error (or a clean end)."""

    def __init__(self, changes, error=None):
        self._changes, self._error = changes, error
        self.cancelled = False

    def initial_metadata(self):
        return ()

    def cancel(self):
        self.cancelled = True

    def __iter__(self):
        yield from self._changes
        if self._error is not None:
            raise self._error


def change(i):
    return gpb.WatchGoalsResponse(change_type=gpb.WatchGoalsResponse.UPDATED,
                                  goal=gpb.Goal(name=f"goals/{i}"), resume_token=f"t{i}")


class FollowerTest(unittest.TestCase):

    def follower(self, calls, **kw):
        self.asked = []

        def watch_goals(req, **call_kwargs):
            self.asked.append((req.resume_token, call_kwargs.get("wait_for_ready")))
            return calls.pop(0)

        return watch.Follower(watch_goals, gpb.WatchGoalsRequest,
                              backoff=watch.Backoff(initial=0.001, maximum=0.002), **kw)

    def test_resumes_from_the_last_change_and_never_repeats_one(self):
        unavailable = FakeError(grpc.StatusCode.UNAVAILABLE)
        calls = [FakeCall([change(1), change(2)], unavailable),
                 FakeCall([], unavailable),
                 # A server that sends the resume point again: skipped.
                 FakeCall([change(2), change(3)]),
                 FakeCall([change(4)], FakeError(grpc.StatusCode.PERMISSION_DENIED))]
        reconnects = []
        f = self.follower(calls, on_reconnect=lambda e, d: reconnects.append(
            e.code() if e else None))
        got = []
        with self.assertRaises(grpc.RpcError) as err:
            for c in f:
                got.append(c.goal.name)
        self.assertEqual(err.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertEqual(got, ["goals/1", "goals/2", "goals/3", "goals/4"])
        self.assertEqual(self.asked, [("", True), ("t2", True), ("t2", True), ("t3", True)])
        self.assertEqual(reconnects, [grpc.StatusCode.UNAVAILABLE,
                                      grpc.StatusCode.UNAVAILABLE, None])
        self.assertEqual(f.resume_token, "t4")
        self.assertEqual(f.connections, 4)

    def test_gives_up_after_max_attempts_without_a_change(self):
        calls = [FakeCall([], FakeError(grpc.StatusCode.UNAVAILABLE)) for _ in range(3)]
        f = self.follower(calls)
        f._backoff.max_attempts = 2
        with self.assertRaises(grpc.RpcError):
            list(f)
        self.assertEqual(len(self.asked), 3)

    def test_stop_ends_the_iteration(self):
        calls = [FakeCall([change(1), change(2), change(3)])]
        f = self.follower(calls, resume_token="t0")
        got = []
        for c in f:
            got.append(c.resume_token)
            f.stop()
        self.assertEqual(got, ["t1"])
        self.assertEqual(self.asked, [("t0", True)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
