"""The Flask adapter of the OAI-PMH protocol: GET query strings and POST forms (pyoai harvests by POST),
one content type, nothing else. The protocol itself is ``web.oai.protocol``."""

from __future__ import annotations

from flask import Response, current_app, request

from web.oai.protocol import Policy, Repository
from web.oai.tokens import Signer

METHODS = ["GET", "POST"]


def repository_for(store, settings) -> Repository:
    policy = Policy(page_size=settings.oai_page_size, token_lifetime=settings.oai_token_lifetime,
                    suggestions=settings.oai_suggestions, admin_email=settings.oai_admin_email)
    return Repository(store, Signer.for_store(settings.oai_token_secret, store.path), policy)


def _repository() -> Repository:
    found = current_app.extensions.get("mouseion.oai")
    if found is None:
        found = current_app.extensions["mouseion.oai"] = repository_for(
            current_app.extensions["mouseion.store"], current_app.extensions["mouseion.settings"])
    return found


def oai_endpoint():
    if request.method == "POST":
        if request.mimetype != "application/x-www-form-urlencoded":
            return Response("OAI-PMH POST requests are application/x-www-form-urlencoded\n", status=415,
                            mimetype="text/plain")
        arguments = list(request.form.items(multi=True))
    else:
        arguments = list(request.args.items(multi=True))
    body = _repository().respond(arguments)
    return Response(body, mimetype="text/xml", headers={"Cache-Control": "no-store"})
