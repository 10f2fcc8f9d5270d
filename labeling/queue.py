"""Which item an annotator labels next, and the lease that keeps it theirs for a while.

Sources, in order: with `overlap` above 1, items that have some but not all of their
labels (so that items reach their overlap, and agreement can be measured, before new
ones are started); a random unlabeled test item (a `test_fraction` share of requests,
until the project has `test_target` labeled test items); the active ranking, best first;
the rest of the pool in random order; at last any unlabeled test item. An item is
eligible for a user while it still needs labels (`overlap`), the user has not labeled
or recently skipped it, nobody's flag on it awaits an admin, and other annotators' live
leases leave room for them.

The model's suggestion travels with the lease. It is never shown on a test item; to keep
test items indistinguishable it is also withheld on a fixed random share of pool items
(`suggestion_withhold_share`), and it is not shown below `suggestion_threshold`. A
second opinion never shows one either: it is there to check the first label independently.
"""

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeling import counters
from labeling.models import Annotation, Item, Label, Lease, Origin, Project, QueueEntry, Skip, Split
from labeling.splits import withholds_suggestion

_MAX_LOCK_ATTEMPTS = 20
RANKED_PAGE = 100
RANDOM_REASON = "Picked at random."
# Test items, and pool items whose suggestion is hidden, are served with the same words and
# no strategy: a ranker's reason could give the model's guess away ("torn between X (60%)
# and Y"), and a test item must look like any item labeled without a suggestion.
UNAIDED_REASON = "No suggestion on this one: label it on your own."
OVERLAP_REASON = "A second opinion: another annotator labeled it, and this project wants {n} labels per item."


class LeaseLimitReached(Exception):
    """The annotator holds SIFT_MAX_LEASES live leases in the project and asked for one more."""

    def __init__(self, held: list[int]):
        self.held = held
        super().__init__(
            f"You hold {len(held)} items already, the most one annotator may hold at once: label or "
            "skip one of them (or ask again without excluding them) before taking another."
        )


@dataclass(frozen=True)
class Served:
    item: Item
    strategy: str
    score: float | None
    model_ref: str
    reason: str
    suggested_label: Label | None
    suggestion_confidence: float | None

    @classmethod
    def from_lease(cls, lease: Lease) -> "Served":
        return cls(
            lease.item,
            lease.strategy,
            lease.score,
            lease.model_ref,
            lease.reason,
            lease.suggested_label,
            lease.suggestion_confidence,
        )


def serve_next_item(
    project: Project, user: AbstractBaseUser, exclude: Iterable[int] = (), rng: random.Random | None = None
) -> Served | None:
    """Lease the next item to `user` and return it with why it was chosen, or None.

    An item the user already holds (and did not list in `exclude`) is served again, so a
    reload does not burn items; `exclude` lets the page prefetch the one after. Raises
    LeaseLimitReached when that would make the user hold more than SIFT_MAX_LEASES items.
    """
    rng = rng or random.Random()
    now = timezone.now()
    with transaction.atomic():
        held = (
            Lease.objects.filter(item__project=project, user=user, expires_at__gt=now)
            .exclude(item_id__in=list(exclude))
            .select_related("item", "suggested_label")
            .order_by("created_at")
            .first()
        )
        if held is not None:
            held.expires_at = now + timedelta(seconds=settings.SIFT_LEASE_SECONDS)
            held.save(update_fields=["expires_at"])
            return Served.from_lease(held)
        _check_lease_limit(project, user, now)
        eligible = _eligible_items(project, user, now).exclude(pk__in=list(exclude))

        def among(ids: list[int]) -> QuerySet[Item]:
            # No condition an index of the items other than the primary key could serve (no
            # project, `<>` for the split): the plan can only look the page's ids up.
            ids_only = Item.objects.filter(pk__in=ids).exclude(split=Split.TEST)
            return _eligible_items(project, user, now, ids_only).exclude(pk__in=list(exclude))

        for source in _sources(project, eligible, rng, among):
            served = _lease_first(source, project, user, now)
            if served is not None:
                return served
    return None


