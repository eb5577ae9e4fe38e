"""The static web page: deploy it to an S3 website bucket, or serve it locally.

The page (``frontend_static/``) is plain HTML, CSS and JavaScript.  The only
thing that differs between environments is ``config.js``, which tells the page
where the two APIs live; both paths below write it from the given URLs instead
of using the file in the folder.

- ``deploy_site``: upload the site to a bucket (LocalStack or AWS), enable
  website hosting, and make exactly the uploaded files publicly readable.
- ``make_server`` / ``serve_in_thread``: serve the folder over HTTP (``:8000``
  in the local runner) with a generated ``config.js``.

Command line::

    recsys deploy-page --bucket B --interact-url URL --recs-url URL
    recsys serve-page --port 8000

No web framework here: the standard library's HTTP server is enough.
"""

from __future__ import annotations

import argparse
import json
import logging
import mimetypes
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from recsys.settings import Settings

log = logging.getLogger(__name__)

SITE_DIR = Path(__file__).resolve().parent.parent / "frontend_static"
CONFIG_NAME = "config.js"
INDEX_DOCUMENT = "index.html"
# The API URLs' one home is Settings (RECSYS_INTERACT_URL / RECSYS_RECS_URL).
DEFAULT_INTERACT_URL = Settings.model_fields["interact_url"].default
DEFAULT_RECS_URL = Settings.model_fields["recs_url"].default

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}
# HTML and config.js change with every deploy: browsers revalidate them.
# Scripts and styles may be cached briefly.
NO_CACHE = "no-cache"
SHORT_CACHE = "public, max-age=300"

# Regions whose website endpoint uses "s3-website-<region>" (the others use a dot).
_DASH_WEBSITE_REGIONS = {
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "eu-west-1",
    "sa-east-1",
    "us-gov-west-1",
}


# --------------------------------------------------------------------- config


def _check_api_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name} must be an absolute http(s) URL, got {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"{name} must not have a query or fragment: {url!r}")
    return url.rstrip("/")


def render_config(interact_url: str, recs_url: str) -> str:
    """The text of ``config.js`` for the given API base URLs."""
    config = {
        "interactUrl": _check_api_url("interact_url", interact_url),
        "recsUrl": _check_api_url("recs_url", recs_url),
    }
    # json.dumps escapes quotes; "</" is escaped too so the value can never
    # close a <script> element if someone inlines the file.
    body = json.dumps(config, indent=2).replace("</", "<\\/")
    return (
        "// Written by devtools.site from settings; do not edit the deployed copy.\n"
        f"window.RECSYS_CONFIG = {body};\n"
    )


# ---------------------------------------------------------------------- files


def content_type(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(str(path))
    return guessed or "application/octet-stream"


def cache_control(key: str) -> str:
    return NO_CACHE if key.endswith(".html") or key == CONFIG_NAME else SHORT_CACHE


def site_files(site_dir: str | Path = SITE_DIR) -> list[str]:
    """Relative keys of the files to publish: no dotfiles, no config.js (generated)."""
    root = Path(site_dir)
    if not (root / INDEX_DOCUMENT).is_file():
        raise FileNotFoundError(f"{root} has no {INDEX_DOCUMENT}")
    keys = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        key = rel.as_posix()
        if key != CONFIG_NAME:
            keys.append(key)
    return keys


# --------------------------------------------------------------------- deploy


@dataclass(frozen=True)
class DeployResult:
    bucket: str
    keys: list[str] = field(default_factory=list)
    url: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"bucket": self.bucket, "keys": self.keys, "url": self.url}


def website_url(bucket: str, *, region: str, endpoint_url: str | None = None) -> str:
    """Where the page is served from once deployed.

    On LocalStack (any non-AWS endpoint) that is the path-style object URL of
    index.html; on AWS it is the bucket's website endpoint.
    """
    if endpoint_url and "amazonaws.com" not in endpoint_url:
        return f"{endpoint_url.rstrip('/')}/{bucket}/{INDEX_DOCUMENT}"
    sep = "-" if region in _DASH_WEBSITE_REGIONS else "."
    return f"http://{bucket}.s3-website{sep}{region}.amazonaws.com/"


