"""One XML Schema that validates a whole OAI-PMH response, metadata included: the official OAI-PMH.xsd
(from ../shared/data/oai-pmh/schema), Europeana's EDM.xsd for ``edm`` records and oai_dc for ``oai_dc``.

OAI-PMH.xsd validates ``<metadata>`` content strictly, so the metadata schemas must be loaded beside it;
a small wrapper schema imports all three from local files (nothing is fetched)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

from tests.conftest import DATA

HERE = Path(__file__).resolve().parent / "schemas"


@cache
def harvest_schema(tmp: str) -> etree.XMLSchema:
    xsd = DATA / "europeana-edm" / "xsd"
    oai_dc = Path(tmp) / "oai_dc.xsd"
    oai_dc.write_text((HERE / "oai_dc.xsd").read_text().replace("DC_LOCATION", (xsd / "DC.xsd").as_uri()))
    wrapper = Path(tmp) / "harvest.xsd"
    wrapper.write_text(f"""<?xml version="1.0"?>
<schema xmlns="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:mouseion:test:wrapper">
  <import namespace="http://www.w3.org/1999/02/22-rdf-syntax-ns#" schemaLocation="{(xsd / 'EDM.xsd').as_uri()}"/>
  <import namespace="http://www.openarchives.org/OAI/2.0/oai_dc/" schemaLocation="{oai_dc.as_uri()}"/>
  <import namespace="http://www.openarchives.org/OAI/2.0/"
          schemaLocation="{(DATA / 'oai-pmh' / 'schema' / 'OAI-PMH.xsd').as_uri()}"/>
</schema>""")
    return etree.XMLSchema(etree.parse(str(wrapper)))


OAI = "{http://www.openarchives.org/OAI/2.0/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"


def assert_valid(schema: etree.XMLSchema, body: bytes, excused: frozenset[str] = frozenset()) -> etree._Element:
    """The response validates. Records named in ``excused`` (oai identifiers) are EDM-native records whose
    input itself broke EDM.xsd (EDM-internal proxies, say): their metadata is kept statement for statement,
    so it cannot validate either; the test swaps their metadata for an empty rdf:RDF and validates the rest."""
    document = etree.fromstring(body)
    checked = document
    if excused:
        checked = etree.fromstring(body)
        for record in checked.iter(f"{OAI}record"):
            metadata = record.find(f"{OAI}metadata")
            if metadata is not None and record.findtext(f"{OAI}header/{OAI}identifier") in excused:
                for child in list(metadata):
                    metadata.remove(child)
                etree.SubElement(metadata, f"{RDF}RDF")
    if not schema.validate(checked):
        raise AssertionError(f"response does not validate: {schema.error_log}\n{body[:3000].decode(errors='replace')}")
    return document


def excused_records(store, data_dir: Path) -> frozenset[str]:
    """oai identifiers of the EDM-native records whose source file does not validate against EDM.xsd."""
    edm = etree.XMLSchema(etree.parse(str(data_dir / "europeana-edm" / "xsd" / "EDM.xsd")))
    excused = set()
    rows = store.query("SELECT ?key ?source ?meta WHERE { GRAPH ?meta { ?g mou:key ?key ; mou:source ?source ; "
                       "mou:format \"edm\" } }", union=False,
                       substitutions={__import__("pyoxigraph").Variable("meta"): store.uris.meta_graph})
    for row in rows:
        path = Path(row["source"].value.split(":")[0])
        if path.is_file() and not edm.validate(etree.parse(str(path))):
            excused.add(f"oai:localhost:{row['key'].value}")
    return frozenset(excused)
