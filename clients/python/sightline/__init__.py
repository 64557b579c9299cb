"""Python client of the Sightline services.

The message and stub modules (``sightline.goals.v1.goal_service_pb2`` and
friends) are generated from ``proto/sightline`` by ``clients/python/generate.sh``
into a directory of their own; put that directory on ``sys.path`` (or
``PYTHONPATH``) beside this one. The helpers here are hand-written:

- :mod:`sightline.auth`: bearer tokens (a string or a file) on every call.
- :mod:`sightline.paging`: every item of a ``List*`` call, page after page.
- :mod:`sightline.watch`: a ``Watch*`` stream that resumes after a broken
  connection without losing or repeating a change.
"""

import pkgutil

# The generated sub-packages (sightline.goals.v1, ...) live in another
# directory named `sightline` on sys.path: make them part of this package.
__path__ = pkgutil.extend_path(__path__, __name__)
