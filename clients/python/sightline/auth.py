"""Bearer tokens on every call of a channel."""

from __future__ import annotations

import collections
import os
import threading
from typing import Callable, Optional

import grpc


def bearer_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """The call metadata that carries ``token``."""
    token = token.strip()
    if not token:
        raise ValueError("empty bearer token")
    return (("authorization", "Bearer " + token),)


class TokenSource:
    """A token given as a string, or read from a file.

    A file is read again when it changes, so that a token rotated on disk (a
    mounted Kubernetes secret, say) is used from the next call on.
    """

    def __init__(self, token: Optional[str] = None, path: Optional[str] = None):
        if (token is None) == (path is None):
            raise ValueError("give exactly one of token and path")
        self._token = token
        self._path = path
        self._stamp: Optional[tuple[int, int]] = None
        self._lock = threading.Lock()
        self.token()  # fail now, not on the first call, if it is unreadable

    @classmethod
    def from_file(cls, path: str) -> "TokenSource":
        return cls(path=path)

    def token(self) -> str:
        if self._path is None:
            assert self._token is not None
            return self._token
        with self._lock:
            st = os.stat(self._path)
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp != self._stamp:
                with open(self._path, encoding="utf-8") as f:
                    token = f.read().strip()
                if not token:
                    raise ValueError(f"{self._path}: empty bearer token")
                self._token, self._stamp = token, stamp
            assert self._token is not None
            return self._token

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return bearer_metadata(self.token())


class _Details(
        collections.namedtuple(
            "_Details",
            ("method", "timeout", "metadata", "credentials", "wait_for_ready",
             "compression")), grpc.ClientCallDetails):
    pass


class TokenInterceptor(grpc.UnaryUnaryClientInterceptor,
                       grpc.UnaryStreamClientInterceptor,
                       grpc.StreamUnaryClientInterceptor,
                       grpc.StreamStreamClientInterceptor):
    """Adds ``authorization: Bearer <token>`` to every call.

    Works on insecure (loopback, sidecar) channels too, where gRPC's call
    credentials are refused.
    """

    def __init__(self, token: Callable[[], str] | TokenSource | str):
        if isinstance(token, str):
            token = TokenSource(token=token)
        self._token = token.token if isinstance(token, TokenSource) else token

    def _details(self, d: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        md = [m for m in (d.metadata or ()) if m[0] != "authorization"]
        md.extend(bearer_metadata(self._token()))
        return _Details(d.method, d.timeout, md, d.credentials,
                        getattr(d, "wait_for_ready", None),
                        getattr(d, "compression", None))

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation, client_call_details,
                               request_iterator):
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation, client_call_details,
                                request_iterator):
        return continuation(self._details(client_call_details), request_iterator)


def channel(address: str,
            token: Optional[str] = None,
            token_file: Optional[str] = None,
            credentials: Optional[grpc.ChannelCredentials] = None,
            options: Optional[list[tuple[str, object]]] = None) -> grpc.Channel:
    """A channel to ``address`` whose calls carry the bearer token.

    With ``credentials`` the channel is TLS; without, plaintext (loopback).
    """
    base = (grpc.secure_channel(address, credentials, options=options)
            if credentials is not None else
            grpc.insecure_channel(address, options=options))
    if token is None and token_file is None:
        return base
    return grpc.intercept_channel(base, TokenInterceptor(TokenSource(token, token_file)))
