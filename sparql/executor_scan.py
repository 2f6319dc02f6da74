"""A lexical look at a SPARQL request: its form, and whether it names a remote service.

pyoxigraph has no parse-only API and evaluating a query to learn its form is unbounded work, so the
executor reads the request with SPARQL's own token rules (`SPARQL 1.1 Query §19.8
<https://www.w3.org/TR/sparql11-query/#grammar>`_): comments, IRIs, strings, prefixed names and
variables are skipped as wholes, so ``SERVICE`` or ``SELECT`` inside them is never taken for a keyword.

>>> scan("PREFIX ex: <http://ex.org/#select> # ASK?\\nconstruct WHERE { ?s ex:p 'SERVICE' }").form
'CONSTRUCT'
>>> scan("SELECT * { SERVICE <http://evil.example/sparql> { ?s ?p ?o } }").service
True
>>> scan("SELECT ?service { ?service <http://ex.org/service> 'service' }").service
False

One character is ambiguous to a lexer that does not know the grammar: ``<`` opens an IRI in a triple
pattern but is the less-than operator in an expression (``FILTER(?a<?b)'x>'...``), and the two
readings skip different text afterwards. :func:`scan` follows both readings from every ``<`` (each
position is visited once, so the work stays linear) and reports ``SERVICE`` if either reading meets it:
a query may be refused for a ``SERVICE`` that only the wrong reading sees, never run with one that the
right reading hides.

>>> scan("SELECT * { FILTER(?a<?b)'x>'<http://p> ?o . SERVICE <http://evil.example/> {} ?s ?p '' }").service
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_PN_CHARS = r"\w\u00B7\u0300-\u036F\u203F\u2040"  # PN_CHARS less "-"
_LOCAL_ESC = r"\\[_~.\-!$&'()*+,;=/?#@%]"
_PERCENT = r"%[0-9A-Fa-f]{2}"

#: One token at a position; the first alternative that matches wins, as in SPARQL's terminals.
_TOKEN = re.compile(
    rf"""
      (?P<space>\s+)
    | (?P<comment>\#[^\n\r]*)
    | (?P<long>'''(?:(?:'|'')?(?:[^'\\]|\\[\s\S]))*'''
              |\"\"\"(?:(?:"|"")?(?:[^"\\]|\\[\s\S]))*\"\"\")
    | (?P<string>'(?:[^'\\\n\r]|\\[\s\S])*'|"(?:[^"\\\n\r]|\\[\s\S])*")
    | (?P<iri><(?:[^<>"{{}}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{{4}}|\\U[0-9A-Fa-f]{{8}})*>)
    | (?P<var>[?$][{_PN_CHARS}]+)
    | (?P<bnode>_:[{_PN_CHARS}.\-]*)
    | (?P<pname>(?:[^\W\d_][{_PN_CHARS}.\-]*)?:(?:[{_PN_CHARS}.:\-]|{_PERCENT}|{_LOCAL_ESC})*)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<other>[\s\S])
    """,
    re.VERBOSE,
)

QUERY_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
UPDATE_KEYWORDS = ("INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH")


@dataclass(frozen=True)
class Shape:
    """What the lexical scan found."""

    #: the first keyword after the prologue, upper-case ('SELECT', 'INSERT', ...), or None
    form: str | None
    #: where that keyword (or, when missing, the first unexpected token) starts: 1-based line and column
    line: int
    column: int
    #: a SERVICE keyword occurs in some reading of the text
    service: bool
    #: a LOAD keyword occurs in some reading of the text (an update that fetches a URL)
    load: bool
    #: the prefixes of every prefixed name in any reading (``ex`` for ``ex:x``; ``""`` for ``:x``)
    prefixes: frozenset[str] = frozenset()

    @property
    def is_query(self) -> bool:
        return self.form in QUERY_FORMS


@lru_cache(maxsize=512)
def scan(text: str) -> Shape:
    """The form of ``text`` and whether it mentions SERVICE or LOAD as keywords (see module docs)."""
    form, at = _form(text)
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    keywords, prefixes = _keywords(text)
    return Shape(form, line, column, "SERVICE" in keywords, "LOAD" in keywords, frozenset(prefixes))


def _form(text: str) -> tuple[str | None, int]:
    """The first keyword after PREFIX/BASE declarations, reading ``<`` as an IRI (always right there).

    pyoxigraph matches keywords without a word boundary (``PREFIX:<x>``, ``CONSTRUCTWHERE{}`` parse),
    so a glued word counts by the keyword it starts with.
    """
    expect = None  # None, "ns" (after PREFIX) or "iri"
    for match in _TOKEN.finditer(text):
        kind, value, position = match.lastgroup, match.group(), match.start()
        if kind in ("space", "comment"):
            continue
        if expect == "iri" and kind == "iri":
            expect = None
            continue
        if expect == "ns" and kind == "pname" and value.endswith(":"):
            expect = "iri"
            continue
        if expect is None and kind == "pname" and value.upper().startswith("PREFIX") and value.endswith(":"):
            expect = "iri"  # PREFIX glued to its name: PREFIX: <...> or PREFIXex: <...>
            continue
        if expect is None and kind == "word":
            upper = value.upper()
            if upper == "PREFIX":
                expect = "ns"
                continue
            if upper == "BASE":
                expect = "iri"
                continue
            for keyword in QUERY_FORMS + UPDATE_KEYWORDS:
                if upper.startswith(keyword):
                    return keyword, position
        return None, position
    return None, len(text)


def _keywords(text: str) -> tuple[set[str], set[str]]:
    """Which of SERVICE and LOAD occur as keywords in either reading of each ``<`` (each position once),
    and the prefixes of the prefixed names met on the way.

    pyoxigraph matches keywords without a word boundary, so ``SERVICEex:x{}``, ``SERVICE:x{}`` and
    ``?s ?p true SERVICE`` glued as ``trueSERVICE<x>{}`` all open a SERVICE clause: a bare word is never
    a user's name in SPARQL, so any bare word containing the keyword counts, and so does a prefixed name
    whose prefix starts with it (alone or after ``true``/``false``).
    """
    found: set[str] = set()
    prefixes: set[str] = set()
    seen: set[tuple[int, int]] = set()
    # (position, end of the IRI being re-read as '<' + tokens, or 0): inside such an IRI no keyword counts,
    # since a SERVICE clause cannot fit in it (it would need a space, '{' or '<', none of which an IRI
    # holds); what matters is a string or comment that starts inside it and runs on past its end.
    pending = [(0, 0)]
    end = len(text)
    while pending:
        position, inside = pending.pop()
        while position < end:
            if position >= inside:
                inside = 0
            if (position, inside) in seen:
                break
            seen.add((position, inside))
            match = _TOKEN.match(text, position)
            kind = match.lastgroup
            if kind == "pname":
                prefixes.add(match.group().split(":", 1)[0])
            if inside:
                pass
            elif kind == "word":
                upper = match.group().upper()
                found.update(k for k in _GUARDED if k in upper)
            elif kind == "pname":
                prefix = match.group().split(":", 1)[0].upper()
                found.update(k for k in _GUARDED if prefix.startswith((k, "TRUE" + k, "FALSE" + k)))
            elif kind == "iri":
                pending.append((position + 1, match.end()))  # the other reading: '<' as less-than
            position = match.end()
    return found, prefixes


_GUARDED = ("SERVICE", "LOAD")