def public_read_policy(bucket: str, keys: Sequence[str]) -> dict[str, Any]:
    """Anyone may GET the site's own files; nothing else (no listing, no other keys)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublicReadSiteFiles",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": [f"arn:aws:s3:::{bucket}/{key}" for key in keys],
            }
        ],
    }


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def ensure_bucket(s3_client: Any, bucket: str) -> bool:
    """Create the bucket unless it exists; returns True if it was created."""
    try:
        s3_client.head_bucket(Bucket=bucket)
        return False
    except Exception as exc:
        if _error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
    region = s3_client.meta.region_name or "us-east-1"
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3_client.create_bucket(**kwargs)
    except Exception as exc:
        if _error_code(exc) != "BucketAlreadyOwnedByYou":
            raise
        return False
    return True


def deploy_site(
    s3_client: Any,
    bucket: str,
    interact_url: str,
    recs_url: str,
    site_dir: str | Path = SITE_DIR,
    *,
    create_bucket: bool = True,
    public: bool = True,
) -> DeployResult:
    """Upload the site to ``bucket`` with a ``config.js`` for the given API URLs.

    Enables website hosting (index and error document: index.html).  With
    ``public`` (the default) it lifts only the public-*policy* blocks of the
    bucket's Block Public Access (public ACLs stay blocked) and sets a policy
    that lets anyone read exactly the uploaded files.  Pass ``public=False``
    when the bucket's policy is managed elsewhere (for example by
    ``template.yaml``).  Idempotent: deploying again overwrites the files.
    """
    config_js = render_config(interact_url, recs_url)
    root = Path(site_dir)
    keys = site_files(root)
    if create_bucket:
        ensure_bucket(s3_client, bucket)

    # Assets first, then config.js, then the HTML pages: a visitor mid-deploy
    # never gets a page that refers to a file not uploaded yet.
    pages = [k for k in keys if k.endswith(".html")]
    assets = [k for k in keys if not k.endswith(".html")]
    for key in assets:
        _put(s3_client, bucket, key, (root / key).read_bytes())
    _put(s3_client, bucket, CONFIG_NAME, config_js.encode())
    for key in pages:
        _put(s3_client, bucket, key, (root / key).read_bytes())
    published = [*assets, CONFIG_NAME, *pages]

    s3_client.put_bucket_website(
        Bucket=bucket,
        WebsiteConfiguration={
            "IndexDocument": {"Suffix": INDEX_DOCUMENT},
            "ErrorDocument": {"Key": INDEX_DOCUMENT},
        },
    )
    if public:
        s3_client.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": False,
                "RestrictPublicBuckets": False,
            },
        )
        s3_client.put_bucket_policy(
            Bucket=bucket, Policy=json.dumps(public_read_policy(bucket, sorted(published)))
        )

    region = s3_client.meta.region_name or "us-east-1"
    url = website_url(bucket, region=region, endpoint_url=s3_client.meta.endpoint_url)
    log.info("deployed %d files to s3://%s (%s)", len(published), bucket, url)
    return DeployResult(bucket=bucket, keys=published, url=url)


def _put(s3_client: Any, bucket: str, key: str, body: bytes) -> None:
    s3_client.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentType=content_type(key),
        CacheControl=cache_control(key),
    )


# ---------------------------------------------------------------------- serve


class _SiteHandler(SimpleHTTPRequestHandler):
    """Serves the site folder; ``/config.js`` comes from memory, not from disk."""

    config_js: bytes = b""

    def _config_requested(self) -> bool:
        return urlsplit(self.path).path == "/" + CONFIG_NAME

    def do_GET(self) -> None:
        if self._config_requested():
            self._send_config(head=False)
        else:
            super().do_GET()

    def do_HEAD(self) -> None:
        if self._config_requested():
            self._send_config(head=True)
        else:
            super().do_HEAD()

    def _send_config(self, *, head: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPES[".js"])
        self.send_header("Content-Length", str(len(self.config_js)))
        self.send_header("Cache-Control", NO_CACHE)
        self.end_headers()
        if not head:
            self.wfile.write(self.config_js)

    def end_headers(self) -> None:
        if not self._config_requested():
            self.send_header("Cache-Control", NO_CACHE)
        super().end_headers()

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        return content_type(path)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


def make_server(
    site_dir: str | Path = SITE_DIR,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    interact_url: str = DEFAULT_INTERACT_URL,
    recs_url: str = DEFAULT_RECS_URL,
) -> ThreadingHTTPServer:
    """An HTTP server for the site (port 0 picks a free port); call serve_forever()."""
    root = Path(site_dir).resolve()
    if not (root / INDEX_DOCUMENT).is_file():
        raise FileNotFoundError(f"{root} has no {INDEX_DOCUMENT}")
    handler_class = type(
        "SiteHandler",
        (_SiteHandler,),
        {"config_js": render_config(interact_url, recs_url).encode()},
    )
    server = ThreadingHTTPServer((host, port), partial(handler_class, directory=str(root)))
    server.daemon_threads = True
    return server


def serve_in_thread(
    site_dir: str | Path = SITE_DIR,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    interact_url: str = DEFAULT_INTERACT_URL,
    recs_url: str = DEFAULT_RECS_URL,
) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; stop with ``server.shutdown()``."""
    server = make_server(
        site_dir, host=host, port=port, interact_url=interact_url, recs_url=recs_url
    )
    thread = threading.Thread(target=server.serve_forever, name="frontend", daemon=True)
    thread.start()
    return server


