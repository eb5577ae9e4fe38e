"""What a visitor does with the page (issue 12), in a real browser on the real stack:
onboarding, search, the film panel, undo, "Your ratings", a grid that follows,
humane errors, accessibility, fit and finish, and how fast a click settles."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from recsys.adapters import movielens
from recsys.adapters.storage import open_store
from recsys.services.bootstrap import events_from_ratings
from recsys.services.popularity import popular_items
from recsys.training.job import train_and_publish
from tests.e2e.browser import CARDS, PHONE, card_ids, expect, is_interact_post, open_page, user_id
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
# Words that only appear in exception text, never in what the page should say.
EXCEPTION_WORDS = ["AMQP", "Error(", "Traceback", "HTTP 503", "Connection refused", "rabbitmq is"]
RABBIT_DOWN = (
    "rabbitmq is unavailable: RabbitMQ is not reachable: AMQPConnectionError: "
    "(AMQPConnectorSocketConnectError: ConnectionRefusedError(111, 'Connection refused'),)"
)


def shot(page: Any, artifacts: Path, name: str, full_page: bool = False) -> None:
    page.screenshot(path=str(artifacts / f"e2e-{name}.png"), full_page=full_page)


def like_over_api(stack: Stack, user: str, item: str, action: str = "like") -> None:
    response = httpx.post(
        f"{stack.interact_url}/interact",
        json={"user_id": user, "item_ids": [item], "actions": [action]},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def seen(stack: Stack, user: str) -> set[str]:
    cache = stack.clients.cache
    members: set[str] = cache._client.smembers(cache.seen_key(user))
    return members


# ------------------------------------------------------------------ onboarding


@pytest.fixture
def trained_on_movielens(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The real training job on the MovieLens-100K history (small optuna budget),
    publishing neighbours under the e2e prefix; removed afterwards."""
    events = events_from_ratings(movielens.read_ratings(stack.settings.data_dir))
    cache = stack.clients.cache
    settings = stack.settings.model_copy(update={"train_trials": 3, "train_timeout_s": 60.0})
    artifacts = open_store(str(tmp_path_factory.mktemp("trained")))
    result = train_and_publish(
        events, cache.all_item_ids(), cache=cache, artifacts=artifacts, settings=settings
    )
    assert result.published, result.reason
    # A stack bootstrapped with that history also has its popular list (the
    # onboarding's candidates); the next popularity job run replaces it.
    ranked = popular_items(
        events,
        half_life_s=settings.popularity_half_life_s,
        top_n=settings.popular_top_n,
        min_users=settings.popularity_min_users,
    )
    cache.set_popular([item for item, _ in ranked])
    yield
    keys = list(cache._client.scan_iter(match=f"{cache.prefix}neighbours:*", count=1000))
    keys += list(cache._client.scan_iter(match=f"{cache.prefix}personal:*", count=1000))
    for start in range(0, len(keys), 1000):
        cache._client.unlink(*keys[start : start + 1000])
    cache._client.delete(cache.model_key)
    stack.run_popularity_job()  # the popular list of this stack's own log again


