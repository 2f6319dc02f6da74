"""The Linked Art JSON-LD profile of a resource's description: a tree rooted at the resource,
compacted with the Linked Art context shipped in ``kg/contexts`` (nothing fetched).

Terms are chosen the way a JSON-LD 1.1 processor will read them back: the context's top-level terms,
overridden inside a node by the type-scoped context of its class (``part`` is ``P46_is_composed_of`` in a
``HumanMadeObject``), which does not propagate to nested nodes, while a property-scoped context does.
A predicate with no term is written as an absolute IRI; a literal whose datatype the term does not
coerce to is written as a value object. Blank nodes and ``#fragment`` children are nested; other
resources are references with their ``_label``. Reading the document back with the same context gives
the description's triples (plus those labels): ``tests/test_dereference.py`` checks it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pyoxigraph as ox
from pyoxigraph import BlankNode, Literal, NamedNode

from kg.contexts import LINKED_ART, local_context
from kg.describe import pick
from ontology.namespaces import RDF, XSD

_STRING = XSD.string.value
_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


@lru_cache(maxsize=1)
def _context() -> dict[str, Any]:
    return local_context(LINKED_ART)


def _prefixes() -> dict[str, str]:
    return {k: v for k, v in _context().items() if isinstance(v, str) and v.endswith(("/", "#"))}


def _expand(value: str) -> str:
    prefix, colon, rest = value.partition(":")
    known = _prefixes()
    return known[prefix] + rest if colon and prefix in known else value


def _definition(raw: Any) -> dict[str, Any] | None:
    if isinstance(raw, str):
        return {"@id": raw}
    return raw if isinstance(raw, dict) and "@id" in raw else None


@lru_cache(maxsize=None)
def _classes() -> dict[str, str]:
    """class IRI → term (``crm:E22_Human-Made_Object`` → ``HumanMadeObject``)."""
    out: dict[str, str] = {}
    for term, raw in _context().items():
        if term[:1].isupper() and (d := _definition(raw)) is not None:
            out.setdefault(_expand(d["@id"]), term)
    return out


def _scoped(class_term: str) -> dict[str, Any]:
    raw = _context().get(class_term)
    return raw.get("@context", {}) if isinstance(raw, dict) else {}


def _invert(defs: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """property IRI → (term, definition), for the terms that are properties."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for term, raw in defs.items():
        if term.startswith("@") or term[:1].isupper() or term in ("id", "type"):
            continue
        d = _definition(raw)
        if d is None or not isinstance(d["@id"], str) or d["@id"].startswith("@"):
            continue
        out.setdefault(_expand(d["@id"]), (term, d))
    return out


@lru_cache(maxsize=256)
def _terms(scope_key: tuple) -> dict[str, tuple[str, dict[str, Any]]]:
    return _invert(_defs(scope_key))


def _defs(scope_key: tuple) -> dict[str, Any]:
    """Active term definitions: the top-level context, then each scoped context named in ``scope_key``
    (("class", term) for type-scoped, ("property", class term, property term) for property-scoped)."""
    defs = {k: v for k, v in _context().items()}
    for scope in scope_key:
        if scope[0] == "class":
            defs.update(_scoped(scope[1]))
        else:
            holder = _defs(scope[1])
            raw = holder.get(scope[2])
            if isinstance(raw, dict) and isinstance(raw.get("@context"), dict):
                defs.update(raw["@context"])
    return defs


def _compact_iri(iri: str) -> str:
    for prefix, ns in _prefixes().items():
        if iri.startswith(ns) and len(iri) > len(ns):
            local = iri[len(ns):]
            if "/" not in local and "#" not in local:
                return f"{prefix}:{local}"
    return iri


def linked_art(iri: str, triples: list[ox.Triple], describer) -> dict[str, Any]:
    """The Linked Art document of ``iri`` from its bounded description ``triples``."""
    by_subject: dict[object, list[ox.Triple]] = {}
    for triple in triples:
        by_subject.setdefault(triple.subject, []).append(triple)
    root = NamedNode(iri)
    document = {"@context": LINKED_ART}
    document.update(_node(root, by_subject, (), describer, {root}))
    return document


def _node(subject, by_subject, base_scope: tuple, describer, seen) -> dict[str, Any]:
    statements = by_subject.get(subject, [])
    types = [t.object.value for t in statements if t.predicate == RDF.type and isinstance(t.object, NamedNode)]
    type_terms = sorted(_classes().get(t, t) for t in types)
    scope = base_scope + tuple(("class", t) for t in type_terms if t in _context())
    terms = _terms(scope)
    out: dict[str, Any] = {}
    if isinstance(subject, NamedNode):
        out["id"] = subject.value
    if type_terms:
        out["type"] = type_terms[0] if len(type_terms) == 1 else type_terms
    grouped: dict[str, list[Any]] = {}
    sets: set[str] = set()
    for triple in statements:
        if triple.predicate == RDF.type and isinstance(triple.object, NamedNode):
            continue
        predicate, obj = triple.predicate.value, triple.object
        found = terms.get(predicate)
        key, definition = found if found else (_compact_iri(predicate), {})
        coerced = definition.get("@type")
        if isinstance(obj, Literal):
            if coerced == "@id":
                key, definition, coerced = _compact_iri(predicate), {}, None
            value = _literal(obj, coerced)
        else:
            if found and coerced not in (None, "@id", "@vocab"):
                key, definition = _compact_iri(predicate), {}
            child_scope = base_scope + ((("property", scope, key),) if isinstance(definition.get("@context"), dict)
                                        else ())
            value = _reference(subject, obj, by_subject, child_scope, describer, seen)
        if definition.get("@container") == "@set":
            sets.add(key)
        grouped.setdefault(key, []).append(value)
    for key, values in grouped.items():
        out[key] = values if key in sets or len(values) > 1 else values[0]
    return out


def _literal(obj: Literal, coerced: str | None) -> Any:
    datatype = obj.datatype.value if obj.datatype is not None else _STRING
    if obj.language:
        return {"@value": obj.value, "@language": obj.language}
    if coerced is not None and _expand(coerced) == datatype:
        return obj.value
    if coerced is None and datatype == _STRING:
        return obj.value
    return {"@value": obj.value, "@type": datatype}


def _reference(subject, obj, by_subject, scope, describer, seen) -> dict[str, Any]:
    owned = isinstance(obj, BlankNode) or (
        isinstance(subject, NamedNode) and obj.value.startswith(subject.value.split("#")[0] + "#"))
    if owned and obj in by_subject and obj not in seen:
        return _node(obj, by_subject, scope, describer, seen | {obj})
    if isinstance(obj, BlankNode):
        return {"id": f"_:{obj.value}"}
    label = pick(describer.labels.candidates(obj.value), ["en"])
    reference: dict[str, Any] = {"id": obj.value}
    if label:
        reference["_label"] = label
    return reference
