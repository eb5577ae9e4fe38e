"""The movie catalogue in Redis: loaded from MovieLens, extended by /add_items."""

from __future__ import annotations

from typing import Any

from recsys import movielens
from recsys.store import Store


def load_movielens(store: Store, data_dir: str, *, offline: bool = False) -> int:
    """Fetch MovieLens-100K if needed and load its movies; returns the catalogue size."""
    movielens.fetch(data_dir, offline=offline)
    items = movielens.read_items(data_dir)
    store.add_items(items)
    return store.catalogue_size()


def normalise_item(raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Split an /add_items entry into its id and the metadata stored for it."""
    item_id = str(raw["item_id"])
    meta: dict[str, Any] = {
        "title": raw.get("title") or f"Item {item_id}",
        "year": raw.get("year"),
        "genres": list(raw.get("genres") or []),
    }
    if raw.get("poster_url"):
        meta["poster_url"] = raw["poster_url"]
    return item_id, meta
