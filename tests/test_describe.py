"""What a page about a resource is made of (``kg.describe``), on a store of its own: here, the links
that point at a hub (a maker of many works), which are kept between pages until the store changes."""

from __future__ import annotations

import pytest
from pyoxigraph import Literal, NamedNode, Triple

from kg.describe import Describer
from kg.record import Origin, Record
from kg.store import Store
from ontology.namespaces import CRM, RDF, RDFS

BASE = "http://localhost:8000/"
MAKER = NamedNode(f"{BASE}id/person/maker")


def work(n: int) -> Record:
    """An object made by MAKER: the link comes from its production, a ``#production`` fragment."""
    obj = NamedNode(f"{BASE}id/object/w-{n}")
    production = NamedNode(f"{obj.value}#production")
    return Record(f"w/{n}", "w", [
        Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]), Triple(obj, RDFS.label, Literal(f"Work {n}")),
        Triple(obj, CRM.P108i_was_produced_by, production), Triple(production, RDF.type, CRM.E12_Production),
        Triple(production, CRM.P14_carried_out_by, MAKER)], Origin("w.ttl"), focus=obj)


@pytest.fixture
def store(tmp_path):
    store = Store.open(tmp_path / "store", BASE)
    maker = Record("m/1", "m", [Triple(MAKER, RDF.type, CRM.E21_Person), Triple(MAKER, RDFS.label, Literal("A. Maker"))],
                   Origin("m.ttl"), focus=MAKER)
    store.commit([maker, *(work(n) for n in range(45))])
    return store


def linking_reads(store) -> list:
    """Count the reads of what points at MAKER (the read a hub's kept links spare)."""
    reads, read = [], store.backend.quads

    def counted(s=None, p=None, o=None, g=None):
        if s is None and p is None and o == MAKER:
            reads.append(o)
        return read(s, p, o, g)
    store.backend.quads = counted
    return reads


def titles(works: int, page: int) -> list[str]:
    """The titles of one page of ``works`` works, in the order of their IRIs."""
    ordered = sorted(range(works), key=lambda n: f"w-{n}")
    return [f"Work {n}" for n in ordered[(page - 1) * 20: page * 20]]


def made(describer: Describer, page: int = 1):
    group = describer.describe(MAKER.value, ["en"], {CRM.P14_carried_out_by.value: page}).inverse[0]
    return group.count, group.page, group.pages, [v.label for v in group.values]


def test_a_hubs_links_are_read_once_until_the_store_changes(store):
    describer = Describer(store)
    describer.HUB = 10
    reads = linking_reads(store)
    assert made(describer) == (45, 1, 3, titles(45, 1))
    assert made(describer, 3) == (45, 3, 3, titles(45, 3)) and titles(45, 3)[-1] == "Work 9"
    assert len(reads) == 1, "the second page came from the kept links"
    store.commit([work(45)])
    assert made(describer, 3) == (46, 3, 3, titles(46, 3)), "a write is seen at once"
    assert "Work 45" in titles(46, 3) and len(reads) == 2


def test_resources_with_few_links_and_more_links_than_the_bound_are_not_kept(store):
    describer = Describer(store)
    reads = linking_reads(store)
    made(describer), made(describer)  # 45 links: below HUB
    describer.HUB, describer.HUB_LINKS = 10, 44
    made(describer), made(describer)  # above the bound
    assert len(reads) == 4 and describer._hubs_links == 0
    describer.HUB_LINKS = 45
    made(describer), made(describer)
    assert len(reads) == 5 and describer._hubs_links == 45


def test_a_hub_kept_by_two_threads_at_once_is_counted_once(store):
    describer = Describer(store)
    describer.HUB = 10
    read = store.backend.quads
    racing = []

    def racer(s=None, p=None, o=None, g=None):
        """The first read of MAKER's links lets another request read and keep them meanwhile."""
        if o == MAKER and not racing:
            racing.append(True)
            made(describer)
        return read(s, p, o, g)
    store.backend.quads = racer
    assert made(describer)[0] == 45
    assert describer._hubs_links == 45 and list(describer._hubs) == [MAKER.value]
