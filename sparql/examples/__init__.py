"""Example queries about the collection, one ``.rq`` file each, shown on the query page.

A file opens with its title and description in comment lines; a description may go on over
further indented comment lines::

    # title: Objects by material
    # description: The materials the objects consist of (P45), how many objects use each,
    #   and the matching Getty AAT concept.

    PREFIX crm: <http://www.cidoc-crm.org/cidoc-crm/>
    SELECT ...

The rest of the file is the query, and it declares every prefix it uses, so that it runs as it
stands on any SPARQL endpoint. ``ORDER`` is the order the page lists them in.

>>> [e.name for e in examples()][:2]
['objects-by-maker', 'objects-by-material']
>>> example("objects-by-material").title
'Objects by material'
>>> example("objects-by-material").text.startswith("PREFIX crm:")
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_HERE = Path(__file__).parent

#: The order of the page's list; every ``*.rq`` file here must be named in it.
ORDER = (
    "objects-by-maker",
    "objects-by-material",
    "production-by-century",
    "subjects-depicted",
    "machine-suggestions",
    "record-changes",
    "statements-per-graph",
    "statements-per-kind-of-graph",
)

_FIELD = re.compile(r"# (title|description):\s*(.*)")
_MORE = re.compile(r"#\s+(\S.*)")


@dataclass(frozen=True)
class Example:
    name: str
    title: str
    description: str
    text: str


def parse(name: str, source: str) -> Example:
    """An example from its file's text: the leading ``# title:`` / ``# description:`` comment block,
    then the query.

    >>> e = parse("demo", "# title: Demo\\n# description: All of it,\\n#   twice.\\n\\nASK {}\\n")
    >>> e.title, e.description, e.text
    ('Demo', 'All of it, twice.', 'ASK {}\\n')
    """
    fields: dict[str, str] = {}
    lines = source.splitlines(keepends=True)
    current = None
    while lines:
        line = lines[0].rstrip("\r\n")
        if (match := _FIELD.fullmatch(line)) is not None:
            current = match.group(1)
            fields[current] = match.group(2).strip()
        elif current is not None and (match := _MORE.fullmatch(line)) is not None:
            fields[current] = f"{fields[current]} {match.group(1).strip()}".strip()
        else:
            break
        lines.pop(0)
    missing = {"title", "description"} - fields.keys()
    if missing:
        raise ValueError(f"example {name}: no {' or '.join(sorted(missing))} in its leading comment lines")
    return Example(name, fields["title"], fields["description"], "".join(lines).lstrip("\r\n"))


@cache
def _load() -> tuple[Example, ...]:
    found = {path.stem: path for path in _HERE.glob("*.rq")}
    unlisted, absent = sorted(found.keys() - set(ORDER)), sorted(set(ORDER) - found.keys())
    if unlisted or absent:
        raise ValueError(f"sparql/examples: files not named in ORDER: {unlisted}; named without a file: {absent}")
    return tuple(parse(name, found[name].read_text(encoding="utf-8")) for name in ORDER)


def examples() -> list[Example]:
    """Every example, in page order (read once per process)."""
    return list(_load())


def example(name: str) -> Example | None:
    """The example called ``name`` (its file name without ``.rq``), or None."""
    return next((e for e in _load() if e.name == name), None)
