"""A name kept in the audit trail must be one a person can read and tell apart from another."""

from __future__ import annotations

import unicodedata

MAX_LENGTH = 200
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
"""Control, format (zero-width, bidi overrides), surrogate, private-use, unassigned, line breaks."""


class IdentityError(ValueError):
    """A name that is empty, too long, or holds characters that do not print."""


def check_identity(name: str, what: str = "name") -> str:
    """``name`` without surrounding spaces, or IdentityError saying which character is refused."""
    stripped = name.strip()
    if not stripped:
        raise IdentityError(f"the {what} is empty")
    if len(stripped) > MAX_LENGTH:
        raise IdentityError(f"the {what} is longer than {MAX_LENGTH} characters")
    for position, char in enumerate(stripped):
        if unicodedata.category(char) in _INVISIBLE:
            raise IdentityError(
                f"the {what} holds U+{ord(char):04X} ({unicodedata.name(char, 'unnamed')}) at "
                f"position {position}, which does not print; use a readable name"
            )
    return stripped
