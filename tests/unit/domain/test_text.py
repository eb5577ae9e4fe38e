"""Title text as search sees it: folding, words, article order, index words."""

from recsys.domain.text import display_title, fold, index_words, words


def test_fold_drops_accents_and_case():
    assert fold("Misérables, Les") == "miserables, les"
    assert fold("ÉTÉ Ñandú") == "ete nandu"
    assert fold("Straße") == "strasse"


def test_words_split_on_punctuation_and_fold():
    assert words("L'Âge d'or") == ["l", "age", "d", "or"]
    assert words("  Star   Wars: Episode IV ") == ["star", "wars", "episode", "iv"]
    assert words("12 Monkeys") == ["12", "monkeys"]
    assert words("!!! ???") == []
    assert words("snake_case") == ["snakecase"]


def test_display_title_moves_a_trailing_article_to_the_front():
    assert display_title("Usual Suspects, The") == "The Usual Suspects"
    assert display_title("Grande Illusion, La") == "La Grande Illusion"
    assert display_title("Amour, L'") == "L'Amour"
    assert display_title("Toy Story") == "Toy Story"


def test_a_film_is_found_by_its_title_words_in_both_orders_and_its_year():
    found = index_words({"title": "Misérables, Les", "year": 1995, "genres": ["Drama"]})
    assert found == {"miserables", "les", "1995"}
    assert index_words({"title": "", "year": None}) == set()
