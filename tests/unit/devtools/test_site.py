"""devtools.site without S3: config.js, the file list, the local server, the deploy order."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools import site as frontend
from devtools.cli import build_parser
from devtools.site import (
    SITE_DIR,
    cache_control,
    content_type,
    deploy_site,
    make_server,
    public_read_policy,
    render_config,
    serve_in_thread,
    server_url,
    site_files,
    website_url,
)


def parse_config(text: str) -> dict[str, Any]:
    match = re.search(r"window\.RECSYS_CONFIG = (\{.*\});", text, re.S)
    assert match, text
    config: dict[str, Any] = json.loads(match.group(1))
    return config


# --------------------------------------------------------------------- config.js


def test_render_config_holds_both_urls_without_trailing_slash() -> None:
    text = render_config("http://api.example:5000/", "https://recs.example/prod/")
    assert parse_config(text) == {
        "interactUrl": "http://api.example:5000",
        "recsUrl": "https://recs.example/prod",
    }


@pytest.mark.parametrize(
    "url",
    ["", "api.example", "ftp://api.example", "javascript:alert(1)", "http://a.example/?x=1"],
)
def test_render_config_rejects_urls_that_are_not_plain_http(url: str) -> None:
    with pytest.raises(ValueError):
        render_config(url, "http://127.0.0.1:5001")


def test_render_config_cannot_close_a_script_element() -> None:
    text = render_config("http://a.example/</script><script>x", "http://127.0.0.1:5001")
    assert "</script>" not in text
    assert parse_config(text.replace("<\\/", "</"))["interactUrl"].endswith("<script>x")


def test_default_config_js_matches_the_local_runner() -> None:
    shipped = (SITE_DIR / "config.js").read_text()
    urls = dict(re.findall(r'(\w+Url): "([^"]+)"', shipped))
    assert urls == {"interactUrl": "http://127.0.0.1:5000", "recsUrl": "http://127.0.0.1:5001"}


# ------------------------------------------------------------------------ files


def test_site_has_the_pages_and_no_cdn() -> None:
    keys = site_files(SITE_DIR)
    assert {"index.html", "stats.html", "app.js", "stats.js", "common.js", "styles.css"} <= set(
        keys
    )
    assert "config.js" not in keys  # always generated
    for key in keys:
        text = (SITE_DIR / key).read_text()
        # Only relative references: the page works from a bucket path and offline.
        for ref in re.findall(r'(?:src|href)="([^"]+)"', text):
            assert not ref.startswith(("http://", "https://", "//", "/")) or ref.startswith(
                ("https://www.imdb.com", "https://grouplens.org")
            ), f"{key} refers to {ref}"
        assert "@import" not in text


def test_site_files_skips_dotfiles_and_needs_an_index(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "config.js").write_text("// local")
    (tmp_path / ".DS_Store").write_text("")
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "logo.svg").write_text("<svg/>")
    assert site_files(tmp_path) == ["img/logo.svg", "index.html"]
    (tmp_path / "index.html").unlink()
    with pytest.raises(FileNotFoundError):
        site_files(tmp_path)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("styles.css", "text/css; charset=utf-8"),
        ("img/logo.svg", "image/svg+xml"),
        ("data.bin", "application/octet-stream"),
    ],
)
def test_content_types(key: str, expected: str) -> None:
    assert content_type(key) == expected


def test_pages_and_config_are_revalidated_assets_cached_briefly() -> None:
    assert cache_control("index.html") == "no-cache"
    assert cache_control("config.js") == "no-cache"
    assert cache_control("app.js").startswith("public, max-age=")


def test_website_url_for_localstack_and_aws() -> None:
    assert (
        website_url("site", region="us-east-1", endpoint_url="http://127.0.0.1:4566")
        == "http://127.0.0.1:4566/site/index.html"
    )
    assert (
        website_url("site", region="us-east-1", endpoint_url="https://s3.amazonaws.com")
        == "http://site.s3-website-us-east-1.amazonaws.com/"
    )
    assert (
        website_url("site", region="eu-central-1", endpoint_url=None)
        == "http://site.s3-website.eu-central-1.amazonaws.com/"
    )


def test_public_read_policy_covers_only_the_given_keys() -> None:
    policy = public_read_policy("site", ["index.html", "app.js"])
    [statement] = policy["Statement"]
    assert statement["Action"] == "s3:GetObject"
    assert statement["Principal"] == "*"
    assert statement["Resource"] == ["arn:aws:s3:::site/index.html", "arn:aws:s3:::site/app.js"]


# ------------------------------------------------------------------- deploy order


class RecordingS3:
    """Just enough of a boto3 S3 client to see what deploy_site asks for."""

    class Meta:
        region_name = "us-east-1"
        endpoint_url = "http://127.0.0.1:4566"

    meta = Meta()

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(**kwargs: Any) -> dict[str, Any]:
            self.calls.append((name, kwargs))
            return {}

        return call


def test_deploy_uploads_assets_then_config_then_pages() -> None:
    s3 = RecordingS3()
    result = deploy_site(s3, "site", "http://i.example", "http://r.example", SITE_DIR)
    puts = [kwargs for name, kwargs in s3.calls if name == "put_object"]
    order = [p["Key"] for p in puts]
    assert order.index("config.js") > max(
        order.index(k) for k in order if k.endswith(".js") and k != "config.js"
    )
    assert all(k.endswith(".html") for k in order[order.index("config.js") + 1 :])
    config = next(p for p in puts if p["Key"] == "config.js")
    assert parse_config(config["Body"].decode()) == {
        "interactUrl": "http://i.example",
        "recsUrl": "http://r.example",
    }
    assert result.url == "http://127.0.0.1:4566/site/index.html"
    names = [name for name, _ in s3.calls]
    assert names[0] == "head_bucket"
    assert {"put_bucket_website", "put_public_access_block", "put_bucket_policy"} <= set(names)
    policy = json.loads(next(k for n, k in s3.calls if n == "put_bucket_policy")["Policy"])
    assert sorted(policy["Statement"][0]["Resource"]) == sorted(
        f"arn:aws:s3:::site/{key}" for key in result.keys
    )


def test_deploy_can_leave_the_policy_to_someone_else() -> None:
    s3 = RecordingS3()
    deploy_site(s3, "site", "http://i.example", "http://r.example", SITE_DIR, public=False)
    names = {name for name, _ in s3.calls}
    assert "put_bucket_policy" not in names
    assert "put_public_access_block" not in names


# ------------------------------------------------------------------ local server


@pytest.fixture
def served() -> Iterator[str]:
    server = serve_in_thread(
        SITE_DIR,
        host="127.0.0.1",
        port=0,
        interact_url="http://127.0.0.1:6000",
        recs_url="http://127.0.0.1:6001",
    )
    try:
        yield server_url(server)
    finally:
        server.shutdown()
        server.server_close()


def test_local_server_serves_the_site_with_a_generated_config(served: str) -> None:
    index = httpx.get(served, timeout=5)
    assert index.status_code == 200
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert 'id="grid"' in index.text

    config = httpx.get(served + "config.js?v=1", timeout=5)
    assert config.headers["content-type"] == "text/javascript; charset=utf-8"
    assert config.headers["cache-control"] == "no-cache"
    assert parse_config(config.text) == {
        "interactUrl": "http://127.0.0.1:6000",
        "recsUrl": "http://127.0.0.1:6001",
    }
    head = httpx.head(served + "config.js", timeout=5)
    assert head.status_code == 200 and head.content == b""

    assert (
        httpx.get(served + "app.js", timeout=5)
        .headers["content-type"]
        .startswith("text/javascript")
    )
    assert httpx.get(served + "missing.html", timeout=5).status_code == 404


def test_local_server_does_not_serve_outside_the_site(served: str) -> None:
    response = httpx.get(served + "../pyproject.toml", timeout=5)
    assert response.status_code == 404 or "[project]" not in response.text


def test_make_server_needs_a_site(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        make_server(tmp_path, port=0)


def test_cli_parses_deploy_and_serve() -> None:
    parser = build_parser()
    args = parser.parse_args(["deploy-page", "--bucket", "b", "--no-public-policy"])
    assert (args.command, args.bucket, args.public) == ("deploy-page", "b", False)
    assert args.func is frontend.deploy
    args = parser.parse_args(["serve-page", "--port", "0"])
    assert (args.command, args.port, args.func) == ("serve-page", 0, frontend.serve)
