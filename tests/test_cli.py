"""The `mouseion` command line, run as a real process over a real on-disk store."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import subprocess
import time
import sys
import urllib.request
from pathlib import Path

import pytest
import rdflib

ROOT = Path(__file__).resolve().parents[1]
BASE = "http://localhost:8000/"
TATE_ARTWORKS, TATE_ARTISTS = 1505, 3532


def mouseion(*args: str, store: Path, check: int | None = 0) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "web.cli", *args, "--store", str(store), "--base-uri", BASE],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if check is not None:
        assert done.returncode == check, f"exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory) -> Path:
    """The bundled sample collection, loaded once through the CLI."""
    store = tmp_path_factory.mktemp("sample") / "store"
    done = mouseion("load", "--sample", "--progress", store=store)
    assert f"{TATE_ARTWORKS + TATE_ARTISTS} records loaded" in done.stdout, done.stdout
    assert "records" in done.stderr  # the progress bar
    return store


@pytest.fixture
def store_copy(sample_store, tmp_path) -> Path:
    copy = tmp_path / "store"
    shutil.copytree(sample_store, copy)
    return copy


def test_stats_report_the_sample(sample_store):
    stats = json.loads(mouseion("stats", "--json", store=sample_store).stdout)
    assert stats["datasets"] == {"tate": TATE_ARTWORKS, "tate-artists": TATE_ARTISTS}
    assert stats["classes"]["http://www.cidoc-crm.org/cidoc-crm/E22_Human-Made_Object"] == TATE_ARTWORKS
    assert stats["classes"]["http://www.cidoc-crm.org/cidoc-crm/E21_Person"] >= TATE_ARTISTS


def test_query_for_a_superclass_finds_the_objects(sample_store):
    done = mouseion("query", "SELECT (COUNT(DISTINCT ?o) AS ?n) WHERE { ?o a crm:E70_Thing ; a crm:E22_Human-Made_Object }",
                    "--format", "csv", store=sample_store)
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows == [["n"], [str(TATE_ARTWORKS)]]


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
def test_select_in_every_result_format(sample_store, fmt):
    done = mouseion("query", "SELECT ?o ?title WHERE { ?o a crm:E22_Human-Made_Object ; rdfs:label ?title } "
                    "ORDER BY ?o LIMIT 3", "--format", fmt, store=sample_store)
    if fmt == "json":
        assert len(json.loads(done.stdout)["results"]["bindings"]) == 3
    else:
        assert "id/object/tate-" in done.stdout


@pytest.mark.parametrize("fmt,rdflib_format", [("turtle", "turtle"), ("ntriples", "nt"), ("rdfxml", "xml"),
                                               ("jsonld", "json-ld")])
def test_construct_in_every_graph_format(sample_store, fmt, rdflib_format):
    done = mouseion("query", "CONSTRUCT { ?o rdfs:label ?t } WHERE { ?o a crm:E22_Human-Made_Object ; rdfs:label ?t } "
                    "LIMIT 5", "--format", fmt, store=sample_store)
    assert len(rdflib.Graph().parse(data=done.stdout, format=rdflib_format)) == 5


def test_query_syntax_error_exits_2(sample_store):
    done = mouseion("query", "SELECT WHERE {", store=sample_store, check=2)
    assert "syntax" in done.stderr.lower()


def test_reloading_the_sample_changes_nothing(store_copy):
    done = mouseion("load", "--sample", store=store_copy)
    assert f"{TATE_ARTWORKS + TATE_ARTISTS} unchanged" in done.stdout


def test_dump_and_restore_through_the_cli(store_copy, tmp_path):
    dump = tmp_path / "all.nq.gz"
    mouseion("dump", str(dump), store=store_copy)
    restored = tmp_path / "restored"
    mouseion("restore", str(dump), store=restored)
    before = json.loads(mouseion("stats", "--json", store=store_copy).stdout)
    after = json.loads(mouseion("stats", "--json", store=restored).stdout)
    assert before == after
    assert "not empty" in mouseion("restore", str(dump), store=restored, check=2).stderr


def test_delete_leaves_a_tombstone(store_copy):
    mouseion("delete", "tate/A00001", store=store_copy)
    stats = json.loads(mouseion("stats", "--json", store=store_copy).stdout)
    assert stats["deleted"] == 1 and stats["datasets"]["tate"] == TATE_ARTWORKS - 1
    assert "no live record" in mouseion("delete", "tate/A00001", store=store_copy, check=2).stderr


def test_validate_exit_codes_and_report(data_dir, tmp_path):
    records = data_dir / "europeana-edm" / "records" / "metis-validation"
    store = tmp_path / "unused"
    assert "1 records conform" in mouseion("validate", str(records / "Item_35834473_test.xml"), store=store).stdout
    bad = mouseion("validate", str(records / "Item_schematron_invalid.xml"), store=store, check=1).stdout
    assert "DOES NOT CONFORM" in bad and "focus" in bad.lower() and "path" in bad.lower()
    broken = tmp_path / "broken.xml"
    broken.write_text("<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><oops></rdf:RDF>")
    assert "broken.xml" in mouseion("validate", str(broken), store=store, check=2).stdout
    assert not store.exists(), "validate must not create or write a store"


def test_load_reports_rejections_and_exits_1(data_dir, tmp_path):
    records = data_dir / "europeana-edm" / "records" / "metis-validation"
    done = mouseion("load", str(records / "Item_schematron_invalid.xml"), store=tmp_path / "s", check=1)
    assert "Item_schematron_invalid.xml" in done.stderr and "0 records loaded" in done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_health_and_home(store_copy):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "web.cli", "serve", "--store", str(store_copy),
                               "--base-uri", BASE, "--port", str(port)],
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stderr=subprocess.PIPE, text=True)
    try:
        # the server prints this line right before it starts listening; then we poll the socket
        for line in server.stderr:
            if "serving" in line.lower():
                break
        deadline = time.monotonic() + 120  # the search index catches up before the socket opens
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/health", timeout=5) as response:
                    health = json.loads(response.read())
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # poll again until the deadline
        assert health == {"status": "ok", "store": "readable", "version": health["version"]}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            page = response.read().decode()
        assert response.headers["Content-Type"].startswith("text/html")
        assert f"{TATE_ARTWORKS + TATE_ARTISTS:,} records" in page
    finally:
        server.terminate()
        server.wait(timeout=30)
