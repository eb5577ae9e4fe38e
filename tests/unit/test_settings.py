import pytest
from pydantic import ValidationError

from recsys.adapters.serving_cache import ServingCache
from recsys.settings import Settings


def test_defaults_fit_a_local_machine(monkeypatch):
    for key in list(__import__("os").environ):
        if key.startswith("RECSYS_"):
            monkeypatch.delenv(key)
    settings = Settings(_env_file=None)
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.queue_name == "user_interactions"
    assert settings.event_log_uri == "data/events"
    assert settings.admin_token is None
    # Building the client does not connect: only the key naming is checked here.
    assert ServingCache.from_settings(settings).seen_key("u1") == "recsys:seen:u1"


def test_environment_overrides_and_cors_origins_as_a_list(monkeypatch):
    monkeypatch.setenv("RECSYS_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("RECSYS_EXPLORATION_RATE", "0.25")
    monkeypatch.setenv("RECSYS_ADMIN_TOKEN", "s3cret")
    settings = Settings(_env_file=None)
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.exploration_rate == 0.25
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_cors_origins_also_accept_json(monkeypatch):
    monkeypatch.setenv("RECSYS_CORS_ORIGINS", '["https://a.example"]')
    assert Settings(_env_file=None).cors_origins == ["https://a.example"]


@pytest.mark.parametrize(
    ("name", "value"), [("exploration_rate", 1.5), ("n_recs", 0), ("max_batch", 0)]
)
def test_out_of_range_values_are_refused(name, value):
    with pytest.raises(ValidationError):
        Settings(_env_file=None, **{name: value})
