"""The ``mouseion`` command line: a thin adapter over ``kg``.

Exit codes (documented in the README):

- ``0`` success: everything loaded / the data conforms / the query ran;
- ``1`` the data is at fault: some records were rejected / the data does not conform;
- ``2`` error: bad usage, an unreadable file, a store that cannot be opened, a query syntax error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

import pyoxigraph as ox

from kg.errors import MouseionError
from kg.record import Rejection, Uris
from kg.settings import Settings

OK, DATA_FAULT, ERROR = 0, 1, 2

#: --format names → pyoxigraph formats, for SELECT/ASK and for CONSTRUCT/DESCRIBE results
RESULT_FORMATS = {"json": ox.QueryResultsFormat.JSON, "xml": ox.QueryResultsFormat.XML,
                  "csv": ox.QueryResultsFormat.CSV, "tsv": ox.QueryResultsFormat.TSV}
GRAPH_FORMATS = {"turtle": ox.RdfFormat.TURTLE, "ntriples": ox.RdfFormat.N_TRIPLES,
                 "rdfxml": ox.RdfFormat.RDF_XML, "jsonld": ox.RdfFormat.JSON_LD}


def sample_paths() -> list[str]:
    from kg.readers.mapped import sample_mapping_path
    return [str(sample_mapping_path())]


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(store=getattr(args, "store", None), base_uri=getattr(args, "base_uri", None),
                             batch_size=getattr(args, "batch_size", None))


#: stores this command opened; ``main`` closes them, so that RocksDB flushes its memtables and the next
#: open does not replay a long write-ahead log
_OPENED: list = []


def _open(settings: Settings, read_only: bool = False):
    from kg.store import Store
    if settings.remote_query_url:
        store = Store.connect(settings.remote_query_url, settings.base_uri,
                              update_url=settings.remote_update_url or None)
    else:
        store = Store.open(settings.store, settings.base_uri, read_only=read_only, bare=settings.bare_store)
    _OPENED.append(store)
    return store


def _with_search(store, settings: Settings):
    """Keep the search index in step with this command's writes (it catches up first). A remote store's
    index lives in the serving process's memory, which catches up when it starts."""
    from kg.search import SearchIndex, index_location
    if store.path is not None or settings.search_index:
        SearchIndex.attach(store, index_location(settings.search_index, store.path))
    return store


def _print_rejections(rejected: Sequence[Rejection], limit: int | None = None) -> None:
    for rejection in rejected[:limit]:
        print(f"rejected: {rejection}", file=sys.stderr)
    if limit is not None and len(rejected) > limit:
        print(f"... and {len(rejected) - limit} more rejected records", file=sys.stderr)


def cmd_load(args: argparse.Namespace) -> int:
    from kg.ingest import load
    settings = _settings(args)
    if args.no_validate:
        settings = Settings.from_env(**{**settings.__dict__, "validate": False})
    paths = list(args.paths) + (sample_paths() if args.sample else [])
    if not paths:
        raise MouseionError("nothing to load: name files, folders or archives, or pass --sample")
    store = _with_search(_open(settings), settings)
    bar = None
    if args.progress or (sys.stderr.isatty() and not args.events):
        from tqdm import tqdm
        bar = tqdm(unit=" records", file=sys.stderr, dynamic_ncols=True)

    def progress(loaded: int, rejected: int) -> None:
        if bar is not None:
            bar.update(loaded + rejected - bar.n)
            bar.set_postfix(rejected=rejected)
        if args.events:
            print(json.dumps({"event": "batch-committed", "loaded": loaded, "rejected": rejected}), flush=True)

    report = load(store, paths, settings, dataset=args.dataset, progress=progress)
    if bar is not None:
        bar.close()
    _print_rejections(report.rejected, None if args.verbose else 50)
    print(report.summary())
    return DATA_FAULT if report.rejected else OK


