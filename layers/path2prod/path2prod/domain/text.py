"""Text from outside made safe to show: in a terminal, an SNS subject, a spreadsheet cell.

A commit's message and author come from whoever pushed to the upstream repo, a reason from whoever
answered; path2prod shows them in places that give some characters a meaning of their own. Pure
functions, no AWS.
"""

from __future__ import annotations

import re
import unicodedata

# Terminal escape sequences go whole, not just their ESC: "\x1b[2J" would otherwise leave "[2J" behind.
# CSI (ESC [ or the C1 CSI, parameters, final byte), OSC (ESC ] ... up to BEL or ESC \), and the
# two-character ESC sequences.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]"
)
_LINE_BREAKS = re.compile(r"[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+")
_CRLF = re.compile(r"\r\n?")
# Cc: C0 and C1 controls, NUL, DEL. Cf: format characters, among them the bidi overrides and isolates
# (U+202A-U+202E, U+2066-U+2069) that make text read differently from what it is. Cs: lone surrogates,
# which no terminal or encoder can print. Zl, Zp: the Unicode line and paragraph separators.
_UNPRINTABLE = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))

SNS_SUBJECT_FALLBACK = "path2prod"
SNS_SUBJECT_MAX_LENGTH = 99  # SNS: "less than 100 characters"
# A cell opening with one of these is a formula to Excel, LibreOffice or Google Sheets (OWASP).
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """`text` without control characters, terminal escape sequences, bidi overrides or other format
    characters, so a terminal, mail or page shows exactly what it holds and nothing can recolour,
    clear, retitle or reorder what is around it.

    Line breaks and tabs become one space, unless `keep_newlines` keeps "\\n" and "\\t" (a commit
    message's body, a mail's body); "\\r\\n" and a lone "\\r" then become "\\n".
    """
    text = _ESCAPE_SEQUENCE.sub("", text)
    if keep_newlines:
        text = _CRLF.sub("\n", text)
        kept = "\n\t"
    else:
        text = _LINE_BREAKS.sub(" ", text)
        kept = ""
    return "".join(c for c in text if c in kept or unicodedata.category(c) not in _UNPRINTABLE)


def sns_subject(text: str) -> str:
    """`text` as SNS accepts an email Subject; never empty (SNS_SUBJECT_FALLBACK).

    The SNS Publish API refuses a Subject that is not "ASCII text that begins with a letter, number,
    or punctuation mark", that has "line breaks or control characters", or that is not "less than 100
    characters long" (InvalidParameter): a commit message carrying any of them would cost every
    approver their mail. Accents are dropped ("é" -> "e"), other non-ASCII characters become "?",
    line breaks a space, and a subject cut short ends with "...".
    """
    decomposed = unicodedata.normalize("NFKD", printable(text))
    ascii_text = "".join(c if c.isascii() else "?" for c in decomposed if unicodedata.category(c) != "Mn")
    subject = " ".join(ascii_text.split())  # what remains besides graphic characters is spaces
    if len(subject) > SNS_SUBJECT_MAX_LENGTH:
        subject = subject[: SNS_SUBJECT_MAX_LENGTH - 3].rstrip() + "..."
    return subject or SNS_SUBJECT_FALLBACK


def csv_cell(value: str) -> str:
    """`value` as a CSV cell no spreadsheet runs as a formula.

    OWASP "CSV Injection" (https://owasp.org/www-community/attacks/CSV_Injection): a cell that begins
    with "=", "+", "-", "@", tab or carriage return is evaluated by spreadsheet software, so
    `=HYPERLINK(...)` in a rejection reason would become a live link (or worse) in an auditor's
    spreadsheet. Such a cell gets a leading "'", which makes it text; so does one whose first
    non-blank character is a trigger, as some software trims leading blanks first. Control characters
    are removed first (so one cannot hide a trigger behind them), line breaks and tabs kept: the csv
    module quotes those.
    """
    cell = printable(value, keep_newlines=True)
    if cell.startswith(_FORMULA_TRIGGERS) or cell.lstrip().startswith(_FORMULA_TRIGGERS):
        return "'" + cell
    return cell
