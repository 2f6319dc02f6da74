"""The change feed: ActivityStreams 2.0 in the IIIF Change Discovery pattern
(https://iiif.io/api/discovery/1.0/), as Linked Art and the Getty publish theirs.

One ``OrderedCollection`` names its ``first`` and ``last`` pages; each ``OrderedCollectionPage`` lists
``Create``, ``Update`` and ``Delete`` activities, oldest first, and links ``prev`` / ``next``. It reads the
same change log as OAI-PMH (``kg.harvest``), so both always agree. Like the change log, the feed keeps
the most recent activity of each record (Change Discovery "level 1"): a record changed again moves to
the end of the stream. Deletions stay for ever.

A page is named by a position in the change log (datestamp and key), not a page number, so a page
link never shifts when records change: ``page?after=...`` lists what follows a position,
``page?before=...`` what precedes it.
"""

from __future__ import annotations

import base64
from typing import Any

from kg.harvest import ChangeLog, Entry, Selection

CONTEXT = "http://iiif.io/api/discovery/1/context.json"


def position_token(position: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(f"{position[0]}|{position[1]}".encode()).rstrip(b"=").decode()


def parse_position(token: str) -> tuple[str, str]:
    """A page position from a link; ValueError when it is not one this feed made."""
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    stamp, _, key = raw.partition("|")
    if len(stamp) != 20 or not stamp.endswith("Z") or not key:
        raise ValueError(f"{token!r} is not a position in the change feed")
    return stamp, key


def activity(item: Entry, uris) -> dict[str, Any]:
    kind = "Delete" if item.deleted else ("Create" if item.created == item.modified else "Update")
    return {"type": kind,
            "object": {"id": item.focus or uris.record_graph(item.key).value,
                       "type": "HumanMadeObject" if item.focus and "/object/" in item.focus else "Object",
                       "record": item.key},
            "endTime": item.modified}


def collection(store, log: ChangeLog, root: str) -> dict[str, Any]:
    stats = store.stats()
    return {"@context": CONTEXT, "id": f"{root}activity", "type": "OrderedCollection",
            "totalItems": stats["records"] + stats["deleted"],
            "first": {"id": f"{root}activity/page", "type": "OrderedCollectionPage"},
            "last": {"id": f"{root}activity/page?before=end", "type": "OrderedCollectionPage"}}


def page(store, log: ChangeLog, root: str, *, after: tuple[str, str] | None = None,
         before: tuple[str, str] | None = None, newest: bool = False, size: int = 100) -> dict[str, Any]:
    selection = Selection(any_record=True)
    if newest or before is not None:
        items = log.page_before(selection, before=before, limit=size)
    else:
        items = log.page(selection, after=after, limit=size)
    here = (f"{root}activity/page?before=end" if newest else
            f"{root}activity/page?before={position_token(before)}" if before else
            f"{root}activity/page?after={position_token(after)}" if after else f"{root}activity/page")
    body: dict[str, Any] = {"@context": CONTEXT, "id": here, "type": "OrderedCollectionPage",
                            "partOf": {"id": f"{root}activity", "type": "OrderedCollection"},
                            "orderedItems": [activity(item, store.uris) for item in items]}
    if items:
        if log.page_before(selection, before=items[0].position, limit=1):
            body["prev"] = {"id": f"{root}activity/page?before={position_token(items[0].position)}",
                            "type": "OrderedCollectionPage"}
        if log.page(selection, after=items[-1].position, limit=1):
            body["next"] = {"id": f"{root}activity/page?after={position_token(items[-1].position)}",
                            "type": "OrderedCollectionPage"}
    return body
