"""The Flask application: ``create_app(store, settings)``, with every route in one table.

Later areas (SPARQL, linked-data pages, OAI-PMH) add their blueprints to ``ROUTES``'s neighbours;
service paths live under the reserved ``/-/`` prefix.
"""

from __future__ import annotations

import atexit
from importlib.metadata import PackageNotFoundError, version

from flask import Flask, jsonify, render_template

from kg.search import SearchIndex, index_location
from kg.settings import Settings
from kg.store import Store
from ontology.hierarchy import Hierarchy
from web import search, sparql


def _version() -> str:
    try:
        return version("mouseion")
    except PackageNotFoundError:
        return "dev"


def home():
    store: Store = _store()
    stats = store.stats()
    hierarchy = Hierarchy.load()
    classes = [(hierarchy.label(iri) or iri.rsplit("/", 1)[-1], count)
               for iri, count in sorted(stats["classes"].items(), key=lambda kv: -kv[1])]
    return render_template("home.html", stats=stats, classes=classes, version=_version())


def health():
    store: Store = _store()
    return jsonify(status="ok", version=_version(), triples=store.backend.count())


def versions():
    return jsonify(mouseion=_version(), pyoxigraph=version("pyoxigraph"), flask=version("flask"))


#: (rule, endpoint, view, methods) — the one route table.
ROUTES = [
    ("/", "home", home, ["GET"]),
    ("/-/health", "health", health, ["GET"]),
    ("/-/versions", "versions", versions, ["GET"]),
    # SPARQL 1.1 Protocol (query, update, service description), Graph Store HTTP Protocol, VoID
    ("/sparql", "sparql", sparql.sparql_endpoint, sparql.METHODS),
    ("/sparql/graphs", "graph_store", sparql.graph_store, sparql.METHODS),
    ("/.well-known/void", "void", sparql.void, sparql.METHODS),
    # full-text search with facets: a page for people, the same search as JSON
    ("/search", "search", search.search_page, ["GET"]),
    ("/api/search", "search_api", search.search_api, ["GET"]),
]


def _store() -> Store:
    from flask import current_app
    return current_app.extensions["mouseion.store"]


def create_app(store: Store, settings: Settings) -> Flask:
    """The application over ``store``. Its query executor's worker processes live as long as the process,
    or until ``app.extensions["mouseion.executor"].close()``. A store on a SPARQL server (``Store.connect``)
    gets the executor that forwards queries to that server instead."""
    from kg.backends import RemoteBackend
    from sparql.executor import Executor
    from sparql.executor_remote import RemoteExecutor
    from sparql.protocol import Service
    app = Flask(__name__)
    app.extensions["mouseion.store"] = store
    app.extensions["mouseion.settings"] = settings
    chosen = RemoteExecutor if isinstance(store.backend, RemoteBackend) else Executor
    executor = chosen(store, workers=settings.query_workers, timeout=settings.query_timeout,
                      row_cap=settings.row_cap)
    atexit.register(executor.close)
    app.extensions["mouseion.executor"] = executor
    app.extensions["mouseion.sparql"] = Service(store, settings, executor)
    app.extensions["mouseion.search"] = SearchIndex.attach(store, index_location(settings.search_index, store.path))
    app.extensions["mouseion.search"].warm()
    for rule, endpoint, view, methods in ROUTES:
        app.add_url_rule(rule, endpoint, view, methods=methods)
    return app
