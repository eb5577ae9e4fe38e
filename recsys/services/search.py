"""Catalogue search by title: word prefixes, accents folded, case-insensitive.

The index is a Redis sorted set of ``word|item_id`` members, all with score 0,
so ``ZRANGEBYLEX`` finds every word that starts with a prefix (ServingCache keeps it
in step with the catalogue).  A query matches a film when each of its words is
the start of a word of the film's title (or its year); results whose title
starts with the query come first, then the popular ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from recsys.domain.text import display_title, index_words, words

if TYPE_CHECKING:
    from recsys.adapters.serving_cache import ServingCache

MAX_QUERY_LENGTH = 100
MAX_QUERY_WORDS = 8
# Candidates read back per query word; more than any real title word needs.
MAX_CANDIDATES = 5000


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


def search(cache: ServingCache, query: str, n: int) -> list[SearchHit]:
    """Up to n films whose title matches query (see the module docstring)."""
    query_words = words(query)[:MAX_QUERY_WORDS]
    if not query_words:
        return []
    # The longest word first: it usually has the fewest candidates.
    per_word, popular = cache.search_candidates(
        sorted(set(query_words), key=len, reverse=True), MAX_CANDIDATES
    )
    candidates = set.intersection(*per_word) if per_word else set()
    if not candidates:
        return []
    metadata = cache.item_metadata(sorted(candidates))
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
