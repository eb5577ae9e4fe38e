"""MovieLens-100K: fetch, normalise, and read.

Sources, in order: a normalised copy already in ``data_dir``; the official
GroupLens archive (when the network allows); the copy the PyPI package
``recbole`` ships inside its wheel (fetched with ``pip download``, never
installed).  Either way the result is two normalised files:

- ``ml-100k/ratings.tsv``: user_id, item_id, rating, timestamp
- ``ml-100k/items.json``: {item_id: {title, year, genres}}

The files keep MovieLens as published.  Reading them applies two repairs:
the 18 films listed twice under two ids (same title and year, e.g. Chasing
Amy as 246 and 268) become one film under the lower id, whose genres are the
union of both, and every rating of the other id is read as a rating of it
(``aliases``); the placeholder genre "unknown" is dropped (no genre at all).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recsys.domain.events import natural_key

log = logging.getLogger(__name__)

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
RECBOLE_SPEC = "recbole==1.2.1"
RECBOLE_DIR = "recbole/dataset_example/ml-100k/"
GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip
LIKE_MIN_RATING = 4
DISLIKE_MAX_RATING = 2


@dataclass(frozen=True)
class Rating:
    user_id: str
    item_id: str
    rating: int
    timestamp: int

    @property
    def action(self) -> str | None:
        """like (>= 4), dislike (<= 2), or None for a neutral 3."""
        if self.rating >= LIKE_MIN_RATING:
            return "like"
        if self.rating <= DISLIKE_MAX_RATING:
            return "dislike"
        return None


def dataset_dir(data_dir: str | Path) -> Path:
    return Path(data_dir) / "ml-100k"


def fetch(data_dir: str | Path, *, offline: bool = False) -> Path:
    """Make sure the normalised files exist; returns their folder."""
    target = dataset_dir(data_dir)
    if (target / "ratings.tsv").exists() and (target / "items.json").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    if not offline:
        try:
            _from_grouplens(target)
            return target
        except Exception as exc:  # network errors of many kinds; the fallback is complete
            log.info("GroupLens archive not reachable (%s); using the recbole copy", exc)
    _from_recbole(target)
    return target


def _write(target: Path, ratings: list[Rating], items: dict[str, dict[str, Any]]) -> None:
    with (target / "ratings.tsv").open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["user_id", "item_id", "rating", "timestamp"])
        for r in ratings:
            writer.writerow([r.user_id, r.item_id, r.rating, r.timestamp])
    (target / "items.json").write_text(json.dumps(items, indent=0, sort_keys=True))


def _from_grouplens(target: Path) -> None:
    with urllib.request.urlopen(GROUPLENS_URL, timeout=10) as response:
        archive = zipfile.ZipFile(io.BytesIO(response.read()))
    ratings = [
        Rating(u, i, int(r), int(t))
        for u, i, r, t in (
            line.split("\t") for line in archive.read("ml-100k/u.data").decode().splitlines()
        )
    ]
    items: dict[str, dict[str, Any]] = {}
    for line in archive.read("ml-100k/u.item").decode("latin-1").splitlines():
        fields = line.split("|")
        title, year = _split_title(fields[1])
        genres = [g for g, flag in zip(GENRES, fields[5:24], strict=True) if flag == "1"]
        items[fields[0]] = {"title": title, "year": year, "genres": genres}
    _write(target, ratings, items)


def _split_title(raw: str) -> tuple[str, int | None]:
    match = re.match(r"^(.*?)\s*\((\d{4})\)\s*$", raw)
    if match:
        return match.group(1), int(match.group(2))
    return raw.strip(), None


def _from_recbole(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, RECBOLE_SPEC],
            check=True,
            timeout=300,
        )
        wheel = next(Path(tmp).glob("recbole-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            inter = archive.read(RECBOLE_DIR + "ml-100k.inter").decode()
            item = archive.read(RECBOLE_DIR + "ml-100k.item").decode("utf-8", "replace")
    ratings = []
    for line in inter.splitlines()[1:]:
        u, i, r, t = line.split("\t")
        ratings.append(Rating(u, i, int(float(r)), int(float(t))))
    items: dict[str, dict[str, Any]] = {}
    for line in item.splitlines()[1:]:
        item_id, title, year, genre_text = [*line.split("\t"), "", "", ""][:4]
        items[item_id] = {
            "title": title.strip(),
            "year": int(year) if year.strip().isdigit() else None,
            "genres": _split_genres(genre_text),
        }
    _write(target, ratings, items)


def _split_genres(text: str) -> list[str]:
    # recbole joins genres with spaces; every genre name is one token.
    return [g for g in text.split() if g in GENRES] or (["unknown"] if text.strip() else [])


def read_ratings(data_dir: str | Path) -> list[Rating]:
    """Every rating, duplicate films' ids mapped onto their canonical id."""
    alias = aliases(data_dir)
    path = dataset_dir(data_dir) / "ratings.tsv"
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        return [
            Rating(
                row["user_id"],
                alias.get(row["item_id"], row["item_id"]),
                int(row["rating"]),
                int(row["timestamp"]),
            )
            for row in reader
        ]


def read_items(data_dir: str | Path) -> dict[str, dict[str, Any]]:
    """One entry per film: duplicates merged, the "unknown" genre dropped."""
    items, _ = merge_duplicates(_read_raw_items(data_dir))
    return items


def aliases(data_dir: str | Path) -> dict[str, str]:
    """Duplicate id -> the canonical id of the same film."""
    _, alias = merge_duplicates(_read_raw_items(data_dir))
    return alias


def _read_raw_items(data_dir: str | Path) -> dict[str, dict[str, Any]]:
    items: dict[str, dict[str, Any]] = json.loads(
        (dataset_dir(data_dir) / "items.json").read_text()
    )
    return items


def merge_duplicates(
    items: dict[str, dict[str, Any]],
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """(canonical items, alias -> canonical id): one card per (title, year).

    The lowest id of a film is its canonical id; its genres become the union
    of its copies' genres (in MovieLens order), without "unknown".
    """
    by_film: dict[tuple[str, Any], list[str]] = {}
    for item_id in sorted(items, key=natural_key):
        meta = items[item_id]
        by_film.setdefault(film_key(meta), []).append(item_id)
    merged: dict[str, dict[str, Any]] = {}
    alias: dict[str, str] = {}
    for ids in by_film.values():
        canonical, *others = ids
        genres = {g for i in ids for g in items[i].get("genres") or []}
        meta = dict(items[canonical])
        meta["genres"] = [g for g in GENRES if g in genres and g != "unknown"]
        merged[canonical] = meta
        alias.update(dict.fromkeys(others, canonical))
    return merged, alias


def film_key(meta: dict[str, Any]) -> tuple[str, Any]:
    """What makes two catalogue entries the same film: title (case-folded) and year."""
    return (str(meta.get("title") or "").strip().casefold(), meta.get("year"))