def cmd_validate(args: argparse.Namespace) -> int:
    from kg.ingest import batches, gate, read_all
    from shapes.gate import Gate, format_report
    settings = _settings(args)
    validator = Gate.default()
    conforming = failing = 0
    file_errors = False
    for records, _vocabularies, rejected in batches(read_all(args.paths, settings, Uris(settings.base_uri),
                                                             args.dataset), settings.batch_size):
        for rejection in rejected:
            file_errors |= rejection.key is None
            failing += 1
            print(f"REJECTED {rejection}\n")
        for item in gate(records, validator):
            if item.violations:
                failing += 1
            else:
                conforming += 1
            if item.findings or args.verbose:
                status = "DOES NOT CONFORM" if item.violations else "conforms"
                print(f"{status}: {item.record.origin}")
                print(format_report(item.record.key, item.findings) + "\n")
    print(f"{conforming} records conform, {failing} do not")
    return ERROR if file_errors else DATA_FAULT if failing else OK


def cmd_query(args: argparse.Namespace) -> int:
    text = Path(args.file).read_text(encoding="utf-8") if args.file else args.sparql
    if not text:
        raise MouseionError("give a query, or --file FILE")
    store = _open(_settings(args), read_only=False)
    try:
        result = store.query(text)
    except SyntaxError as error:
        print(f"query syntax error: {error}", file=sys.stderr)
        return ERROR
    out = sys.stdout.buffer
    if isinstance(result, ox.QueryTriples):
        fmt = GRAPH_FORMATS.get(args.format or "turtle")
        if fmt is None:
            raise MouseionError(f"--format for graph results is one of {', '.join(GRAPH_FORMATS)}")
        result.serialize(out, format=fmt)
    else:
        fmt = RESULT_FORMATS.get(args.format or "json")
        if fmt is None:
            raise MouseionError(f"--format for SELECT/ASK results is one of {', '.join(RESULT_FORMATS)}")
        result.serialize(out, format=fmt)
    out.flush()
    return OK


def cmd_dump(args: argparse.Namespace) -> int:
    count = _open(_settings(args)).dump(args.output)
    print(f"{count} quads written to {args.output}")
    return OK


def cmd_restore(args: argparse.Namespace) -> int:
    from kg.store import Store
    settings = _settings(args)
    store = Store.restore(args.input, settings.store, settings.base_uri, replace=args.force)
    _with_search(store, settings)
    print(f"{store.backend.count()} quads restored into {settings.store}")
    return OK


def cmd_delete(args: argparse.Namespace) -> int:
    settings = _settings(args)
    for outcome in _with_search(_open(settings), settings).delete(args.keys):
        print(f"{outcome.status}: {outcome.key}")
    return OK


def cmd_restrict(args: argparse.Namespace) -> int:
    by = args.by or os.environ.get("USER", "operator")
    for outcome in _open(_settings(args)).restrict(args.keys, reason=args.reason, by=by):
        print(f"{outcome.status}: {outcome.key}")
    return OK


def cmd_release(args: argparse.Namespace) -> int:
    for outcome in _open(_settings(args)).release(args.keys):
        print(f"released ({outcome.status}): {outcome.key}")
    return OK


def cmd_restricted(args: argparse.Namespace) -> int:
    for held in sorted(_open(_settings(args)).restrictions().values(), key=lambda r: r.key):
        print(f"{held.key}\t{held.dataset}\tsince {held.since}\tby {held.by}\t{held.reason}")
    return OK


def cmd_stats(args: argparse.Namespace) -> int:
    stats = _open(_settings(args)).stats()
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        print(f"triples   {stats['triples']}\nrecords   {stats['records']} live, {stats['deleted']} deleted\n"
              f"graphs    {stats['graphs']}")
        for name, count in stats["datasets"].items():
            print(f"dataset   {name}: {count}")
        for name, count in sorted(stats["classes"].items()):
            print(f"class     {name}: {count}")
    return OK


def _who(args: argparse.Namespace) -> str:
    import getpass
    return args.by or getpass.getuser()


