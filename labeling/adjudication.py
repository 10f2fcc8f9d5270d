"""The admins' two queues: items whose annotators disagree, and items an annotator flagged.

Adjudicating is one more annotation (origin "adjudication"), so nothing is overwritten and
the resolution rule (adjudicated > majority > latest) lets it decide the item's label. A
flagged item is served to nobody until an admin resolves the flag: by deciding its label,
or by sending it back to the queue.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, Min
from django.utils import timezone

from labeling.models import Annotation, Item, Label, Origin, Project, Skip
from labeling.resolution import live_votes
from labeling.services import save_annotation


class NoOpenFlags(ValueError):
    """The item has no flag waiting for an admin."""


@dataclass(frozen=True)
class Vote:
    username: str
    label: str
    created_at: object


@dataclass
class ReviewItem:
    """An item in one of the admin queues, with what the annotators said about it."""

    item: Item
    votes: list[Vote] = field(default_factory=list)
    flags: list[Skip] = field(default_factory=list)


def count_conflicts(project: Project) -> int:
    return project.items.filter(conflict=True).count()


def list_conflicts(project: Project, limit: int = 50) -> list[ReviewItem]:
    """Items whose annotators disagree and that no admin has adjudicated, oldest first."""
    items = list(project.items.filter(conflict=True).order_by("pk")[:limit])
    return _with_votes(items)


def send_to_adjudication(item_ids: list[int]) -> int:
    """Put items in the disagreement queue (an admin's "send to adjudication"); return how many
    were not in it already. An item leaves it when an admin adjudicates it, or when a later
    vote on it leaves its annotators agreeing (the queue holds what still needs a decision)."""
    with transaction.atomic():
        return Item.objects.filter(pk__in=item_ids, conflict=False).update(conflict=True)


def adjudicate_item(
    item: Item, user: AbstractBaseUser, label: Label, client_id: uuid.UUID | None = None
) -> Annotation:
    """Decide the item's final label; this also closes any open flag on it."""
    with transaction.atomic():
        annotation, _ = save_annotation(item, user, label, origin=Origin.ADJUDICATION, client_id=client_id)
        _open_flags(item).update(resolved_at=timezone.now(), resolved_by=user)
    return annotation


def count_open_flags(project: Project) -> int:
    flags = Skip.objects.filter(item__project=project, flagged=True, resolved_at=None)
    return flags.values("item").distinct().count()


def list_open_flags(project: Project, limit: int = 50) -> list[ReviewItem]:
    """Flagged items waiting for an admin, the longest-waiting first, with every open flag."""
    waiting = (
        Skip.objects.filter(item__project=project, flagged=True, resolved_at=None)
        .values("item")
        .annotate(first=Min("created_at"), n=Count("pk"))
        .order_by("first", "item")[:limit]
    )
    item_ids = [row["item"] for row in waiting]
    items = Item.objects.in_bulk(item_ids)
    flags = Skip.objects.filter(item_id__in=item_ids, flagged=True, resolved_at=None).select_related("user")
    reviews = _with_votes([items[pk] for pk in item_ids])
    by_item = {review.item.pk: review for review in reviews}
    for flag in flags.order_by("created_at"):
        by_item[flag.item_id].flags.append(flag)
    return reviews


def resolve_flags(item: Item, user: AbstractBaseUser, label: Label | None = None) -> int:
    """Close the item's open flags: with a label, adjudicate it; without, return it to the queue.

    Returns how many flags were closed; raises NoOpenFlags when there were none.
    """
    with transaction.atomic():
        # Lock the item so that two admins resolving it at once do not both adjudicate.
        Item.objects.select_for_update().get(pk=item.pk)
        closed = _open_flags(item).update(resolved_at=timezone.now(), resolved_by=user)
        if closed == 0:
            raise NoOpenFlags(f"Item {item.external_id!r} has no open flag.")
        if label is not None:
            save_annotation(item, user, label, origin=Origin.ADJUDICATION)
    return closed


def _open_flags(item: Item):
    return Skip.objects.filter(item=item, flagged=True, resolved_at=None)


def _with_votes(items: Iterable[Item]) -> list[ReviewItem]:
    """Attach each annotator's latest live label (human annotations only) to each item."""
    reviews = {item.pk: ReviewItem(item) for item in items}
    rows = (
        Annotation.objects.filter(item_id__in=list(reviews), origin=Origin.HUMAN)
        .order_by("pk")
        .values_list("item_id", "user__username", "label__name", "created_at")
    )
    by_item: dict[int, list[Vote]] = {}
    for item_id, username, label, created_at in rows:
        by_item.setdefault(item_id, []).append(Vote(username, label, created_at))
    for item_id, votes in by_item.items():
        reviews[item_id].votes = live_votes(votes, voter=lambda v: v.username, label=lambda v: v.label)
    return list(reviews.values())
