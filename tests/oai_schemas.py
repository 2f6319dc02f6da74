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


def assert_valid(schema: etree.XMLSchema, body: bytes) -> etree._Element:
    document = etree.fromstring(body)
    if not schema.validate(document):
        raise AssertionError(f"response does not validate: {schema.error_log}\n{body[:3000].decode(errors='replace')}")
    return document