def server_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}/"


# ------------------------------------------------------------------------ CLI


def add_deploy_arguments(deploy: argparse.ArgumentParser) -> None:
    deploy.add_argument("--bucket", required=True)
    deploy.add_argument("--interact-url", help="default: RECSYS_INTERACT_URL")
    deploy.add_argument("--recs-url", help="default: RECSYS_RECS_URL")
    deploy.add_argument(
        "--endpoint-url", help="S3 endpoint (LocalStack); default: RECSYS_S3_ENDPOINT_URL"
    )
    deploy.add_argument("--region", help="default: RECSYS_AWS_REGION")
    deploy.add_argument("--site-dir", default=str(SITE_DIR))
    deploy.add_argument(
        "--no-public-policy",
        dest="public",
        action="store_false",
        help="leave the bucket policy alone (managed elsewhere, e.g. template.yaml)",
    )


def add_serve_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--interact-url")
    serve.add_argument("--recs-url")
    serve.add_argument("--site-dir", default=str(SITE_DIR))


def deploy(args: argparse.Namespace, settings: Settings) -> int:
    from recsys.adapters.storage import s3_client

    client = s3_client(
        args.endpoint_url or settings.s3_endpoint_url, args.region or settings.aws_region
    )
    result = deploy_site(
        client,
        args.bucket,
        args.interact_url or settings.interact_url,
        args.recs_url or settings.recs_url,
        args.site_dir,
        public=args.public,
    )
    print(json.dumps(result.as_dict(), indent=2))
    return 0


def serve(args: argparse.Namespace, settings: Settings) -> int:
    interact_url = args.interact_url or settings.interact_url
    recs_url = args.recs_url or settings.recs_url
    server = make_server(
        args.site_dir,
        host=args.host,
        port=args.port,
        interact_url=interact_url,
        recs_url=recs_url,
    )
    print(f"Serving {args.site_dir} on {server_url(server)} (APIs: {interact_url}, {recs_url})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
