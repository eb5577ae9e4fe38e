"""What the browser tests share: the page's landmarks and how to open it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

CARDS = "#grid .card[data-item-id]"
USER_KEY = "recsys.user_id"
# A phone as the layout tests see it: 390x844 CSS px, touch, high density.
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def card_ids(page: Any) -> list[str]:
    ids: list[str] = page.locator(CARDS).evaluate_all(
        "cards => cards.map(card => card.dataset.itemId)"
    )
    return ids


def user_id(page: Any) -> str:
    value: str = page.evaluate(f"localStorage.getItem('{USER_KEY}')")
    return value


def open_page(page: Any, url: str, count: int = 12) -> dict[str, Any]:
    """Load the page, wait for its cards; returns the /recs response it rendered."""
    if page.url != "about:blank":
        # Leave the old document first: its own late /recs refresh would otherwise
        # match below, and its body is gone once the new document replaces it.
        page.goto("about:blank")
    with page.expect_response(lambda r: "/recs/" in r.url) as recs_info:
        response = page.goto(url)
    assert response is not None and response.ok, f"{url} -> {response and response.status}"
    expect(page.locator(CARDS)).to_have_count(count)
    expect(page.locator("#grid")).to_have_attribute("aria-busy", "false")
    body: dict[str, Any] = recs_info.value.json()
    return body


def wait_for_held_route(page: Any, held: list[Any], timeout_s: float = 15.0) -> Any:
    """The first request a test's route handler held back (handlers run between waits)."""
    wait_until(page, lambda: bool(held), "the request never reached the route", timeout_s)
    return held.pop(0)


def wait_until(
    page: Any, condition: Callable[[], bool], reason: str, timeout_s: float = 15.0
) -> None:
    """Polls a condition that route and event handlers change (they run between waits)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, reason
        page.wait_for_timeout(50)


class RouteGate:
    """A route handler that holds requests until it is opened, then lets all through.

    Held routes are released by the gate, not by unrouting: once its handler
    is removed, a held route can no longer be continued ("Route is already
    handled").
    """

    def __init__(self) -> None:
        self.held: list[Any] = []
        self.is_open = False

    def __call__(self, route: Any) -> None:
        if self.is_open:
            route.continue_()
        else:
            self.held.append(route)

    def open(self) -> None:
        self.is_open = True
        while self.held:
            self.held.pop(0).continue_()


def is_interact_post(request: Any) -> bool:
    return request.method == "POST" and urlsplit(request.url).path == "/interact"
