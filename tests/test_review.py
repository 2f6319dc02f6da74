"""Review of machine suggestions: state transitions and who/when, what pages and OAI-PMH/dumps see,
bulk decisions, and the web review page (token sign-in, CSRF) over real HTTP."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import urllib.parse
from html import unescape
from typing import Iterator

import pytest
from pyoxigraph import NamedNode, Triple

from enrichment.runs import (Agent, Run, Suggestion, accepted_triples, find_suggestions, machine_statements,
                             review, write_run)
from kg.errors import NotFound
from kg.store import utc_now
from ontology.namespaces import CRM
from tests.servers import serving_app
from tests.enrichment_fixtures import TOKEN, enrich_settings, image_store, snapshot

AAT = "http://vocab.getty.edu/aat/"


def fake_run(store, run_id: str, values: list[tuple[str, str, float]]) -> Run:
    """A run written straight through the runs layer (no model needed): (object key, AAT id, confidence)."""
    now = utc_now()
    suggestions = [Suggestion(Triple(store.uris.entity("object", key), CRM.P2_has_type, NamedNode(AAT + aat)),
                              confidence, f"test evidence for {key}") for key, aat, confidence in values]
    run = Run(run_id, Agent("test-job", "0.1", "no model [TEST]", "sha256:0"), {"k": 1}, now, now,
              [store.uris.record_graph("test/img00")], suggestions)
    write_run(store, run)
    return run


@pytest.fixture
def store(tmp_path, data_dir):
    store = image_store(tmp_path / "store", data_dir)
    fake_run(store, "r1", [("test-img00", "300033618", 0.9), ("test-img01", "300037222", 0.6),
                           ("test-img02", "300028569", 0.3)])
    return store


def union_has(store, triple: Triple) -> bool:
    return bool(store.query(f"ASK {{ {triple.subject} {triple.predicate} {triple.object} }}"))


def test_review_transitions_record_who_and_when_and_hide_rejected_statements(store):
    obj = store.uris.entity("object", "test-img00")
    triple = Triple(obj, CRM.P2_has_type, NamedNode(AAT + "300033618"))
    [row] = find_suggestions(store, subject=obj.value)
    assert row.state == "pending" and union_has(store, triple)
    assert review(store, [row.assignment], "accepted", who="ada", now="2026-11-23T06:00:00Z").changed == 1
    [row] = find_suggestions(store, subject=obj.value, state="accepted")
    assert (row.reviewed_by, row.reviewed_at) == ("ada", "2026-11-23T06:00:00Z") and union_has(store, triple)
    assert review(store, [row.assignment], "accepted", who="ada").unchanged == 1  # idempotent
    review(store, [row.assignment], "rejected", who="grace")
    [row] = find_suggestions(store, subject=obj.value, state="rejected")
    assert row.reviewed_by == "grace"
    assert not union_has(store, triple)  # SPARQL's union no longer shows a rejected suggestion
    assert row.value == triple.object  # ... but the assignment keeps what was suggested
    review(store, [row.assignment], "pending", who="grace")
    assert union_has(store, triple) and find_suggestions(store, subject=obj.value)[0].state == "pending"


def test_unknown_assignment_changes_nothing(store):
    before = snapshot(store)
    good = find_suggestions(store)[0].assignment
    with pytest.raises(NotFound, match="no machine suggestion"):
        review(store, [good, "http://localhost:8000/id/assignment/nope"], "accepted", who="ada")
    assert snapshot(store) == before


def test_bulk_decisions_by_confidence_and_property(store):
    fake_run(store, "r2", [("test-img03", "300033618", 0.95), ("test-img04", "300033618", 0.2)])
    confident = find_suggestions(store, min_confidence=0.5)
    assert {r.confidence for r in confident} == {0.95, 0.9, 0.6}
    outcome = review(store, [r.assignment for r in confident], "accepted", who="ada")
    assert outcome.changed == 3 and outcome.runs == ("r1", "r2")  # two run graphs, one transaction
    low = find_suggestions(store, property=CRM.P2_has_type.value, max_confidence=0.5)
    review(store, [r.assignment for r in low], "rejected", who="ada")
    assert find_suggestions(store) == []
    assert len(find_suggestions(store, state="rejected", run="r2")) == 1


def test_pages_show_pending_and_accepted_marked_oai_and_dumps_only_accepted(store):
    rows = {r.subject.rsplit("-", 1)[-1]: r for r in find_suggestions(store)}
    review(store, [rows["img00"].assignment], "accepted", who="ada")
    review(store, [rows["img01"].assignment], "rejected", who="ada")
    page = {s.subject.rsplit("-", 1)[-1]: s for s in
            sum((machine_statements(store, r.subject) for r in rows.values()), [])}
    assert set(page) == {"img00", "img02"}  # the rejected one is hidden
    assert page["img00"].state == "accepted" and page["img02"].state == "pending"
    assert page["img02"].model == "no model [TEST]" and page["img02"].confidence == 0.3
    harvested = {r: accepted_triples(store, row.subject) for r, row in rows.items()}
    assert [len(harvested[k]) for k in ("img00", "img01", "img02")] == [1, 0, 0]
    assert harvested["img00"][0].object == NamedNode(AAT + "300033618")


# ------------------------------------------------------------------------------------ the web page


@contextlib.contextmanager
def served(store, settings) -> Iterator[str]:
    with serving_app(store, settings, threads=4) as root:
        yield root


def call(method: str, url: str, form: dict | list | None = None, headers: dict | None = None):
    parts = urllib.parse.urlsplit(url)
    body = urllib.parse.urlencode(form, doseq=True).encode() if form is not None else None
    headers = dict(headers or {})
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body, headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_review_page_sign_in_csrf_single_and_bulk_decisions(store, tmp_path, data_dir):
    settings = enrich_settings(tmp_path / "store", "unused", [data_dir / "images"])
    with served(store, settings) as root:
        status, _, body = call("GET", root + "/-/review")
        assert status == 401 and b'name="token"' in body
        status, _, _ = call("POST", root + "/-/review/login", {"token": "wrong", "who": "ada"})
        assert status == 403
        status, headers, _ = call("POST", root + "/-/review/login", {"token": TOKEN, "who": "Ada L."})
        assert status == 303 and "httponly" in headers["set-cookie"].lower()
        assert "samesite=strict" in headers["set-cookie"].lower()
        cookie = {"Cookie": headers["set-cookie"].split(";", 1)[0]}
        status, _, body = call("GET", root + "/-/review", headers=cookie)
        page = body.decode()
        assert status == 200 and "Signed in as <strong>Ada L.</strong>" in page
        assert page.count('class="machine-statement state-pending"') == 3
        assert "test evidence for test-img00" in page and "0.90" in page
        main = page[page.index('<main id="main"'):]  # the site header has its own search form
        assert main.count("<form") == 4 and 'name="scope" value="all"' in main  # sign out, filter, ticked, bulk
        image = unescape(re.search(r'<img src="([^"]+)"', page).group(1))
        status, headers, jpeg = call("GET", root + image, headers=cookie)
        assert status == 200 and headers["content-type"] == "image/jpeg" and jpeg[:2] == b"\xff\xd8"
        assert call("GET", root + image)[0] == 401  # local images only for reviewers
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        first = find_suggestions(store, subject=store.uris.entity("object", "test-img00").value)[0].assignment
        # a forged form (no or wrong CSRF token) changes nothing
        assert call("POST", root + "/-/review/decide", {"decision": "accept", "assignment": first},
                    headers=cookie)[0] == 403
        assert call("POST", root + "/-/review/decide", {"decision": "accept", "assignment": first,
                                                        "csrf": "forged"}, headers=cookie)[0] == 403
        assert find_suggestions(store, state="accepted") == []
        status, headers, _ = call("POST", root + "/-/review/decide", {"decision": "accept", "assignment": first,
                                                                      "csrf": csrf, "back": "/-/review"},
                                  headers=cookie)
        assert status == 303 and headers["location"].endswith("/-/review")
        [accepted] = find_suggestions(store, state="accepted")
        assert accepted.assignment == first and accepted.reviewed_by == "Ada L."
        # bulk: everything pending under 0.5 confidence
        status, _, _ = call("POST", root + "/-/review/decide", {"decision": "reject", "scope": "all",
                                                                "state": "pending", "max_confidence": "0.5",
                                                                "csrf": csrf}, headers=cookie)
        assert status == 303 and [r.confidence for r in find_suggestions(store, state="rejected")] == [0.3]
        # a script with the bearer token, no cookie
        rest = find_suggestions(store)[0].assignment
        status, _, body = call("POST", root + "/-/review/decide", {"decision": "accept", "assignment": rest,
                                                                   "by": "curation-bot"},
                               headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 200 and json.loads(body)["changed"] == 1
        assert call("POST", root + "/-/review/decide", {"decision": "accept", "assignment": rest},
                    headers={"Authorization": "Bearer wrong"})[0] == 401
        # the runs page, HTML and JSON
        status, _, body = call("GET", root + "/-/runs")
        assert status == 200 and b"r1" in body and b"1 pending" not in body and b"2 accepted" in body
        status, _, body = call("GET", root + "/-/runs", headers={"Accept": "application/json"})
        [run] = json.loads(body)["runs"]
        assert (run["run_id"], run["accepted"], run["rejected"], run["pending"]) == ("r1", 2, 1, 0)


def test_review_over_the_web_is_off_without_a_token(store, tmp_path, data_dir):
    settings = enrich_settings(tmp_path / "store", "unused", [data_dir / "images"], update_token="")
    with served(store, settings) as root:
        status, _, body = call("GET", root + "/-/review")
        assert status == 401 and b"Review over the web is off" in body
        assert call("POST", root + "/-/review/login", {"token": "", "who": "ada"})[0] == 403
        assert call("POST", root + "/-/review/decide", {"decision": "accept", "assignment": "x"},
                    headers={"Authorization": "Bearer "})[0] == 401