def test_onboarding_a_genre_and_five_loved_films_shape_the_first_grid(
    new_context: Callable[..., Any],
    stack: Stack,
    artifacts_dir: Path,
    trained_on_movielens: None,
) -> None:
    page = new_context(first_visit=True, viewport={"width": 1280, "height": 800}).new_page()
    page.goto(stack.site_url)
    expect(page.get_by_role("heading", name="Pick a few films you love")).to_be_visible()
    grid = page.locator("#onboarding-grid .card")
    expect(grid.first).to_be_visible()
    shot(page, artifacts_dir, "onboarding-desktop")

    page.get_by_role("button", name="Sci-Fi", exact=True).click()
    expect(page.get_by_role("button", name="Sci-Fi", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.locator("#onboarding-hint")).to_contain_text("Sci-Fi")
    picked: list[str] = []
    for index in range(5):
        card = grid.nth(index)
        expect(card.locator(".card__genres")).to_contain_text("Sci-Fi")
        with page.expect_response(lambda r: is_interact_post(r.request)) as answer:
            card.locator(".btn--like").click()
        assert answer.value.status == 200
        expect(card.locator(".btn--like")).to_have_attribute("aria-pressed", "true")
        picked.append(card.get_attribute("data-item-id") or "")
    expect(page.locator("#picked-count")).to_have_text("5 films liked")
    shot(page, artifacts_dir, "onboarding-picked")

    with page.expect_response(lambda r: "/recs/" in r.url) as first_recs:
        page.get_by_role("button", name="Show my picks").click()
    expect(page.locator(CARDS)).to_have_count(12)
    expect(page.locator("#grid")).to_have_attribute("aria-busy", "false")
    # The choices are ordinary like events: the user's seen set has them.
    assert set(picked) <= seen(stack, user_id(page))
    ids = card_ids(page)
    assert not set(picked) & set(ids)
    meta = httpx.get(f"{stack.recs_url}/items", params={"ids": ",".join(ids)}, timeout=10).json()
    matching = [i for i in ids if "Sci-Fi" in meta["items"][i]["genres"]]
    sources = {e["item_id"]: e for e in first_recs.value.json()["items"]}
    report = {
        "genre": "Sci-Fi",
        "liked": picked,
        "grid": [{**sources.get(i, {"item_id": i}), **meta["items"][i]} for i in ids],
        "matching": len(matching),
    }
    (artifacts_dir / "onboarding-genre-match.json").write_text(json.dumps(report, indent=2))
    shot(page, artifacts_dir, "onboarding-first-grid")
    # "Most of the first grid matches": everything above is the page's job and
    # is asserted; this figure is the model's (the quality branch improves it).
    if len(matching) <= len(ids) / 2:
        pytest.xfail(f"only {len(matching)} of {len(ids)} first cards are Sci-Fi: model quality")


def test_onboarding_can_be_skipped_and_is_not_shown_again(
    new_context: Callable[..., Any], stack: Stack, artifacts_dir: Path
) -> None:
    page = new_context(first_visit=True, viewport={"width": 390, "height": 844}).new_page()
    page.goto(stack.site_url)
    expect(page.get_by_role("heading", name="Pick a few films you love")).to_be_visible()
    expect(page.locator("#onboarding-grid .card").first).to_be_visible()
    shot(page, artifacts_dir, "onboarding-phone")
    page.get_by_role("button", name="Skip for now").click()
    expect(page.locator(CARDS)).to_have_count(12)
    page.reload()
    expect(page.locator(CARDS)).to_have_count(12)
    expect(page.locator("#onboarding")).to_be_hidden()


def test_every_poster_paints_its_own_gradients_after_onboarding_is_skipped(
    new_context: Callable[..., Any], stack: Stack
) -> None:
    """The skipped onboarding keeps its posters in the page, hidden: a later poster
    of the same film must not point at their gradients (Chromium paints it blank)."""
    page = new_context(first_visit=True).new_page()
    page.goto(stack.site_url)
    expect(page.locator("#onboarding-grid .card").first).to_be_visible()
    page.get_by_role("button", name="Skip for now").click()
    expect(page.locator(CARDS)).to_have_count(12)
    target = page.locator(CARDS).first.get_attribute("data-item-id") or ""
    with page.expect_response(lambda r: is_interact_post(r.request)):
        page.locator(f'{CARDS}[data-item-id="{target}"] .btn--like').click()
    page.get_by_role("button", name="Your ratings").click()
    panel = page.get_by_role("dialog", name="Your ratings")
    expect(panel.locator(f'li[data-item-id="{target}"] svg')).to_have_count(1)
    posters = page.evaluate(
        """() => Array.from(document.querySelectorAll('svg.poster__art')).map(svg => {
            const refs = Array.from(svg.querySelectorAll('[fill^="url(#"]'))
                .map(node => node.getAttribute('fill').slice(5, -1));
            return refs.every(id => svg.contains(document.getElementById(id)));
        })"""
    )
    assert len(posters) > 12 and all(posters), posters
    ids = page.evaluate("() => Array.from(document.querySelectorAll('[id]')).map(n => n.id)")
    assert len(ids) == len(set(ids)), sorted(i for i in set(ids) if ids.count(i) > 1)[:5]


# ---------------------------------------------------------------------- search


def test_search_then_like_from_the_results(page: Any, stack: Stack, artifacts_dir: Path) -> None:
    open_page(page, stack.site_url)
    uid = user_id(page)
    with page.expect_response(lambda r: "/search?" in r.url) as found:
        page.get_by_role("searchbox", name="Search the catalogue").fill("star wa")
        page.keyboard.press("Enter")
    assert found.value.json()["item_ids"][0] == "50"
    star_wars = page.locator('#results-grid .card[data-item-id="50"]')
    expect(star_wars.locator(".card__title")).to_have_text("Star Wars")
    expect(page.locator("#results-status")).to_contain_text("1 film matches")
    with page.expect_request(is_interact_post) as sent:
        star_wars.locator(".btn--like").click()
    assert sent.value.post_data_json == {"user_id": uid, "item_ids": ["50"], "actions": ["like"]}
    expect(star_wars.locator(".btn--like")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#toast")).to_contain_text("Liked Star Wars.")
    expect(page.locator('#grid .card[data-item-id="50"]')).to_have_count(0)
    assert "50" in seen(stack, uid)
    assert "50" not in stack.recs_for(uid, n=100)
    shot(page, artifacts_dir, "search-results")
    # Accents and case are folded.
    page.get_by_role("searchbox", name="Search the catalogue").fill("MISERABLES")
    page.keyboard.press("Enter")
    expect(page.locator("#results-grid .card__title").first).to_contain_text("Misérables")


# ------------------------------------------------------------ the film panel


def test_film_panel_shows_details_and_rates(page: Any, stack: Stack, artifacts_dir: Path) -> None:
    open_page(page, stack.site_url)
    card = page.locator(CARDS).nth(1)
    item_id = card.get_attribute("data-item-id") or ""
    title = card.locator(".card__title").inner_text()
    card.locator(".poster").click()
    panel = page.get_by_role("dialog")
    expect(panel).to_be_visible()
    expect(panel.locator("#film-title")).to_contain_text(title)
    imdb = panel.get_by_role("link", name=f"Find {title} on IMDb")
    assert (imdb.get_attribute("href") or "").startswith("https://www.imdb.com/find/")
    expect(panel.locator("#similar-status")).not_to_have_text("Finding similar films…")
    # The film's own buttons (the similar films below have theirs).
    dislike = panel.locator(f'.card[data-item-id="{item_id}"] .btn--dislike')
    with page.expect_response(lambda r: is_interact_post(r.request)):
        dislike.click()
    expect(dislike).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(page.locator(f'{CARDS}[data-item-id="{item_id}"]')).to_have_count(0)


def test_more_like_this_opens_and_lists_similar_films(
    page: Any, stack: Stack, artifacts_dir: Path
) -> None:
    open_page(page, stack.site_url)
    with page.expect_response(lambda r: "/similar" in r.url) as similar_info:
        page.locator(f'{CARDS}[data-item-id="{card_ids(page)[0]}"] .poster').click()
    body = similar_info.value.json()
    panel = page.get_by_role("dialog")
    expect(panel.get_by_role("heading", name="More like this")).to_be_visible()
    similar = panel.locator("#similar-grid .card")
    expect(similar).to_have_count(len(body["item_ids"]))
    ids = similar.evaluate_all("cards => cards.map(c => c.dataset.itemId)")
    assert ids == body["item_ids"] and len(set(ids)) == len(ids) > 0
    expect(similar.first.locator(".badge")).to_have_text("Similar")
    shot(page, artifacts_dir, "film-panel")


# ------------------------------------------------------------------ undo, ratings


def test_undo_restores_the_card_and_the_log_holds_the_removal(
    page: Any, stack: Stack, artifacts_dir: Path
) -> None:
    open_page(page, stack.site_url)
    uid = user_id(page)
    item_id = page.locator(CARDS).nth(2).get_attribute("data-item-id") or ""
    with page.expect_response(lambda r: is_interact_post(r.request)) as liked:
        page.locator(CARDS).nth(2).locator(".btn--like").click()
    like_id = liked.value.json()["event_ids"][0]
    expect(page.locator(f'{CARDS}[data-item-id="{item_id}"]')).to_have_count(0)
    toast = page.locator("#toast")
    expect(toast).to_contain_text("Liked")
    shot(page, artifacts_dir, "toast-undo")

    with page.expect_request(is_interact_post) as undo_request:
        toast.get_by_role("button", name="Undo").click()
    assert undo_request.value.post_data_json["actions"] == ["remove"]
    # The card is back where it was, and can be rated again.
    expect(page.locator(CARDS).nth(2)).to_have_attribute("data-item-id", item_id)
    expect(page.locator(CARDS).nth(2).locator(".btn--like")).to_be_enabled()
    expect(page.locator(CARDS)).to_have_count(12)
    expect(toast).to_contain_text("Undone")
    assert item_id not in seen(stack, uid)

    stack.run_popularity_job()
    mine = [e for e in stack.logged_events() if e.user_id == uid and e.item_id == item_id]
    assert [e.action.value for e in sorted(mine, key=lambda e: e.timestamp)] == ["like", "remove"]
    assert mine[0].event_id == like_id or mine[1].event_id == like_id
    assert item_id not in seen(stack, uid)  # the job's repair did not bring it back


def test_your_ratings_remove_lets_the_film_come_back(
    page: Any, stack: Stack, artifacts_dir: Path
) -> None:
    open_page(page, stack.site_url)
    uid = user_id(page)
    item_id = page.locator(CARDS).first.get_attribute("data-item-id") or ""
    # Someone else likes it too, so it stays popular: it can come back.
    like_over_api(stack, f"{uid}-friend", item_id)
    stack.run_popularity_job()
    for index, action in ((0, "like"), (1, "dislike")):
        # The grid follows each rating: read the card's id just before rating it.
        target = page.locator(CARDS).nth(index).get_attribute("data-item-id") or ""
        with page.expect_response(lambda r: is_interact_post(r.request)):
            page.locator(f'{CARDS}[data-item-id="{target}"] .btn--{action}').click()
        expect(page.locator(f'{CARDS}[data-item-id="{target}"]')).to_have_count(0)
    assert item_id not in stack.recs_for(uid, n=100)

    page.get_by_role("button", name="Your ratings").click()
    panel = page.get_by_role("dialog", name="Your ratings")
    expect(panel.get_by_role("heading", name="Liked (1)", exact=True)).to_be_visible()
    expect(panel.get_by_role("heading", name="Disliked (1)", exact=True)).to_be_visible()
    shot(page, artifacts_dir, "your-ratings")
    with page.expect_request(is_interact_post) as removal:
        panel.locator(f'li[data-item-id="{item_id}"]').get_by_role("button").click()
    assert removal.value.post_data_json == {
        "user_id": uid,
        "item_ids": [item_id],
        "actions": ["remove"],
    }
    expect(panel.locator(f'li[data-item-id="{item_id}"]')).to_have_count(0)
    expect(panel.get_by_role("heading", name="Liked", exact=False)).to_have_count(1)  # Disliked
    expect(page.get_by_role("button", name="Your ratings")).to_contain_text("1")
    assert item_id not in seen(stack, uid)
    assert item_id in stack.recs_for(uid, n=100)  # it may come back
    page.keyboard.press("Escape")
    body = open_page(page, stack.site_url)
    if item_id in body["item_ids"][:12]:
        expect(page.locator(f'{CARDS}[data-item-id="{item_id}"]')).to_have_count(1)


# ------------------------------------------------------------- the grid follows


def test_a_rating_refreshes_the_cards_that_are_not_personal_in_place(
    page: Any, stack: Stack, artifacts_dir: Path, request: pytest.FixtureRequest
) -> None:
    body = open_page(page, stack.site_url)
    assert not any(i["source"] in ("personal", "realtime") for i in body["items"])
    before = card_ids(page)
    liked = before[3]
    cache = stack.clients.cache
    neighbours = [i for i in cache.all_item_ids() if i not in set(before)][200:214]
    cache.set_neighbours({liked: neighbours})
    request.addfinalizer(lambda: cache._client.delete(cache.neighbours_key(liked)))

    page.locator(CARDS).first.hover()  # the card under the pointer must not change
    like = page.locator(CARDS).nth(3).locator(".btn--like")
    like.focus()
    with page.expect_response(lambda r: is_interact_post(r.request)):
        page.keyboard.press("Enter")
    expect(page.locator(f'{CARDS}[data-item-id="{liked}"]')).to_have_count(0)
    expect(page.locator(f'{CARDS}[data-source="realtime"]')).to_have_count(11)
    after = card_ids(page)
    assert after[0] == before[0]  # under the pointer: left alone
    assert after[3] == neighbours[0]  # the rated card's place: the best new pick
    for index in range(1, 12):
        assert after[index] in neighbours, f"card {index} still not personal"
    # The keyboard focus stays on the same place.
    expect(page.locator(CARDS).nth(3).locator(".btn--like")).to_be_focused()
    expect(page.locator(CARDS).nth(1).locator(".badge")).to_contain_text("Because you liked")
    shot(page, artifacts_dir, "grid-follows")


def test_load_more_appends_twelve(page: Any, stack: Stack) -> None:
    open_page(page, stack.site_url)
    before = card_ids(page)
    page.get_by_role("button", name="Load more").click()
    expect(page.locator(CARDS)).to_have_count(24)
    after = card_ids(page)
    assert after[:12] == before
    assert len(set(after)) == 24


# -------------------------------------------------------------- humane states


def test_rabbitmq_down_disables_rating_and_shows_no_exception_text(
    page: Any, stack: Stack, artifacts_dir: Path
) -> None:
    # The interact function's own answers when RabbitMQ is unreachable.
    health = {"status": "error", "dependencies": {"rabbitmq": {"ok": False, "error": RABBIT_DOWN}}}
    down = {"detail": RABBIT_DOWN, "dependency": "rabbitmq"}
    page.route(
        f"{stack.interact_url}/healthcheck",
        lambda route: route.fulfill(
            status=503, json=health, headers={"Access-Control-Allow-Origin": stack.origin}
        ),
    )
    open_page(page, stack.site_url)
    expect(page.locator('[data-notice="interact"]')).to_contain_text(
        "Likes and dislikes can't be saved right now"
    )
    expect(page.locator('[data-notice="interact"]')).to_contain_text("a part it needs is not")
    for button in page.locator(f"{CARDS} .btn--choice").all():
        expect(button).to_be_disabled()
    shot(page, artifacts_dir, "rabbitmq-down")
    text = page.locator("body").inner_text()
    assert not [w for w in EXCEPTION_WORDS if w in text]

    # The service comes back: the buttons follow on the next check.
    page.unroute(f"{stack.interact_url}/healthcheck")
    page.evaluate("window.setTimeout(() => {}, 0)")
    expect(page.locator(CARDS).first.locator(".btn--like")).to_be_enabled(timeout=15_000)

    # A click that meets the outage: plain words, a retry, no exception text.
    page.route(
        f"{stack.interact_url}/interact",
        lambda route: (
            route.fulfill(
                status=503, json=down, headers={"Access-Control-Allow-Origin": stack.origin}
            )
            if route.request.method == "POST"
            else route.continue_()
        ),
    )
    card = page.locator(CARDS).nth(1)
    card.locator(".btn--like").click()
    expect(card.locator(".card__error")).to_have_text(
        "Couldn't save your like: the service is having trouble right now. "
    )
    text = page.locator("body").inner_text()
    assert not [w for w in EXCEPTION_WORDS if w in text]
    shot(page, artifacts_dir, "like-failed")


def test_stats_page_says_training_now_and_when_the_model_was_published(
    page: Any, stack: Stack, artifacts_dir: Path, request: pytest.FixtureRequest
) -> None:
    cache = stack.clients.cache
    cache.set_model_info(
        {
            "version": "e2e-model-2",
            "trained_at": "2026-01-02T03:04:05Z",
            "published_at": "2026-01-02T03:09:05Z",
        }
    )
    cache.set_stats(train_running_since=datetime.now(UTC).isoformat())
    request.addfinalizer(lambda: cache._client.delete(cache.model_key))
    request.addfinalizer(lambda: cache.set_stats(train_running_since=""))
    page.goto(stack.site_url.replace("index.html", "stats.html"))
    expect(page.locator("#model-published-at time")).to_have_attribute(
        "datetime", "2026-01-02T03:09:05.000Z"
    )
    expect(page.locator("#training-now")).to_contain_text("Training now: a run started")
    shot(page, artifacts_dir, "stats-training-now", full_page=True)
    cache.set_stats(train_running_since="")
    page.reload()
    expect(page.locator("#training-now")).to_have_text("Not training right now.")


# ------------------------------------------------------------- accessibility


def serious_violations(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    results: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_axe_finds_no_serious_or_critical_violations(
    new_context: Callable[..., Any], stack: Stack
) -> None:
    found: dict[str, list[dict[str, Any]]] = {}
    for width, height in ((1280, 800), (390, 844)):
        page = new_context(viewport={"width": width, "height": height}).new_page()
        open_page(page, stack.site_url)
        found[f"grid {width}"] = serious_violations(page)
        page.locator(CARDS).first.locator(".poster").click()
        expect(page.locator("#film-panel")).to_be_visible()
        found[f"film panel {width}"] = serious_violations(page)
        page.keyboard.press("Escape")
        page.get_by_role("button", name="Your ratings").click()
        found[f"your ratings {width}"] = serious_violations(page)
        page.keyboard.press("Escape")
        page.goto(stack.site_url.replace("index.html", "stats.html"))
        expect(page.locator("#stats")).to_have_attribute("aria-busy", "false")
        found[f"stats {width}"] = serious_violations(page)
    first = new_context(first_visit=True).new_page()
    first.goto(stack.site_url)
    expect(first.locator("#onboarding-grid .card").first).to_be_visible()
    found["onboarding"] = serious_violations(first)
    assert not {k: v for k, v in found.items() if v}, json.dumps(found, indent=2)


# ------------------------------------------------------------- fit and finish


def test_fit_and_finish_at_desktop_and_phone_sizes(
    new_context: Callable[..., Any], stack: Stack, artifacts_dir: Path
) -> None:
    desktop = new_context(viewport={"width": 1280, "height": 800}).new_page()
    open_page(desktop, stack.site_url)
    shot(desktop, artifacts_dir, "grid-desktop-1280x800")
    # At least two full rows of cards above the fold.
    boxes = [c.bounding_box() for c in desktop.locator(CARDS).all()]
    rows = sorted({round(b["y"]) for b in boxes})
    assert len(rows) >= 2
    second_row_bottom = max(b["y"] + b["height"] for b in boxes if round(b["y"]) == rows[1])
    assert second_row_bottom <= 800, f"the second row ends at {second_row_bottom:.0f}px"
    # Each title is printed once: below the poster, not on it.
    assert desktop.locator(f"{CARDS} .poster__title").count() == 0
    # Hover, focus and selected look different.
    like = desktop.locator(CARDS).nth(5).locator(".btn--like")
    style = "b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]"
    plain = like.evaluate(style)
    # Colours change over a 0.15 s transition: each state is read once its
    # colours moved away from the plain ones and the transition has run.
    changed = """([button, plain]) => {
      const s = getComputedStyle(button);
      return s.backgroundColor !== plain[0] || s.color !== plain[1];
    }"""
    like.hover()
    desktop.wait_for_function(changed, arg=[like.element_handle(), plain])
    desktop.wait_for_timeout(300)
    hovered = like.evaluate(style)
    desktop.mouse.move(0, 0)
    like.focus()
    focused = like.evaluate("b => getComputedStyle(b).outlineStyle")
    assert focused != "none"
    held: list[Any] = []
    desktop.route("**/interact", lambda route: held.append(route))
    like.click()
    desktop.mouse.move(0, 0)
    expect(like).to_have_attribute("aria-pressed", "true")
    desktop.wait_for_function(changed, arg=[like.element_handle(), plain])
    desktop.wait_for_timeout(300)
    selected = like.evaluate(style)
    assert len({tuple(plain), tuple(hovered), tuple(selected)}) == 3, (plain, hovered, selected)
    desktop.unroute("**/interact")

    phone = new_context(**PHONE).new_page()
    open_page(phone, stack.site_url)
    shot(phone, artifacts_dir, "grid-phone-390x844")
    # Touch targets of at least 44x44 px.
    small = phone.evaluate(
        """() => [...document.querySelectorAll('button, input, a, .chip')]
          .filter(e => e.offsetParent !== null && !e.closest('dialog:not([open])'))
          .map(e => [e.textContent.trim().slice(0, 30) || e.getAttribute('aria-label'),
                     e.getBoundingClientRect()])
          .filter(([, r]) => r.width > 0 && (r.width < 44 || r.height < 44))
          .filter(([name]) => !/^(Skip to|MovieLens)/.test(name))
          .map(([name, r]) => `${name}: ${Math.round(r.width)}x${Math.round(r.height)}`)"""
    )
    assert not small, small
    # Badges are readable whole on touch: nothing is cut off.
    clipped = phone.evaluate(
        """() => [...document.querySelectorAll('#grid .badge')]
          .filter(b => b.scrollWidth > b.clientWidth + 1 || b.scrollHeight > b.clientHeight + 1)
          .map(b => b.textContent)"""
    )
    assert not clipped, clipped


# ------------------------------------------------------------- speed of a click


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def test_p95_click_to_settled_over_30_clicks_is_under_400ms(
    page: Any, stack: Stack, artifacts_dir: Path
) -> None:
    open_page(page, stack.site_url)
    started = time.monotonic()
    for click in range(30):
        card = page.locator(CARDS).nth(click % 12)
        item_id = card.get_attribute("data-item-id")
        card.locator(".btn--like" if click % 2 == 0 else ".btn--dislike").click()
        expect(page.locator(f'{CARDS}[data-item-id="{item_id}"]')).to_have_count(0)
        page.wait_for_function(
            "n => window.Recsys.timings().filter(t => t.settled).length >= n", arg=click + 1
        )
        # People do not click every millisecond; idle gaps are where slow paths hide.
        page.wait_for_timeout(150 if click % 5 else 1200)
    timings = page.evaluate("window.Recsys.timings()")
    # Each POST /interact as the browser saw it. The API sends Timing-Allow-Origin
    # for the page, so the connection phases and its Server-Timing steps are
    # readable: a slow click shows whether the wait was the network or a dependency.
    requests: list[dict[str, Any]] = page.evaluate(
        """() => performance.getEntriesByType('resource')
          .filter(e => e.name.endsWith('/interact') && e.initiatorType === 'fetch')
          .map(e => ({
            duration: Math.round(e.duration),
            connecting: Math.round(e.connectEnd - e.connectStart),
            waiting: Math.round(e.responseStart - e.requestStart),
            server: Object.fromEntries(e.serverTiming.map(t => [t.name, t.duration])),
          }))"""
    )
    resources = [r["duration"] for r in requests]
    answered = [t["answered"] - t["click"] for t in timings]
    settled = [t["settled"] - t["click"] for t in timings]
    # Where the time after the answer goes: /recs, then /items for new cards, then the swap.
    recs = [t["recs"] - t["answered"] for t in timings if "recs" in t]
    meta = [t["meta"] - t["recs"] for t in timings if "meta" in t]
    own = [t["settled"] - t["recs"] for t in timings if "recs" in t]
    # Baseline, same run: the two bare round trips a click needs (POST /interact is
    # stood in for by GET /healthcheck on interact, then GET /recs), 30 times.
    baseline: list[float] = page.evaluate(
        """async ([interact, recs, uid]) => {
          const out = [];
          for (let i = 0; i < 30; i++) {
            const t0 = performance.now();
            await (await fetch(interact + '/healthcheck', {cache: 'no-store'})).text();
            await (await fetch(recs + '/recs/' + uid + '?n=32', {cache: 'no-store'})).text();
            out.push(performance.now() - t0);
          }
          return out;
        }""",
        [stack.interact_url, stack.recs_url, user_id(page)],
    )
    report = {
        "clicks": len(timings),
        "wall_seconds": round(time.monotonic() - started, 1),
        "click_to_answer_ms": {
            "p50": percentile(answered, 0.5),
            "p95": percentile(answered, 0.95),
            "max": max(answered),
        },
        "click_to_settled_ms": {
            "p50": percentile(settled, 0.5),
            "p95": percentile(settled, 0.95),
            "max": max(settled),
        },
        "answer_to_recs_ms": {"p50": percentile(recs, 0.5), "p95": percentile(recs, 0.95)},
        "recs_to_items_ms": {"p50": percentile(meta, 0.5), "p95": percentile(meta, 0.95)},
        "page_own_work_after_recs_ms": {"p50": percentile(own, 0.5), "p95": percentile(own, 0.95)},
        "baseline_two_round_trips_ms": {
            "p50": percentile(baseline, 0.5),
            "p95": percentile(baseline, 0.95),
        },
        "interact_request_ms": resources,
        "slowest_interact_requests": sorted(requests, key=lambda r: -r["duration"])[:3],
        "timings": timings,
    }
    (artifacts_dir / "click-timings.json").write_text(json.dumps(report, indent=2))
    assert len(timings) == 30 and not any(t.get("failed") for t in timings)
    assert len(requests) >= 30
    assert all(set(r["server"]) == {"validate", "publish", "seen"} for r in requests), requests
    settled_p95 = report["click_to_settled_ms"]["p95"]
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    report["load_average_1min"], report["cores"] = load, cores
    (artifacts_dir / "click-timings.json").write_text(json.dumps(report, indent=2))
    if settled_p95 >= 400 and load > 1.5 * cores:
        # Other jobs starve the browser and both servers of CPU: the figure says
        # nothing about the page. Recorded, not judged; run again on a quiet machine.
        pytest.xfail(f"p95 {settled_p95:.0f} ms at load average {load:.1f} on {cores} cores")
    assert settled_p95 < 400, report["click_to_settled_ms"]
