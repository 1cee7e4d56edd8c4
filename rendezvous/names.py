"""Names that become parts of paths, keys and tags (model versions, batch ids) are slugs.

A version names the model file in the store: ``../../../x`` once wrote outside it. One pattern,
checked in the registry, on the command line and in the deployments' parameter schemas.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field

SLUG = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
SLUG_TEXT = "1 to 128 of A-Z a-z 0-9 . _ -, starting with a letter or digit"
_SLUG = re.compile(SLUG)
# A model version as a flow parameter: the deployment's parameter schema carries the pattern, so
# the server refuses a bad name before any run starts.
Version = Annotated[str, Field(pattern=SLUG, description=f"A model version: {SLUG_TEXT}.")]
_OTHER = re.compile(r"[^A-Za-z0-9._-]+")


class InvalidName(ValueError):
    """A name that is not a slug; the message says which characters are allowed."""


def checked_name(value: str, what: str = "model version") -> str:
    """``value`` if it is a slug, else InvalidName naming ``what`` and the rule."""
    if not isinstance(value, str) or not _SLUG.fullmatch(value):
        raise InvalidName(f"{what} {value!r} is not a name: use {SLUG_TEXT}")
    return value


def slug(text: str, limit: int, fallback: str) -> str:
    """A slug made from free text (a file name's stem): other characters become ``-``."""
    made = _OTHER.sub("-", text).strip("-.").lstrip("_-.")[:limit]
    return made or fallback
