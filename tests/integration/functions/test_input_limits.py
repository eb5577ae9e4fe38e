"""Input limits before work, on both HTTP functions: 413, 415, NaN 422, capped 422, admin first."""

from __future__ import annotations

import socket
import time

import pytest
from fastapi.testclient import TestClient

from functions.interact.app import create_app as create_interact
from functions.recs.app import create_app as create_recs
from tests.conftest import ADMIN_TOKEN
from tests.faults import serving
from tests.integration.helpers import queue_depth

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
JSON = {"content-type": "application/json"}


@pytest.fixture
def interact(settings, clients, catalogue) -> TestClient:
    return TestClient(create_interact(settings))


@pytest.fixture
def recs(settings, clients, catalogue) -> TestClient:
    return TestClient(create_recs(settings))


NON_FINITE = [
    '{"user_id": NaN, "item_ids": ["50"], "actions": ["like"]}',
    '{"user_id": "u", "item_ids": [Infinity], "actions": ["like"]}',
    '{"user_id": "u", "item_ids": ["50"], "actions": [-Infinity]}',
    '{"user_id": 1e400, "item_ids": ["50"], "actions": ["like"]}',
]


@pytest.mark.parametrize("raw", NON_FINITE)
def test_nan_infinity_and_overflow_give_422_on_interact(interact, settings, raw):
    response = interact.post("/interact", content=raw, headers=JSON)
    assert response.status_code == 422, response.text
    assert "JSON" in response.text
    assert queue_depth(settings.rabbitmq_url, settings.queue_name) == 0


@pytest.mark.parametrize(
    "raw",
    [
        '{"item_ids": [NaN]}',
        '{"items": [{"item_id": "x", "year": Infinity}]}',
        '{"items": [{"item_id": "x", "year": 1e400}]}',
        '{"items": [{"item_id": "x", "year": -Infinity}]}',
    ],
)
def test_nan_infinity_and_overflow_give_422_on_add_items(recs, raw):
    response = recs.post("/add_items", content=raw, headers={**JSON, **AUTH})
    assert response.status_code == 422, response.text


def test_a_body_over_the_cap_gets_413_before_parsing(interact, recs, settings):
    big = b'{"user_id": "u", "item_ids": [' + b'"50",' * 20_000 + b'"50"], "actions": []}'
    assert len(big) > settings.max_body_bytes
    response = interact.post("/interact", content=big, headers=JSON)
    assert response.status_code == 413
    assert str(settings.max_body_bytes) in response.json()["detail"]

    def chunks():  # no Content-Length: counted as it arrives
        yield big[:1000]
        yield big[1000:]

    chunked = interact.post("/interact", content=chunks(), headers=JSON)
    assert chunked.status_code == 413
    # Admin uploads have their own, larger cap.
    assert recs.post("/add_items", content=big, headers={**JSON, **AUTH}).status_code == 422
    huge = b" " * (settings.max_admin_body_bytes + 1)
    assert recs.post("/add_items", content=huge, headers={**JSON, **AUTH}).status_code == 413


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_body_that_is_not_json_gets_415(interact, content_type):
    headers = {"content-type": content_type} if content_type else {}
    body = b'{"user_id": "u", "item_ids": ["50"], "actions": ["like"]}'
    response = interact.post("/interact", content=body, headers=headers)
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


def test_a_422_lists_at_most_the_configured_number_of_problems(interact, settings):
    body = {"user_id": "u", "item_ids": [f"bad id {i}" for i in range(100)], "actions": ["like"]}
    response = interact.post("/interact", json=body)
    assert response.status_code == 422
    content = response.json()
    assert len(content["detail"]) == settings.max_problems
    assert content["more_problems"] == 101 - settings.max_problems
    wrong_types = interact.post(
        "/interact", json={"user_id": "u", "item_ids": list(range(500)), "actions": ["like"]}
    )
    assert wrong_types.status_code == 422
    assert len(wrong_types.json()["detail"]) == settings.max_problems


def test_admin_auth_is_checked_before_the_body_is_read(settings, clients, catalogue):
    """Announce a 48 MB body, send none of it: the refusal comes at once."""
    app = create_recs(settings)
    with serving(app) as url:
        port = int(url.rsplit(":", 1)[1])
        for path, token, expected in [
            ("/add_items", None, b" 401 "),
            ("/add_items", "wrong", b" 403 "),
            ("/cleanup", None, b" 401 "),
        ]:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                auth = f"Authorization: Bearer {token}\r\n" if token else ""
                sock.sendall(
                    (
                        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        f"{auth}Content-Length: {48 * 1024 * 1024}\r\n\r\n"
                    ).encode()
                )
                started = time.monotonic()
                answer = sock.recv(4096)
                assert expected in answer.split(b"\r\n", 1)[0], answer[:200]
                assert time.monotonic() - started < 1.0
        # With the token, the same announcement is over the admin cap: 413, still unread.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(
                (
                    "POST /add_items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    f"Authorization: Bearer {ADMIN_TOKEN}\r\n"
                    f"Content-Length: {48 * 1024 * 1024}\r\n\r\n"
                ).encode()
            )
            assert b" 413 " in sock.recv(4096).split(b"\r\n", 1)[0]
    app.state.clients.close()


def test_cors_headers_come_with_refusals_too(interact):
    response = interact.post(
        "/interact",
        content=b"x",
        headers={"content-type": "text/plain", "Origin": "http://localhost:8000"},
    )
    assert response.status_code == 415
    assert response.headers["access-control-allow-origin"] == "http://localhost:8000"
