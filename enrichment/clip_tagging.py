"""CLIP tagging: zero-shot classification of each object's image against the shipped SKOS schemes
(object types → ``crm:P2_has_type``, materials → ``crm:P45_consists_of``), plus image embeddings
for "similar objects" and text-to-image search.

The model is an open_clip model chosen by settings: ``MOUSEION_CLIP_MODEL`` (an architecture such as
``ViT-B-32`` with ``MOUSEION_CLIP_WEIGHTS`` a local checkpoint or a locally cached pretrained tag, or
``local-dir:/folder`` holding ``open_clip_config.json`` and the weights). Nothing is downloaded: the
Hugging Face hub is put offline before open_clip is asked for anything. The run's software agent
names the model and the sha256 of its weights. A folder whose ``open_clip_config.json`` says
``"mouseion": {"test_weights": true}`` (what :func:`write_test_model` makes for the tests) holds
seeded random weights: its runs say so in the model name and with ``mou:testWeights true``.

For each scheme, every concept's labels (in the languages asked for) fill a few prompt templates; the
normalised text embeddings are averaged into one vector per concept. An image's probabilities over a
scheme are ``softmax(logit_scale * cosine)``; the ``top_k`` concepts at or above ``threshold`` become
suggestions, explained by the runner-up concepts and the margin.

torch and open_clip are imported only when a model is loaded (the web app never pays for them
unless it answers a text-to-image query).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from pyoxigraph import NamedNode, Triple, Variable

from kg.errors import ConfigError, NotFound
from kg.record import Origin, Vocabulary
from enrichment.images import ImageError, ImageReader
from enrichment.job import JobContext, JobResult, Parameter
from enrichment.queries import named_query
from enrichment.runs import Agent, Suggestion
from enrichment.vectors import VectorIndex, normalise, stamp, vectors_dir
from ontology.schemes import SCHEME_NAMES, Scheme, scheme

#: Prompt templates per language; each concept label fills every template of its language.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "en": ("a photo of a {}.", "a museum photograph of a {}.", "{}"),
    "de": ("ein Foto: {}.", "{}"),
    "fr": ("une photo : {}.", "{}"),
    "nl": ("een foto: {}.", "{}"),
    "it": ("una foto: {}.", "{}"),
    "es": ("una foto: {}.", "{}"),
}

IMAGE_INDEX = "clip-image"
#: threads decoding images while the model encodes the previous batch
DECODE_THREADS = min(4, os.cpu_count() or 1)
_LOAD_LOCK = threading.Lock()


# ------------------------------------------------------------------------------------ the model

@dataclass
class ClipModel:
    model: object
    preprocess: object
    tokenizer: object
    device: str
    name: str
    spec: str
    weights: str
    checksum: str
    test_weights: bool
    image_size: int

    def describe(self) -> dict:
        """How to load this model again (stored with the embeddings it makes)."""
        return {"model": self.name, "spec": self.spec, "weights": self.weights, "checksum": self.checksum,
                "test_weights": self.test_weights}

    def encode_images(self, batch) -> np.ndarray:
        import torch
        with torch.inference_mode():
            features = self.model.encode_image(batch.to(self.device))
        return normalise(features.float().cpu().numpy())

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch
        with torch.inference_mode():
            features = self.model.encode_text(self.tokenizer(list(texts)).to(self.device))
        return normalise(features.float().cpu().numpy())

    @property
    def logit_scale(self) -> float:
        return float(self.model.logit_scale.exp().item())

    def preprocess_images(self, images):
        import torch
        return torch.stack([self.preprocess(image) for image in images])


def file_checksum(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _checkpoint_in(folder: Path) -> Path | None:
    for name in ("open_clip_model.safetensors", "open_clip_pytorch_model.safetensors", "open_clip_pytorch_model.bin",
                 "model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return folder / name
    found = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")) + sorted(folder.glob("*.pt*"))
    return found[0] if found else None


def load_clip(spec: str, weights: str = "", device: str | None = None) -> ClipModel:
    """The CLIP model ``spec`` with ``weights`` (cached per process). ConfigError when the weights are
    not configured or not on this machine: nothing is ever downloaded."""
    with _LOAD_LOCK:
        return _load_clip(spec, weights, device)


@lru_cache(maxsize=4)
def _load_clip(spec: str, weights: str, device: str | None) -> ClipModel:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # open_clip may consult the hub cache: never the network
    import open_clip
    import torch
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    test_weights, name, tag = False, spec, {}
    if spec.startswith("local-dir:"):
        folder = Path(spec[len("local-dir:"):])
        config_path = folder / "open_clip_config.json"
        if not config_path.is_file():
            raise ConfigError(f"MOUSEION_CLIP_MODEL={spec}: no open_clip_config.json in {folder}")
        config = json.loads(config_path.read_text(encoding="utf-8"))
        checkpoint = _checkpoint_in(folder)
        if checkpoint is None:
            raise ConfigError(f"MOUSEION_CLIP_MODEL={spec}: no weights file in {folder}")
        own = config.get("mouseion", {})
        test_weights = bool(own.get("test_weights"))
        name = own.get("name", folder.name)
        if test_weights:
            name += " [TEST WEIGHTS: seeded random initialisation, not a trained model]"
        model_name, pretrained = spec, None
        weights_file = checkpoint
    else:
        if not weights:
            raise ConfigError(f"no CLIP weights configured for {spec}: set MOUSEION_CLIP_WEIGHTS to a local "
                              "checkpoint file (or an open_clip tag already in the local cache); nothing is downloaded")
        tag = {}
        if os.path.isfile(weights):
            weights_file = Path(weights)
        else:
            tag = open_clip.get_pretrained_cfg(spec, weights)
            if not tag:
                raise ConfigError(f"MOUSEION_CLIP_WEIGHTS={weights}: neither a file nor a pretrained tag of {spec}")
            weights_file = _cached_tag_file(tag)
            if weights_file is None:
                raise ConfigError(f"weights {spec}/{weights} are not in the local cache and nothing is downloaded: "
                                  "copy the checkpoint here and set MOUSEION_CLIP_WEIGHTS to its path")
        name = f"{spec} {Path(weights).name if os.path.isfile(weights) else weights}"
        model_name, pretrained = spec, str(weights_file)
    try:
        options = {}
        if not spec.startswith("local-dir:") and tag:  # what the tag's training used: same preprocessing
            options = {"force_quick_gelu": bool(tag.get("quick_gelu", False)), "image_mean": tag.get("mean"),
                       "image_std": tag.get("std"), "image_interpolation": tag.get("interpolation"),
                       "image_resize_mode": tag.get("resize_mode")}
        model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=pretrained, device=device,
                                                                     **options)
        tokenizer = open_clip.get_tokenizer(model_name)
    except (RuntimeError, ValueError, FileNotFoundError, OSError) as error:
        raise ConfigError(f"cannot load CLIP model {spec}: {error}") from None
    model.eval()
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else int(size)
    return ClipModel(model, preprocess, tokenizer, device, name, spec, weights, file_checksum(weights_file),
                     test_weights, size)


def _cached_tag_file(tag: dict) -> Path | None:
    """The local file of an open_clip pretrained tag, looked up in the caches only (never the network):
    the Hugging Face hub cache, or open_clip's own URL cache (``~/.cache/clip``)."""
    hub = tag.get("hf_hub", "")
    if hub:
        from huggingface_hub import try_to_load_from_cache
        model_id, filename = os.path.split(hub)
        for candidate in ([filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]):
            found = try_to_load_from_cache(model_id, candidate)
            if isinstance(found, str) and os.path.isfile(found):
                return Path(found)
    url = tag.get("url", "")
    if url:
        cached = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
        if cached.is_file():
            return cached
    return None


