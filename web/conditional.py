"""Conditional GET for pages and data (RFC 9110 §8.8.3 and §13.1.2): a strong ETag per representation,
``304 Not Modified`` while it still holds.

What a page, a browse list or an RDF description says is a function of the store's contents, of this
process's code and settings, and of the request: its path and query, and the headers it is negotiated
by (the ones its ``Vary`` names). Its ETag is made of exactly these: a token drawn when the process
starts (no tag survives a restart or a new version), the store's ``generation`` (moved before and after
every write, so that a page rendered while a write was under way is never taken for one rendered after
it), whatever else the view declares it ``depends`` on, and a digest of the request's part. The tag is
worked out before anything is read, which is what makes revalidating cheap: a crawler or a caching
proxy asking again with ``If-None-Match`` gets its 304 without the resource being described.

Every tagged answer says ``Cache-Control: no-cache``: keep it, but ask before reusing it, since any write
may change any page (renaming a maker changes every page that names them).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from typing import Callable

from flask import Response, current_app, request

#: drawn once per process: tags of an earlier process (or an earlier version of the code) never match
_PROCESS = secrets.token_hex(6)

CACHE_CONTROL = "no-cache"


def etag(*parts: object) -> str:
    """The strong entity-tag of what this request is answered with: the store's state, the request's
    host, path and query, and ``parts`` (the negotiating headers' values, and anything else the answer
    depends on).

    >>> from flask import Flask
    >>> from types import SimpleNamespace
    >>> app = Flask("doctest")
    >>> app.extensions["mouseion.store"] = SimpleNamespace(generation=4)
    >>> with app.test_request_context("/page/object/a?page=2"):
    ...     english, french = etag("en"), etag("fr")
    >>> english != french and english.startswith('"') and english.endswith('"')
    True
    """
    store = current_app.extensions["mouseion.store"]
    digest = hashlib.blake2b(repr((request.host, request.full_path, parts)).encode(), digest_size=8).hexdigest()
    return f'"{_PROCESS}-{store.generation}-{digest}"'


def revalidated(*vary: str, depends: Callable[[], object] = lambda: None):
    """Conditional GET (and HEAD) for a view whose answers depend only on the store, the request's path
    and query, the request headers named in ``vary`` (which every answer then names in ``Vary``), and
    ``depends()``.

    A ``200`` gets the tag and ``Cache-Control: no-cache``; a request whose ``If-None-Match`` names the
    tag (compared weakly) gets ``304`` with ``ETag``, ``Vary`` and ``Cache-Control``, which is what RFC 9110
    §15.4.5 asks of it, and nothing is read. ``If-None-Match: *`` is settled by the answer itself: ``304``
    when there is a representation to answer with, the answer (a 404, say) when there is not. Over a
    SPARQL server nothing is tagged (``_tags_hold``).
    """
    varies = ", ".join(vary)

    def decorate(view):
        @functools.wraps(view)
        def answer(*args, **kwargs):
            if request.method not in ("GET", "HEAD"):
                return view(*args, **kwargs)
            tag = etag(*(request.headers.get(name, "") for name in vary), depends()) if _tags_hold() else None
            asked = request.if_none_match
            if tag is not None and not asked.star_tag and asked.contains_weak(tag.strip('"')):
                return _not_modified(tag, varies)
            response = current_app.make_response(view(*args, **kwargs))
            if varies:
                response.headers["Vary"] = varies
            if response.status_code != 200:
                return response
            if asked.star_tag:
                return _not_modified(tag, varies)
            if tag is None:
                return response
            response.headers["ETag"] = tag
            response.headers["Cache-Control"] = CACHE_CONTROL
            return response
        return answer
    return decorate


def _tags_hold() -> bool:
    """Whether this process sees every write: not over a SPARQL server, which others write to unseen
    (``Store.stale_after``; docs/external-store.md). Answers there carry no tag."""
    return current_app.extensions["mouseion.store"].stale_after is None


def _not_modified(tag: str | None, varies: str) -> Response:
    headers = {"Cache-Control": CACHE_CONTROL}
    if varies:
        headers["Vary"] = varies
    if tag is not None:
        headers["ETag"] = tag
    return Response(status=304, headers=headers)
