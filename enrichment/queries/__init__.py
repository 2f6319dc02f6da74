"""Named SPARQL queries of the enrichment layer, one ``.rq`` file each (STYLE.md: no query text in code)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_HERE = Path(__file__).parent


@cache
def named_query(name: str) -> str:
    """The text of ``enrichment/queries/{name}.rq``.

    >>> "E13_Attribute_Assignment" in named_query("suggestions")
    True
    """
    return (_HERE / f"{name}.rq").read_text(encoding="utf-8")
