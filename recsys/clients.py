"""Client factories: one place that turns Settings into Redis, RabbitMQ and storage clients.

``Clients`` opens each client on first use and keeps it for the life of the
process, which on Lambda means it is reused across warm invocations.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from recsys.adapters.broker import Broker
from recsys.adapters.eventlog import EventLog
from recsys.adapters.serving_cache import ServingCache
from recsys.adapters.storage import ObjectStore, open_store
from recsys.settings import Settings

if TYPE_CHECKING:
    from recsys.adapters.publisher import Publisher


class Clients:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def cache(self) -> ServingCache:
        return ServingCache.from_settings(self.settings)

    @cached_property
    def broker(self) -> Broker:
        return Broker(
            self.settings.rabbitmq_url,
            self.settings.queue_name,
            self.settings.dependency_timeout_s,
        )

    @cached_property
    def publisher(self) -> Publisher:
        """Confirmed publishing for the API (many requests in flight at once)."""
        # Imported here: only the API functions publish, and only their zips hold aio-pika.
        from recsys.adapters.publisher import Publisher

        return Publisher(
            self.settings.rabbitmq_url,
            self.settings.queue_name,
            self.settings.dependency_timeout_s,
        )

    @cached_property
    def event_log(self) -> EventLog:
        return EventLog(self._open(self.settings.event_log_uri))

    @cached_property
    def artifacts(self) -> ObjectStore:
        return self._open(self.settings.artifact_uri)

    def _open(self, uri: str) -> ObjectStore:
        return open_store(
            uri, endpoint_url=self.settings.s3_endpoint_url, region=self.settings.aws_region
        )

    def close(self) -> None:
        if "broker" in self.__dict__:
            self.broker.close()
        if "publisher" in self.__dict__:
            self.publisher.close()
        if "cache" in self.__dict__:
            self.cache.close()
