"""The taste check: what a person sees after a few clicks, measured through the functions.

For each MovieLens genre, a new user ("persona") likes that genre's 5
most-liked films, one click at a time, through ``POST /interact``; then
``GET /recs`` answers.  Measured on that answer (the real-time path: recent
likes and their neighbours) and again after the popularity job has drained
the clicks and the train job has retrained (the personal path):

- genre share: the share of the top n that carries the persona's genre;
- honest "because": of the items labelled "because X", the share that has a
  genre other than Drama and Comedy in common with X;
- duplicate titles: answers holding two items with the same title and year.

The driver is given the two HTTP functions as callables (``Api``), so this
module holds no web-framework code; ``devtools.evaluate`` drives the
real FastAPI apps in process, on the real Redis and RabbitMQ, under a key
prefix and queue of its own, which it deletes afterwards.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from recsys.adapters import movielens
from recsys.domain.events import natural_key
from recsys.training.similarity import GENERIC_GENRES

N_LIKES = 5
TOP_N = 12


class Api(Protocol):
    def like(self, user_id: str, item_id: str) -> None: ...

    def recs(self, user_id: str, n: int) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Persona:
    genre: str
    user_id: str
    likes: list[str]


@dataclass(frozen=True)
class Answer:
    """One /recs answer, judged against the persona's genre."""

    genre_share: float
    because_total: int
    because_specific: int
    duplicate_titles: int

    @classmethod
    def judge(
        cls, body: Mapping[str, Any], genre: str, catalogue: Mapping[str, Mapping[str, Any]]
    ) -> Answer:
        items = body["items"]
        ids = [item["item_id"] for item in items]

        def genres(item_id: str) -> set[str]:
            return set(catalogue.get(item_id, {}).get("genres") or [])

        in_genre = sum(1 for i in ids if genre in genres(i))
        because = [item for item in items if item.get("because")]
        specific = sum(
            1
            for item in because
            if (genres(item["item_id"]) & genres(item["because"])) - GENERIC_GENRES
        )
        films = Counter(movielens.film_key(dict(catalogue.get(i, {"title": i}))) for i in ids)
        return cls(
            genre_share=in_genre / len(ids) if ids else 0.0,
            because_total=len(because),
            because_specific=specific,
            duplicate_titles=1 if any(count > 1 for count in films.values()) else 0,
        )


@dataclass
class PhaseResult:
    """Every persona's answer at one moment (after the likes, or after a retrain)."""

    name: str
    answers: dict[str, Answer] = field(default_factory=dict)

    @property
    def mean_genre_share(self) -> float:
        shares = [a.genre_share for a in self.answers.values()]
        return sum(shares) / len(shares) if shares else 0.0

    @property
    def because_total(self) -> int:
        return sum(a.because_total for a in self.answers.values())

    @property
    def because_specific_share(self) -> float | None:
        total = self.because_total
        if not total:
            return None
        return sum(a.because_specific for a in self.answers.values()) / total

    @property
    def duplicate_answers(self) -> int:
        return sum(a.duplicate_titles for a in self.answers.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "mean_genre_share": self.mean_genre_share,
            "because_items": self.because_total,
            "because_share_specific_genre": self.because_specific_share,
            "answers_with_duplicate_title": self.duplicate_answers,
            "genre_share": {g: a.genre_share for g, a in self.answers.items()},
        }


@dataclass
class TasteReport:
    personas: list[Persona]
    phases: list[PhaseResult]
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "protocol": f"a new user likes a genre's {N_LIKES} most-liked films one at a time "
            f"through POST /interact; GET /recs top {TOP_N}",
            "personas": {p.genre: p.likes for p in self.personas},
            "phases": {phase.name: phase.as_dict() for phase in self.phases},
            "seconds": self.seconds,
        }


def make_personas(
    ratings: Sequence[movielens.Rating],
    catalogue: Mapping[str, Mapping[str, Any]],
    *,
    genres: Sequence[str] | None = None,
    prefix: str = "taste-",
) -> list[Persona]:
    """One persona per genre, liking its N_LIKES most-liked films (most-liked first)."""
    likes: Counter[str] = Counter(r.item_id for r in ratings if r.action == "like")
    wanted = genres or [g for g in movielens.GENRES if g != "unknown"]
    personas = []
    for genre in wanted:
        films = [i for i in catalogue if genre in (catalogue[i].get("genres") or [])]
        films.sort(key=lambda i: (-likes[i], natural_key(i)))
        if len(films) >= N_LIKES:
            slug = "".join(c for c in genre.lower() if c.isalnum())
            personas.append(Persona(genre, f"{prefix}{slug}", films[:N_LIKES]))
    return personas


def like(api: Api, personas: Sequence[Persona], start: int, stop: int) -> None:
    """Each persona likes its films start..stop-1, one click (one request) at a time."""
    for persona in personas:
        for item_id in persona.likes[start:stop]:
            api.like(persona.user_id, item_id)


def measure(
    name: str,
    api: Api,
    personas: Sequence[Persona],
    catalogue: Mapping[str, Mapping[str, Any]],
) -> PhaseResult:
    phase = PhaseResult(name)
    for persona in personas:
        body = api.recs(persona.user_id, TOP_N)
        phase.answers[persona.genre] = Answer.judge(body, persona.genre, catalogue)
    return phase


StepFn = Callable[[str], None]


def format_table(report: TasteReport) -> str:
    names = [phase.name for phase in report.phases]
    width = max(12, *(len(n) for n in names))
    header = f"{'genre':<12} " + " ".join(f"{n:>{width}}" for n in names)
    lines = [
        f"Taste check: {len(report.personas)} new users, each likes a genre's "
        f"{N_LIKES} most-liked films through POST /interact; share of that genre "
        f"in GET /recs top {TOP_N}",
        header,
        "-" * len(header),
    ]
    for persona in report.personas:
        cells = [phase.answers[persona.genre].genre_share for phase in report.phases]
        lines.append(f"{persona.genre:<12} " + " ".join(f"{c:>{width}.2f}" for c in cells))
    lines.append("-" * len(header))
    lines.append(
        f"{'mean':<12} " + " ".join(f"{p.mean_genre_share:>{width}.3f}" for p in report.phases)
    )

    def share(phase: PhaseResult) -> str:
        value = phase.because_specific_share
        return "-" if value is None else f"{value:.3f} of {phase.because_total}"

    lines.append(f"{'because ok':<12} " + " ".join(f"{share(p):>{width}}" for p in report.phases))
    lines.append(
        f"{'dup titles':<12} " + " ".join(f"{p.duplicate_answers:>{width}}" for p in report.phases)
    )
    lines.append(
        '("because ok": share of "because X" items with a genre other than Drama/Comedy in '
        'common with X; "dup titles": answers holding one film twice)'
    )
    return "\n".join(lines)
