"""Bulk actions of the items browser: one service function per action, one transaction each.

A selection is either chosen ids or a whole filtered result (labeling/item_browser.py's
filters), so the Items page and POST /api/v1/projects/{id}/items/bulk act on the same rows.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import CharField, DateTimeField, Exists, IntegerField, OuterRef, QuerySet, Value
from django.utils import timezone

from labeling import adjudication, counters, item_browser
from labeling.models import (
    Annotation,
    BulkAction,
    Collection,
    Item,
    Label,
    Origin,
    Project,
    QueueEntry,
    Skip,
    Split,
)
from labeling.resolution import Vote, resolve
from labeling.signals import labels_added

# One request's work stays bounded (a few seconds here); larger selections go in parts.
MAX_BULK_ITEMS = 10_000


class SelectionRejected(ValueError):
    """The selection names items outside the project, or is too large for one action."""


def select_items(
    project: Project,
    user: AbstractBaseUser,
    *,
    ids: list[int] | None,
    filters: dict | None,
    include_test: bool = True,
) -> QuerySet[Item]:
    """The admin's selection: the given ids (all of this project) or every item the filters pass.

    `include_test=False` leaves the test items out (bulk labeling does unless asked).
    """
    if ids is not None:
        found = Item.objects.filter(project=project, pk__in=ids)
        if found.count() != len(set(ids)):
            raise SelectionRejected("Some of the ids are not items of this project; nothing was changed.")
    else:
        found = item_browser.filter_items(project, user, filters or {}, admin=True)
    return found if include_test else found.filter(split=Split.POOL)


def _bounded_ids(items: QuerySet[Item], what: str) -> list[int]:
    ids = list(items.order_by("pk").values_list("pk", flat=True)[: MAX_BULK_ITEMS + 1])
    if len(ids) > MAX_BULK_ITEMS:
        raise SelectionRejected(
            f"The selection holds more than {MAX_BULK_ITEMS:,} items to {what}; narrow the filters."
        )
    return ids


def label_items(
    project: Project,
    items: QuerySet[Item],
    user: AbstractBaseUser,
    label: Label,
    *,
    include_test: bool = False,
) -> BulkAction:
    """Give every selected item `label` as one bulk action: annotations of origin "bulk" by the admin.

    Each is the admin's vote (a later vote of theirs replaces it; other annotators' votes
    still count). Items whose live vote by this admin is already `label` are left alone.
    One transaction: the items are locked, the annotations inserted and the resolved labels
    recomputed together, so a failure anywhere changes nothing.
    """
    with transaction.atomic():
        ids = _bounded_ids(items, "label")
        if not include_test and Item.objects.filter(pk__in=ids, split=Split.TEST).exists():
            raise SelectionRejected(
                "The selection holds test items; include them explicitly or leave them out."
            )
        before = _lock(ids)
        votes = _votes(ids)
        voter = str(user.pk)
        todo = [pk for pk in ids if _live_label(votes.get(pk, []), voter) != label.pk]
        action = BulkAction.objects.create(
            project=project,
            user=user,
            kind=BulkAction.Kind.LABEL,
            label=label,
            include_test=include_test,
            selected=len(ids),
            changed=len(todo),
        )
        _insert_annotations(todo, user.pk, label.pk, action.pk)
        after = _refresh_labels(todo)
        counters.record_annotations(
            project.pk, ((before[pk][0], before[pk][1], after[pk], label.pk) for pk in todo)
        )
        if todo:
            labels_added.send(sender=Project, project=project, count=len(todo))
    return action


def revert_labels(action: BulkAction, user: AbstractBaseUser) -> int:
    """Take back a bulk label as one action; return on how many items it was withdrawn.

    Append-only: each bulk annotation that is still its admin's latest vote on the item gets
    a withdrawal after it (label null, origin "bulk"). An item the admin relabeled since
    keeps that later label.
    """
    with transaction.atomic():
        action = BulkAction.objects.select_for_update().get(pk=action.pk)
        if action.kind != BulkAction.Kind.LABEL or action.reverted_at is not None:
            raise SelectionRejected("Only a bulk label that was not reverted yet can be reverted.")
        ids = sorted(set(action.annotations.values_list("item_id", flat=True)))
        before = _lock(ids)
        # Each item's latest non-adjudication annotation by the admin, and its bulk action.
        mine = Annotation.objects.filter(item_id__in=ids, user=action.user).exclude(
            origin=Origin.ADJUDICATION
        )
        latest = dict(mine.order_by("pk").values_list("item_id", "bulk_action"))
        undo = [pk for pk in ids if latest.get(pk) == action.pk]
        _insert_annotations(undo, action.user_id, None, action.pk)
        after = _refresh_labels(undo)
        counters.record_annotations(
            action.project_id, ((before[pk][0], before[pk][1], after[pk], None) for pk in undo)
        )
        action.reverted_at, action.reverted_by = timezone.now(), user
        action.save(update_fields=["reverted_at", "reverted_by"])
    return len(undo)


def _lock(ids: list[int]) -> dict[int, tuple[str, int | None]]:
    """Lock the items in id order (no deadlock between two bulk actions); their (split, label) before."""
    rows = Item.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    return {pk: (split, label_id) for pk, split, label_id in rows.values_list("pk", "split", "label_id")}


def _insert_annotations(ids: list[int], user_id: int, label_id: int | None, action_id: int) -> None:
    """One INSERT ... SELECT for the bulk annotations of `ids`, not one ORM object per row
    (10,000 of those took most of an 18 s bulk label at 1M items)."""
    if not ids:
        return
    table = Annotation._meta.db_table
    rows = (
        Item.objects.filter(pk__in=ids)
        .order_by("pk")
        .values_list(
            "pk",
            Value(user_id, output_field=IntegerField()),
            Value(label_id, output_field=IntegerField()),
            Value(Origin.BULK, output_field=CharField()),
            Value("", output_field=CharField()),
            Value("", output_field=CharField()),
            Value(action_id, output_field=IntegerField()),
            Value(timezone.now(), output_field=DateTimeField()),
        )
    )
    select, params = rows.query.sql_with_params()
    columns = "item_id, user_id, label_id, origin, model_ref, strategy, bulk_action_id, created_at"
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) {select}", params)


def _votes(ids: list[int]) -> dict[int, list[Vote]]:
    votes: dict[int, list[Vote]] = {}
    rows = Annotation.objects.filter(item_id__in=ids).order_by("pk")
    for pk, item_id, user_id, label_id, origin in rows.values_list(
        "pk", "item_id", "user_id", "label_id", "origin"
    ):
        voter = "import" if origin == Origin.IMPORT else str(user_id)
        votes.setdefault(item_id, []).append(Vote(pk, voter, label_id, origin))
    return votes


def _live_label(votes: list[Vote], voter: str) -> int | None:
    mine = [v for v in votes if v.voter == voter and v.origin != Origin.ADJUDICATION]
    return mine[-1].label_id if mine else None


def _refresh_labels(ids: list[int]) -> dict[int, int | None]:
    """labeling.services.refresh_item_label for many locked items: one read, then one UPDATE
    per distinct outcome (a bulk label gives nearly all items the same one). Django's
    bulk_update writes a CASE per row and field instead: 70 s for 10,000 items here.
    Returns each item's resolved label now."""
    now = timezone.now()
    votes = _votes(ids)
    outcomes: dict[tuple, list[int]] = {}
    for pk in ids:
        resolved = resolve(votes.get(pk, []))
        conflict = resolved.disputed and resolved.origin != Origin.ADJUDICATION
        key = (resolved.label_id, resolved.origin, resolved.label_count, conflict, resolved.disputed)
        outcomes.setdefault(key, []).append(pk)
    for (label_id, origin, count, conflict, disputed), pks in outcomes.items():
        Item.objects.filter(pk__in=pks).update(
            label_id=label_id,
            label_origin=origin,
            label_count=count,
            conflict=conflict,
            disputed=disputed,
            last_labeled_at=now,
        )
    return {pk: label_id for (label_id, *_), pks in outcomes.items() for pk in pks}


