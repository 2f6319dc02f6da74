"""CLIP job throughput: images/s of the whole ``clip-tagging`` job (read the store, decode, preprocess,
encode, classify over both schemes, write the run's triples in one transaction, save embeddings)
against the bare open_clip loop over the same images (decode with PIL, preprocess, ``encode_image``),
measured in one run on the same loaded model, same batch size and device. Target: job >= 0.8x bare.
The best round of each side is compared; every round is printed. The job's first round with given
weights also encodes the concept prompts (text tower, ~100 prompts), which are then cached beside the
store: a fixed cost per model, not per image.

    python3 bench/clip.py [--images 150] [--batch-size 32] [--repeat 2] [--tiny]

The images are the 150 labelled heritage images in ../shared/data/images, each behind one record of a
temporary store (``file:`` IRIs). The model is the configured one (MOUSEION_CLIP_MODEL /
MOUSEION_CLIP_WEIGHTS) when weights are configured; otherwise ViT-B-32's architecture with seeded
random weights — the same compute as the real model, and said so in the output (``--tiny``: the tiny
test model, for a quick check of the harness only).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kg.record import Origin, Record  # noqa: E402
from kg.settings import Settings  # noqa: E402
from kg.store import Store  # noqa: E402
from ontology.namespaces import CRM, RDF, RDFS  # noqa: E402
from pyoxigraph import Literal, NamedNode, Triple  # noqa: E402

BASE = "http://localhost:8000/"
IMAGES = ROOT.parent / "shared" / "data" / "images"


def image_files(limit: int) -> list[Path]:
    rows = list(csv.DictReader((IMAGES / "labels.csv").open(encoding="utf-8")))
    return [IMAGES / r["file"] for r in rows][:limit]


def build_store(folder: Path, files: list[Path]) -> Store:
    store = Store.open(folder, BASE)
    records = []
    for n, path in enumerate(files):
        obj = store.uris.entity("object", f"bench-{n:04d}")
        records.append(Record(f"bench/{n:04d}", "bench", [
            Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]), Triple(obj, RDFS.label, Literal(path.stem)),
            Triple(obj, CRM.P138i_has_representation, NamedNode(path.as_uri()))], Origin("bench")))
    store.commit(records)
    return store


def choose_model(work: Path, tiny: bool) -> tuple[str, str, str]:
    """(model spec, weights, what to say about it)."""
    from enrichment.clip_tagging import write_test_model
    configured = Settings.from_env()
    if configured.clip_weights or configured.clip_model.startswith("local-dir:"):
        return configured.clip_model, configured.clip_weights, "configured weights"
    if tiny:
        return write_test_model(work / "tiny-clip"), "", "tiny test model (seeded random weights)"
    from open_clip.factory import get_model_config
    spec = write_test_model(work / "vit-b-32-random", architecture=get_model_config("ViT-B-32"))
    return spec, "", "ViT-B-32 architecture with seeded random weights (no real weights configured; same compute)"


def bare_loop(clip, files: list[Path], batch_size: int) -> float:
    """The reference: what anyone would write with open_clip alone. Returns seconds."""
    import torch
    from PIL import Image
    start = time.perf_counter()
    for i in range(0, len(files), batch_size):
        batch = torch.stack([clip.preprocess(Image.open(f).convert("RGB")) for f in files[i:i + batch_size]])
        with torch.inference_mode():
            features = clip.model.encode_image(batch.to(clip.device))
            features = features / features.norm(dim=-1, keepdim=True)
        features.cpu()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2, help="rounds; the best of each side is reported")
    parser.add_argument("--tiny", action="store_true", help="the tiny test model (checks the harness only)")
    args = parser.parse_args()

    from enrichment.clip_tagging import load_clip
    from enrichment.jobs import run_job
    work = Path(tempfile.mkdtemp(prefix="mouseion-bench-clip-"))
    files = image_files(args.images)
    spec, weights, about = choose_model(work, args.tiny)
    clip = load_clip(spec, weights)
    store = build_store(work / "store", files)
    settings = Settings.from_env({}, store=str(work / "store"), base_uri=BASE, clip_model=spec, clip_weights=weights,
                                 image_roots=str(IMAGES), clip_threshold=0.0, clip_batch_size=args.batch_size)
    print(f"model: {clip.name}\n       {about}\ndevice: {clip.device}; images: {len(files)}; batch size: "
          f"{args.batch_size}")
    bare_loop(clip, files[:args.batch_size], args.batch_size)  # warm-up: first-call costs on neither side
    bare, job = [], []
    for _ in range(args.repeat):
        bare.append(bare_loop(clip, files, args.batch_size))
        start = time.perf_counter()
        run = run_job(store, settings, "clip-tagging")
        job.append(time.perf_counter() - start)
        assert not run.skipped, run.skipped
    bare_rate, job_rate = len(files) / min(bare), len(files) / min(job)
    print(f"bare open_clip loop (decode, preprocess, encode):       {bare_rate:8.2f} images/s")
    print(f"mouseion clip-tagging job (+ classify, write, vectors): {job_rate:8.2f} images/s "
          f"({len(run.suggestions)} suggestions written per run)")
    print(f"ratio job / bare: {job_rate / bare_rate:.2f}x (target >= 0.8x)")
    print("per round, images/s: bare " + ", ".join(f"{len(files) / t:.2f}" for t in bare) + "; job "
          + ", ".join(f"{len(files) / t:.2f}" for t in job)
          + " (the job's first round also encodes the concept prompts, cached for later runs with these weights)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