def write_test_model(folder: str | Path, *, seed: int = 0, image_size: int = 32, width: int = 32,
                     embed_dim: int = 32, architecture: dict | None = None) -> str:
    """Write a tiny open_clip model with seeded random weights into ``folder`` and return its
    ``local-dir:`` spec. For tests and throughput benchmarks only: it is marked as test weights, and
    every run made with it says so. ``architecture`` replaces the tiny config (e.g. ViT-B-32's, for a
    benchmark with real compute cost)."""
    import open_clip
    import torch
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = architecture or {
        "embed_dim": embed_dim,
        "vision_cfg": {"image_size": image_size, "layers": 1, "width": width, "head_width": 16, "patch_size": 8},
        "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": width, "heads": 2, "layers": 1},
    }
    (folder / "open_clip_config.json").write_text(json.dumps({
        "model_cfg": config,
        "preprocess_cfg": {},
        "mouseion": {"name": f"{folder.name}", "test_weights": True, "seed": seed},
    }, indent=2), encoding="utf-8")
    torch.manual_seed(seed)
    model = open_clip.CLIP(**config)
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "open_clip_model.safetensors"))
    return f"local-dir:{folder}"


# ------------------------------------------------------------------------------------ classification

def concept_prompts(chosen: Scheme, languages: Sequence[str]) -> list[list[str]]:
    """Per concept, the prompts its labels make in the chosen languages."""
    out = []
    for concept in chosen.concepts:
        prompts = [template.format(label) for lang, label in concept.labels if lang in languages
                   for template in TEMPLATES.get(lang, ("{}",))]
        out.append(prompts or [TEMPLATES["en"][0].format(concept.label("en"))])
    return out


