"""Derive, from Europeana's EDM.xsd, the element order kg/mappings/edm/xsd_order.json ships.

The serialiser (kg/edm_out.py) writes each class's properties in the order EDM.xsd's content model
wants; that order is data taken from the schema, not typed by hand. ``python3 -m tests.edm_xsd_order``
rewrites the JSON; tests/test_export_edm.py checks the shipped copy still matches the schema.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "kg" / "mappings" / "edm" / "xsd_order.json"
XSD = ROOT.parent / "shared" / "data" / "europeana-edm" / "xsd" / "EDM.xsd"


def derive(xsd: Path = XSD) -> dict:
    """{class IRI: [[property IRI, "resource" | "literal" | "either" | "typed"], ...]} in schema order."""
    import xmlschema
    schema = xmlschema.XMLSchema(str(xsd))
    classes: dict[str, dict] = {}
    for child in schema.elements["RDF"].type.content.iter_elements():
        properties = []
        for element in child.type.content.iter_elements():
            type_name = element.type.name or ""
            kind = ("resource" if type_name.endswith("}ResourceType") else
                    "literal" if type_name.endswith("}LiteralType") else
                    "either" if type_name.endswith("}ResourceOrLiteralType") else "typed")
            iri = element.name[1:].replace("}", "")
            if iri not in [p[0] for p in properties]:
                properties.append([iri, kind])
        classes[child.name[1:].replace("}", "")] = properties
    return classes


def render(classes: dict) -> str:
    """One property per line, so that a schema change reads as a small diff."""
    blocks = []
    for cls, properties in classes.items():
        lines = ",\n".join(f"  {json.dumps(p)}" for p in properties)
        blocks.append(f" {json.dumps(cls)}: [\n{lines}\n ]")
    return "{\n" + ",\n".join(blocks) + "\n}\n"


if __name__ == "__main__":
    SHIPPED.write_text(render(derive()), encoding="utf-8")
    print(f"wrote {SHIPPED}", file=sys.stderr)
