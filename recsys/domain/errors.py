"""Errors the core raises and the adapters turn into HTTP answers."""

from __future__ import annotations


class DependencyUnavailable(RuntimeError):
    """A service we depend on (Redis, RabbitMQ, S3) did not answer in time: 503."""

    def __init__(self, dependency: str, reason: str) -> None:
        super().__init__(f"{dependency} is unavailable: {reason}")
        self.dependency = dependency
        self.reason = reason


class InvalidRequest(ValueError):
    """The request is well-formed JSON but breaks a rule: 422 with every problem."""

    def __init__(self, problems: list[dict[str, object]]) -> None:
        super().__init__("; ".join(str(p["msg"]) for p in problems))
        self.problems = problems

    @classmethod
    def at(cls, *loc: str | int, msg: str) -> InvalidRequest:
        """One problem at one place, in the shape of FastAPI's own 422 entries."""
        return cls([{"loc": list(loc), "msg": msg, "type": "value_error"}])
