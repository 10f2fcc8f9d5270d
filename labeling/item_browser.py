"""The items browser's one query layer: the Items page and the items API both call it.

Filters come from a validated labeling.forms.ItemFilterForm. Pages are keyset pages (the
next page starts after the last row's (sort key, id)), so a page deep into a million items
costs what the first does and rows added meanwhile never shift or repeat a page, as OFFSET
would. Admins see everything; an annotator browses only the items they labeled, and sees
nothing that tells a test item apart (split, resolved label, predictions, flags).
"""

import datetime
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.core import signing
from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    DateTimeField,
    Exists,
    F,
    FilteredRelation,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Length

from labeling.models import Annotation, Item, ItemPrediction, LabelSuspect, Project, QueueEntry, Skip, Split

PAGE_SIZE = 50
# Searches in id order look among this many items first (see _search_in_id_order).
SEARCH_WINDOW = 5000
MAX_PAGE_SIZE = 200
# The same configuration as the GIN index of migration 0007_browse_item_text_indexes.
SEARCH_CONFIG = "simple"
_CURSOR_SALT = "labeling.item_browser.cursor"
# The type of each sort key, for the cursor's value in the keyset condition.
_KEY_FIELDS = {"last_labeled_at": DateTimeField(), "text_length": IntegerField(), "priority": FloatField()}


class BadCursor(ValueError):
    """The cursor was not made by this module for this sort (edited, or from another view)."""


@dataclass(frozen=True)
class Sort:
    key: str  # the annotation holding the sort key; "id" sorts by id alone
    descending: bool


SORTS = {
    "id": Sort("id", descending=False),
    "recent": Sort("last_labeled_at", descending=True),
    "length": Sort("text_length", descending=True),
    "priority": Sort("priority", descending=True),
}


@dataclass
class Page:
    items: list[Item]
    next_cursor: str | None
    previous_cursor: str | None
    admin: bool


def filter_items(project: Project, user: AbstractBaseUser, filters: dict, *, admin: bool) -> QuerySet[Item]:
    """The project's items the user may browse that pass `filters` (an ItemFilterForm's data)."""
    items = Item.objects.filter(project=project).select_related("label", "import_batch")
    if not admin:
        # Only the items they labeled: the pool/test split must not show through what they browse.
        items = items.filter(Exists(Annotation.objects.filter(item=OuterRef("pk"), user=user)))
    items = _text_filters(items, filters)
    items = _label_filters(items, filters)
    items = _prediction_filters(project, items, filters)
    items = _model_view_filters(project, items, filters)
    if filters.get("created_from"):
        items = items.filter(created_at__date__gte=filters["created_from"])
    if filters.get("created_to"):
        items = items.filter(created_at__date__lte=filters["created_to"])
    if filters.get("batch"):
        items = items.filter(import_batch=filters["batch"])
    if filters.get("meta"):
        key, value = filters["meta"]
        items = items.filter(**{f"meta__{key}": value})
    return items


def _text_filters(items: QuerySet[Item], filters: dict) -> QuerySet[Item]:
    words, phrase = filters.get("q", "").split(), filters.get("phrase", "")
    if connection.vendor == "postgresql":
        # The index holds this exact expression: search through it, then let an exact
        # phrase narrow the rows it finds.
        vector = SearchVector("text", config=SEARCH_CONFIG)
        if words:
            query = SearchQuery(" ".join(words), config=SEARCH_CONFIG)
            items = items.alias(document=vector).filter(document=query)
        if phrase.split():
            # Its words, not a tsquery phrase: the index holds no positions, so a phrase
            # query rechecks every candidate row by parsing its text again (1.8 s for "my
            # card" at 1M items); the exact phrase below narrows the rows anyway.
            query = SearchQuery(phrase, config=SEARCH_CONFIG)
            items = items.alias(phrase_document=vector).filter(phrase_document=query)
    else:
        # SQLite: every word somewhere in the text; on whole words, the same rows as above.
        for word in words:
            items = items.filter(text__icontains=word)
    if phrase:
        items = items.filter(text__icontains=phrase)
    return items


