from recsys.adapters import movielens


def test_duplicate_films_merge_into_the_lower_id_with_both_genres():
    items = {
        "246": {"title": "Chasing Amy", "year": 1997, "genres": ["Comedy"]},
        "268": {"title": "Chasing Amy", "year": 1997, "genres": ["Drama", "Romance"]},
        "50": {"title": "Star Wars", "year": 1977, "genres": ["Action", "Sci-Fi"]},
    }
    merged, aliases = movielens.merge_duplicates(items)
    assert sorted(merged) == ["246", "50"]
    assert merged["246"]["genres"] == ["Comedy", "Drama", "Romance"]
    assert aliases == {"268": "246"}


def test_same_title_in_another_year_is_another_film():
    items = {
        "1": {"title": "Hamlet", "year": 1948, "genres": ["Drama"]},
        "2": {"title": "Hamlet", "year": 1996, "genres": ["Drama"]},
    }
    merged, aliases = movielens.merge_duplicates(items)
    assert sorted(merged) == ["1", "2"]
    assert aliases == {}


def test_the_unknown_genre_is_dropped():
    merged, _ = movielens.merge_duplicates(
        {"267": {"title": "unknown", "year": None, "genres": ["unknown"]}}
    )
    assert merged["267"]["genres"] == []


def test_movielens_has_eighteen_duplicates_and_ratings_use_canonical_ids(movielens_items):
    from tests.conftest import DATA_DIR

    aliases = movielens.aliases(DATA_DIR)
    assert len(aliases) == 18
    assert aliases["268"] == "246"
    assert not set(aliases) & set(movielens_items)
    rated = {r.item_id for r in movielens.read_ratings(DATA_DIR)}
    assert not rated & set(aliases)
    films = [movielens.film_key(meta) for meta in movielens_items.values()]
    assert len(films) == len(set(films))
    assert all("unknown" not in meta["genres"] for meta in movielens_items.values())
