"""What the team's labels say about the team: agreement, speed, and trust in the model.

Every figure is computed from the append-only annotations, from each annotator's latest
label per item (a withdrawn label is no vote). Imports and adjudications are not
annotators: agreement is between people labeling independently.
"""

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import combinations

from django.contrib.auth import get_user_model
from django.utils import timezone

from labeling.agreement import cohen_kappa, fleiss_kappa, krippendorff_alpha, label_agreement
from labeling.models import Annotation, Origin, Project
from labeling.resolution import live_votes

# A label given after more than this long on one item counts as this long: the annotator
# was away, and one coffee break should not halve their items per hour.
MAX_COUNTED_MS = 5 * 60 * 1000


@dataclass
class _Record:
    annotation_id: int
    item_id: int
    label_id: int | None
    duration_ms: int | None
    suggested_label_id: int | None
    created_at: datetime


@dataclass
class _Votes:
    """Latest human label per (item, user), and the project's adjudicated labels."""

    by_item: dict[int, dict[int, int]] = field(default_factory=dict)  # item -> user -> label
    records: dict[int, list[_Record]] = field(default_factory=lambda: defaultdict(list))  # user -> all
    adjudicated: dict[int, int] = field(default_factory=dict)  # item -> label
    final: dict[int, int | None] = field(default_factory=dict)  # item -> resolved label


_RECORD_FIELDS = (
    "pk",
    "item_id",
    "user_id",
    "label_id",
    "origin",
    "duration_ms",
    "suggested_label_id",
    "created_at",
)


def _load_votes(project: Project) -> _Votes:
    votes = _Votes()
    human: list[tuple[int, _Record]] = []
    rows = (
        Annotation.objects.filter(item__project=project, origin__in=[Origin.HUMAN, Origin.ADJUDICATION])
        .order_by("pk")
        .values_list(*_RECORD_FIELDS)
    )
    for pk, item_id, user_id, label_id, origin, duration_ms, suggested, created_at in rows.iterator(5000):
        if origin == Origin.ADJUDICATION:
            if label_id is None:
                votes.adjudicated.pop(item_id, None)
            else:
                votes.adjudicated[item_id] = label_id
            continue
        record = _Record(pk, item_id, label_id, duration_ms, suggested, created_at)
        votes.records[user_id].append(record)
        human.append((user_id, record))
    for user_id, record in live_votes(
        human, voter=lambda v: (v[1].item_id, v[0]), label=lambda v: v[1].label_id
    ):
        votes.by_item.setdefault(record.item_id, {})[user_id] = record.label_id
    votes.final = dict(project.items.filter(pk__in=list(votes.by_item)).values_list("pk", "label_id"))
    return votes


def _names(user_ids: Iterable[int]) -> dict[int, str]:
    return dict(get_user_model().objects.filter(pk__in=list(user_ids)).values_list("pk", "username"))


def get_agreement_report(project: Project, only_pairs_with: int | None = None) -> dict:
    """Project-wide and pairwise agreement, and the labels annotators disagree on most.

    `only_pairs_with`: a user id; list only the pairs that include this annotator.
    """
    votes = _load_votes(project)
    labels = dict(project.labels.values_list("pk", "name"))
    shared = {item: by_user for item, by_user in votes.by_item.items() if len(by_user) >= 2}
    units = [list(by_user.values()) for by_user in shared.values()]
    names = _names({u for by_user in shared.values() for u in by_user})
    return {
        "items_compared": len(units),
        "annotators": len(names),
        "krippendorff_alpha": _rounded(krippendorff_alpha(units)),
        "fleiss_kappa": _fleiss(units, list(labels)),
        "pairs": _pairs(shared, names, only_pairs_with),
        "labels": [
            {
                "label": labels[row.label],
                "ratings": round(row.pairable, 2),
                "agreement": round(row.agreement, 4),
                "confused_with": labels.get(row.confused_with),
                "confused_share": round(row.confused_share, 4),
            }
            for row in label_agreement(units)
        ],
        "open_conflicts": project.items.filter(conflict=True).count(),
    }


