"""Catalogue search by title: word prefixes, accents folded, case-insensitive.

The index is a Redis sorted set of ``word|item_id`` members, all with score 0,
so ``ZRANGEBYLEX`` finds every word that starts with a prefix (ServingCache keeps it
in step with the catalogue).  A query matches a film when each of its words is
the start of a word of the film's title (or its year); results whose title
starts with the query come first, then the popular ones.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recsys.serving_cache import ServingCache

MAX_QUERY_LENGTH = 100
MAX_QUERY_WORDS = 8
# Candidates read back per query word; more than any real title word needs.
MAX_CANDIDATES = 5000
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


@dataclass(frozen=True)
class SearchHit:
    item_id: str
    title: str
    year: int | None
    genres: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "title": self.title,
            "year": self.year,
            "genres": self.genres,
        }


def _matches(query_words: list[str], meta: Mapping[str, Any]) -> bool:
    # The index may hold words of an older title of the item: check the current one.
    found = index_words(meta)
    return all(any(w.startswith(q) for w in found) for q in query_words)


def search(store: ServingCache, query: str, n: int) -> list[SearchHit]:
    """Up to n films whose title matches query (see the module docstring)."""
    query_words = words(query)[:MAX_QUERY_WORDS]
    if not query_words:
        return []
    # The longest word first: it usually has the fewest candidates.
    per_word, popular = store.search_candidates(
        sorted(set(query_words), key=len, reverse=True), MAX_CANDIDATES
    )
    candidates = set.intersection(*per_word) if per_word else set()
    if not candidates:
        return []
    metadata = store.item_metadata(sorted(candidates))
    rank = {item_id: i for i, item_id in enumerate(popular)}
    phrase = " ".join(query_words)

    def order(item_id: str) -> tuple[int, int, int, str]:
        title = str(metadata[item_id].get("title") or "")
        starts = any(" ".join(words(t)).startswith(phrase) for t in (title, display_title(title)))
        return (0 if starts else 1, rank.get(item_id, len(rank)), len(title), item_id)

    hits = sorted((i for i in metadata if _matches(query_words, metadata[i])), key=order)
    return [
        SearchHit(
            item_id=item_id,
            title=str(metadata[item_id].get("title") or f"Item {item_id}"),
            year=metadata[item_id].get("year"),
            genres=list(metadata[item_id].get("genres") or []),
        )
        for item_id in hits[:n]
    ]
