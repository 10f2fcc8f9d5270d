"""Per-(project, split, label) counts kept in the same transaction as every write.

The hot paths read these instead of counting rows: the test-set check on `/next`
(`labeled`), the auto-retrain trigger after every annotation (`labels_given`), the
project's stats and the labeling page's progress (`summary`). At 1M items a COUNT(*)
over the items took 0.7-1.5 s without planner statistics and 18-39 ms with (issue 12);
these are a sum over at most 2 x (labels + 1) rows of `LabelTally`.

Every write that changes an item's resolved label, adds an annotation or adds items
calls one function here, in its own transaction, last (the row locks of the counters are
held only until the commit that follows):

- `record_annotation` (labeling.services.save_annotation: annotate, relabel, undo,
  adjudication, resolving a flag with a label);
- `record_annotations` (labeling.bulk_actions: a bulk label and its revert, one call each);
- `record_item_counts` (labeling.services imports: one call per import, after its last chunk).

Rows are updated with F() expressions in a fixed key order, so two writers never wait on
each other in opposite orders (no deadlock), and one row per label spreads the writers of
a busy team over as many rows as there are labels. `differences` recomputes everything
from the rows and compares (`manage.py check_counters`); `rebuild` rewrites them.
"""

from collections import Counter
from collections.abc import Iterable, Mapping

from django.db import transaction
from django.db.models import Count, F, Q, Sum

from labeling.models import Annotation, Item, LabelTally, Project, Split

Key = tuple[str, int | None]  # (split, label id; None: the split's row)


def create_rows(project: Project) -> None:
    """The project's rows at zero: one per split, and one per (split, label)."""
    label_ids = list(project.labels.values_list("pk", flat=True))
    LabelTally.objects.bulk_create(
        LabelTally(project=project, split=split, label_id=label_id)
        for split in Split.values
        for label_id in [None, *label_ids]
    )


def record_annotation(item: Item, old_label_id: int | None, annotation_label_id: int | None) -> None:
    """Count a new annotation of `item` (a label, or None for an undo) and the change of its resolved label.

    `item.label_id` is the resolved label after the annotation, `old_label_id` the one before.
    """
    record_annotations(item.project_id, [(item.split, old_label_id, item.label_id, annotation_label_id)])


def record_annotations(
    project_id: int, changes: Iterable[tuple[str, int | None, int | None, int | None]]
) -> None:
    """Count one new annotation per entry (split, resolved label before, after, annotation's label).

    What a bulk label or its revert writes: thousands of items, one update per counter row.
    """
    deltas: dict[Key, list[int]] = {}
    for split, old_label_id, new_label_id, annotation_label_id in changes:
        deltas.setdefault((split, annotation_label_id), [0, 0])[1] += 1
        if old_label_id != new_label_id:
            if old_label_id is not None:
                deltas.setdefault((split, old_label_id), [0, 0])[0] -= 1
            if new_label_id is not None:
                deltas.setdefault((split, new_label_id), [0, 0])[0] += 1
    _apply(project_id, {key: (d[0], d[1]) for key, d in deltas.items()})


def record_items(project_id: int, items: Iterable[tuple[str, int | None]]) -> None:
    """Count new items given as (split, label id or None); a labeled one came with one annotation."""
    record_item_counts(project_id, Counter(items))


def record_item_counts(project_id: int, counts: Mapping[tuple[str, int | None], int]) -> None:
    """Count new items given as {(split, label id or None): how many}; a labeled one came with one annotation.

    What an import writes: each labeled row is an item resolved to its label plus one
    import annotation giving it. An import adds its chunks' counts up and calls this once,
    after its last row: at most 2 x (labels + 1) UPDATEs whatever the file's size.
    """
    splits: Counter[str] = Counter()
    labeled: Counter[Key] = Counter()
    for (split, label_id), n in counts.items():
        splits[split] += n
        if label_id is not None:
            labeled[(split, label_id)] += n
    deltas: dict[Key, tuple[int, int]] = {(split, None): (n, 0) for split, n in splits.items()}
    deltas |= {key: (n, n) for key, n in labeled.items()}
    _apply(project_id, deltas)