def _check_lease_limit(project: Project, user: AbstractBaseUser, now: datetime) -> None:
    # Without a cap, one client asking again and again with every held item in `exclude`
    # leases the whole pool, and the rest of the team gets 204 for the lease's lifetime.
    held = list(
        Lease.objects.filter(item__project=project, user=user, expires_at__gt=now)
        .order_by("created_at")
        .values_list("item_id", flat=True)
    )
    if len(held) >= settings.SIFT_MAX_LEASES:
        raise LeaseLimitReached(held)


def _eligible_items(
    project: Project, user: AbstractBaseUser, now: datetime, items: QuerySet[Item] | None = None
) -> QuerySet[Item]:
    """The project's items (or `items`, already of the project) that `user` may be served now.

    `label_count < overlap` follows from the `held` condition; it is written out only for
    the project's items, where the (project, split, label_count) index can use it.
    """
    others_leases = (
        Lease.objects.filter(item=OuterRef("pk"), expires_at__gt=now)
        .exclude(user=user)
        .order_by()
        .values("item")
        .annotate(n=Count("pk"))
        .values("n")
    )
    recent_skips = Skip.objects.filter(
        item=OuterRef("pk"),
        user=user,
        created_at__gt=now - timedelta(seconds=settings.SIFT_SKIP_COOLDOWN_SECONDS),
    )
    items = (
        (Item.objects.filter(project=project, label_count__lt=project.overlap) if items is None else items)
        .exclude(label_origin__in=[Origin.IMPORT, Origin.ADJUDICATION])
        .annotate(held=Coalesce(Subquery(others_leases), 0))
        .filter(held__lt=Value(project.overlap) - F("label_count"))
        .exclude(Exists(recent_skips))
        .exclude(Exists(Skip.objects.filter(item=OuterRef("pk"), flagged=True, resolved_at=None)))
    )
    if project.overlap > 1:
        items = items.exclude(Exists(Annotation.objects.filter(item=OuterRef("pk"), user=user)))
    return items


def _sources(
    project: Project,
    eligible: QuerySet[Item],
    rng: random.Random,
    among: Callable[[list[int]], QuerySet[Item]],
) -> Iterator[tuple[str, Iterable[QuerySet[Item]]]]:
    """Yield (kind, candidate querysets) in the order they should be tried."""
    test = eligible.filter(split=Split.TEST)
    pool = eligible.filter(split=Split.POOL)
    if project.overlap > 1:
        yield "overlap", _random_order(eligible.filter(label_count__gt=0), rng)
    if rng.random() < project.test_fraction and _needs_test_labels(project):
        yield "test", _random_order(test, rng)
    if project.active_ranking_id is not None:
        yield "ranked", _ranked_pages(project.active_ranking_id, among)
    yield "pool", _random_order(pool, rng)
    yield "test", _random_order(test, rng)


def _ranked_pages(ranking_id: int, among: Callable[[list[int]], QuerySet[Item]]) -> Iterator[QuerySet[Item]]:
    """The queue, best first, a page of item ids at a time, each looked up by primary key.

    One join of the queue with the items leaves the plan to the planner's statistics:
    right after a bulk load it walked the project's pool index for every queue entry
    (2-5 s per /next at 20,000 items, issue 12). Reading the queue's priority index, then
    the page's items by id (`among`: no project condition, so no other index of the items
    applies), is the only plan either query has.
    """
    after: tuple[float, int] | None = None
    while True:
        entries = QueueEntry.objects.filter(ranking_id=ranking_id)
        if after is not None:
            priority, pk = after
            entries = entries.filter(Q(priority__lt=priority) | Q(priority=priority, pk__gt=pk))
        page = list(
            entries.order_by("-priority", "pk").values_list("item_id", "priority", "pk")[:RANKED_PAGE]
        )
        if not page:
            return
        ids = [item_id for item_id, _, _ in page]
        # Which of the page's items are open, in one query; then each open one, best first,
        # is locked on its own (by primary key) and checked again under the lock.
        open_ids = set(among(ids).values_list("pk", flat=True))
        for item_id in ids:
            if item_id in open_ids:
                yield Item.objects.filter(pk=item_id)
        if len(page) < RANKED_PAGE:
            return
        after = page[-1][1:]


