"""Text from outside (file names, column names, values, reasons, versions) made inert before it
is shown: one helper for the terminal, one for markdown (Prefect artifacts).

A name is the sender's: it may hold rich markup (``[/]`` once made every command that listed its
batch exit with a MarkupError), escape sequences that clear or recolour the screen, a newline that
forges a line of output, or a bidirectional override (U+202E) that reverses what follows.
"""

from __future__ import annotations

import re

from rich.markup import escape

# C0 and C1 controls (newline and tab included: a name is one line), DEL, and the bidirectional
# marks, embeddings, overrides and isolates.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# What can make markdown do more than show text: code spans, links and images, tables, headings,
# strikethrough, autolinks (``scheme:``) and the backslash itself (backslash-escaped); HTML and
# entities (as entities). Emphasis characters are escaped too; ``_ - .`` are left readable (they
# only mean something at the start of a line, and a name never starts one: newlines are escapes).
_MARKDOWN = re.compile(r"([\\`*\[\]()#!|~:])")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def visible(value: object) -> str:
    """``value`` as text with every control and bidirectional character spelled as an escape."""
    return _INVISIBLE.sub(_spelled, str(value))


def _spelled(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def terminal(value: object) -> str:
    """Safe to interpolate into a rich markup string or a table cell: shown exactly as sent."""
    return escape(visible(value))


def markdown(value: object) -> str:
    """Safe to interpolate into markdown as plain text (never inside a code span, where no
    escape works): punctuation backslash-escaped, HTML as entities, controls as escapes."""
    text = _MARKDOWN.sub(r"\\\1", visible(value))
    return re.sub("[&<>]", lambda m: _HTML[m.group()], text)
