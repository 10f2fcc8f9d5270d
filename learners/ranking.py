"""Score the unlabeled pool with a fitted model and write the result as a new ranking.

The pool is read in chunks of item ids, so memory stays bounded however large it is;
only the best `SIFT_QUEUE_SIZE` candidates are kept and written. The new ranking is not
served until `learners.services.activate` points the project at it.
"""

from collections.abc import Callable

import numpy as np
from django.conf import settings
from django.db.models import QuerySet
from sklearn.pipeline import Pipeline

from labeling.models import Item, Origin, Project, QueueEntry, Ranking, Split
from learners import sampling, training
from learners.models import ModelVersion

STRATEGY = "margin"


def rankable_items(project: Project) -> QuerySet[Item]:
    """Pool items that still need a label; test items are never ranked."""
    return Item.objects.filter(project=project, split=Split.POOL, label_count__lt=project.overlap).exclude(
        label_origin__in=[Origin.IMPORT, Origin.ADJUDICATION]
    )


def rank_pool(
    project: Project,
    model: Pipeline,
    model_version: ModelVersion,
    progress: Callable[[float], None] = lambda done: None,
) -> Ranking:
    """Score every rankable item by margin uncertainty and write the best as a ranking."""
    items = rankable_items(project)
    total = items.count()
    classes = np.asarray(model.classes_, dtype=object)
    best = _Best(settings.SIFT_QUEUE_SIZE)
    done = 0
    for ids, texts in _chunks(items, settings.SIFT_SCORE_CHUNK_SIZE):
        proba = training.predict_proba(model, texts)
        best.add(np.asarray(ids), sampling.margin(proba), proba)
        done += len(ids)
        progress(done / max(total, 1))
    return _write_ranking(project, model_version, best, classes)


def _chunks(items: QuerySet[Item], size: int):
    last = 0
    while True:
        chunk = list(items.filter(pk__gt=last).order_by("pk").values_list("pk", "text")[:size])
        if not chunk:
            return
        last = chunk[-1][0]
        yield [pk for pk, _ in chunk], [text for _, text in chunk]


class _Best:
    """The k best-scored items seen so far, with their probabilities."""

    def __init__(self, k: int):
        self.k = k
        self.ids = np.zeros(0, dtype=np.int64)
        self.scores = np.zeros(0)
        self.proba: np.ndarray | None = None

    def add(self, ids: np.ndarray, scores: np.ndarray, proba: np.ndarray) -> None:
        ids = np.concatenate([self.ids, ids])
        scores = np.concatenate([self.scores, scores])
        proba = proba if self.proba is None else np.vstack([self.proba, proba])
        keep = sampling.top_k(scores, self.k, random_state=0) if len(scores) else np.zeros(0, int)
        self.ids, self.scores, self.proba = ids[keep], scores[keep], proba[keep]


def _write_ranking(
    project: Project, model_version: ModelVersion, best: _Best, classes: np.ndarray
) -> Ranking:
    labels = {label.name: label for label in project.labels.all()}
    new = Ranking.objects.create(
        project=project,
        model_ref=str(model_version.pk),
        size=len(best.ids),
        summary={"strategy": STRATEGY, "model": str(model_version.pk)},
    )
    entries = []
    for position, (item_id, score, row) in enumerate(zip(best.ids, best.scores, best.proba, strict=True)):
        top = np.argsort(row)[::-1][:2]
        entries.append(
            QueueEntry(
                ranking=new,
                item_id=int(item_id),
                position=position,
                strategy=STRATEGY,
                score=float(score),
                suggested_label=labels.get(classes[top[0]]),
                confidence=float(row[top[0]]),
                reason=_describe(classes, row, top),
            )
        )
    QueueEntry.objects.bulk_create(entries, batch_size=2000)
    return new


def _describe(classes: np.ndarray, row: np.ndarray, top: np.ndarray) -> str:
    if len(top) < 2:
        return "The model ranked it first."
    (a, b) = top
    return f"The model is torn between “{classes[a]}” ({row[a]:.0%}) and “{classes[b]}” ({row[b]:.0%})."


def delete_stale_rankings(project: Project, keep: Ranking) -> None:
    Ranking.objects.filter(project=project).exclude(pk=keep.pk).delete()
