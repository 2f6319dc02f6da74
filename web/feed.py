"""HTTP face of the change feed (kg/feed.py): ``/activity`` and ``/activity/page``, JSON-LD."""

from __future__ import annotations

import json

from flask import Response, current_app, request

from kg import feed
from kg.harvest import ChangeLog
from web.conditional import revalidated

MEDIA_TYPE = 'application/ld+json;profile="https://www.w3.org/ns/activitystreams"'


def _log() -> ChangeLog:
    found = current_app.extensions.get("mouseion.changelog")
    if found is None:
        found = current_app.extensions["mouseion.changelog"] = ChangeLog(current_app.extensions["mouseion.store"])
    return found


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body, indent=1, ensure_ascii=False), status=status, content_type=MEDIA_TYPE,
                    headers={"Access-Control-Allow-Origin": "*"})


def _root() -> str:
    return current_app.extensions["mouseion.settings"].base_uri


@revalidated()
def activity_collection():
    store = current_app.extensions["mouseion.store"]
    return _json(feed.collection(store, _log(), _root()))


@revalidated()
def activity_page():
    store = current_app.extensions["mouseion.store"]
    size = current_app.extensions["mouseion.settings"].oai_page_size
    after, before = request.args.get("after"), request.args.get("before")
    try:
        if after is not None and before is not None:
            raise ValueError("give after or before, not both")
        body = feed.page(store, _log(), _root(), size=size, newest=before == "end",
                         after=feed.parse_position(after) if after else None,
                         before=feed.parse_position(before) if before and before != "end" else None)
    except ValueError as error:
        return _json({"status": 400, "message": f"bad page link: {error}"}, 400)
    return _json(body)