def cmd_enrich(args: argparse.Namespace) -> int:
    from enrichment.jobs import JOBS, run_job
    if args.list or not args.job:
        for job in JOBS:
            print(f"{job.name} {job.version}: {job.description}")
            for p in job.parameters:
                print(f"    --param {p.name}=...  {p.help} (default {p.default!r})")
        return OK if args.list else ERROR
    settings = _settings(args)
    store = _open(settings)
    fetch = None
    if settings.image_fetch:
        from web.image_fetch import http_fetcher
        fetch = http_fetcher(settings.image_timeout)
    bar = None
    if args.progress or sys.stderr.isatty():
        from tqdm import tqdm
        bar = tqdm(unit=" items", file=sys.stderr, dynamic_ncols=True, desc=args.job)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.update(done - bar.n)

    run = run_job(store, settings, args.job, where=args.where, params=args.param, progress=progress, fetch=fetch)
    if bar is not None:
        bar.close()
    for reason in run.skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    print(f"run {run.run_id}: {len(run.suggestions)} suggestions (pending review), {len(run.skipped)} inputs "
          f"skipped, graph {store.uris.run_graph(run.run_id).value}")
    return OK


def cmd_runs(args: argparse.Namespace) -> int:
    from dataclasses import asdict
    from enrichment.runs import list_runs
    runs = list_runs(_open(_settings(args)))
    if args.json:
        print(json.dumps([asdict(r) for r in runs], indent=2))
        return OK
    for r in runs:
        if r.retracted_at:
            print(f"{r.run_id}  {r.job}  retracted {r.retracted_at} by {r.retracted_by}")
        else:
            print(f"{r.run_id}  {r.job}  {r.started} .. {r.ended}  {r.pending} pending, {r.accepted} accepted, "
                  f"{r.rejected} rejected  [{r.agent_label}]")
    return OK


def _selection(args: argparse.Namespace, state: str | None) -> dict:
    return dict(run=args.run, job=args.job, property=args.property, subject=args.subject, state=state,
                min_confidence=args.min_confidence, max_confidence=args.max_confidence)


def cmd_review(args: argparse.Namespace) -> int:
    from enrichment.runs import find_suggestions, review
    store = _open(_settings(args))
    if args.action == "list":
        rows = find_suggestions(store, **_selection(args, None if args.state == "any" else args.state),
                                limit=args.limit)
        if args.json:
            print(json.dumps([{"assignment": r.assignment, "run": r.run_id, "job": r.job, "subject": r.subject,
                               "property": r.property, "value": r.value.value, "confidence": r.confidence,
                               "evidence": r.evidence, "state": r.state, "reviewedBy": r.reviewed_by,
                               "reviewedAt": r.reviewed_at} for r in rows], indent=2))
        else:
            for r in rows:
                print(f"{r.confidence:.4f}  {r.state:<8}  <{r.subject}> <{r.property}> {r.value}\n"
                      f"        {r.evidence}\n        {r.assignment}")
            print(f"{len(rows)} suggestions")
        return OK
    chosen = list(args.assignment)
    selectors = [args.run, args.job, args.property, args.subject, args.min_confidence, args.max_confidence]
    if not chosen and not args.all and all(v is None for v in selectors):
        raise MouseionError(f"review {args.action}: choose suggestions (--run, --job, --property, --subject, "
                            "--min-confidence, --max-confidence, --assignment) or pass --all")
    if not chosen or any(v is not None for v in selectors):
        source = "pending" if args.state is None else (None if args.state == "any" else args.state)
        found = [r.assignment for r in find_suggestions(store, **_selection(args, source), limit=args.limit)]
        chosen = [a for a in found if not chosen or a in chosen]
    decision = {"accept": "accepted", "reject": "rejected", "reset": "pending"}[args.action]
    outcome = review(store, chosen, decision, who=_who(args), note=args.note)
    print(f"{outcome.changed} suggestions {decision}, {outcome.unchanged} already were "
          f"(runs: {', '.join(outcome.runs) or 'none'})")
    return OK


