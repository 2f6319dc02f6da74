"""The ``mouseion`` command line: a thin adapter over ``kg``.

Exit codes (documented in the README):

- ``0`` success: everything loaded / the data conforms / the query ran;
- ``1`` the data is at fault: some records were rejected / the data does not conform;
- ``2`` error: bad usage, an unreadable file, a store that cannot be opened, a query syntax error.
"""

from __future__ import annotations

import argparse
import json
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


def _open(settings: Settings, read_only: bool = False):
    from kg.store import Store
    if settings.remote_query_url:
        return Store.connect(settings.remote_query_url, settings.base_uri,
                             update_url=settings.remote_update_url or None)
    return Store.open(settings.store, settings.base_uri, read_only=read_only, bare=settings.bare_store)


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

    p = sub.add_parser("stats", parents=[common], help="counts of triples, records, datasets, classes")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

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


if __name__ == "__main__":
    sys.exit(main())
