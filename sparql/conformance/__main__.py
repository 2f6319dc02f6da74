"""``python3 -m sparql.conformance``: run the W3C SPARQL 1.1 tests against an endpoint.

Exit codes: 0 the pass rate is at or above ``--floor``; 1 it is below; 2 the run could not be
made (bad arguments, endpoint unreachable, suite missing).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .manifest import DEFAULT_SUITE, GROUPS
from .oxigraph_server import OxigraphServer
from .runner import GSP_FEATURES, Endpoint, EndpointUnreachable, run

EXIT_OK, EXIT_BELOW_FLOOR, EXIT_ERROR = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python3 -m sparql.conformance",
        description="Run the W3C SPARQL 1.1 test suite against a SPARQL 1.1 endpoint, over HTTP.",
        epilog="Exit codes: 0 pass rate >= floor, 1 below floor, 2 could not run.",
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--endpoint", metavar="URL", help="SPARQL query URL")
    target.add_argument(
        "--oxigraph", action="store_true", help="start the reference server `oxigraph serve` on loopback and test it"
    )
    p.add_argument("--update-url", metavar="URL", help="SPARQL update URL (default: the query URL)")
    p.add_argument(
        "--graph-store-url", metavar="URL", help="Graph Store Protocol URL (default: graph store tests excluded)"
    )
    p.add_argument("--token", help="bearer token sent with every request (writes need one)")
    p.add_argument(
        "--groups", nargs="+", choices=GROUPS, metavar="GROUP", help=f"any of: {', '.join(GROUPS)} (default: all)"
    )
    p.add_argument(
        "--floor",
        type=float,
        default=0.95,
        help="lowest acceptable overall pass rate, 0..1 (default 0.95; oxigraph serve scores 0.963)",
    )
    p.add_argument(
        "--union-default-graph",
        action="store_true",
        help="the endpoint's default graph is the union of its named graphs (tests that need them apart are excluded)",
    )
    p.add_argument(
        "--gsp-features",
        nargs="*",
        choices=sorted(GSP_FEATURES),
        default=None,
        metavar="FEATURE",
        help="optional Graph Store Protocol features the endpoint supports "
        "(default: IndirectGraphIdentification POSTGraphCreation; all with --oxigraph)",
    )
    p.add_argument("--suite", type=Path, default=DEFAULT_SUITE, help="the sparql11/ folder of w3c/rdf-tests")
    p.add_argument(
        "-v", "--verbose", action="store_true", help="print each failing, excluded and skipped test with its reason"
    )
    p.add_argument(
        "--failures", type=Path, metavar="FILE", help="write each failing, excluded and skipped test and why to FILE"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    server = None
    try:
        if args.oxigraph:
            server = OxigraphServer().start()
            endpoint = server.endpoint()
        else:
            endpoint = Endpoint(args.endpoint, args.update_url, args.graph_store_url)
        endpoint.token = args.token
        endpoint.default_graph_is_union = args.union_default_graph
        if args.gsp_features is not None:
            endpoint.graph_store_features = frozenset(args.gsp_features)
        report = run(endpoint, args.groups, args.suite)
    except (EndpointUnreachable, FileNotFoundError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if server is not None:
            server.stop()
    print(report.summary())
    if args.verbose:
        print(report.details())
    if args.failures:
        args.failures.write_text(report.details() + "\n", encoding="utf-8")
        print(f"details: {args.failures}")
    rate = report.rate()
    if rate < args.floor:
        print(f"below the floor: {100 * rate:.1f}% < {100 * args.floor:.1f}%", file=sys.stderr)
        return EXIT_BELOW_FLOOR
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
