"""CLIP tagging quality: top-1 / top-5 accuracy per concept scheme on the 150 labelled heritage images
of ../shared/data/images (labels.csv), with the same prompts and probabilities the job uses.

    python3 bench/clip_quality.py [--languages en] [--show-errors]

It needs real CLIP weights (MOUSEION_CLIP_MODEL and MOUSEION_CLIP_WEIGHTS, or a ``local-dir:`` model
that is not marked as test weights). Without them it says so and reports no number: accuracy of
random weights would mean nothing, and no figure is ever invented.

Ground truth: the image's folder gives its object type (``painting`` → aat:300033618 paintings, ...;
a folder that covers two concepts accepts either, e.g. ``print_drawing``); the ``material`` column,
split into its parts ("oil on canvas" → oil paint, canvas), gives the accepted materials. Images whose
folder or material maps to no concept of the scheme are left out of that scheme's count (the counts
are printed).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kg.settings import Settings  # noqa: E402

IMAGES = ROOT.parent / "shared" / "data" / "images"
AAT = "http://vocab.getty.edu/aat/"
LOCAL = "https://w3id.org/mouseion/concept/"

#: folder of labels.csv → accepted object-type concepts
OBJECT_TYPES = {
    "painting": {AAT + "300033618"},
    "coin": {AAT + "300037222"},
    "manuscript_document": {AAT + "300028569", AAT + "300026030"},
    "photograph": {AAT + "300046300"},
    "print_drawing": {AAT + "300041273", AAT + "300033973"},
    "sculpture": {AAT + "300047090"},
    "jewellery": {AAT + "300209286"},
    "weapon_armour": {AAT + "300036926"},
    "pottery_ceramic": {LOCAL + "pottery-vessel"},
    "tool": {LOCAL + "tool"},
    "textile": {LOCAL + "textile"},
    "architecture": {AAT + "300004792"},
}
#: a word of the material column → accepted material concepts
MATERIALS = {
    "paper": {AAT + "300014109"}, "parchment": {AAT + "300011851"}, "gold": {AAT + "300011021"},
    "silver": {AAT + "300011029"}, "billon": {AAT + "300011029"}, "oil": {AAT + "300015050"},
    "canvas": {AAT + "300014078"}, "ink": {AAT + "300015012"}, "ceramic": {AAT + "300235507"},
    "copper alloy": {LOCAL + "copper-alloy", AAT + "300010957", AAT + "300011020"},
    "flint": {LOCAL + "flint"}, "stone": {AAT + "300011176"}, "wood": {AAT + "300011914"},
    "iron": {AAT + "300011002"}, "leather": {AAT + "300011845"}, "textile": {LOCAL + "textile-material"},
}
_PARTS = re.compile(r",|/|\band\b|\bon\b|\bwith\b|\(.*?\)")


def accepted_materials(text: str) -> set[str]:
    """>>> sorted(accepted_materials("oil on canvas")) == sorted({AAT + "300015050", AAT + "300014078"})
    True
    """
    out: set[str] = set()
    for part in _PARTS.split(text.lower()):
        part = part.strip()
        for word, concepts in MATERIALS.items():
            if word in part:
                out |= concepts
    return out


def real_weights(settings: Settings) -> str | None:
    """None when real weights are configured; otherwise the reason there are none."""
    if settings.clip_model.startswith("local-dir:"):
        config = Path(settings.clip_model[len("local-dir:"):]) / "open_clip_config.json"
        if config.is_file() and '"test_weights": true' in config.read_text(encoding="utf-8"):
            return f"MOUSEION_CLIP_MODEL={settings.clip_model} holds test weights (seeded random numbers)"
        return None
    if not settings.clip_weights:
        return f"MOUSEION_CLIP_WEIGHTS is empty (MOUSEION_CLIP_MODEL={settings.clip_model})"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--languages", default="en", help="label languages for the prompts (comma-separated)")
    parser.add_argument("--show-errors", action="store_true", help="list the images whose top-1 is wrong")
    args = parser.parse_args()
    settings = Settings.from_env()
    missing = real_weights(settings)
    if missing:
        print(f"No real CLIP weights are configured: {missing}.\n"
              "No accuracy is reported: a figure from untrained weights would mean nothing.\n"
              "Set MOUSEION_CLIP_MODEL (e.g. ViT-B-32) and MOUSEION_CLIP_WEIGHTS (a local checkpoint file, or a "
              "pretrained tag in the local cache) and run this again.")
        return 2
    import numpy as np

    from enrichment.clip_tagging import concept_vectors, load_clip, probabilities
    from enrichment.images import ImageReader
    from ontology.schemes import scheme
    clip = load_clip(settings.clip_model, settings.clip_weights)
    reader = ImageReader([IMAGES], settings.image_max_bytes, settings.image_max_pixels)
    rows = list(csv.DictReader((IMAGES / "labels.csv").open(encoding="utf-8")))
    truths = {
        "object-types": [OBJECT_TYPES.get(r["file"].split("/", 1)[0], set()) for r in rows],
        "materials": [accepted_materials(r["material"]) for r in rows],
    }
    vectors = []
    for start in range(0, len(rows), 32):
        images = [reader.open((IMAGES / r["file"]).as_uri(), draft_size=clip.image_size) for r in rows[start:start + 32]]
        vectors.append(clip.encode_images(clip.preprocess_images(images)))
    vectors = np.concatenate(vectors)
    print(f"model: {clip.name} ({clip.checksum}) on {clip.device}; {len(rows)} labelled images")
    for name, truth in truths.items():
        chosen = scheme(name)
        probs = probabilities(vectors, concept_vectors(clip, chosen, args.languages.split(",")), clip.logit_scale)
        iris = [c.iri for c in chosen.concepts]
        counted = top1 = top5 = 0
        for n, accepted in enumerate(truth):
            if not accepted:
                continue
            order = [iris[i] for i in np.argsort(-probs[n])]
            counted += 1
            top1 += order[0] in accepted
            top5 += bool(accepted & set(order[:5]))
            if args.show_errors and order[0] not in accepted:
                print(f"  {name}: {rows[n]['file']}: top-1 {chosen.label_of(order[0])}")
        if counted:
            print(f"{name:13s} top-1 {top1 / counted:6.1%}  top-5 {top5 / counted:6.1%}  "
                  f"({counted} images with a label in this scheme, {len(chosen.concepts)} concepts)")
        else:
            print(f"{name:13s} no image has a label in this scheme")
    return 0


if __name__ == "__main__":
    sys.exit(main())
