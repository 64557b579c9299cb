"""Every item of a paged ``List*`` call."""

from __future__ import annotations

from typing import Any, Callable, Iterator, Optional, TypeVar

from google.protobuf.message import Message

Req = TypeVar("Req", bound=Message)
Item = TypeVar("Item", bound=Message)


def pages(method: Callable[..., Message],
          request: Message,
          *,
          page_size: Optional[int] = None,
          max_pages: int = 1_000_000,
          **call_kwargs: Any) -> Iterator[Message]:
    """Each response of ``method`` (a ``List*`` stub method), following
    ``next_page_token`` until it is empty.

    ``request`` is not changed: each page is asked for with a copy.
    ``call_kwargs`` (timeout, metadata...) go to every call.
    """
    req = type(request)()
    req.CopyFrom(request)
    if page_size is not None:
        req.page_size = page_size
    seen = set()
    for _ in range(max_pages):
        resp = method(req, **call_kwargs)
        yield resp
        token = resp.next_page_token
        if not token:
            return
        if token in seen:
            raise RuntimeError(f"{type(resp).__name__}: page token repeated")
        seen.add(token)
        req.page_token = token
    raise RuntimeError(f"more than {max_pages} pages")


def items(method: Callable[..., Message],
          request: Message,
          field: str,
          *,
          page_size: Optional[int] = None,
          **call_kwargs: Any) -> Iterator[Any]:
    """Every element of the repeated ``field`` (``"goals"``, ``"people"``...)
    over all pages, e.g.::

        for goal in items(stub.ListGoals, ListGoalsRequest(cycle=c), "goals"):
            ...
    """
    for resp in pages(method, request, page_size=page_size, **call_kwargs):
        yield from getattr(resp, field)
