"""Html: only escaped text and the page's own markup make a page (path2prod/html.py)."""

from __future__ import annotations

import pytest

from path2prod.html import Html, escape, join, markup


def test_escape_is_the_one_spelling_quotes_included() -> None:
    # GIVEN text from git or the ledger WHEN it is escaped THEN nothing in it can open a tag or attribute
    assert str(escape("<a href=\"x\" title='y'>&</a>")) == (
        "&lt;a href=&quot;x&quot; title=&#x27;y&#x27;&gt;&amp;&lt;/a&gt;"
    )


def test_markup_joins_only_markup() -> None:
    # GIVEN fragments of markup
    cell = markup(f"<td>{escape('1 < 2')}</td>")

    # WHEN they are put together THEN the markup is kept and the text stays escaped
    assert str(join([cell, cell], markup("\n"))) == "<td>1 &lt; 2</td>\n<td>1 &lt; 2</td>"
    assert cell + markup("<td></td>") == Html("<td>1 &lt; 2</td><td></td>")


def test_plain_text_cannot_be_added_to_markup() -> None:
    # GIVEN markup WHEN a plain str is added to it (mypy refuses it too) THEN it fails, never concatenates
    with pytest.raises(TypeError):
        _ = markup("<p>") + "<script>"  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = "<script>" + markup("<p>")  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = f"{markup('<p>'):>10}"