def skip_items(project: Project, items: QuerySet[Item], user: AbstractBaseUser) -> BulkAction:
    """Take the items out of the active queue: they are served after every ranked item, in
    random order, until the next retrain ranks the pool again."""
    with transaction.atomic():
        ids = _bounded_ids(items, "skip")
        removed, _ = QueueEntry.objects.filter(ranking_id=project.active_ranking_id, item_id__in=ids).delete()
        return BulkAction.objects.create(
            project=project, user=user, kind=BulkAction.Kind.SKIP, selected=len(ids), changed=removed
        )


def collect_items(project: Project, items: QuerySet[Item], user: AbstractBaseUser, name: str) -> BulkAction:
    """Add the items to the project's collection `name` (made on first use)."""
    with transaction.atomic():
        ids = _bounded_ids(items, "collect")
        collection, _ = Collection.objects.get_or_create(
            project=project, name=name, defaults={"created_by": user}
        )
        through = Collection.items.through
        held = set(
            through.objects.filter(collection=collection, item_id__in=ids).values_list("item_id", flat=True)
        )
        new = [pk for pk in ids if pk not in held]
        through.objects.bulk_create(through(collection=collection, item_id=pk) for pk in new)
        return BulkAction.objects.create(
            project=project,
            user=user,
            kind=BulkAction.Kind.COLLECT,
            collection=collection,
            selected=len(ids),
            changed=len(new),
        )


def adjudicate_items(items: QuerySet[Item]) -> int:
    """Send the selected items to the admins' disagreement queue; return how many joined it."""
    return adjudication.send_to_adjudication(_bounded_ids(items, "send to adjudication"))


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
