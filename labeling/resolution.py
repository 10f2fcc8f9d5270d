"""How several annotations of one item resolve into one label.

Rule: the latest adjudication wins; otherwise each annotator's latest annotation is their
vote (an undo withdraws it), the majority label wins, and a tie goes to the label voted
most recently. Imports vote as one annotator.
"""

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import TypeVar

RULE = "adjudicated>majority>latest"
V = TypeVar("V")


@dataclass(frozen=True)
class Vote:
    annotation_id: int
    voter: str  # user id, or "import"
    label_id: int | None
    origin: str


@dataclass(frozen=True)
class Resolved:
    label_id: int | None
    origin: str  # origin of the deciding annotation, "" when unlabeled
    label_count: int  # live votes
    deciding_id: int | None  # the annotation that decided the label
    voters: tuple[str, ...]  # who holds a live vote, in order of their vote
    disputed: bool = False  # live votes name more than one label


def live_votes(
    votes: Iterable[V],
    voter: Callable[[V], Hashable] = lambda v: v.voter,
    label: Callable[[V], object] = lambda v: v.label_id,
) -> list[V]:
    """Each voter's latest annotation, in the order of those latest annotations, if it has a label.

    The one home of "an annotator's vote": a later annotation replaces an earlier one, and an
    undo (no label) withdraws it. `votes` come in ascending annotation id order; the resolved
    label (`resolve`), the adjudication queue and the team's agreement all read votes this way.
    """
    latest: dict[Hashable, V] = {}
    for vote in votes:
        key = voter(vote)
        latest.pop(key, None)  # re-insert so dict order is vote order
        latest[key] = vote
    return [v for v in latest.values() if label(v) is not None]


def resolve(votes: Iterable[Vote]) -> Resolved:
    """Resolve one item's annotations, given in ascending annotation id order."""
    adjudication: Vote | None = None
    others: list[Vote] = []
    for vote in votes:
        if vote.origin == "adjudication":
            adjudication = vote
        else:
            others.append(vote)
    live = live_votes(others)
    voters = tuple(v.voter for v in live)
    disputed = len({v.label_id for v in live}) > 1
    if adjudication is not None and adjudication.label_id is not None:
        return Resolved(
            adjudication.label_id,
            adjudication.origin,
            len(live),
            adjudication.annotation_id,
            voters,
            disputed,
        )
    if not live:
        return Resolved(None, "", 0, None, ())
    tally: dict[int, list[Vote]] = {}
    for vote in live:
        tally.setdefault(vote.label_id, []).append(vote)
    # Most votes first; among equals, the label whose latest vote is newest.
    winner = max(tally.values(), key=lambda vs: (len(vs), max(v.annotation_id for v in vs)))
    deciding = max(winner, key=lambda v: v.annotation_id)
    return Resolved(deciding.label_id, deciding.origin, len(live), deciding.annotation_id, voters, disputed)
