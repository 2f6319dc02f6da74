"""HTML for the values of a page: links by label, literals with their language, structures inline, and
the badge of a machine statement.

These are the innermost, most repeated parts of a page (an object page has a few hundred of them), so
they are built here with ``markupsafe.escape`` rather than with Jinja macros, whose per-call cost made
up most of a page's time. Every literal and label passes through ``escape``; the templates keep the
page's structure.
"""

from __future__ import annotations

from typing import Callable

from markupsafe import Markup

from kg.describe import Node, Suggestion, Value

def escape(text: str) -> str:
    """HTML-escape text for element content and quoted attributes (what markupsafe does, as a plain
    ``str`` so that building a page does not make a Markup object per piece). Five ``replace`` calls,
    ``&`` first, cost a fifth of one ``translate`` through a table: a page escapes some sixty pieces.

    >>> escape('<b class="x">Tom & Jerry</b>')
    '&lt;b class=&#34;x&#34;&gt;Tom &amp; Jerry&lt;/b&gt;'
    >>> escape("&lt; is already text, and 'quoted'")
    '&amp;lt; is already text, and &#39;quoted&#39;'
    """
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
            .replace("'", "&#39;"))


def number(n: int) -> str:
    """A count as pages show it, in groups of three digits (the templates' ``number`` filter).

    >>> number(739806), number(42)
    ('739,806', '42')
    """
    return f"{n:,}"


class Renderer:
    """Renders values for one request (``href`` maps an IRI to where a person reads about it)."""

    def __init__(self, href: Callable[[str], str]) -> None:
        self.href = href

    def _link(self, v: Value) -> str:
        if v.iri:
            return f'<a href="{escape(self.href(v.iri))}">{escape(v.label or v.iri)}</a>'
        return escape(v.label)

    def literal(self, v: Value) -> str:
        if v.lang:
            lang = escape(v.lang)
            return f'<span class="literal" lang="{lang}">{escape(v.text)}</span> <span class="lang">({lang})</span>'
        return f'<span class="literal">{escape(v.text)}</span>'

    def _value(self, v: Value) -> str:
        if v.node is not None:
            out = self._node(v.node)
        elif v.text is not None:
            out = self.literal(v)
        else:
            out = self._link(v)
        if v.suggestion is not None:
            out += self._badge(v.suggestion)
        return out

    def _node(self, n: Node) -> str:
        parts = ['<div class="inline-node">']
        if n.types:
            parts.append(f'<span class="node-type">{", ".join(escape(t.label) for t in n.types)}</span>')
        if n.label:
            parts.append(f' <span class="node-label">{escape(n.label)}</span>')
        if n.properties:
            parts.append('<dl class="statements nested">')
            for p in n.properties:
                parts.append(f"<dt>{escape(p.label)}</dt>")
                parts.extend(f"<dd>{self._value(v)}</dd>" for v in p.values)
            parts.append("</dl>")
        parts.append("</div>")
        return "".join(parts)

    def event(self, e) -> Markup:
        """One event told as a sentence: "Made by A, B and C, 1830–41, in London." (agents with their
        machine badges, without the explanation: a ``<details>`` would end the paragraph)."""
        sep = ", " if e.agents or e.after else " "
        parts = [f'<p class="event event-{escape(e.verb.lower())}">{escape(e.verb)}']
        if e.agents:
            last = len(e.agents) - 1
            parts.append(" by ")
            for n, a in enumerate(e.agents):
                parts.append(self._link(a) + (self._badge(a.suggestion, False) if a.suggestion is not None else ""))
                parts.append(" and " if n == last - 1 else ", " if n < last else "")
        if e.after:
            parts.append(", after " + ", ".join(self._link(a) for a in e.after))
        if e.when:
            parts.append(sep + escape(e.when))
        if e.places:
            parts.append(sep + "in " + ", ".join(self._link(p) for p in e.places))
        parts.append(".</p>")
        return Markup("".join(parts))

    def text(self, v: Value) -> Markup:
        """A catalogue statement's text ("Watercolour, ink and chalk on paper"), with its language."""
        return Markup(self.literal(v))

    def items(self, values) -> Markup:
        """A catalogue field's values as list items."""
        return Markup("".join(f"<li>{self._value(v)}</li>" for v in values))

    def linking(self, values) -> Markup:
        """One "what links here" group's resources as list items, machine-made ones with their badge."""
        return Markup("".join(f"<li>{self._link(v)}{self._badge(v.suggestion) if v.suggestion is not None else ''}</li>"
                              for v in values))

    def statements(self, properties) -> Markup:
        """The page's "All statements" list: every property, its values, machine ones marked."""
        parts = []
        for p in properties:
            parts.append(f'<dt><abbr title="{escape(p.iri)}">{escape(p.label)}</abbr></dt>')
            for v in p.values:
                marked = ' class="machine-made"' if v.suggestion is not None else ""
                parts.append(f"<dd{marked}>{self._value(v)}</dd>")
        return Markup("".join(parts))

    @staticmethod
    def _badge(s: Suggestion, explain: bool = True) -> str:
        """Confidence, model and review state, and the explanation behind "Why?" (not inside a sentence:
        a ``<details>`` would end the paragraph)."""
        state = escape(s.state.rsplit("#", 1)[-1])
        confidence = f"{round(s.confidence * 100)}%" if s.confidence is not None else "unknown confidence"
        model = escape(s.model or s.agent or "unknown model")
        evidence = escape(s.evidence or "No explanation was recorded.")
        by = escape(s.agent or s.model or "an unknown agent")
        run = f", run <code>{escape(s.run)}</code>" if s.run else ""
        badge = f'<span class="badge">Machine suggestion · {confidence} · {model} · {state}</span>'
        if not explain:
            return f'<span class="machine" data-state="{state}">{badge}</span>'
        return (f'<span class="machine" data-state="{state}">{badge} <details class="why"><summary>Why?</summary>'
                f'<p>{evidence}</p><p class="small">Suggested by {by}{run}.</p></details></span>')
