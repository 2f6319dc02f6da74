"""JSON routes over the stored embeddings: similar objects, text-to-image and semantic search.

``GET /api/similar?uri=IRI&k=10``, ``GET /api/text-to-image?q=TEXT&k=10``,
``GET /api/semantic-search?q=TEXT&k=10`` answer ``{"query": ..., "results": [{"uri", "score", "label"}]}``;
errors are ``{"status", "message"}`` (404 when the embeddings have not been made yet, with the job to run).
Models are loaded on the first query that needs one, never at import time.
"""

from __future__ import annotations

from flask import current_app, jsonify, request

from kg.errors import ConfigError, NotFound

MAX_K = 100


def _error(status: int, message: str):
    response = jsonify(status=status, message=message)
    response.status_code = status
    return response


def _answer(search, query: str):
    store = current_app.extensions["mouseion.store"]
    settings = current_app.extensions["mouseion.settings"]
    try:
        k = int(request.args.get("k", "10"))
    except ValueError:
        return _error(400, f"k={request.args.get('k')!r} is not a number")
    if not 1 <= k <= MAX_K:
        return _error(400, f"k must be between 1 and {MAX_K}")
    if not query.strip():
        return _error(400, "the query is empty")
    from enrichment.runs import label_of
    try:
        found = search(store, query, k, settings=settings)
    except NotFound as error:
        return _error(404, str(error))
    except ConfigError as error:
        return _error(503, str(error))
    return jsonify(query=query, results=[{"uri": iri, "score": round(score, 4), "label": label_of(store, iri)}
                                         for iri, score in found])


def similar():
    from enrichment.clip_tagging import similar_objects
    return _answer(similar_objects, request.args.get("uri", ""))


def text_to_image_search():
    from enrichment.clip_tagging import text_to_image
    return _answer(text_to_image, request.args.get("q", ""))


def semantic():
    from enrichment.embeddings import semantic_search
    return _answer(semantic_search, request.args.get("q", ""))
