"""Bulk actions of the items browser: one service function per action, one transaction each.

A selection is either chosen ids or a whole filtered result (labeling/item_browser.py's
filters), so the Items page and POST /api/v1/projects/{id}/items/bulk act on the same rows.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from labeling import item_browser
from labeling.models import Item, Project, Skip

# One request's work stays bounded (a few seconds here); larger selections go in parts.
MAX_BULK_ITEMS = 10_000


class SelectionRejected(ValueError):
    """The selection names items outside the project, or is too large for one action."""


def select_items(
    project: Project, user: AbstractBaseUser, *, ids: list[int] | None, filters: dict | None
) -> QuerySet[Item]:
    """The admin's selection: the given ids (all of this project) or every item the filters pass."""
    if ids is not None:
        found = Item.objects.filter(project=project, pk__in=ids)
        if found.count() != len(set(ids)):
            raise SelectionRejected("Some of the ids are not items of this project; nothing was changed.")
        return found
    return item_browser.filter_items(project, user, filters or {}, admin=True)


def flag_items(items: QuerySet[Item], user: AbstractBaseUser, comment: str = "") -> int:
    """Flag every selected item without an open flag; return how many were flagged.

    A flagged item is served to nobody until an admin resolves it on the Flagged page.
    """
    with transaction.atomic():
        ids = list(
            items.exclude(Exists(Skip.objects.filter(item=OuterRef("pk"), flagged=True, resolved_at=None)))
            .order_by("pk")
            .values_list("pk", flat=True)[: MAX_BULK_ITEMS + 1]
        )
        if len(ids) > MAX_BULK_ITEMS:
            raise SelectionRejected(
                f"The selection holds more than {MAX_BULK_ITEMS:,} items to flag; narrow the filters."
            )
        # No row lock: two admins flagging at once may give an item two open flags, which
        # is harmless (resolving an item closes all of its open flags).
        Skip.objects.bulk_create(Skip(item_id=pk, user=user, flagged=True, comment=comment) for pk in ids)
    return len(ids)