def cmd_retract(args: argparse.Namespace) -> int:
    from enrichment.runs import retract
    removed = retract(_open(_settings(args)), args.run, who=_who(args))
    print(f"run {args.run} retracted: {removed} statements removed; the run log keeps the retraction")
    return OK


def cmd_export(args: argparse.Namespace) -> int:
    from kg.edm_out import export
    settings = _settings(args)
    count = export(_open(settings), args.output, dataset=args.dataset, suggestions=settings.oai_suggestions)
    print(f"{count} EDM records written to {args.output}")
    return OK


def cmd_reindex(args: argparse.Namespace) -> int:
    from kg.search import SearchIndex, index_location
    settings = _settings(args)
    store = _open(settings)
    location = index_location(settings.search_index, store.path)
    if location == ":memory:":
        raise MouseionError("this store's search index lives in the serving process's memory and is rebuilt "
                            "when it starts; set MOUSEION_SEARCH_INDEX to keep one on disk")
    index = SearchIndex(store, location)
    done = index.rebuild()
    print(f"search index {location}: {index.count()} records indexed ({done['indexed']} read from the store)")
    return OK


def cmd_serve(args: argparse.Namespace) -> int:
    from waitress import serve

    from kg.ingest import load
    from web.app import create_app
    settings = Settings.from_env(store=args.store, base_uri=args.base_uri, host=args.host, port=args.port)
    store = _open(settings)
    if args.sample and not store.stats()["records"]:
        print("loading the bundled sample collection (Tate, CC0 metadata)...", file=sys.stderr)
        print(load(store, sample_paths(), settings).summary(), file=sys.stderr)
    app = create_app(store, settings)
    print(f"Mouseion serving {settings.store} at http://{settings.host}:{settings.port}/", file=sys.stderr)
    serve(app, host=settings.host, port=settings.port, threads=8, ident="mouseion")
    return OK


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", help="store directory (env MOUSEION_STORE, default ./mouseion-data)")
    common.add_argument("--base-uri", help="base of minted URIs (env MOUSEION_BASE_URI)")
    top = argparse.ArgumentParser(prog="mouseion", description=__doc__.split("\n\n")[0],
                                  epilog="exit codes: 0 success, 1 records rejected / data does not conform, 2 error",
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("load", parents=[common], help="validate and load files, folders, zip archives, mappings")
    p.add_argument("paths", nargs="*")
    p.add_argument("--sample", action="store_true", help="also load the bundled Tate sample collection")
    p.add_argument("--dataset", help="dataset name (default: derived from each source)")
    p.add_argument("--no-validate", action="store_true", help="skip the SHACL gate (limits still apply)")
    p.add_argument("--batch-size", type=int, help="records per transaction (env MOUSEION_BATCH_SIZE)")
    p.add_argument("--progress", action="store_true", help="show a progress bar even when not on a terminal")
    p.add_argument("--events", action="store_true", help="print a JSON line after every committed batch")
    p.add_argument("-v", "--verbose", action="store_true", help="list every rejected record")
    p.set_defaults(func=cmd_load)

    p = sub.add_parser("validate", parents=[common], help="check files against the SHACL shapes, write nothing")
    p.add_argument("paths", nargs="+")
    p.add_argument("--dataset")
    p.add_argument("-v", "--verbose", action="store_true", help="report conforming records too")
    p.set_defaults(func=cmd_validate, batch_size=None)

    p = sub.add_parser("query", parents=[common], help="run a SPARQL query over the store")
    p.add_argument("sparql", nargs="?")
    p.add_argument("-f", "--file", help="read the query from a file")
    p.add_argument("--format", help=f"{', '.join(RESULT_FORMATS)} (SELECT/ASK) or {', '.join(GRAPH_FORMATS)}")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("dump", parents=[common], help="write the whole store as gzipped N-Quads")
    p.add_argument("output")
    p.set_defaults(func=cmd_dump)

    p = sub.add_parser("restore", parents=[common], help="create a store from a gzipped N-Quads dump")
    p.add_argument("input")
    p.add_argument("--force", action="store_true", help="replace a non-empty store")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("delete", parents=[common], help="delete records (tombstones stay in the change log)")
    p.add_argument("keys", nargs="+")
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("restrict", parents=[common],
                       help="withdraw records from every public route (kept privately; harvesters see a deletion)")
    p.add_argument("keys", nargs="+")
    p.add_argument("--reason", required=True, help="why (a community's or rights holder's request, ...)")
    p.add_argument("--by", help="who decided (default: $USER)")
    p.set_defaults(func=cmd_restrict)

    p = sub.add_parser("release", parents=[common], help="lift a restriction: the records are published again")
    p.add_argument("keys", nargs="+")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("restricted", parents=[common], help="list restricted records, with reason and date")
    p.set_defaults(func=cmd_restricted)

    p = sub.add_parser("stats", parents=[common], help="counts of triples, records, datasets, classes")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("enrich", parents=[common], help="run an enrichment job; its suggestions await review")
    p.add_argument("job", nargs="?", help="job name (see --list)")
    p.add_argument("--list", action="store_true", help="list the jobs and their parameters")
    p.add_argument("--where", help="SPARQL group graph pattern narrowing the objects (?object), e.g. "
                                   "'?object crm:P2_has_type aat:300033618'")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a job parameter (repeatable)")
    p.add_argument("--progress", action="store_true", help="show a progress bar even when not on a terminal")
    p.set_defaults(func=cmd_enrich)

    p = sub.add_parser("runs", parents=[common], help="list enrichment runs (and retracted ones)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("review", parents=[common], help="list, accept, reject or reset machine suggestions in bulk")
    p.add_argument("action", choices=["list", "accept", "reject", "reset"])
    p.add_argument("--run", help="suggestions of this run id")
    p.add_argument("--job", help="suggestions of this job")
    p.add_argument("--property", help="suggestions for this property (full IRI)")
    p.add_argument("--subject", help="suggestions about this subject (full IRI)")
    p.add_argument("--state", help="review state to choose from: pending (default), accepted, rejected, any")
    p.add_argument("--min-confidence", type=float, help="confidence at least")
    p.add_argument("--max-confidence", type=float, help="confidence at most")
    p.add_argument("--assignment", action="append", default=[], help="one suggestion's assignment IRI (repeatable)")
    p.add_argument("--all", action="store_true", help="every suggestion in the chosen state")
    p.add_argument("--limit", type=int, help="at most this many")
    p.add_argument("--by", help="reviewer name recorded with the decision (default: the login name)")
    p.add_argument("--note", help="a note recorded with the decision")
    p.add_argument("--json", action="store_true", help="list as JSON")
    p.set_defaults(func=cmd_review)

    p = sub.add_parser("retract", parents=[common], help="remove an enrichment run's graph in one transaction")
    p.add_argument("run", help="run id (see `mouseion runs`)")
    p.add_argument("--by", help="name recorded with the retraction (default: the login name)")
    p.set_defaults(func=cmd_retract)

    p = sub.add_parser("export", parents=[common], help="write one EDM RDF/XML file per record (zip or folder)")
    p.add_argument("format", choices=["edm"], help="the export format")
    p.add_argument("output", help="OUT.zip for a zip archive, else a folder")
    p.add_argument("--dataset", help="only this dataset")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("reindex", parents=[common], help="rebuild the search index from the store")
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser("serve", parents=[common], help="serve the web application")
    p.add_argument("--sample", action="store_true", help="load the bundled sample first when the store is empty")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=cmd_serve)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except MouseionError as error:
        print(f"mouseion {args.command}: {error}", file=sys.stderr)
        return ERROR
    except KeyboardInterrupt:
        return ERROR
    finally:
        while _OPENED:
            _OPENED.pop().close()


if __name__ == "__main__":
    sys.exit(main())