def _pairs(shared: dict[int, dict[int, int]], names: dict[int, str], only_with: int | None) -> list[dict]:
    together: dict[tuple[int, int], tuple[list[int], list[int]]] = {}
    for by_user in shared.values():
        for a, b in combinations(sorted(by_user), 2):
            if only_with is not None and only_with not in (a, b):
                continue
            first, second = together.setdefault((a, b), ([], []))
            first.append(by_user[a])
            second.append(by_user[b])
    pairs = []
    for (a, b), (first, second) in together.items():
        matches = sum(x == y for x, y in zip(first, second, strict=True))
        pairs.append(
            {
                "annotators": [names[a], names[b]],
                "items": len(first),
                "agreement": round(matches / len(first), 4),
                "cohen_kappa": _rounded(cohen_kappa(first, second)),
            }
        )
    pairs.sort(key=lambda p: (-p["items"], p["annotators"]))
    return pairs


def _fleiss(units: list[list[int]], label_ids: list[int]) -> dict | None:
    """Fleiss' kappa over the items rated by the most common number of annotators."""
    if not units:
        return None
    raters = statistics.mode(len(unit) for unit in units)
    table = [[unit.count(label) for label in label_ids] for unit in units if len(unit) == raters]
    return {"value": _rounded(fleiss_kappa(table)), "items": len(table), "raters_per_item": raters}


def get_annotator_stats(project: Project) -> list[dict]:
    """Per annotator: output, speed, and how their labels compare with others' and with adjudications."""
    votes = _load_votes(project)
    names = _names(votes.records)
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    result = []
    for user_id, records in votes.records.items():
        labeled = [r for r in records if r.label_id is not None]
        latest = {r.item_id: r for r in records}
        durations = [min(r.duration_ms, MAX_COUNTED_MS) for r in labeled if r.duration_ms is not None]
        mine = {item: by_user[user_id] for item, by_user in votes.by_item.items() if user_id in by_user}
        result.append(
            {
                "username": names[user_id],
                "items": len(mine),
                "today": sum(1 for r in latest.values() if r.label_id is not None and r.created_at >= today),
                "median_seconds": round(statistics.median(durations) / 1000, 1) if durations else None,
                "items_per_hour": _per_hour(durations),
                "agreement_with_others": _share_matching(
                    (label, other)
                    for item, label in mine.items()
                    for other_user, other in votes.by_item[item].items()
                    if other_user != user_id
                ),
                "agreement_with_adjudication": _share_matching(
                    (label, votes.adjudicated[item])
                    for item, label in mine.items()
                    if item in votes.adjudicated
                ),
                "suggestions": _suggestion_use(records, votes.final),
            }
        )
    result.sort(key=lambda row: (-row["items"], row["username"]))
    return result


def _per_hour(durations: list[int]) -> float | None:
    mean = statistics.mean(durations) if durations else 0
    return round(3_600_000 / mean, 1) if mean > 0 else None


def _share_matching(pairs: Iterable[tuple[int, int]]) -> dict:
    pairs = list(pairs)
    return {"n": len(pairs), "share": _ratio(sum(a == b for a, b in pairs), len(pairs))}


def _suggestion_use(records: list[_Record], final: dict[int, int | None]) -> dict:
    """How often a shown suggestion was accepted, and how often an accepted one was overruled.

    Overruled: the accepted label is still the annotator's vote, but the item's final label
    (decided by an adjudication or by the other annotators' majority) is another one.
    """
    latest = {r.item_id: r for r in records}
    shown = [r for r in records if r.label_id is not None and r.suggested_label_id is not None]
    accepted = [r for r in shown if r.label_id == r.suggested_label_id]
    overruled = [
        r for r in accepted if latest[r.item_id] is r and final.get(r.item_id) not in (None, r.label_id)
    ]
    return {
        "shown": len(shown),
        "accepted": len(accepted),
        "acceptance_rate": _ratio(len(accepted), len(shown)),
        "overruled": len(overruled),
        "overruled_rate": _ratio(len(overruled), len(accepted)),
    }


def get_suggestion_stats(project: Project) -> dict:
    """The project's acceptance of model suggestions, and how often accepting was a mistake."""
    votes = _load_votes(project)
    totals = {"shown": 0, "accepted": 0, "overruled": 0}
    for records in votes.records.values():
        use = _suggestion_use(records, votes.final)
        for key in totals:
            totals[key] += use[key]
    return {
        **totals,
        "acceptance_rate": _ratio(totals["accepted"], totals["shown"]),
        "overruled_rate": _ratio(totals["overruled"], totals["accepted"]),
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