def _label_filters(items: QuerySet[Item], filters: dict) -> QuerySet[Item]:
    if filters.get("split"):
        items = items.filter(split=filters["split"])
    if filters.get("state") == "labeled":
        items = items.filter(label__isnull=False)
    elif filters.get("state") == "unlabeled":
        items = items.filter(label__isnull=True)
    if filters.get("label"):
        items = items.filter(label=filters["label"])
    if filters.get("annotator"):
        by_them = Annotation.objects.filter(
            item=OuterRef("pk"), user=filters["annotator"], label__isnull=False
        )
        items = items.filter(Exists(by_them))
    if filters.get("flagged"):
        open_flags = Skip.objects.filter(item=OuterRef("pk"), flagged=True, resolved_at=None)
        items = items.filter(Exists(open_flags))
    if filters.get("skipped"):
        items = items.filter(Exists(Skip.objects.filter(item=OuterRef("pk"), flagged=False)))
    return items


def _prediction_filters(project: Project, items: QuerySet[Item], filters: dict) -> QuerySet[Item]:
    """Filter on the active ranking's guess: only unlabeled pool items have one stored.

    Through the same join as the "priority" sort (one row per ranking and item), so the
    planner can walk the ranking's entries instead of probing a subquery per item."""
    wanted = [filters.get(name) is not None for name in ("predicted", "conf_min", "conf_max")]
    if not any(wanted):
        return items
    items = _join_entry(project, items)
    if filters.get("predicted") is not None:
        items = items.filter(entry__suggested_label=filters["predicted"].pk)
    if filters.get("conf_min") is not None:
        items = items.filter(entry__confidence__gte=filters["conf_min"])
    if filters.get("conf_max") is not None:
        items = items.filter(entry__confidence__lte=filters["conf_max"])
    return items


def _join_entry(project: Project, items: QuerySet[Item]) -> QuerySet[Item]:
    """Join each item's entry in the active ranking as `entry` (once)."""
    if "entry" in items.query._filtered_relations:
        return items
    entry = FilteredRelation(
        "queue_entries", condition=Q(queue_entries__ranking_id=project.active_ranking_id)
    )
    return items.alias(entry=entry)


def _model_view_filters(project: Project, items: QuerySet[Item], filters: dict) -> QuerySet[Item]:
    """The model's view of labeled items: disagreements with the label, between annotators, suspects."""
    if filters.get("disagrees"):
        # The active ranking's model's guess for labeled pool items (learners/ranking.py).
        other = ItemPrediction.objects.filter(
            ranking_id=project.active_ranking_id, item=OuterRef("pk")
        ).exclude(label=OuterRef("label"))
        # `label <> item.label` is never true for an unlabeled item: no separate "label is
        # not null", whose estimate with the recent sort's "last_labeled_at is not null" made
        # the planner hash every labeled item instead of walking item_recent.
        items = items.filter(Exists(other))
    if filters.get("disputed"):
        items = items.filter(disputed=True)
    if filters.get("suspect"):
        # The data-quality page's out-of-fold suspects of the active model, pool only, and
        # only while the label is still the one the model doubted.
        model_ref = project.active_ranking.model_ref if project.active_ranking_id else None
        doubted = LabelSuspect.objects.filter(
            project=project, model_ref=model_ref, item=OuterRef("pk"), given=OuterRef("label")
        )
        items = items.filter(split=Split.POOL).filter(Exists(doubted))
    return items


def _with_sort_key(project: Project, items: QuerySet[Item], sort: str) -> QuerySet[Item]:
    """Annotate the sort key; items without one (never labeled, not queued) drop out of that sort.

    Each sort walks an index in keyset order: `item_recent` (migration 0008), the length
    index of migration 0007, and `queue_priority_item` through a join on the active ranking.
    """
    if sort == "recent":
        return items.filter(last_labeled_at__isnull=False)
    if sort == "length":
        return items.annotate(text_length=Length("text"))
    if sort == "priority":
        items = _join_entry(project, items).annotate(priority=F("entry__priority"))
        return items.filter(priority__isnull=False)
    return items


