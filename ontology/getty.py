"""Labels of the Getty AAT terms Mouseion ships: those the mappings use (types of names, identifiers,
dimensions and units, genders; in English) and the concepts of the enrichment schemes (object types and
materials, in six languages), so that a page or a search facet says "accession number" or "Papier"
rather than ``aat:300312355``. The store holds no description of these terms: they are Getty's.

>>> aat_labels("http://vocab.getty.edu/aat/300312355")
{'en': 'accession number'}
>>> aat_labels("http://vocab.getty.edu/aat/300014109")["de"]
'Papier'
>>> aat_labels("http://vocab.getty.edu/aat/300000000"), aat_labels("http://example.org/300312355")
({}, {})
"""

from __future__ import annotations

from functools import cache

from ontology.namespaces import AAT
from ontology.schemes import SCHEME_NAMES, scheme

_LABELS = {
    "300133025": "works of art", "300404670": "primary name", "300388277": "English",
    "300312355": "accession number", "300435429": "material statement", "300435430": "dimension statement",
    "300055644": "height", "300055647": "width", "300072633": "depth", "300379097": "mm",
    "300379098": "cm", "300026687": "credit line", "300215302": "digital images",
    "300435434": "copyright/licensing statement", "300264578": "web pages", "300404651": "given name",
    "300404652": "family name", "300264273": "alternate name", "300189559": "male", "300189557": "female",
    "300435443": "type of work", "300033618": "paintings", "300404621": "repository number",
}


def aat_labels(iri: str) -> dict[str, str]:
    """The term's labels by language tag, as ``Hierarchy.labels`` gives a class's; empty for any other IRI."""
    if not iri.startswith(AAT.iri):
        return {}
    labels = dict(_scheme_labels().get(iri, {}))
    known = _LABELS.get(iri[len(AAT.iri):])
    if known:
        labels["en"] = known  # Getty's own (plural) term where the schemes have a prompt's word
    return labels


@cache
def _scheme_labels() -> dict[str, dict[str, str]]:
    return {concept.iri: dict(concept.labels) for name in SCHEME_NAMES for concept in scheme(name).concepts
            if concept.iri.startswith(AAT.iri)}
