"""The search index: full text and facets over every live record, derived from the store and kept in step.

The store stays the single source of truth (DESIGN.md); this index is a copy that is never allowed to
drift. It is an SQLite database with an FTS5 table (``unicode61`` tokenizer, diacritics removed, so
``Geneve`` finds ``Genève``), written only here:

- **on every write**: ``SearchIndex.attach`` adds a listener to ``Store.listeners``; ``Store.write``
  calls it with the outcomes (records created, modified, deleted) and the other graphs it replaced
  (vocabularies, enrichment run graphs). The index reads those records back from the store and
  rewrites their rows in one SQLite transaction, before the write returns.
- **on opening**: the change log's content hashes are compared with the index's, so a crash between
  the store's commit and the index's (or a restore, or a load by a process without the index) is
  caught up before the first search. Run graphs and the labels of linked things are compared too.
- ``mouseion reindex`` rebuilds it from nothing.

One row per live record, describing its focus (the object, person, CHO): its titles by language, the
other names and identifiers, descriptions, and the labels in every language of the things it links
to (makers, materials, types, subjects, places). When a linked thing's labels change (an artist
renamed in their own record, a vocabulary reloaded) the rows that named it are rewritten too.

Facets: ``class`` (``rdf:type``), ``type`` (``P2_has_type``, ``dc:type``), ``material``
(``P45_consists_of``, ``dcterms:medium``), ``maker`` (``P108i_was_produced_by/P14_carried_out_by``,
``dc:creator``), a year range (production time-span ``P82a``/``P82b``; life dates for people; EDM
dates), has an image, has machine suggestions (a pending or accepted ``E13_Attribute_Assignment`` in
a run graph).

>>> from kg.record import Origin, Record
>>> from kg.search import SearchIndex, SearchQuery
>>> from kg.store import Store
>>> from ontology.namespaces import CRM, RDF, RDFS
>>> from pyoxigraph import Literal, Triple
>>> store = Store.open(None, "http://example.org/")
>>> index = SearchIndex.attach(store, ":memory:")
>>> obj = store.uris.entity("object", "1")
>>> _ = store.commit([Record("demo/1", "demo", [Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]),
...                                             Triple(obj, RDFS.label, Literal("Vase de Genève", language="fr"))],
...                         Origin("demo.ttl"), focus=obj)])
>>> [h.titles for h in index.search(SearchQuery(text="geneve")).hits]
[{'fr': 'Vase de Genève'}]
"""


from __future__ import annotations

from kg.search.index import INDEX_VERSION, RANK_LIMIT, SearchIndex, index_location
from kg.search.query import (FACET_NAMES, FACETS, PARAMETERS, Facet, FacetValue, Hit, SearchError, SearchQuery,
                             SearchResult, best_label, match_expression)

__all__ = ["INDEX_VERSION", "RANK_LIMIT", "SearchIndex", "index_location", "FACET_NAMES", "FACETS", "PARAMETERS",
           "Facet", "FacetValue", "Hit", "SearchError", "SearchQuery", "SearchResult", "best_label",
           "match_expression"]