def concept_vectors(clip: ClipModel, chosen: Scheme, languages: Sequence[str], cache: Path | None = None
                    ) -> np.ndarray:
    """One unit vector per concept: the mean of its prompts' text embeddings (prompt ensembling).

    The text tower costs more per prompt than the image tower per image, so the vectors are kept in
    ``cache`` (a folder of derived files), keyed by the weights checksum and the exact prompts."""
    prompts = concept_prompts(chosen, languages)
    key = hashlib.sha256(json.dumps([clip.checksum, [c.iri for c in chosen.concepts], prompts]).encode()).hexdigest()
    path = cache / f"concepts-{key[:32]}.npy" if cache is not None else None
    if path is not None and path.is_file():
        return np.load(path, allow_pickle=False)
    flat = [p for group in prompts for p in group]
    encoded = clip.encode_texts(flat)
    rows, at = [], 0
    for group in prompts:
        rows.append(encoded[at:at + len(group)].mean(axis=0))
        at += len(group)
    vectors = normalise(np.stack(rows)).astype(np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial.npy")
        np.save(partial, vectors)
        os.replace(partial, path)
    return vectors


def probabilities(images: np.ndarray, concepts: np.ndarray, logit_scale: float) -> np.ndarray:
    """softmax(logit_scale * cosine) over a scheme's concepts, per image (rows sum to 1).

    >>> p = probabilities(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0], [0.0, 1.0]]), 10.0)
    >>> [round(float(x), 4) for x in p[0]]
    [1.0, 0.0]
    """
    logits = logit_scale * (images @ concepts.T)
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def explain(chosen: Scheme, probs: np.ndarray, index: int, runners: int = 2) -> str:
    """Why a concept was suggested: its probability and rank, the runner-up concepts (those ranked just
    below it) and the margin over the first of them.

    >>> s = scheme("materials")
    >>> p = np.full(len(s.concepts), 0.01); p[0], p[1] = 0.6, 0.2
    >>> explain(s, p, 0)
    "CLIP zero-shot over 20 materials concepts: 'oil paint' p=0.600 (rank 1); runner-up 'canvas' p=0.200, 'glass' p=0.010; margin 0.400"
    """
    order = sorted(range(len(probs)), key=lambda i: (-float(probs[i]), chosen.concepts[i].iri))
    rank = order.index(index)
    name = chosen.concepts
    parts = [f"CLIP zero-shot over {len(probs)} {chosen.name} concepts: '{name[index].label('en')}' "
             f"p={probs[index]:.3f} (rank {rank + 1})"]
    if rank > 0:
        parts.append("ranked below " + ", ".join(f"'{name[i].label('en')}' p={probs[i]:.3f}" for i in order[:rank]))
    below = order[rank + 1:rank + 1 + runners]
    if below:
        parts.append("runner-up " + ", ".join(f"'{name[i].label('en')}' p={probs[i]:.3f}" for i in below)
                     + f"; margin {probs[index] - probs[below[0]]:.3f}")
    return "; ".join(parts)


def scheme_vocabulary(chosen: Scheme) -> Vocabulary:
    """The scheme as a vocabulary graph, so that pages can label the suggested concepts."""
    return Vocabulary(f"scheme-{chosen.name}", list(chosen.triples), Origin(f"ontology/schemes/{chosen.name}.ttl"))


# ------------------------------------------------------------------------------------ the job

class ClipTagging:
    name = "clip-tagging"
    version = "1.0"
    description = "Zero-shot object type (P2) and material (P45) suggestions from each object's image; image embeddings."
    uses_targets = True
    parameters = (
        Parameter("threshold", float, None, "lowest probability of a suggestion (default MOUSEION_CLIP_THRESHOLD)"),
        Parameter("top_k", int, 1, "most suggestions per object and scheme"),
        Parameter("languages", list, ["en"], "label languages the prompts are built from (comma-separated)"),
        Parameter("schemes", list, list(SCHEME_NAMES), "concept schemes to classify against (comma-separated)"),
        Parameter("batch_size", int, None, "images encoded together (default MOUSEION_CLIP_BATCH_SIZE)"),
    )

    def run(self, context: JobContext) -> JobResult:
        settings, store, params = context.settings, context.store, dict(context.params)
        params["threshold"] = settings.clip_threshold if params["threshold"] is None else params["threshold"]
        params["batch_size"] = settings.clip_batch_size if params["batch_size"] is None else params["batch_size"]
        if not 0 <= params["threshold"] <= 1:
            raise ConfigError(f"job clip-tagging: threshold {params['threshold']} is not in [0, 1]")
        if params["top_k"] < 1 or params["batch_size"] < 1:
            raise ConfigError("job clip-tagging: top_k and batch_size must be at least 1")
        try:
            schemes = [scheme(n) for n in params["schemes"]]
        except KeyError as error:
            raise ConfigError(f"job clip-tagging: {error.args[0]}") from None
        context.params.update(threshold=params["threshold"], batch_size=params["batch_size"])  # as used, recorded
        clip = load_clip(settings.clip_model, settings.clip_weights)
        agent = Agent(self.name, self.version, clip.name, clip.checksum, clip.test_weights)
        folder = vectors_dir(store, settings)
        concepts = {s.name: concept_vectors(clip, s, params["languages"], folder / "concepts") for s in schemes}
        reader = ImageReader.from_settings(settings, context.fetch)
        tagger = Tagger(clip, schemes, concepts, params["threshold"], params["top_k"])
        result = JobResult(agent, vocabularies=[scheme_vocabulary(s) for s in schemes])
        embedded: dict[str, np.ndarray] = {}
        total, done = len(context.targets), 0
        targets = list(context.targets)
        batches = [targets[i:i + params["batch_size"]] for i in range(0, total, params["batch_size"])]
        # decoding (Pillow releases the GIL) of the next batch overlaps the encoding of this one
        with ThreadPoolExecutor(max_workers=DECODE_THREADS, thread_name_prefix="mouseion-decode") as pool:
            pending = _decode_batch(pool, store, reader, batches[0], clip) if batches else []
            for n, batch in enumerate(batches):
                current = pending
                pending = _decode_batch(pool, store, reader, batches[n + 1], clip) if n + 1 < len(batches) else []
                images, kept = [], []
                for target, future in current:
                    try:
                        images.append(future.result())
                        kept.append(target)
                    except ImageError as error:
                        result.skipped.append(f"object <{target.object.value}>: {error}")
                if kept:
                    import torch
                    vectors = clip.encode_images(torch.stack(images))
                    for target, vector, suggestions in zip(kept, vectors, tagger.suggest(vectors, kept, store)):
                        embedded[target.object.value] = vector
                        result.suggestions.extend(suggestions)
                        result.used.append(target.graph)
                done += len(batch)
                context.progress(done, total)
        result.notes.append(f"{len(embedded)} image embeddings stored in {IMAGE_INDEX} (derived, rebuildable)")

        def save_embeddings() -> None:
            if embedded:
                index = VectorIndex.load_or_empty(folder, IMAGE_INDEX, next(iter(embedded.values())).shape[0])
                iris = sorted(embedded)
                index.upsert(iris, np.stack([embedded[i] for i in iris]), clip.describe()).save(folder)

        result.after_commit = save_embeddings
        return result


class Tagger:
    """Probabilities over each scheme and the suggestions they make (the part a benchmark also times)."""

    def __init__(self, clip: ClipModel, schemes: Sequence[Scheme], concepts: dict[str, np.ndarray],
                 threshold: float, top_k: int) -> None:
        self.clip, self.schemes, self.concepts = clip, schemes, concepts
        self.threshold, self.top_k = threshold, top_k
        self.scale = clip.logit_scale

    def suggest(self, vectors: np.ndarray, targets, store) -> list[list[Suggestion]]:
        per_scheme = {s.name: probabilities(vectors, self.concepts[s.name], self.scale) for s in self.schemes}
        out = []
        for row, target in enumerate(targets):
            stated = existing_statements(store, target.object, target.graph)
            suggestions = []
            for chosen in self.schemes:
                probs = per_scheme[chosen.name][row]
                order = sorted(range(len(probs)), key=lambda i: (-float(probs[i]), chosen.concepts[i].iri))
                for index in order[:self.top_k]:
                    if float(probs[index]) < self.threshold:
                        break
                    triple = Triple(target.object, chosen.property, NamedNode(chosen.concepts[index].iri))
                    if (triple.predicate.value, triple.object.value) in stated:
                        continue  # the source says so already
                    suggestions.append(Suggestion(triple, float(probs[index]), explain(chosen, probs, index)))
            out.append(suggestions)
        return out


def existing_statements(store, obj: NamedNode, graph: NamedNode) -> set[tuple[str, str]]:
    rows = store.query(named_query("existing"), substitutions={Variable("object"): obj, Variable("graph"): graph})
    return {(row["property"].value, row["value"].value) for row in rows}


def image_iris(store, obj: str) -> list[str]:
    rows = store.query(named_query("images"), substitutions={Variable("object"): NamedNode(obj)})
    seen: list[str] = []
    for row in rows:
        if row["image"].value not in seen:
            seen.append(row["image"].value)
    return seen


def _decode_batch(pool, store, reader: ImageReader, batch, clip: ClipModel) -> list:
    """(target, future of its image) for a batch: image IRIs looked up here, decoding in the pool."""
    return [(t, pool.submit(_image_tensor, reader, image_iris(store, t.object.value), clip)) for t in batch]


def _image_tensor(reader: ImageReader, iris: list[str], clip: ClipModel):
    return clip.preprocess(first_usable_image(reader, iris, clip.image_size))


def open_object_image(store, reader: ImageReader, obj: str, size: int):
    """The first usable image of an object; ImageError naming every image tried when none is."""
    return first_usable_image(reader, image_iris(store, obj), size)


def first_usable_image(reader: ImageReader, iris: list[str], size: int):
    if not iris:
        raise ImageError("has no image (P138i_has_representation, edm:isShownBy, edm:object)")
    reasons = []
    for iri in iris:
        try:
            return reader.open(iri, draft_size=size)
        except ImageError as error:
            reasons.append(str(error))
    raise ImageError("; ".join(reasons))


# ------------------------------------------------------------------------------------ search

def _image_index(store, settings) -> VectorIndex:
    return VectorIndex.cached(vectors_dir(store, settings), IMAGE_INDEX)


def image_index_stamp(store, settings=None) -> tuple[int, int] | None:
    """Which version of the stored image embeddings ``similar_objects`` answers from (None: none)."""
    try:
        return stamp(vectors_dir(store, settings), IMAGE_INDEX)
    except NotFound:
        return None


def similar_objects(store, iri: str, k: int = 10, *, settings=None) -> list[tuple[str, float]]:
    """The ``k`` objects whose images are closest to ``iri``'s (cosine of stored CLIP embeddings)."""
    index = _image_index(store, settings)
    return index.nearest(index.vector_of(iri), k, exclude=iri)


def text_to_image(store, text: str, k: int = 10, *, settings=None) -> list[tuple[str, float]]:
    """Objects whose images best match a text ("a bronze ritual mask"), with the model that made the
    stored embeddings (same weights, checked by checksum)."""
    if not text.strip():
        raise ConfigError("text-to-image search needs some text")
    index = _image_index(store, settings)
    meta = index.meta
    clip = load_clip(meta["spec"], meta.get("weights", ""))
    if clip.checksum != meta.get("checksum"):
        raise NotFound(f"the stored image embeddings were made by weights {meta.get('checksum')}, the model "
                       f"found now has {clip.checksum}: run clip-tagging again")
    return index.nearest(clip.encode_texts([text])[0], k)
