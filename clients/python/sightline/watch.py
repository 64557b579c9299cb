"""``Watch*`` streams that survive a broken connection.

The services keep every committed change in a change log and answer a
``Watch*`` call with the changes after the ``resume_token`` it carries. A
follower remembers the token of the last change it handed out and, when the
stream breaks (the server restarts, a load balancer moves the connection: gRPC
says UNAVAILABLE) or ends, calls again with that token after a backoff: the
changes come in commit order, with no gap and none twice.

Before the first change has arrived there is no token; a call without one
starts at the changes committed after it, so pass ``resume_token`` when
changes made before a reconnect must not be missed.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import grpc
from google.protobuf.message import Message

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE})


@dataclass
class Backoff:
    """Exponential backoff with full jitter; reset once a change arrives."""
    initial: float = 0.1
    maximum: float = 5.0
    multiplier: float = 2.0
    # Consecutive failed attempts before giving up (None: never).
    max_attempts: Optional[int] = 50

    def delay(self, attempt: int) -> float:
        cap = min(self.maximum, self.initial * self.multiplier ** attempt)
        return random.uniform(cap / 2, cap)


class Follower:
    """Iterates the changes of one ``Watch*`` method, reconnecting as needed.

    ``method`` is the stub method (``stub.WatchGoals``), ``request_type`` its
    request class. ``resume_token`` (the last one shown by ``Follower.resume_token``
    of an earlier run) starts after that change. ``stop()`` ends the iteration
    from another thread.
    """

    def __init__(self,
                 method: Callable[..., Any],
                 request_type: type,
                 resume_token: str = "",
                 backoff: Optional[Backoff] = None,
                 retryable: frozenset = RETRYABLE,
                 on_reconnect: Optional[Callable[[grpc.RpcError | None, float], None]] = None,
                 **call_kwargs: Any):
        self._method = method
        self._request_type = request_type
        self._backoff = backoff or Backoff()
        self._retryable = retryable
        self._on_reconnect = on_reconnect
        # A stream that cannot start yet (the server is restarting) waits for
        # the channel to connect instead of failing every attempt at once.
        call_kwargs.setdefault("wait_for_ready", True)
        self._call_kwargs = call_kwargs
        self._stopped = threading.Event()
        self._call: Any = None
        self._lock = threading.Lock()
        self.resume_token = resume_token
        # Streams opened so far (1 + reconnects).
        self.connections = 0
        # Set once a stream's position is fixed (the server's headers came):
        # a change committed after that is delivered.
        self.connected = threading.Event()

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            if self._call is not None:
                self._call.cancel()

    def __iter__(self) -> Iterator[Message]:
        attempt = 0
        while not self._stopped.is_set():
            error: Optional[grpc.RpcError] = None
            with self._lock:
                if self._stopped.is_set():  # stop() saw no call to cancel
                    return
                self._call = self._method(
                    self._request_type(resume_token=self.resume_token),
                    **self._call_kwargs)
            self.connections += 1
            try:
                # The services send headers once they have fixed where the
                # stream starts; None when the call failed first.
                if self._call.initial_metadata() is not None:
                    self.connected.set()
                for change in self._call:
                    if self._stopped.is_set():
                        return  # not handed out: resume_token stays before it
                    token = change.resume_token
                    if token and token == self.resume_token:
                        continue  # already handed out: never twice
                    if token:
                        self.resume_token = token
                    attempt = 0
                    yield change
            except grpc.RpcError as e:
                if self._stopped.is_set():
                    return
                if e.code() not in self._retryable:
                    raise
                error = e
            finally:
                self.connected.clear()
                with self._lock:
                    self._call.cancel()
                    self._call = None
            if self._stopped.is_set():
                return
            # Broken or ended (a server shutting down may end it cleanly):
            # come back after a pause.
            if (self._backoff.max_attempts is not None
                    and attempt >= self._backoff.max_attempts):
                raise error if error is not None else RuntimeError(
                    "watch ended too many times")
            delay = self._backoff.delay(attempt)
            attempt += 1
            if self._on_reconnect is not None:
                self._on_reconnect(error, delay)
            self._stopped.wait(delay)


def follow(method: Callable[..., Any], request_type: type,
           resume_token: str = "", **kwargs: Any) -> Iterator[Message]:
    """Every change of ``method`` from ``resume_token`` on, e.g.::

        for change in follow(stub.WatchGoals, goal_service_pb2.WatchGoalsRequest):
            print(change.change_type, change.goal.name)
    """
    return iter(Follower(method, request_type, resume_token, **kwargs))
