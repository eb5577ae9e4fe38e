"""The web page in a real browser: served from the LocalStack S3 bucket, talking
to the real interact and recs APIs, with the real popularity job in between."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from devtools.site import SITE_DIR, serve_in_thread, server_url
from tests.e2e.browser import (
    CARDS,
    PHONE,
    RouteGate,
    card_ids,
    expect,
    is_interact_post,
    open_page,
    user_id,
    wait_for_held_route,
    wait_until,
)
from tests.e2e.conftest import Stack
from tests.support import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def test_page_is_served_from_s3_and_shows_twelve_cards_from_recs(
    page: Any, stack: Stack, artifacts_dir: Path
) -> None:
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))

    with page.expect_response(lambda r: "/recs/" in r.url) as recs_info:
        response = page.goto(stack.site_url)

    # The document came from the bucket on LocalStack, over HTTP, not from disk.
    assert response is not None and response.status == 200
    assert response.url.startswith(f"{stack.s3_endpoint}/{stack.site_bucket}/")
    assert response.headers["content-type"].startswith("text/html")
    config = page.evaluate("window.RECSYS_CONFIG")
    assert config == {"interactUrl": stack.interact_url, "recsUrl": stack.recs_url}

    recs = recs_info.value
    uid = user_id(page)
    assert uid and urlsplit(recs.url).path == f"/recs/{uid}"
    body = recs.json()

    expect(page.locator(CARDS)).to_have_count(12)
    assert card_ids(page) == body["item_ids"][:12]

    # Each card: a poster, the title, year and genres, a link, labelled buttons.
    meta = httpx.get(
        f"{stack.recs_url}/items", params={"ids": ",".join(body["item_ids"][:12])}, timeout=10
    ).json()["items"]
    first = page.locator(CARDS).first
    first_meta = meta[body["item_ids"][0]]
    expect(first.locator(".poster svg, .poster img")).to_have_count(1)
    expect(first.locator(".card__year")).to_have_text(str(first_meta["year"]))
    expect(first.locator(".card__genres")).to_have_text(" · ".join(first_meta["genres"]))
    title = first.locator(".card__title").inner_text()
    like = first.locator(".btn--like")
    expect(like).to_have_attribute("aria-label", f"Like {title} ({first_meta['year']})")
    expect(first.locator(".badge")).to_have_count(1)
    for card in page.locator(CARDS).all():
        expect(card.locator(".card__title")).not_to_have_text("")

    # Nothing but LocalStack and the two APIs: no CDN, works offline.
    allowed = {urlsplit(u).netloc for u in (stack.s3_endpoint, stack.interact_url, stack.recs_url)}
    assert hosts <= allowed, f"unexpected hosts: {hosts - allowed}"

    # The anonymous id is stable across reloads.
    open_page(page, stack.site_url)
    assert user_id(page) == uid
    expect(page.locator("#user-id")).to_have_attribute("data-user-id", uid)

    page.screenshot(path=str(artifacts_dir / "e2e-page-desktop.png"), full_page=True)


def test_like_posts_interact_reaches_the_log_and_never_returns(
    page: Any, stack: Stack, artifacts_dir: Path
) -> None:
    open_page(page, stack.site_url)
    uid = user_id(page)
    card = page.locator(CARDS).nth(1)
    item_id = card.get_attribute("data-item-id")
    assert item_id

    with (
        page.expect_request(is_interact_post) as request_info,
        page.expect_response(lambda r: is_interact_post(r.request)) as response_info,
    ):
        card.locator(".btn--like").click()

    request = request_info.value
    assert request.post_data_json == {"user_id": uid, "item_ids": [item_id], "actions": ["like"]}
    response = response_info.value
    assert response.status == 200
    event_ids = response.json()["event_ids"]
    assert len(event_ids) == 1

    # The rated card gives way to a fresh one, without a reload.
    gone = page.locator(f'{CARDS}[data-item-id="{item_id}"]')
    expect(gone).to_have_count(0)
    expect(page.locator(CARDS)).to_have_count(12)
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert item_id not in card_ids(page)

    # The event reaches the log (RabbitMQ -> popularity job -> S3 on LocalStack).
    report = stack.run_popularity_job()
    assert report["status"] == "ok"
    logged = [e for e in stack.logged_events() if e.event_id == event_ids[0]]
    assert len(logged) == 1
    assert (logged[0].user_id, logged[0].item_id, logged[0].action.value) == (
        uid,
        item_id,
        "like",
    )

    # ...and the movie never comes back for this user: not after a reload,
    # not anywhere in a long list from the API.
    open_page(page, stack.site_url)
    assert user_id(page) == uid
    assert item_id not in card_ids(page)
    assert item_id not in stack.recs_for(uid, n=100)
    page.screenshot(path=str(artifacts_dir / "e2e-after-like.png"), full_page=True)


def test_new_visitor_sees_a_liked_movie_after_the_popularity_job(
    new_context: Callable[..., Any], stack: Stack, artifacts_dir: Path
) -> None:
    first_visitor = new_context().new_page()
    open_page(first_visitor, stack.site_url)
    card = first_visitor.locator(CARDS).nth(4)
    item_id = card.get_attribute("data-item-id")
    assert item_id

    # Keyboard only: focus the card's Like button and press Enter.
    like = card.locator(".btn--like")
    like.focus()
    expect(like).to_be_focused()
    with first_visitor.expect_response(lambda r: is_interact_post(r.request)) as response_info:
        first_visitor.keyboard.press("Enter")
    assert response_info.value.status == 200
    expect(first_visitor.locator(f'{CARDS}[data-item-id="{item_id}"]')).to_have_count(0)
    # Focus moves to the card that replaced it, so keyboard users keep their place.
    expect(first_visitor.locator(f"{CARDS} .btn--like:focus")).to_have_count(1)

    stack.run_popularity_job()

    second_visitor = new_context().new_page()
    body = open_page(second_visitor, stack.site_url)
    assert user_id(second_visitor) != user_id(first_visitor)
    assert item_id in card_ids(second_visitor)
    sources = {entry["item_id"]: entry.get("source") for entry in body["items"]}
    assert sources[item_id] == "popular"
    badge = second_visitor.locator(f'{CARDS}[data-item-id="{item_id}"] .badge')
    expect(badge).to_have_text("Popular")
    second_visitor.screenshot(path=str(artifacts_dir / "e2e-new-visitor.png"), full_page=True)


def test_like_brings_in_similar_movies_with_a_because_badge(
    page: Any, stack: Stack, artifacts_dir: Path, request: pytest.FixtureRequest
) -> None:
    open_page(page, stack.site_url)
    card = page.locator(CARDS).nth(3)
    liked = card.get_attribute("data-item-id")
    assert liked
    title = card.locator(".card__title").inner_text()
    # Neighbours of the liked movie, as the training job would publish them.
    on_screen = set(card_ids(page))
    neighbours = [i for i in stack.clients.cache.all_item_ids() if i not in on_screen][100:103]
    cache = stack.clients.cache
    cache.set_neighbours({liked: neighbours})
    request.addfinalizer(lambda: cache._client.delete(cache.neighbours_key(liked)))

    with page.expect_response(lambda r: is_interact_post(r.request)):
        card.locator(".btn--like").click()
    expect(page.locator(f'{CARDS}[data-item-id="{liked}"]')).to_have_count(0)
    fresh = page.locator(CARDS).nth(3)
    expect(fresh).to_have_attribute("data-source", "realtime")
    assert fresh.get_attribute("data-item-id") == neighbours[0]
    expect(fresh.locator(".badge")).to_have_text(f"Because you liked {title}")
    fresh.screenshot(path=str(artifacts_dir / "e2e-because-card.png"))


def test_quick_ratings_on_several_cards_leave_twelve_distinct_fresh_cards(
    page: Any, stack: Stack, request: pytest.FixtureRequest
) -> None:
    open_page(page, stack.site_url)
    rated = [page.locator(CARDS).nth(i).get_attribute("data-item-id") for i in (0, 5, 10)]
    assert all(rated)
    # The first like brings in its neighbours: every later /recs answer leads
    # with the same personal pick, whose title the page has yet to look up.
    on_screen = set(card_ids(page))
    neighbours = [i for i in stack.clients.cache.all_item_ids() if i not in on_screen][100:103]
    cache = stack.clients.cache
    cache.set_neighbours({str(rated[0]): neighbours})
    request.addfinalizer(lambda: cache._client.delete(cache.neighbours_key(str(rated[0]))))
    # Every rating's /recs answer is held until all three have asked; then all
    # land while the title look-ups are held, so no swap happens before the
    # last answer is read: CI once saw two rated cards replaced by one film.
    recs_gate, titles_gate = RouteGate(), RouteGate()
    recs_answered: list[Any] = []
    page.route("**/recs/**", recs_gate)
    page.route("**/items?*", titles_gate)
    page.on("response", lambda r: recs_answered.append(r) if "/recs/" in r.url else None)
    for index, item_id in zip((0, 5, 10), rated, strict=True):
        action = "like" if index % 2 == 0 else "dislike"
        page.locator(f'{CARDS}[data-item-id="{item_id}"] .btn--{action}').click()
    wait_until(page, lambda: len(recs_gate.held) >= len(rated), "a rating never asked for /recs")
    recs_gate.open()
    wait_until(
        page, lambda: len(recs_answered) >= len(rated), "the held /recs answers never arrived"
    )
    titles_gate.open()
    for item_id in rated:
        expect(page.locator(f'{CARDS}[data-item-id="{item_id}"]')).to_have_count(0)
    expect(page.locator(CARDS)).to_have_count(12)
    ids = card_ids(page)
    assert neighbours[0] in ids
    assert len(set(ids)) == 12
    assert not set(rated) & set(ids)


def test_choice_shows_at_once_and_a_failed_post_offers_retry(page: Any, stack: Stack) -> None:
    open_page(page, stack.site_url)
    card = page.locator(CARDS).nth(2)
    item_id = card.get_attribute("data-item-id")

    held: list[Any] = []
    page.route("**/interact", lambda route: held.append(route))
    card.locator(".btn--dislike").click()

    # While the request is in flight: the choice shows, both buttons are disabled.
    expect(card).to_have_class("card card--grid card--dislike card--pending")
    expect(card.locator(".btn--like")).to_be_disabled()
    expect(card.locator(".btn--dislike")).to_be_disabled()
    expect(card.locator(".btn--dislike")).to_have_attribute("aria-pressed", "true")
    expect(card.locator(".card__status")).to_have_text("Saving…")

    # The network fails: the card says so and offers a retry.
    wait_for_held_route(page, held).abort("connectionrefused")
    expect(card.locator(".card__error")).to_contain_text("Couldn't save your dislike")
    retry = card.get_by_role("button", name="Retry dislike")
    expect(retry).to_be_visible()
    expect(card.locator(".btn--like")).to_be_enabled()
    expect(card.locator(f'[data-item-id="{item_id}"]')).to_have_count(0)  # still the same card
    expect(page.locator(CARDS)).to_have_count(12)

    # The retry goes through and the card makes way.
    page.unroute("**/interact")
    with page.expect_response(lambda r: is_interact_post(r.request)) as response_info:
        retry.click()
    assert response_info.value.status == 200
    assert response_info.value.request.post_data_json["actions"] == ["dislike"]
    expect(page.locator(f'{CARDS}[data-item-id="{item_id}"]')).to_have_count(0)
    expect(page.locator(CARDS)).to_have_count(12)


def test_loading_state_shows_until_recommendations_arrive(page: Any, stack: Stack) -> None:
    held: list[Any] = []
    page.route("**/recs/**", lambda route: held.append(route))
    page.goto(stack.site_url)
    expect(page.locator("#grid .card--skeleton")).to_have_count(12)
    expect(page.locator("#grid")).to_have_attribute("aria-busy", "true")
    expect(page.locator("#status")).to_have_text("Loading recommendations…")
    wait_for_held_route(page, held).continue_()
    page.unroute("**/recs/**")
    expect(page.locator(CARDS)).to_have_count(12)
    expect(page.locator("#grid .card--skeleton")).to_have_count(0)
    expect(page.locator("#grid")).to_have_attribute("aria-busy", "false")


def test_recs_api_down_shows_a_message(page: Any, stack: Stack, artifacts_dir: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    url = stack.deploy_extra_site("down", interact_url=dead, recs_url=dead)
    page.goto(url)
    alert = page.get_by_role("alert").filter(has_text="We can't load recommendations")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(dead)
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
    expect(page.locator(CARDS)).to_have_count(0)
    expect(page.locator("#grid")).to_have_attribute("aria-busy", "false")
    # The interact API is down too: the page says likes can't be saved.
    expect(page.locator('[data-notice="interact"]')).to_contain_text("can't be saved")
    page.screenshot(path=str(artifacts_dir / "e2e-api-down.png"), full_page=True)

    # The stats page says so as well, instead of staying blank.
    page.goto(url.replace("index.html", "stats.html"))
    expect(page.get_by_role("alert").first).to_contain_text("can't load the statistics")


def test_interact_api_down_disables_rating_with_a_reason(page: Any, stack: Stack) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    url = stack.deploy_extra_site("nointeract", interact_url=dead, recs_url=stack.recs_url)
    open_page(page, url)
    notice = page.locator('[data-notice="interact"]')
    expect(notice).to_contain_text("Likes and dislikes can't be saved right now")
    expect(notice).to_contain_text("The rating service doesn't answer.")
    card = page.locator(CARDS).first
    expect(card.locator(".btn--like")).to_be_disabled()
    expect(card.locator(".btn--dislike")).to_be_disabled()
    # The reason is tied to each button for screen readers.
    expect(card.locator(".btn--like")).to_have_attribute("aria-describedby", "interact-reason")
    expect(page.locator("#interact-reason")).to_contain_text("paused")
    expect(page.locator(CARDS)).to_have_count(12)


def test_start_over_asks_first_then_makes_a_new_user(page: Any, stack: Stack) -> None:
    open_page(page, stack.site_url)
    before = user_id(page)
    page.get_by_role("button", name="Start over").click()
    dialog = page.get_by_role("dialog", name="Start over?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert user_id(page) == before

    page.get_by_role("button", name="Start over").click()
    # A late /recs of the old user (a grid refresh) may land after the click: skip it.
    with page.expect_response(lambda r: "/recs/" in r.url and before not in r.url) as recs_info:
        dialog.get_by_role("button", name="Start over").click()
    after = user_id(page)
    assert after and after != before
    assert urlsplit(recs_info.value.url).path == f"/recs/{after}"
    expect(page.locator("#user-id")).to_have_attribute("data-user-id", after)
    # A new visitor is asked what they love first.
    expect(page.get_by_role("heading", name="Pick a few films you love")).to_be_visible()
    expect(page.get_by_role("button", name="Your ratings")).to_contain_text("0")


def test_layout_is_six_columns_wide_and_two_on_a_phone(
    new_context: Callable[..., Any], stack: Stack, artifacts_dir: Path
) -> None:
    columns = (
        "getComputedStyle(document.getElementById('grid')).gridTemplateColumns.split(' ').length"
    )
    wide = new_context(viewport={"width": 1280, "height": 900}).new_page()
    open_page(wide, stack.site_url)
    assert wide.evaluate(columns) == 6

    phone = new_context(**PHONE).new_page()
    open_page(phone, stack.site_url)
    assert phone.evaluate(columns) == 2
    phone.screenshot(path=str(artifacts_dir / "e2e-page-phone.png"))


def test_stats_page_shows_model_counts_and_top_items(
    page: Any, stack: Stack, artifacts_dir: Path, request: pytest.FixtureRequest
) -> None:
    # A like from a visitor of its own, so this test does not depend on the others.
    open_page(page, stack.site_url)
    item_id = page.locator(CARDS).first.get_attribute("data-item-id")
    with page.expect_response(lambda r: is_interact_post(r.request)):
        page.locator(CARDS).first.locator(".btn--like").click()
    stack.run_popularity_job()
    # Model metadata as the training job publishes it (ServingCache.model_info).
    cache = stack.clients.cache
    cache.set_model_info(
        {
            "version": "e2e-model-1",
            "trained_at": "2026-01-02T03:04:05Z",
            "algorithm": "item2vec",
            "params": {"vector_size": 64, "window": 5},
            "metrics": {"hr_at_10": 0.2, "ndcg_at_10": 0.11, "n_users": 900},
            "baselines": {
                "popularity": {"hr_at_10": 0.125, "ndcg_at_10": 0.06},
                "itemknn_cosine": {"hr_at_10": 0.15, "ndcg_at_10": 0.08},
            },
        }
    )
    cache.set_stats(
        train_last_run_at="2026-01-02T03:04:05+00:00",
        train_last_outcome="published e2e-model-1",
        train_last_seconds=12.5,
    )
    request.addfinalizer(lambda: cache._client.delete(cache.model_key))

    with page.expect_response(lambda r: r.url.endswith("/stats")) as stats_info:
        page.goto(stack.site_url.replace("index.html", "stats.html"))
    stats = stats_info.value.json()
    expect(page.locator("#stats")).to_have_attribute("aria-busy", "false")
    events = int(stats["stats"]["events_in_log"])
    assert events >= 1
    expect(page.locator('[data-stat="events_in_log"]')).to_have_text(f"{events:,}")
    expect(page.locator('[data-stat="likes"]')).to_be_visible()
    expect(page.locator(f'#top-items li[data-item-id="{item_id}"]')).to_have_count(1)
    expect(page.locator("#model-version")).to_have_text("e2e-model-1")
    expect(page.locator("#model-trained-at time")).to_have_attribute(
        "datetime", "2026-01-02T03:04:05.000Z"
    )
    expect(page.locator("#model-params")).to_have_text("vector_size 64 · window 5")
    expect(page.locator("#training-outcome")).to_contain_text("published e2e-model-1")
    expect(page.locator("#event-counts")).not_to_contain_text("Train")
    expect(page.locator("#hr-bars .bar")).to_have_count(3)
    expect(page.locator("#hr-bars .bar--other")).to_contain_text("ItemKNN (cosine)")
    expect(page.locator("#hr-bars .bar--model")).to_contain_text("20.0%")
    expect(page.locator("#hr-bars .bar--baseline")).to_contain_text("12.5%")
    expect(page.locator("#hr-lift")).to_contain_text("1.60")
    page.screenshot(path=str(artifacts_dir / "e2e-stats.png"), full_page=True)


def test_apis_allow_the_page_origin_and_no_other(stack: Stack) -> None:
    for base, path, method in (
        (stack.recs_url, "/recs/someone", "GET"),
        (stack.interact_url, "/interact", "POST"),
    ):
        allowed = httpx.options(
            base + path,
            headers={"Origin": stack.origin, "Access-Control-Request-Method": method},
            timeout=10,
        )
        assert allowed.headers.get("access-control-allow-origin") == stack.origin
        refused = httpx.options(
            base + path,
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": method},
            timeout=10,
        )
        assert "access-control-allow-origin" not in refused.headers
    plain = httpx.get(
        f"{stack.recs_url}/recs/someone", headers={"Origin": "http://evil.example"}, timeout=10
    )
    assert "access-control-allow-origin" not in plain.headers


def test_page_from_an_unlisted_origin_is_refused_by_the_apis(page: Any, stack: Stack) -> None:
    # The same page served locally (as the runner does on :8000), from an origin
    # the APIs were not configured with: the browser blocks the calls.
    server = serve_in_thread(
        SITE_DIR, host="127.0.0.1", port=0, interact_url=stack.interact_url, recs_url=stack.recs_url
    )
    try:
        page.goto(server_url(server) + "index.html")
        expect(page.get_by_role("alert")).to_contain_text("We can't load recommendations")
        expect(page.locator(CARDS)).to_have_count(0)
    finally:
        server.shutdown()
        server.server_close()
