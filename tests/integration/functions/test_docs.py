"""Each API documents itself at /docs and /redoc with assets it serves itself (no CDN)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from functions.interact.app import create_app as create_interact
from functions.recs.app import create_app as create_recs

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("create_app", [create_interact, create_recs])
def test_docs_pages_and_their_assets_are_served_locally(create_app, settings):
    client = TestClient(create_app(settings))
    index = client.get("/")
    assert index.status_code == 200
    assert index.json()["docs"] == "/docs"
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html.text)
        assert assets, html.text
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from another host"
            served = client.get(asset)
            assert served.status_code == 200 and len(served.content) > 10_000, asset
