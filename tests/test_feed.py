"""The change feed (ActivityStreams 2.0, IIIF Change Discovery) over HTTP: creates, updates and deletes
from the same change log OAI-PMH reads, walked forwards from `first` and backwards from `last`."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from kg.store import utc_now
from tests.oai_fixtures import harvest_store
from tests.test_oai_harvest import retitle, wait_for_next_second
from tests.test_sparql_protocol import running

#: each test builds a store of real records and serves it over HTTP
pytestmark = pytest.mark.slow


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as response:
        assert response.headers["Content-Type"].startswith("application/ld+json")
        return json.loads(response.read())


def walk_forwards(root: str) -> list[dict]:
    collection = get(f"{root}activity")
    page, items = get(collection["first"]["id"].replace("http://localhost:8000/", root)), []
    while True:
        items += page["orderedItems"]
        if "next" not in page:
            return items
        page = get(page["next"]["id"].replace("http://localhost:8000/", root))


def walk_backwards(root: str) -> list[dict]:
    collection = get(f"{root}activity")
    page, items = get(collection["last"]["id"].replace("http://localhost:8000/", root)), []
    while True:
        items = page["orderedItems"] + items
        if "prev" not in page:
            return items
        page = get(page["prev"]["id"].replace("http://localhost:8000/", root))


def test_feed_lists_creates_updates_and_deletes(tmp_path, data_dir):
    store = harvest_store(tmp_path, data_dir, artworks=8, edm=False)
    with running(store, oai_page_size=5) as root:
        collection = get(f"{root}activity")
        assert collection["type"] == "OrderedCollection" and collection["totalItems"] == len(list(store.changes()))
        created = walk_forwards(root)
        assert len(created) == collection["totalItems"] and {a["type"] for a in created} == {"Create"}
        assert walk_backwards(root) == created
        wait_for_next_second(utc_now())
        retitle(store, "tate/A00001", "Renamed")
        store.delete(["tate/A00047"])
        after = walk_forwards(root)
        assert [(a["type"], a["object"]["record"]) for a in after[-2:]] == [("Update", "tate/A00001"),
                                                                              ("Delete", "tate/A00047")]
        assert after[-2]["object"]["id"] == "http://localhost:8000/id/object/tate-A00001"
        assert len(after) == len(created)        # the most recent activity per record (level 1)
        assert walk_backwards(root) == after
        with pytest.raises(urllib.error.HTTPError) as bad:
            urllib.request.urlopen(f"{root}activity/page?after=%%%not-a-position", timeout=30)
        assert bad.value.code == 400
