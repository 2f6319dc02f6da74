"""CLIP tagging pieces: where images may be read from (roots, the HTTP fetcher against a loopback server,
never the network), loading models without downloading, classification, stored image embeddings,
similar objects and text-to-image search (Flask-free and over the JSON routes)."""

from __future__ import annotations

import http.server
import json
import threading
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from enrichment.clip_tagging import (IMAGE_INDEX, load_clip, probabilities, similar_objects, text_to_image,
                                     write_test_model)
from enrichment.images import ImageError, ImageReader
from enrichment.jobs import run_job
from enrichment.vectors import VectorIndex, vectors_dir
from kg.errors import ConfigError, NotFound
from tests.enrichment_fixtures import enrich_settings, image_store
from web.image_fetch import http_fetcher


@pytest.fixture(scope="module")
def model_spec(tmp_path_factory) -> str:
    return write_test_model(tmp_path_factory.mktemp("models") / "tiny-clip", seed=3)


# ------------------------------------------------------------------------------------ reading images


def test_local_files_only_under_the_configured_roots(tmp_path, data_dir):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    picture = sorted((data_dir / "images" / "coin").glob("*.jpg"))[0]
    (allowed / "coin.jpg").write_bytes(picture.read_bytes())
    (allowed / "escape.jpg").symlink_to(picture)  # a link out of the root is outside it
    reader = ImageReader([allowed], max_bytes=10**7, max_pixels=10**8)
    assert reader.open((allowed / "coin.jpg").as_uri()).mode == "RGB"
    with pytest.raises(ImageError, match="not under a folder of MOUSEION_IMAGE_ROOTS"):
        reader.read_bytes((allowed / "escape.jpg").as_uri())
    with pytest.raises(ImageError, match="not under"):
        reader.read_bytes((allowed / ".." / "x.jpg").as_uri())
    with pytest.raises(ImageError, match="fetching images over HTTP is off"):
        reader.read_bytes("http://127.0.0.1:9/x.jpg")
    small = ImageReader([allowed], max_bytes=1000, max_pixels=10**8)
    with pytest.raises(ImageError, match="exceeds MOUSEION_IMAGE_MAX_BYTES"):
        small.read_bytes((allowed / "coin.jpg").as_uri())
    few_pixels = ImageReader([allowed], max_bytes=10**7, max_pixels=1000)
    with pytest.raises(ImageError, match="exceeds MOUSEION_IMAGE_MAX_PIXELS"):
        few_pixels.open((allowed / "coin.jpg").as_uri())


class _Images(http.server.BaseHTTPRequestHandler):
    payload = b""
    release = threading.Event()

    def do_GET(self):  # noqa: N802 (the http.server API)
        if self.path == "/slow.jpg":
            self.release.wait(30)  # answers only when the test lets it: the client must give up first
            return
        if self.path == "/missing.jpg":
            self.send_error(404)
            return
        body = self.payload * (50 if self.path == "/big.jpg" else 1)
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        if self.path != "/undeclared.jpg":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def image_server(payload: bytes):
    _Images.payload = payload
    _Images.release.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        _Images.release.set()
        server.shutdown()
        server.server_close()


