"""Title text as search sees it: accents and case folded, words, article order.

Pure functions shared by the search service and the serving cache, which keeps
the title-word index in step with the catalogue.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

# MovieLens keeps articles last: "Usual Suspects, The".
_TRAILING_ARTICLE = re.compile(r"^(.*), (The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El)$")
_WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    """Lower case without accents: "Misérables" -> "miserables"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """The folded words of a text, in order ("L'Âge d'or" -> ["l", "age", "d", "or"])."""
    return [w.replace("_", "") for w in _WORD.findall(fold(text)) if w.strip("_")]


def display_title(title: str) -> str:
    """ "Usual Suspects, The" -> "The Usual Suspects" (as the page prints it)."""
    match = _TRAILING_ARTICLE.match(title)
    if not match:
        return title
    article, rest = match.group(2), match.group(1)
    return article + ("" if article.endswith("'") else " ") + rest


def index_words(meta: Mapping[str, Any]) -> set[str]:
    """The words a film is found by: its title's (both article orders) and its year."""
    title = str(meta.get("title") or "")
    found = set(words(title)) | set(words(display_title(title)))
    if meta.get("year"):
        found.add(str(meta["year"]))
    return found