def _needs_test_labels(project: Project) -> bool:
    # From the counters kept with every label (labeling/counters.py): a COUNT(*) of the
    # labeled test items took 0.8-1.5 s at 1M items without statistics (issue 12).
    return counters.labeled(project, Split.TEST) < project.test_target


def _random_order(items: QuerySet[Item], rng: random.Random) -> list[QuerySet[Item]]:
    # Start at a random point of the precomputed random order and wrap around: uniform
    # enough, and served by an index instead of ORDER BY RANDOM() over the whole table.
    start = rng.random()
    return [
        items.filter(rand_key__gte=start).order_by("rand_key"),
        items.filter(rand_key__lt=start).order_by("rand_key"),
    ]


def _lease_first(
    source: tuple[str, Iterable[QuerySet[Item]]], project: Project, user: AbstractBaseUser, now: datetime
) -> Served | None:
    kind, querysets = source
    for queryset in querysets:
        for _ in range(_MAX_LOCK_ATTEMPTS):
            # SKIP LOCKED: an item another annotator is being handed right now is passed
            # over instead of waited for. Once we hold the row lock, whoever held it
            # before has committed, so the fresh check below sees their lease.
            item = queryset.select_for_update(skip_locked=True, of=("self",)).first()
            if item is None:
                break
            if _eligible_items(project, user, now, Item.objects.filter(pk=item.pk)).exists():
                return _lease(item, user, now, kind, project)
    return None


def _lease(item: Item, user: AbstractBaseUser, now: datetime, kind: str, project: Project) -> Served:
    entry = None
    if kind == "ranked":
        entry = (
            QueueEntry.objects.filter(ranking_id=project.active_ranking_id, item=item)
            .select_related("ranking", "suggested_label")
            .first()
        )
    shown = entry if entry is not None and shows_suggestion(project, item, entry.confidence) else None
    reason = entry.reason if entry else RANDOM_REASON
    # Before the first model every item is picked at random and none has a suggestion, so
    # a test item reads "Picked at random" like the rest; once pool items come with the
    # model's reasons, a test item reads like a pool item whose suggestion is withheld.
    blinded = item.split == Split.TEST and project.active_ranking_id is not None
    if (entry is not None and shown is None) or blinded:
        reason = UNAIDED_REASON
    if kind == "overlap":
        reason = OVERLAP_REASON.format(n=project.overlap)
    lease, _ = Lease.objects.update_or_create(
        item=item,
        user=user,
        defaults={
            "expires_at": now + timedelta(seconds=settings.SIFT_LEASE_SECONDS),
            "created_at": now,
            "strategy": entry.strategy if entry else "overlap" if kind == "overlap" else "random",
            "score": entry.score if entry else None,
            "model_ref": entry.ranking.model_ref if entry else "",
            "reason": reason,
            "predicted_label": entry.suggested_label if entry else None,
            "suggested_label": shown.suggested_label if shown else None,
            "suggestion_confidence": shown.confidence if shown else None,
        },
    )
    lease.item = item
    return Served.from_lease(lease)


def shows_suggestion(project: Project, item: Item, confidence: float | None) -> bool:
    """Whether the model's suggestion for `item` may be shown to an annotator."""
    # Never on a test item: it would bias the labels that judge the model.
    if item.split != Split.POOL or confidence is None:
        return False
    # The audit sample of live predictions measures the model: labeled unaided, like the test set.
    if item.origin == Origin.AUDIT:
        return False
    if confidence < project.suggestion_threshold:
        return False
    return not withholds_suggestion(project.seed, item.external_id, project.suggestion_withhold_share)
