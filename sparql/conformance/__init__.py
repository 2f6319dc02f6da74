"""W3C SPARQL 1.1 conformance, measured over HTTP against any SPARQL 1.1 endpoint.

>>> from sparql.conformance import Endpoint, run
>>> report = run(Endpoint("http://127.0.0.1:7878/query", "http://127.0.0.1:7878/update"))  # doctest: +SKIP
>>> print(report.summary())                                                                # doctest: +SKIP

Command line: ``python3 -m sparql.conformance --help``; what is run, counted and excluded, and
why: README.md beside this file.
"""

from .manifest import GROUPS, load_suite
from .runner import Endpoint, EndpointUnreachable, Outcome, Report, run

__all__ = ["GROUPS", "Endpoint", "EndpointUnreachable", "Outcome", "Report", "load_suite", "run"]