def test_http_fetcher_has_a_timeout_and_a_byte_cap(data_dir):
    picture = sorted((data_dir / "images" / "painting").glob("*.jpg"))[0].read_bytes()
    with image_server(picture) as root:
        reader = ImageReader([], max_bytes=len(picture) * 2, max_pixels=10**8, fetch=http_fetcher(timeout=0.5))
        assert reader.open(f"{root}/ok.jpg").size[0] > 0
        with pytest.raises(ImageError, match="exceeds MOUSEION_IMAGE_MAX_BYTES"):
            reader.read_bytes(f"{root}/big.jpg")  # refused on Content-Length
        capped = ImageReader([], max_bytes=len(picture) // 2, max_pixels=10**8, fetch=http_fetcher(timeout=0.5))
        with pytest.raises(ImageError, match="more than MOUSEION_IMAGE_MAX_BYTES"):
            capped.read_bytes(f"{root}/undeclared.jpg")  # counted while reading
        with pytest.raises(ImageError, match="HTTP 404"):
            reader.read_bytes(f"{root}/missing.jpg")
        with pytest.raises(ImageError, match="cannot fetch.*timed out"):
            reader.read_bytes(f"{root}/slow.jpg")


# ------------------------------------------------------------------------------------ models


def test_models_load_only_from_local_weights(tmp_path):
    with pytest.raises(ConfigError, match="no CLIP weights configured for ViT-B-32"):
        load_clip("ViT-B-32", "")
    with pytest.raises(ConfigError, match="not in the local cache and nothing is downloaded"):
        load_clip("ViT-B-32", "laion2b_s34b_b79k")
    with pytest.raises(ConfigError, match="neither a file nor a pretrained tag"):
        load_clip("ViT-B-32", str(tmp_path / "missing.pt"))
    with pytest.raises(ConfigError, match="no open_clip_config.json"):
        load_clip(f"local-dir:{tmp_path}")


def test_test_weights_are_seeded_and_marked(tmp_path, model_spec):
    again = write_test_model(tmp_path / "tiny-clip", seed=3)
    first, second = load_clip(model_spec), load_clip(again)
    assert first.checksum == second.checksum and first.test_weights
    assert "TEST WEIGHTS" in first.name
    assert write_test_model(tmp_path / "other", seed=4) and load_clip(f"local-dir:{tmp_path / 'other'}").checksum \
        != first.checksum


def test_probabilities_are_a_distribution_per_scheme():
    rng = np.random.default_rng(0)
    images, concepts = rng.normal(size=(5, 8)), rng.normal(size=(14, 8))
    p = probabilities(images, concepts, 100.0)
    assert p.shape == (5, 14) and np.allclose(p.sum(axis=1), 1.0) and (p >= 0).all()


# ------------------------------------------------------------------------------------ embeddings and search


@pytest.mark.slow
def test_similar_objects_and_text_to_image(tmp_path, data_dir, model_spec):
    store = image_store(tmp_path / "store", data_dir)
    settings = enrich_settings(tmp_path / "store", model_spec, [data_dir / "images"])
    with pytest.raises(NotFound, match="no stored clip-image embeddings"):
        similar_objects(store, "http://localhost:8000/id/object/test-img00", settings=settings)
    run_job(store, settings, "clip-tagging")
    index = VectorIndex.load(vectors_dir(store, settings), IMAGE_INDEX)
    assert len(index.iris) == 6 and np.allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-5)
    assert index.meta["test_weights"] is True and index.meta["checksum"].startswith("sha256:")
    first = "http://localhost:8000/id/object/test-img00"
    similar = similar_objects(store, first, 3, settings=settings)
    assert len(similar) == 3 and first not in [iri for iri, _ in similar]
    assert [s for _, s in similar] == sorted((s for _, s in similar), reverse=True)
    found = text_to_image(store, "a bronze ritual mask", 4, settings=settings)
    assert len(found) == 4 and all(iri.startswith("http://localhost:8000/id/object/") for iri, _ in found)
    with pytest.raises(NotFound, match="no stored clip-image embedding for"):
        similar_objects(store, "http://localhost:8000/id/object/none", settings=settings)
    # the JSON routes over the same functions
    from tests.test_review import served
    with served(store, settings) as root:
        with urllib.request.urlopen(f"{root}/api/similar?uri={first}&k=2") as response:
            answer = json.load(response)
        assert [r["uri"] for r in answer["results"]] == [iri for iri, _ in similar[:2]]
        assert answer["results"][0]["label"]
        with urllib.request.urlopen(f"{root}/api/text-to-image?q=a%20bronze%20ritual%20mask&k=4") as response:
            assert [r["uri"] for r in json.load(response)["results"]] == [iri for iri, _ in found]
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(f"{root}/api/similar?uri={first}&k=0")
        assert error.value.code == 400
        # the search page and API search what the images show; by meaning needs the text index first
        with urllib.request.urlopen(f"{root}/api/search?mode=image&q=a%20bronze%20ritual%20mask") as response:
            answer = json.load(response)
        assert answer["mode"] == "image" and [h["uri"] for h in answer["hits"]][:4] == [iri for iri, _ in found]
        with urllib.request.urlopen(f"{root}/search?mode=image&q=a%20bronze%20ritual%20mask") as response:
            page = response.read().decode()
        assert page.index(answer["hits"][0]["page"]) < page.index(answer["hits"][1]["page"])
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(f"{root}/api/search?mode=meaning&q=river")
        assert error.value.code == 400 and "enrich text-index" in json.load(error.value)["message"]
        # the object page lists its look-alikes, best first, marked as machine-computed
        with urllib.request.urlopen(f"{root}/page/object/test-img00") as response:
            page = response.read().decode()
        section = page[page.index('id="similar-heading"'):]
        assert "Computed by machine" in section
        hrefs = [f'href="/page/object/{iri.rsplit("/", 1)[1]}"' for iri, _ in similar]
        assert all(h in section for h in hrefs)
        assert section.index(hrefs[0]) < section.index(hrefs[1]) < section.index(hrefs[2])


def test_quality_report_says_plainly_when_no_real_weights_are_configured(tmp_path, model_spec):
    import os
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOUSEION_")}
    for extra, reason in (({}, "MOUSEION_CLIP_WEIGHTS is empty"),
                          ({"MOUSEION_CLIP_MODEL": model_spec}, "holds test weights")):
        done = subprocess.run([sys.executable, str(root / "bench" / "clip_quality.py")], cwd=root,
                              capture_output=True, text=True, env={**env, **extra}, timeout=120)
        assert done.returncode == 2 and reason in done.stdout, done.stdout + done.stderr
        assert "No accuracy is reported" in done.stdout and "%" not in done.stdout
