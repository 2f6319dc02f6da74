"""What a person asks the search index (``SearchQuery``, validated from request parameters) and what it
answers (``SearchResult``); user text becomes an FTS5 expression here, never pasted raw."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from kg.errors import MouseionError


class SearchError(MouseionError):
    """A search request that cannot be answered as asked (names the parameter)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


@dataclass(frozen=True)
class Facet:
    name: str
    title: str


#: the IRI-valued facets, in the order pages show them (explicit registry)
FACETS = (Facet("class", "Kind of thing"), Facet("type", "Type"), Facet("material", "Material"),
          Facet("maker", "Maker"))
FACET_NAMES = tuple(f.name for f in FACETS)
#: every request parameter a search understands; anything else is refused with a 400
PARAMETERS = ("q", *FACET_NAMES, "from", "to", "image", "suggestions", "page", "page_size")
MAX_PAGE_SIZE = 100
MAX_QUERY_CHARS = 500
MAX_TERMS = 32
FACET_LIMIT = 12


@dataclass(frozen=True)
class SearchQuery:
    """What a person asked for. ``from_params`` validates request parameters into one."""

    text: str = ""
    filters: tuple[tuple[str, str], ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    has_image: bool | None = None
    has_suggestions: bool | None = None
    page: int = 1
    page_size: int = 20

    @property
    def narrowed(self) -> bool:
        """Whether a filter (facet value, years or flag) leaves documents out."""
        return bool(self.filters) or any(v is not None for v in (self.year_from, self.year_to, self.has_image,
                                                                  self.has_suggestions))

    @classmethod
    def from_params(cls, params: Mapping[str, Sequence[str]]) -> "SearchQuery":
        """Parameters as a multi-dict (name → values); raises SearchError naming the bad one.

        >>> SearchQuery.from_params({"q": ["river"], "page": ["2"]}).page
        2
        >>> SearchQuery.from_params({"page": ["-1"]})
        Traceback (most recent call last):
        kg.search.query.SearchError: page: must be a whole number from 1 to 999999, not '-1'
        """
        unknown = sorted(set(params) - set(PARAMETERS))
        if unknown:
            raise SearchError(unknown[0], f"unknown parameter; a search takes {', '.join(PARAMETERS)}")

        def one(name: str) -> str | None:
            values = [v for v in params.get(name, []) if v.strip() != ""]
            if len(values) > 1:
                raise SearchError(name, "given more than once")
            return values[0].strip() if values else None

        def whole(name: str, low: int, high: int, default: int | None) -> int | None:
            raw = one(name)
            if raw is None:
                return default
            if not re.fullmatch(r"-?\d{1,6}", raw) or not low <= int(raw) <= high:
                raise SearchError(name, f"must be a whole number from {low}" +
                                  (f" to {high}" if high < 10**6 else "") + f", not {raw!r}")
            return int(raw)

        def yes_no(name: str) -> bool | None:
            raw = one(name)
            if raw is None:
                return None
            if raw not in ("yes", "no"):
                raise SearchError(name, f"is 'yes' or 'no', not {raw!r}")
            return raw == "yes"

        text = one("q") or ""
        if len(text) > MAX_QUERY_CHARS:
            raise SearchError("q", f"longer than {MAX_QUERY_CHARS} characters")
        phrases(text)  # raises for an unbalanced quote, before any work
        filters = []
        for facet in FACET_NAMES:
            for value in params.get(facet, []):
                if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+", value):
                    raise SearchError(facet, f"facet values are IRIs, not {value[:80]!r}")
                filters.append((facet, value))
        year_from, year_to = whole("from", -9999, 9999, None), whole("to", -9999, 9999, None)
        if year_from is not None and year_to is not None and year_from > year_to:
            raise SearchError("from", f"year {year_from} is after 'to' ({year_to})")
        return cls(text=text, filters=tuple(dict.fromkeys(filters)), year_from=year_from, year_to=year_to,
                   has_image=yes_no("image"), has_suggestions=yes_no("suggestions"),
                   page=whole("page", 1, 10**6 - 1, 1), page_size=whole("page_size", 1, MAX_PAGE_SIZE, 20))

    def params(self, **changes) -> list[tuple[str, str]]:
        """This query as request parameters (for links), with ``changes`` applied; page 1 unless given.

        >>> SearchQuery(text="river", filters=(("maker", "urn:x:1"),)).params(page=2)
        [('q', 'river'), ('maker', 'urn:x:1'), ('page', '2')]
        """
        def yes_no(flag: bool | None) -> str | None:
            return None if flag is None else "yes" if flag else "no"

        values = {"q": self.text or None, "from": self.year_from, "to": self.year_to,
                  "image": yes_no(self.has_image), "suggestions": yes_no(self.has_suggestions),
                  "page_size": None if self.page_size == 20 else self.page_size, "page": None}
        filters = changes.pop("filters", self.filters)
        values.update(changes)
        if values["page"] == 1:
            values["page"] = None
        pairs = [("q", values["q"])] if values["q"] else []
        pairs += list(filters)
        pairs += [(k, str(values[k])) for k in ("from", "to", "image", "suggestions", "page_size", "page")
                  if values[k] is not None]
        return pairs


_TOKEN = re.compile(r'"([^"]*)"|(\S+)')


@dataclass(frozen=True)
class Phrase:
    """One quoted phrase or plain word of a search: its text, and whether its last word is a prefix."""

    text: str
    prefix: bool = False

    @property
    def expression(self) -> str:
        """The phrase as an FTS5 string, in which FTS5's own operators are just words."""
        return '"' + self.text.replace('"', '""') + '"' + ("*" if self.prefix else "")


def phrases(text: str) -> list[Phrase]:
    """Plain words and "quoted phrases"; a trailing ``*`` on a word (of two characters or more) asks
    for a prefix.

    >>> phrases('river  "old man" stu*')
    [Phrase(text='river', prefix=False), Phrase(text='old man', prefix=False), Phrase(text='stu', prefix=True)]
    >>> phrases('"unclosed')
    Traceback (most recent call last):
    kg.search.query.SearchError: q: unbalanced double quote at character 1: close the phrase or remove the quote
    """
    if text.count('"') % 2:
        position = text.rfind('"') + 1
        raise SearchError("q", f"unbalanced double quote at character {position}: close the phrase or remove the quote")
    found = []
    for phrase, word in _TOKEN.findall(text):
        if phrase:
            if phrase.strip():
                found.append(Phrase(phrase.strip()))
            continue
        prefix = word.endswith("*") and len(word.rstrip("*")) >= 2
        word = word.rstrip("*") if prefix else word
        if not any(ch.isalnum() for ch in word):
            continue  # punctuation alone matches nothing in the tokenizer
        found.append(Phrase(word, prefix))
    if len(found) > MAX_TERMS:
        raise SearchError("q", f"more than {MAX_TERMS} words or phrases")
    return found


def expression(asked: Sequence[Phrase]) -> str | None:
    """Phrases as an FTS5 expression (all of them must match); None without any."""
    return " ".join(p.expression for p in asked) or None


def match_expression(text: str) -> str | None:
    """A search's text as an FTS5 expression.

    >>> match_expression('river  "old man" AND stu*')
    '"river" "old man" "AND" "stu"*'
    """
    return expression(phrases(text))


@dataclass
class Hit:
    key: str
    iri: str
    titles: dict[str, str]
    classes: list[str]
    begin: int | None
    end: int | None
    has_image: bool
    has_suggestions: bool
    #: the best matching passage, matches between "\x02" and "\x03" (None without a text query)
    snippet: str | None = None


@dataclass
class FacetValue:
    value: str
    count: int
    labels: dict[str, str]
    selected: bool = False


@dataclass
class SearchResult:
    query: SearchQuery
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]]
    #: (first year, last year, count) per century, or per decade once the range is narrowed
    years: list[tuple[int, int, int]]
    #: counts of "yes" for the two flags within the result
    flags: dict[str, int] = field(default_factory=dict)
    #: "relevance" (bm25), or "title" without words or with more than RANK_LIMIT hits
    order: str = "relevance"

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.page_size))


def best_label(labels: Mapping[str, str], languages: Sequence[str] = ()) -> tuple[str, str] | None:
    """(text, language tag) in the first wanted language (or its primary subtag), else untagged,
    else English, else the first by tag.

    >>> best_label({"en": "Geneva", "de": "Genf", "": "Genève"}, ["de-CH"])
    ('Genf', 'de')
    >>> best_label({"en": "Geneva", "fr": "Genève"}, ["nl"])
    ('Geneva', 'en')
    """
    if not labels:
        return None
    if languages and languages[0] in labels:  # the usual case, without looking at every tag
        return labels[languages[0]], languages[0]
    lowered = {k.lower(): k for k in labels}
    for lang in languages:
        for tag in (lang.lower(), lang.lower().split("-")[0]):
            if tag in lowered:
                return labels[lowered[tag]], lowered[tag]
        primary = lang.lower().split("-")[0]
        for tag, original in sorted(lowered.items()):
            if tag.split("-")[0] == primary:
                return labels[original], original
    for tag in ("", "en"):
        if tag in labels:
            return labels[tag], tag
    first = min(labels)
    return labels[first], first


