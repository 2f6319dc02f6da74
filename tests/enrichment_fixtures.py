"""What the enrichment tests share: a store of records whose images are real files from
``../shared/data/images`` (``file:`` IRIs), bad images made on the spot, and the tiny open_clip model
with seeded random weights (``enrichment.clip_tagging.write_test_model``) that runs the real code path.
"""

from __future__ import annotations

import csv
import struct
import zlib
from pathlib import Path

import pyoxigraph as ox
from pyoxigraph import Literal, NamedNode, Triple

from kg.record import Origin, Record
from kg.settings import Settings
from kg.store import Store
from ontology.namespaces import CRM, EDM, ORE, RDF, RDFS

BASE = "http://localhost:8000/"
TOKEN = "review-secret"


def labelled_images(data_dir: Path, folders: tuple[str, ...] = ("painting", "coin", "manuscript_document"),
                    per_folder: int = 2) -> list[dict]:
    """A few rows of labels.csv, ``per_folder`` from each folder, in file order."""
    rows = list(csv.DictReader((data_dir / "images" / "labels.csv").open(encoding="utf-8")))
    chosen = []
    for folder in folders:
        chosen += [r for r in rows if r["file"].startswith(folder + "/")][:per_folder]
    return chosen


def object_record(store: Store, key: str, title: str, image: Path | str, *, edm: bool = False,
                  extra: list[Triple] = ()) -> Record:
    """An object with a title and an image: CRM ``P138i_has_representation`` or EDM ``isShownBy``."""
    obj = store.uris.entity("object", key.replace("/", "-"))
    iri = NamedNode(image.as_uri() if isinstance(image, Path) else image)
    triples = [Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]), Triple(obj, RDFS.label, Literal(title, language="en"))]
    if edm:
        agg = store.uris.entity("aggregation", key.replace("/", "-"))
        triples += [Triple(agg, RDF.type, ORE.Aggregation), Triple(agg, EDM.aggregatedCHO, obj),
                    Triple(agg, EDM.isShownBy, iri)]
    else:
        triples.append(Triple(obj, CRM.P138i_has_representation, iri))
    return Record(key, key.split("/")[0], triples + list(extra), Origin("test"), focus=obj)


def image_store(path: Path, data_dir: Path, *, bad_dir: Path | None = None, per_folder: int = 2) -> Store:
    """A store with one record per labelled image (alternating CRM and EDM image links), and, with
    ``bad_dir``, one record for each bad image made there."""
    store = Store.open(path, BASE)
    records = []
    for n, row in enumerate(labelled_images(data_dir, per_folder=per_folder)):
        records.append(object_record(store, f"test/img{n:02d}", row["title"], data_dir / "images" / row["file"],
                                     edm=n % 2 == 1))
    if bad_dir is not None:
        for name, file in make_bad_images(bad_dir, data_dir).items():
            records.append(object_record(store, f"test/bad-{name}", f"bad image: {name}", file))
    store.commit(records)
    return store


def make_bad_images(folder: Path, data_dir: Path) -> dict[str, Path]:
    """A truncated JPEG, a PNG whose header claims 40000 x 40000 pixels, a text file named .jpg."""
    folder.mkdir(parents=True, exist_ok=True)
    real = sorted((data_dir / "images" / "painting").glob("*.jpg"))[0].read_bytes()
    truncated = folder / "truncated.jpg"
    truncated.write_bytes(real[: len(real) // 3])

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    huge = folder / "huge.png"
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 40000, 40000, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    text = folder / "notes.jpg"
    text.write_text("This is a text file, whatever its name says.\n", encoding="utf-8")
    return {"truncated": truncated, "huge": huge, "text": text}


def enrich_settings(store_path: Path, model_spec: str, roots: list[Path], **overrides) -> Settings:
    options = dict(store=str(store_path), base_uri=BASE, clip_model=model_spec, clip_weights="",
                   image_roots=":".join(str(r) for r in roots), clip_threshold=0.0, clip_batch_size=4,
                   update_token=TOKEN, query_workers=1)
    options.update(overrides)
    return Settings.from_env({}, **options)


def snapshot(store: Store) -> set[bytes]:
    """Every quad of the store, change log included."""
    return set(store.oxi.dump(format=ox.RdfFormat.N_QUADS).splitlines())
