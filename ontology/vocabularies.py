"""The ontologies shipped inside the package, and the one list of those the store loads.

Each entry of :data:`VOCABULARIES` becomes the named graph ``{base}graph/vocab/{name}`` when a
store is initialised, and feeds :class:`ontology.hierarchy.Hierarchy`. Adding a vocabulary means
adding its file (with a NOTICE.txt for source and licence) and one line here.

>>> [v.name for v in VOCABULARIES]
['crm', 'edm']
>>> len(vocabulary_triples("crm"))
4051
>>> vocabulary_triples("skos")
Traceback (most recent call last):
...
KeyError: "unknown vocabulary 'skos' (known: crm, edm)"
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import NamedTuple

from pyoxigraph import RdfFormat, Triple, parse

HERE = Path(__file__).resolve().parent


class VocabularyFile(NamedTuple):
    """One shipped ontology file: ``(name, path, format)``."""

    name: str
    path: Path
    format: RdfFormat


#: Loaded at store initialisation, in this order; names are the ``graph/vocab/{name}`` keys.
VOCABULARIES: list[VocabularyFile] = [
    VocabularyFile("crm", HERE / "crm" / "CIDOC_CRM_v7.1.3.rdf", RdfFormat.RDF_XML),
    VocabularyFile("edm", HERE / "edm" / "edm.owl", RdfFormat.RDF_XML),
]


def vocabulary(name: str) -> VocabularyFile:
    """The entry of :data:`VOCABULARIES` called ``name``; ``KeyError`` names the known ones."""
    for entry in VOCABULARIES:
        if entry.name == name:
            return entry
    raise KeyError(f"unknown vocabulary {name!r} (known: {', '.join(v.name for v in VOCABULARIES)})")


def vocabulary_triples(name: str) -> list[Triple]:
    """Every triple of the vocabulary ``name``, in file order (a new list each call).

    >>> from ontology.namespaces import CRM, RDFS
    >>> any(t.subject == CRM.E21_Person and t.predicate == RDFS.subClassOf
    ...     for t in vocabulary_triples("crm"))
    True
    """
    return list(read(vocabulary(name)))


@cache
def read(entry: VocabularyFile) -> tuple[Triple, ...]:
    """The triples of one vocabulary file, parsed once per process.

    The store, the hierarchy and the tests all ask for the same files; a tuple keeps the shared
    copy from being changed by a caller.
    """
    return tuple(parse(path=entry.path, format=entry.format))
