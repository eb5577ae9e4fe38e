"""Logs and metrics for the function handlers: Powertools on Lambda, readable lines locally.

Why this exists: the Lambda runtime installs a root log handler (level WARNING)
before the handler module is imported, so ``logging.basicConfig`` is a no-op
there and every INFO line of the core was dropped.  Here a Powertools
``Logger`` owns the handler (JSON on Lambda, with the request id and cold-start
flag once the context is injected; one readable line per record elsewhere),
and the ``recsys`` and ``functions`` logger trees write through it with
propagation off, so nothing is printed twice whatever the runtime installed.

Metrics are CloudWatch embedded-metric-format (EMF) lines, flushed at the end
of each invocation.  Off Lambda (uvicorn, the local scheduler, tests) they are
not recorded: there is no CloudWatch to read them.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

NAMESPACE = "Recsys"
# Logger trees of this project; each is pointed at the function's handler.
PROJECT_LOGGERS = {"recsys", "functions"}

Handler = TypeVar("Handler", bound=Callable[..., Any])

__all__ = ["MetricUnit", "Observability", "on_lambda"]


def on_lambda() -> bool:
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ


class ReadableFormatter(LambdaPowertoolsFormatter):
    """One line per record for a terminal; the structured keys stay available on Lambda."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.formatTime(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class Observability:
    """The logger and metrics of one function; ``instrument`` wraps its Lambda handler."""

    def __init__(self, service: str) -> None:
        self.service = service
        level = os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("AWS_LAMBDA_LOG_LEVEL")
        self.logger = Logger(
            service=service,
            level=level or "INFO",
            logger_formatter=None if on_lambda() else ReadableFormatter(),
        )
        for name in PROJECT_LOGGERS:
            logging.getLogger(name)  # registered now, so the copy below finds it
        copy_config_to_registered_loggers(source_logger=self.logger, include=PROJECT_LOGGERS)
        self.metrics = Metrics(namespace=NAMESPACE, service=service)

    def count(self, name: str, value: float, unit: MetricUnit = MetricUnit.Count) -> None:
        """Record a metric for this invocation (a no-op off Lambda)."""
        if on_lambda():
            self.metrics.add_metric(name=name, unit=unit, value=value)

    def instrument(self, handler: Handler) -> Handler:
        """Inject the Lambda context into every log line and flush metrics after each call."""
        if not on_lambda():
            return handler
        wrapped = self.metrics.log_metrics(self.logger.inject_lambda_context(handler))
        return functools.wraps(handler)(wrapped)  # type: ignore[return-value]
