"""Stored embeddings: derived data, kept in numpy files beside the store, rebuildable by running the
job that made them again. They are not in the graph (they are not statements) and are not in dumps.

One index per kind of embedding (``clip-image``, ``text``): ``{folder}/{name}.npz`` holding the IRIs,
the unit-length float32 vectors, and a JSON description of the model that made them (name, weights
checksum, and how to load it again, so that a query is encoded by the same model). A file is
replaced whole (written beside, then renamed), so a reader never sees half of one.

>>> import tempfile, numpy as np
>>> folder = Path(tempfile.mkdtemp())
>>> index = VectorIndex("demo", [], np.zeros((0, 2), np.float32), {"model": "m"})
>>> index = index.upsert(["a", "b"], np.array([[1, 0], [0.6, 0.8]], np.float32), {"model": "m"})
>>> index.save(folder).name
'demo.npz'
>>> [(iri, round(score, 2)) for iri, score in VectorIndex.load(folder, "demo").nearest(np.array([1, 0]), 2)]
[('a', 1.0), ('b', 0.6)]
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from kg.errors import NotFound


def vectors_dir(store, settings=None) -> Path:
    """The folder of stored embeddings: the setting, or ``{store}.vectors`` beside an on-disk store."""
    configured = getattr(settings, "vectors_dir", "") if settings is not None else ""
    if configured:
        return Path(configured)
    if store.path is None:
        raise NotFound("this store has no folder for stored embeddings: set MOUSEION_VECTORS_DIR")
    return Path(str(store.path).rstrip("/") + ".vectors")


@dataclass
class VectorIndex:
    name: str
    iris: list[str]
    vectors: np.ndarray  # (n, d) float32, unit rows
    meta: dict

    @classmethod
    def load(cls, folder: Path, name: str) -> "VectorIndex":
        path = Path(folder) / f"{name}.npz"
        if not path.is_file():
            raise NotFound(_missing(folder, name))
        with np.load(path, allow_pickle=False) as data:
            return cls(name, [str(i) for i in data["iris"]], data["vectors"].astype(np.float32),
                       json.loads(str(data["meta"])))

    @classmethod
    def load_or_empty(cls, folder: Path, name: str, dim: int) -> "VectorIndex":
        try:
            return cls.load(folder, name)
        except NotFound:
            return cls(name, [], np.zeros((0, dim), np.float32), {})

    def save(self, folder: Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}.npz"
        partial = folder / f".{self.name}.{os.getpid()}.partial.npz"
        np.savez(partial, iris=np.array(self.iris, dtype=str), vectors=self.vectors.astype(np.float32),
                 meta=np.array(json.dumps(self.meta, sort_keys=True)))
        os.replace(partial, path)
        return path

    def upsert(self, iris: Sequence[str], vectors: np.ndarray, meta: dict) -> "VectorIndex":
        """A new index with these rows replaced or added. Embeddings of another model are not mixed
        with these: when the model (checksum) differs, the old rows are dropped."""
        vectors = normalise(np.asarray(vectors, np.float32))
        keep_old = self.meta.get("checksum") == meta.get("checksum") and self.vectors.shape[1:] == vectors.shape[1:]
        rows = dict(zip(self.iris, self.vectors)) if keep_old else {}
        rows.update(zip(iris, vectors))
        ordered = sorted(rows)
        matrix = np.stack([rows[i] for i in ordered]) if ordered else np.zeros((0, vectors.shape[1]), np.float32)
        return VectorIndex(self.name, ordered, matrix.astype(np.float32), dict(meta))

    def vector_of(self, iri: str) -> np.ndarray:
        try:
            return self.vectors[self.iris.index(iri)]
        except ValueError:
            raise NotFound(f"no stored {self.name} embedding for <{iri}>") from None

    def nearest(self, query: np.ndarray, k: int, *, exclude: str | None = None) -> list[tuple[str, float]]:
        """The ``k`` rows most similar (cosine) to ``query``, best first; ties broken by IRI."""
        if not self.iris:
            return []
        query = normalise(np.asarray(query, np.float32).reshape(1, -1))[0]
        scores = self.vectors @ query
        wanted = min(len(self.iris), max(0, k) + 1)  # one more, in case ``exclude`` is among the best
        if wanted == 0:
            return []
        # every row scoring at least the wanted-th best, so that ties at the edge are broken by IRI too
        edge = np.partition(scores, len(scores) - wanted)[len(scores) - wanted]
        candidates = np.flatnonzero(scores >= edge)
        order = sorted(candidates, key=lambda i: (-float(scores[i]), self.iris[i]))
        out = [(self.iris[i], float(scores[i])) for i in order if self.iris[i] != exclude]
        return out[:max(0, k)]

    @classmethod
    def cached(cls, folder: Path, name: str) -> "VectorIndex":
        """``load``, kept while the file is unchanged (its ``stamp`` says when it is not)."""
        found = stamp(folder, name)
        if found is None:
            raise NotFound(_missing(folder, name))
        return _cached_load(str(folder), name, *found)


def stamp(folder: Path, name: str) -> tuple[int, int] | None:
    """(modification time in ns, size) of a stored index, or None when there is none: what tells one
    version of the file from the next (pages that show neighbours tag themselves with it)."""
    try:
        stat = os.stat(f"{folder}/{name}.npz")
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _missing(folder, name: str) -> str:
    return f"no stored {name} embeddings in {folder}: run the job that makes them (see `mouseion enrich --list`)"


@lru_cache(maxsize=4)
def _cached_load(folder: str, name: str, _mtime_ns: int, _size: int) -> VectorIndex:
    return VectorIndex.load(Path(folder), name)


def normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)
