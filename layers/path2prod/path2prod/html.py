"""Markup for the pages path2prod writes (the approval page, the audit report), kept apart from text.

`Html` is markup that is safe to put on a page. There are three ways to get one: `escape` (any text,
escaped: the one spelling of escaping, quotes included), `markup` (the page's own markup, written in
its module's code) and joining Html (`+`, `join`). Html is deliberately not a `str`: mypy refuses a
plain str where Html is expected, `Html + str`, `str + Html` and `join` of strs, so text taken from git,
the ledger or a form cannot reach a page without going through `escape`.

What mypy cannot see is inside the template given to `markup`: its holes (an f-string's `{...}`) must
each be Html or a number. Python 3.13 has no template strings and mypy treats `LiteralString` as `str`,
so that one rule is the reader's: `markup(f"<td>{escape(name)}</td>")`, never `markup(f"<td>{name}</td>")`.
An Html formats as its markup, which is what lets it fill those holes.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import final


@final
class Html:
    """Markup safe to put on a page (see the module's docstring for how one is made)."""

    __slots__ = ("_markup",)

    def __init__(self, trusted: str) -> None:
        self._markup = trusted

    def __str__(self) -> str:
        return self._markup

    def __format__(self, spec: str) -> str:
        if spec:
            raise TypeError("Html takes no format spec: it is markup, not a value")
        return self._markup

    def __repr__(self) -> str:
        return f"Html({self._markup!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Html) and other._markup == self._markup

    def __hash__(self) -> int:
        return hash(self._markup)

    def __add__(self, other: Html) -> Html:
        if not isinstance(other, Html):
            return NotImplemented
        return Html(self._markup + other._markup)

    def __bool__(self) -> bool:
        return bool(self._markup)


def escape(text: object) -> Html:
    """`text` as it must appear on a page: `&`, `<`, `>` and both quotes escaped."""
    return Html(html.escape(str(text), quote=True))


def markup(template: str) -> Html:
    """The page's own markup, as written in its module: a literal, or an f-string whose every hole is
    Html (from `escape`, or built so) or a number."""
    return Html(template)


EMPTY = Html("")


def join(parts: Iterable[Html], separator: Html = EMPTY) -> Html:
    """`parts` one after the other, `separator` between each two."""
    return Html(str(separator).join(str(part) for part in parts))
