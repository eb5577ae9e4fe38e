"""Validation of POST /interact beyond its JSON shape.

Returns every problem at once, each with a location and a reason, so a client
can fix its request in one go.  Nothing is published unless this list is empty.
"""

from __future__ import annotations

from dataclasses import dataclass

from recsys.domain.errors import InvalidRequest
from recsys.domain.events import ID_PATTERN, InteractionRequest


@dataclass(frozen=True)
class Problem:
    loc: tuple[str | int, ...]
    msg: str

    def as_dict(self) -> dict[str, object]:
        return {"loc": ["body", *self.loc], "msg": self.msg, "type": "value_error"}


def check_id(value: str, max_length: int) -> str | None:
    """The reason an id is malformed, or None when it is fine."""
    if not value:
        return "must not be empty"
    if len(value) > max_length:
        return f"longer than {max_length} characters"
    if not ID_PATTERN.match(value):
        return "may hold only letters, digits and _ . : @ - and must start with a letter or digit"
    return None


def require_id(value: str, max_length: int, *, loc: tuple[str, str]) -> None:
    """Raise InvalidRequest (a 422) at ``loc``, e.g. ("path", "user_id"), unless the id is fine."""
    reason = check_id(value, max_length)
    if reason:
        raise InvalidRequest.at(*loc, msg=f"{loc[-1]} {reason}")


def check_shape(
    request: InteractionRequest, *, max_batch: int, max_id_length: int
) -> list[Problem]:
    problems: list[Problem] = []
    reason = check_id(request.user_id, max_id_length)
    if reason:
        problems.append(Problem(("user_id",), f"user_id {reason}"))
    if len(request.item_ids) != len(request.actions):
        problems.append(
            Problem(
                ("actions",),
                f"item_ids has {len(request.item_ids)} entries but actions has "
                f"{len(request.actions)}; they must be the same length",
            )
        )
    if len(request.item_ids) > max_batch:
        problems.append(
            Problem(
                ("item_ids",),
                f"at most {max_batch} events per request, got {len(request.item_ids)}",
            )
        )
    for index, item_id in enumerate(request.item_ids):
        reason = check_id(item_id, max_id_length)
        if reason:
            problems.append(Problem(("item_ids", index), f"item id {item_id[:80]!r} {reason}"))
    return problems


def check_known(item_ids: list[str], known: list[bool]) -> list[Problem]:
    return [
        Problem(("item_ids", index), f"unknown item {item_id!r}: not in the catalogue")
        for index, (item_id, is_known) in enumerate(zip(item_ids, known, strict=True))
        if not is_known
    ]
