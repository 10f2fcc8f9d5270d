"""How several annotations of one item resolve into one label.

Rule: the latest adjudication wins; otherwise each annotator's latest annotation is their
vote (an undo withdraws it), the majority label wins, and a tie goes to the label voted
most recently. Imports vote as one annotator.
"""

from collections.abc import Iterable
from dataclasses import dataclass

RULE = "adjudicated>majority>latest"


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


def resolve(votes: Iterable[Vote]) -> Resolved:
    """Resolve one item's annotations, given in ascending annotation id order."""
    latest: dict[str, Vote] = {}
    adjudication: Vote | None = None
    for vote in votes:
        if vote.origin == "adjudication":
            adjudication = vote
        else:
            latest.pop(vote.voter, None)  # re-insert so dict order is vote order
            latest[vote.voter] = vote
    live = [v for v in latest.values() if v.label_id is not None]
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
