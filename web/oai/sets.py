"""The set hierarchy (spec section 4.6): per dataset (the source a record was loaded from) and per
EDM type (TEXT, IMAGE, SOUND, VIDEO, 3D).

    dataset            every record of every dataset
    dataset:tate       the records of dataset "tate"
    type               every record that has an EDM type
    type:IMAGE         records whose EDM type is IMAGE

A tombstone keeps its dataset (the change log says it), so deletions are announced in their dataset
set; its graph, and with it its EDM type, is gone, so it is announced in every type set (a harvester
told to delete a record it never had does nothing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kg import harvest
from kg.harvest import Entry, Selection
from web.oai.errors import BadArgument

#: setSpec syntax of OAI-PMH.xsd
_SPEC = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+$")

#: the top-level sets: (setSpec, setName, what they select by)
ROOTS = [("dataset", "Datasets (the source each record was loaded from)", "dataset"),
         ("type", "EDM types (TEXT, IMAGE, SOUND, VIDEO, 3D)", "edm_type")]


@dataclass(frozen=True)
class OaiSet:
    spec: str
    name: str


def all_sets(store) -> list[OaiSet]:
    found = []
    values = harvest.set_values(store)
    for spec, name, kind in ROOTS:
        children = [v for k, v in values if k == ("dataset" if kind == "dataset" else "type") and _SPEC.match(v)]
        if children:
            found.append(OaiSet(spec, name))
            label = "Dataset" if kind == "dataset" else "EDM type"
            found += [OaiSet(f"{spec}:{v}", f"{label} {v}") for v in children]
    return found


def selection(spec: str | None, since: str | None, until: str | None, store, *, check: bool = True) -> Selection:
    """The change-log selection a setSpec stands for; an unknown set is a bad argument."""
    if spec is None:
        return Selection(since, until)
    root, colon, value = spec.partition(":")
    if check and not (root in {r[0] for r in ROOTS} and bool(colon) == bool(value) and ":" not in value
                      and harvest.set_exists(store, root, value)):
        raise BadArgument(f"set={spec!r} is not a set of this repository (ListSets lists them)")
    if not value:
        return Selection(since, until)
    if root == "dataset":
        return Selection(since, until, dataset=value)
    return Selection(since, until, edm_type=value)


def specs_of(store, item: Entry) -> list[str]:
    """The sets a record's header names (the most specific ones)."""
    specs = [f"dataset:{item.dataset}"] if _SPEC.match(item.dataset) else []
    specs += [f"type:{t}" for t in harvest.edm_types(store, item) if _SPEC.match(t)]
    return specs