def _apply(project_id: int, deltas: Mapping[Key, tuple[int, int]]) -> None:
    for (split, label_id), (items, annotations) in sorted(deltas.items(), key=_order):
        if not items and not annotations:
            continue
        rows = LabelTally.objects.filter(project_id=project_id, split=split, label_id=label_id)
        if rows.update(items=F("items") + items, annotations=F("annotations") + annotations):
            continue
        # A row create_rows did not make (a label added later): make it, racing safely.
        _, created = LabelTally.objects.get_or_create(
            project_id=project_id,
            split=split,
            label_id=label_id,
            defaults={"items": items, "annotations": annotations},
        )
        if not created:
            rows.update(items=F("items") + items, annotations=F("annotations") + annotations)


def _order(entry: tuple[Key, tuple[int, int]]) -> tuple[str, int]:
    (split, label_id), _ = entry
    return split, label_id or 0


def labeled(project: Project, split: str) -> int:
    """Items of `split` that have a resolved label."""
    rows = LabelTally.objects.filter(project=project, split=split, label__isnull=False)
    return rows.aggregate(n=Sum("items"))["n"] or 0


def labels_given(project: Project) -> int:
    """Annotations with a label (undos not counted) on the project's items, imports included."""
    rows = LabelTally.objects.filter(project=project, label__isnull=False)
    return rows.aggregate(n=Sum("annotations"))["n"] or 0


def summary(project: Project) -> dict:
    """The project's counts in one read.

    {"splits": {split: items}, "labeled": {split: n}, "per_label": {label id: {split: n}},
    "annotations": n (undos included)}.
    """
    result: dict = {
        "splits": dict.fromkeys(Split.values, 0),
        "labeled": dict.fromkeys(Split.values, 0),
        "per_label": {},
        "annotations": 0,
    }
    for split, label_id, items, annotations in LabelTally.objects.filter(project=project).values_list(
        "split", "label_id", "items", "annotations"
    ):
        result["annotations"] += annotations
        if label_id is None:
            result["splits"][split] += items
        else:
            result["labeled"][split] += items
            result["per_label"].setdefault(label_id, dict.fromkeys(Split.values, 0))[split] += items
    return result


def recount(project: Project) -> dict[Key, tuple[int, int]]:
    """The counts recomputed from the items and annotations (a full scan: not for hot paths)."""
    counts: dict[Key, list[int]] = {}
    for split, n in project.items.values_list("split").annotate(n=Count("pk")).order_by():
        counts.setdefault((split, None), [0, 0])[0] = n
    for split, label_id, n in (
        project.items.filter(label__isnull=False)
        .values_list("split", "label_id")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        counts.setdefault((split, label_id), [0, 0])[0] = n
    given = Annotation.objects.filter(item__project=project).values_list("item__split", "label_id")
    for split, label_id, n in given.annotate(n=Count("pk")).order_by():
        counts.setdefault((split, label_id), [0, 0])[1] = n
    return {key: (items, annotations) for key, (items, annotations) in counts.items()}


def stored(project: Project) -> dict[Key, tuple[int, int]]:
    rows = LabelTally.objects.filter(project=project).filter(Q(items__gt=0) | Q(annotations__gt=0))
    return {
        (split, label_id): (items, annotations)
        for split, label_id, items, annotations in rows.values_list(
            "split", "label_id", "items", "annotations"
        )
    }


def differences(project: Project) -> dict[Key, dict[str, tuple[int, int]]]:
    """{key: {"stored": (items, annotations), "recounted": (...)}} for every count that is off."""
    kept, actual = stored(project), recount(project)
    return {
        key: {"stored": kept.get(key, (0, 0)), "recounted": actual.get(key, (0, 0))}
        for key in sorted(set(kept) | set(actual), key=lambda k: (k[0], k[1] or 0))
        if kept.get(key, (0, 0)) != actual.get(key, (0, 0))
    }


def rebuild(project: Project) -> None:
    """Rewrite the project's counters from the rows (after writes that bypassed the services).

    Locks the project row, as an import does; annotations arriving meanwhile would be
    counted twice or not at all, so run it while nobody labels.
    """
    with transaction.atomic():
        Project.objects.select_for_update().get(pk=project.pk)
        LabelTally.objects.filter(project=project).delete()
        create_rows(project)
        for (split, label_id), (items, annotations) in recount(project).items():
            LabelTally.objects.update_or_create(
                project=project,
                split=split,
                label_id=label_id,
                defaults={"items": items, "annotations": annotations},
            )
