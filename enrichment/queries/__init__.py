"""Named SPARQL queries of the enrichment layer, one ``.rq`` file each (STYLE.md: no query text in code).

>>> "E13_Attribute_Assignment" in named_query("suggestions")
True
"""

from __future__ import annotations

from pathlib import Path

from kg.queries import query_folder

named_query = query_folder(Path(__file__).parent)