def browse_items(
    project: Project,
    user: AbstractBaseUser,
    filters: dict,
    *,
    admin: bool,
    cursor: str = "",
    page_size: int = PAGE_SIZE,
) -> Page:
    """One keyset page of the filtered items; raise BadCursor on a cursor this view did not make."""
    sort_name = filters.get("sort") or "id"
    sort = SORTS[sort_name]
    items = _with_sort_key(project, filter_items(project, user, filters, admin=admin), sort_name)
    backwards, after = _decode_cursor(cursor, sort_name) if cursor else (False, None)
    # Walking backwards is the same walk in the opposite order, then reversed.
    descending = sort.descending != backwards
    if after is not None:
        items = items.filter(_after(sort, after, descending))
    order = [_ordered(sort.key, descending)] + ([] if sort.key == "id" else [_ordered("id", descending)])
    if sort.key == "id" and (filters.get("q", "").split() or filters.get("phrase", "").strip()):
        found = _search_in_id_order(project, items, after, descending, page_size + 1)
    else:
        found = list(items.order_by(*order)[: page_size + 1])
    more = len(found) > page_size
    found = found[:page_size]
    if backwards:
        found.reverse()
    has_next, has_previous = (True, more) if backwards else (more, after is not None)
    return Page(
        items=found,
        next_cursor=_encode_cursor(found[-1], sort, sort_name, False) if found and has_next else None,
        previous_cursor=_encode_cursor(found[0], sort, sort_name, True) if found and has_previous else None,
        admin=admin,
    )


def _search_in_id_order(
    project: Project, items: QuerySet[Item], after, descending: bool, n: int
) -> list[Item]:
    """The first `n` search matches in id order: first among the next SEARCH_WINDOW items.

    The planner misjudges how many rows a word matches, and for a common one takes every
    match from the GIN index and sorts them all by id; bounded to a window of ids it walks
    the id index instead, and a common word fills the page there. Otherwise the rest of
    the walk, past the window, is the usual query (the index serves a rare word well).
    """
    order = _ordered("id", descending)
    ahead = Item.objects.filter(project=project)
    if after is not None:
        ahead = ahead.filter(**{f"pk__{'lt' if descending else 'gt'}": after[1]})
    edge = list(ahead.order_by(order).values_list("pk", flat=True)[SEARCH_WINDOW - 1 : SEARCH_WINDOW])
    if not edge:
        return list(items.order_by(order)[:n])
    inside, beyond = ("gte", "lt") if descending else ("lte", "gt")
    found = list(items.filter(**{f"pk__{inside}": edge[0]}).order_by(order)[:n])
    if len(found) < n:
        found += items.filter(**{f"pk__{beyond}": edge[0]}).order_by(order)[: n - len(found)]
    return found


def _ordered(key: str, descending: bool) -> F:
    return F(key).desc() if descending else F(key).asc()


class _Row(Func):
    """A row value `(a, b)`: PostgreSQL and SQLite compare rows lexicographically."""

    template = "(%(expressions)s)"


class _Beyond(Func):
    """`(key, id) < (x, i)` (or `>`): true for the rows past the cursor."""

    template = "%(expressions)s"
    output_field = BooleanField()

    def __init__(self, lhs: Func, rhs: Func, descending: bool):
        super().__init__(lhs, rhs)
        self.arg_joiner = " < " if descending else " > "


def _after(sort: Sort, after: tuple, descending: bool) -> Q | Func:
    """The rows past the cursor's (key, id) in the walk's order, as one row comparison.

    PostgreSQL takes `(key, id) < (x, i)` as the bound of the index walk (item_recent, the
    length index). Written `key < x OR (key = x AND id < i)` it cannot, and filters rows
    while walking from the top instead: 0.75-1.8 s a page deep into 1M items.
    """
    key, pk = after
    if sort.key == "id":
        return Q(**{f"id__{'lt' if descending else 'gt'}": pk})
    field = _KEY_FIELDS[sort.key]
    lhs = _Row(F(sort.key), F("id"), output_field=field)
    rhs = _Row(Value(key, output_field=field), Value(pk, output_field=IntegerField()), output_field=field)
    return _Beyond(lhs, rhs, descending)


