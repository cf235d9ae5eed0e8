"""Text from commits and answers made safe for a terminal, an SNS subject and a spreadsheet cell."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from path2prod.domain.text import SNS_SUBJECT_FALLBACK, csv_cell, printable, sns_subject

HOSTILE = (
    "fix\x1b[2J\x1b[31m red\x1b[0m\x07 bell\x00nul\x7fdel\x85nel\x9b2Jcsi\x9dosc"
    "\u202eevil\u202c\u2066iso\u2069\u200bzw\ufeffbom"
)
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def _unprintable(text: str, kept: str = "") -> list[str]:
    return [c for c in text if c not in kept and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")]


# -- printable ------------------------------------------------------------------------------------------


def test_printable_removes_escape_sequences_whole_and_every_control_character() -> None:
    # WHEN
    shown = printable(HOSTILE)

    # THEN ESC, BEL, NUL, DEL, C1 controls and the bidi overrides are gone, and so is "[2J" after ESC
    assert _unprintable(shown) == []
    assert "[2J" not in shown and "[31m" not in shown
    assert shown.startswith("fix red bellnuldel")


@pytest.mark.parametrize("character", ["\x1b", "\x07", "\x00", "\x7f", "\x80", "\x9f", *BIDI])
def test_printable_removes_each_dangerous_character(character: str) -> None:
    # WHEN (at the end: ESC followed by a character is a sequence, and goes whole)
    shown = printable(f"a{character}")

    # THEN
    assert shown == "a"


def test_printable_makes_line_breaks_one_space_unless_asked_to_keep_them() -> None:
    # GIVEN
    message = "subject line\r\n\r\nbody\tindented\rover\u2028sep"

    # WHEN
    one_line = printable(message)
    kept = printable(message, keep_newlines=True)

    # THEN a carriage return never survives: it would let text overwrite its own line
    assert one_line == "subject line body indented over sep"
    assert kept == "subject line\n\nbody\tindented\noversep"


def test_printable_keeps_ordinary_text_as_it_is() -> None:
    # GIVEN
    text = "Añadir «caché» 日本語 — ok 🚀 <b>&amp;</b>"

    # WHEN / THEN
    assert printable(text) == text
    assert printable(text, keep_newlines=True) == text


@given(st.text())
def test_printable_never_leaves_a_control_character(text: str) -> None:
    # WHEN
    shown = printable(text)
    kept = printable(text, keep_newlines=True)

    # THEN
    assert _unprintable(shown) == []
    assert _unprintable(kept, kept="\n\t") == []


# -- SNS subjects ---------------------------------------------------------------------------------------


def test_sns_subject_is_ascii_without_controls_or_line_breaks() -> None:
    # WHEN
    subject = sns_subject(f"stg: approve Déploiement 日本\n{HOSTILE}")

    # THEN
    assert subject.isascii()
    assert all(" " <= c <= "~" for c in subject)
    assert subject.startswith("stg: approve Deploiement ?? fix red")


def test_sns_subject_begins_with_a_letter_number_or_punctuation() -> None:
    # WHEN
    subject = sns_subject(" \t\n\x1b[1m  \u202e 42 deployed")

    # THEN
    assert subject == "42 deployed"


def test_a_long_sns_subject_is_cut_below_100_characters_and_says_so() -> None:
    # GIVEN
    long = "stg: " + "word " * 40

    # WHEN
    subject = sns_subject(long)

    # THEN
    assert len(subject) == 99
    assert subject.endswith("...")
    assert subject.startswith("stg: word word")
    assert sns_subject("x" * 99) == "x" * 99


@pytest.mark.parametrize("text", ["", "   ", "\x00\x1b[0m\n", "\u202e\u200b"])
def test_an_sns_subject_is_never_empty(text: str) -> None:
    # WHEN / THEN
    assert sns_subject(text) == SNS_SUBJECT_FALLBACK


@given(st.text())
def test_any_text_makes_a_subject_sns_accepts(text: str) -> None:
    # WHEN
    subject = sns_subject(text)

    # THEN (the Publish API's Subject constraints)
    assert 0 < len(subject) < 100
    assert all(" " <= c <= "~" for c in subject)
    assert not subject[0].isspace()


# -- CSV cells ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ['=HYPERLINK("http://x","y")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1", " =1"],
)
def test_a_cell_a_spreadsheet_would_run_becomes_text(value: str) -> None:
    # WHEN
    cell = csv_cell(value)

    # THEN
    assert cell.startswith("'")
    assert cell[1:] == printable(value, keep_newlines=True)


def test_a_control_character_cannot_hide_a_formula() -> None:
    # WHEN
    cell = csv_cell('\x00\x1b[0m=HYPERLINK("http://x")\x07')

    # THEN
    assert cell == '\'=HYPERLINK("http://x")'


@pytest.mark.parametrize("value", ["ok", "a=b", "needs a migration", "2026-11-02T09:00:00Z", "3", ""])
def test_an_ordinary_cell_is_unchanged(value: str) -> None:
    # WHEN / THEN
    assert csv_cell(value) == value
