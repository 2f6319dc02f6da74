"""Named SPARQL queries of the kg layer, one ``.rq`` file each (STYLE.md: no query text in code).

>>> "SELECT" in named_query("changes")
True
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Callable


def query_folder(folder: Path) -> Callable[[str], str]:
    """``named_query(name)``: the text of ``{folder}/{name}.rq``, read once. Each layer keeps its own folder."""
    @cache
    def named_query(name: str) -> str:
        return (folder / f"{name}.rq").read_text(encoding="utf-8")
    return named_query


named_query = query_folder(Path(__file__).parent)