def _encode_cursor(item: Item, sort: Sort, sort_name: str, backwards: bool) -> str:
    key = getattr(item, sort.key)
    if isinstance(key, datetime.datetime):
        key = key.isoformat()
    return signing.dumps([sort_name, backwards, key, item.pk], salt=_CURSOR_SALT)


def _decode_cursor(cursor: str, sort_name: str) -> tuple[bool, tuple]:
    try:
        made_for, backwards, key, pk = signing.loads(cursor, salt=_CURSOR_SALT)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise BadCursor("The cursor is not one this list gave out; start again from the first page.") from exc
    if made_for != sort_name:
        raise BadCursor("The cursor belongs to another sort order; start again from the first page.")
    if sort_name == "recent":
        key = datetime.datetime.fromisoformat(key)
    return bool(backwards), (key, pk)


def describe_rows(project: Project, user: AbstractBaseUser, items: list[Item], *, admin: bool) -> list[dict]:
    """Items (with label and import_batch loaded) as plain dicts: what the table, the item
    page, its neighbours and the API show, by role."""
    ids = [item.pk for item in items]
    if admin:
        extras = _admin_extras(project, ids)
        return [_admin_row(item, extras) for item in items]
    mine = _own_labels(user, ids)
    return [{**_common_row(item), "your_label": mine.get(item.pk)} for item in items]


def _common_row(item: Item) -> dict:
    batch = item.import_batch
    return {
        "id": item.pk,
        "external_id": item.external_id,
        "text": item.text,
        "meta": item.meta,
        "created_at": item.created_at,
        "import_batch": {"id": batch.pk, "file_name": batch.file_name} if batch else None,
    }


def _admin_row(item: Item, extras: dict) -> dict:
    prediction = extras["predictions"].get(item.pk)
    guess = extras["labeled_predictions"].get(item.pk)
    return {
        **_common_row(item),
        "split": item.split,
        "label": item.label.name if item.label else None,
        "label_origin": item.label_origin or None,
        "conflict": item.conflict,
        "annotations": extras["annotations"].get(item.pk, 0),
        "open_flags": extras["flags"].get(item.pk, 0),
        "skips": extras["skips"].get(item.pk, 0),
        "predicted_label": prediction.suggested_label.name
        if prediction and prediction.suggested_label
        else (guess.label.name if guess else None),
        "confidence": prediction.confidence if prediction else (guess.confidence if guess else None),
        "priority": prediction.priority if prediction else None,
        "reason": prediction.reason if prediction else None,
    }


def _admin_extras(project: Project, ids: list[int]) -> dict:
    """Counts and predictions for one page's ids: a few small queries, not a join per filter."""

    def counts(rows: QuerySet) -> dict[int, int]:
        return dict(rows.values("item").annotate(n=Count("pk")).values_list("item", "n"))

    skips = Skip.objects.filter(item__in=ids)
    entries = QueueEntry.objects.filter(ranking_id=project.active_ranking_id, item__in=ids)
    return {
        "annotations": counts(Annotation.objects.filter(item__in=ids, label__isnull=False)),
        "flags": counts(skips.filter(flagged=True, resolved_at=None)),
        "skips": counts(skips.filter(flagged=False)),
        "predictions": {e.item_id: e for e in entries.select_related("suggested_label")},
        "labeled_predictions": {
            p.item_id: p
            for p in ItemPrediction.objects.filter(
                ranking_id=project.active_ranking_id, item__in=ids
            ).select_related("label")
        },
    }


def _own_labels(user: AbstractBaseUser, ids: list[int]) -> dict[int, str | None]:
    """Each item's latest annotation by this user (None: they took it back)."""
    latest: dict[int, str | None] = {}
    rows = Annotation.objects.filter(user=user, item__in=ids).order_by("pk").select_related("label")
    for annotation in rows:
        latest[annotation.item_id] = annotation.label.name if annotation.label else None
    return latest
