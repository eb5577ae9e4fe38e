"""Deploying the page to an S3 website bucket on LocalStack, and reading it back over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devtools.site import SITE_DIR, deploy_site, site_files
from recsys.adapters.storage import s3_client
from tests.localstack import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    return s3_client(s3_endpoint)


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = f"recsys-test-site-{uuid.uuid4().hex[:12]}"
    yield name
    try:
        listed = s3.list_objects_v2(Bucket=name).get("Contents", [])
        if listed:
            s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": o["Key"]} for o in listed]})
        s3.delete_bucket(Bucket=name)
    except s3.exceptions.NoSuchBucket:
        pass


def test_deploy_creates_a_website_bucket_with_the_site_and_its_config(
    s3: Any, bucket: str, s3_endpoint: str
) -> None:
    result = deploy_site(s3, bucket, "http://127.0.0.1:5000", "http://127.0.0.1:5001", SITE_DIR)

    assert result.url == f"{s3_endpoint}/{bucket}/index.html"
    stored = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert stored == sorted([*site_files(SITE_DIR), "config.js"]) == sorted(result.keys)

    website = s3.get_bucket_website(Bucket=bucket)
    assert website["IndexDocument"]["Suffix"] == "index.html"

    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    [statement] = policy["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "s3:GetObject"  # read only: no listing, no writes
    assert sorted(statement["Resource"]) == sorted(
        f"arn:aws:s3:::{bucket}/{key}" for key in result.keys
    )
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block["BlockPublicAcls"] and block["IgnorePublicAcls"]

    head = s3.head_object(Bucket=bucket, Key="app.js")
    assert head["ContentType"] == "text/javascript; charset=utf-8"
    assert head["CacheControl"].startswith("public, max-age=")
    head = s3.head_object(Bucket=bucket, Key="index.html")
    assert head["ContentType"] == "text/html; charset=utf-8"
    assert head["CacheControl"] == "no-cache"

    # Served over plain HTTP, path-style, as the browser will load it.
    page = httpx.get(result.url, timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="config.js">' in page.text
    config = httpx.get(f"{s3_endpoint}/{bucket}/config.js", timeout=10).text
    assert '"interactUrl": "http://127.0.0.1:5000"' in config
    assert '"recsUrl": "http://127.0.0.1:5001"' in config


def test_deploy_again_updates_the_config_in_place(s3: Any, bucket: str, s3_endpoint: str) -> None:
    deploy_site(s3, bucket, "http://127.0.0.1:5000", "http://127.0.0.1:5001", SITE_DIR)
    deploy_site(s3, bucket, "https://interact.example", "https://recs.example", SITE_DIR)
    config = s3.get_object(Bucket=bucket, Key="config.js")["Body"].read().decode()
    assert "https://interact.example" in config and "127.0.0.1" not in config
    assert len(s3.list_objects_v2(Bucket=bucket)["Contents"]) == len(site_files(SITE_DIR)) + 1


def test_deploy_command_line(bucket: str, s3_endpoint: str, s3: Any) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "devtools",
            "deploy-page",
            "--bucket",
            bucket,
            "--interact-url",
            "http://127.0.0.1:5100",
            "--recs-url",
            "http://127.0.0.1:5101",
            "--endpoint-url",
            s3_endpoint,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["bucket"] == bucket
    assert result["url"] == f"{s3_endpoint}/{bucket}/index.html"
    config = s3.get_object(Bucket=bucket, Key="config.js")["Body"].read().decode()
    assert "http://127.0.0.1:5100" in config
