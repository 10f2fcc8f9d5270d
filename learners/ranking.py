"""Rank a project's unlabeled pool with the production rankers and write it as a queue.

The pool is read in chunks of item ids, so memory stays bounded however large it is:
each chunk keeps only its best candidates per ranker (`scoring.Candidates`). Chunks can
be scored here, one after the other, or by several workers at once (learners.services).
A new ranking is written beside the old one and only served once
`learners.lifecycle.activate` points the project at it.
"""

import io
import math
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Min, QuerySet

from labeling.exports import iter_dataset_rows
from labeling.models import Annotation, Item, ItemPrediction, Origin, Project, QueueEntry, Ranking, Split
from labeling.services import get_label_watermark
from labeling.statistics import analyze
from learners import artifacts
from learners.models import ModelVersion
from siftml import bandit, mixing, sampling, scoring, training

TEXT_BATCH = 5_000
# The bandit looks at this many of the latest labels that a ranker served.
BANDIT_WINDOW = 2_000


def rankable_items(project: Project) -> QuerySet[Item]:
    """Pool items that still need a label; test items are never ranked."""
    return Item.objects.filter(project=project, split=Split.POOL, label_count__lt=project.overlap).exclude(
        label_origin__in=[Origin.IMPORT, Origin.ADJUDICATION]
    )


def choose_weights(project: Project) -> tuple[dict[str, float], str]:
    """The mix for the next ranking, and a sentence saying where it came from."""
    if project.adaptive_mix:
        rewards = _bandit_rewards(project)
        pulls = sum(trials for _, trials in rewards.values())
        weights = bandit.thompson_weights(
            rewards, scoring.ADAPTIVE_ARMS, random_state=(project.seed + pulls) % 2**32
        )
        return weights, "adaptive: " + ", ".join(f"{n} {w:.0%}" for n, w in weights.items())
    known = {n: float(w) for n, w in (project.strategy_weights or {}).items() if n in sampling.RANKERS}
    if any(w > 0 for w in known.values()):
        return known, "project weights"
    return dict(scoring.DEFAULT_WEIGHTS), "default mix"


def _bandit_rewards(project: Project) -> dict[str, tuple[int, int]]:
    """(wins, trials) per ranker over the latest labels given with no suggestion shown."""
    served = (
        Annotation.objects.filter(
            item__project=project,
            origin=Origin.HUMAN,
            predicted_label__isnull=False,
            suggested_label__isnull=True,
        )
        .exclude(strategy="")
        .exclude(label__isnull=True)
        .order_by("-pk")
        .values_list("strategy", "label_id", "predicted_label_id")[:BANDIT_WINDOW]
    )
    rewards: dict[str, tuple[int, int]] = {}
    for strategy, label_id, predicted_id in served:
        wins, trials = rewards.get(strategy, (0, 0))
        rewards[strategy] = (wins + int(label_id != predicted_id), trials + 1)
    return rewards


def prepare_rankers(
    project: Project, model, watermark: int | None = None, fit_model: bool = True
) -> scoring.RankerSet:
    """Fit the rankers on the project's labeled pool as of `watermark` (default: now).

    `fit_model=False`: for a model being fitted elsewhere meanwhile (`scoring.prepare_rankers`).
    """
    watermark = get_label_watermark(project) if watermark is None else watermark
    rows = list(iter_dataset_rows(project, watermark, split=Split.POOL))
    weights, _ = choose_weights(project)
    return scoring.prepare_rankers(
        [r.text for r in rows],
        [r.label for r in rows],
        _unlabeled_sample(project),
        list(project.labels.values_list("name", flat=True)),
        weights,
        model=model,
        params=training.params_for_pool(project.items.filter(split=Split.POOL).count()),
        min_per_label=project.cold_start_min_per_label,
        random_state=project.seed % 2**31,
        fit_model=fit_model,
    )


def _unlabeled_sample(project: Project) -> list[str]:
    # rand_key is a per-item hash: a uniform sample without ORDER BY RANDOM(), by the rule
    # of scoring.unlabeled_sample (the simulator's), here in SQL.
    start = scoring.sample_start(project.seed % 2**31)  # the seed prepare_rankers gets
    size = scoring.NOVELTY_SAMPLE
    items = rankable_items(project).filter(rand_key__gte=start).order_by("rand_key", "pk")
    texts = list(items.values_list("text", flat=True)[:size])
    if len(texts) < size:
        wrap = rankable_items(project).filter(rand_key__lt=start).order_by("rand_key", "pk")
        texts += list(wrap.values_list("text", flat=True)[: size - len(texts)])
    return texts


def chunk_bounds(project: Project, size: int) -> list[tuple[int, int]]:
    """Split the rankable items into id ranges of at most `size` items, all about as large.

    Equal chunks keep every worker busy until the end. Cutting every `size` items left a
    short last chunk: 70,000 rankable items became 50,000 + 20,000, so of two workers one
    idled for most of the scoring (bench/scale.py, 100,000 items).
    """
    count = rankable_items(project).count()
    if count == 0:
        return []
    n_chunks = math.ceil(count / size)
    starts = sorted({k * count // n_chunks for k in range(n_chunks)})
    # The ids at those positions (and the last id) numbered by the database, not by reading
    # every id into the worker (800,000 ids were 2 s of a 1M retrain's serial part).
    rankable = rankable_items(project).order_by().annotate(chunk_item=F("pk")).values("chunk_item")
    sql, params = rankable.query.sql_with_params()
    positions = ", ".join(str(int(p)) for p in starts)  # integers computed here, never input
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT chunk_item, position FROM (SELECT chunk_item, "
            "ROW_NUMBER() OVER (ORDER BY chunk_item) - 1 AS position, "
            f"COUNT(*) OVER () AS total FROM ({sql}) AS rankable) AS numbered "
            f"WHERE position IN ({positions}) OR position = total - 1 ORDER BY chunk_item",
            params,
        )
        rows = cursor.fetchall()
    if not rows:  # every item was labeled between the two queries
        return []
    wanted = set(starts)
    cuts = [pk for pk, position in rows if position in wanted]
    last = rows[-1][0]
    ends = [*[c - 1 for c in cuts[1:]], last]
    return list(zip(cuts, ends, strict=True))


def score_range(
    project: Project, rankers: scoring.RankerSet, first: int, last: int, keep: int
) -> scoring.Candidates:
    """Score the rankable items with first <= id <= last; keep each ranker's best `keep`."""
    candidates = scoring.Candidates(keep=keep)
    for ids, texts in _texts(rankable_items(project).filter(pk__gte=first, pk__lte=last)):
        rankers.score_into(candidates, texts, np.asarray(ids, dtype=np.int64))
    return candidates


def _texts(items: QuerySet[Item]) -> Iterator[tuple[list[int], list[str]]]:
    last = 0
    while True:
        batch = list(items.filter(pk__gt=last).order_by("pk").values_list("pk", "text")[:TEXT_BATCH])
        if not batch:
            return
        last = batch[-1][0]
        yield [pk for pk, _ in batch], [text for _, text in batch]


def write_ranking(
    project: Project,
    model_version: ModelVersion | None,
    rankers: scoring.RankerSet,
    candidates: scoring.Candidates,
    bundle: dict | None = None,
) -> Ranking:
    """Mix the candidates into a queue and write it as a new (not yet active) ranking.

    The ranking's summary keeps the seconds of every phase (`phase_seconds`).
    """
    texts = dict(Item.objects.filter(pk__in=candidates.all_ids().tolist()).values_list("pk", "text"))
    picks = rankers.queue(candidates, texts, queue_plan())
    seconds = getattr(rankers, "fit_seconds", {}) | candidates.seconds
    with scoring.timed(seconds, "queue write"):
        new = _write_entries(project, model_version, rankers, picks, texts, bundle)
        # The planner must see the new queue before /next reads it (labeling/statistics.py).
        analyze(QueueEntry)
    with scoring.timed(seconds, "labeled predictions"):
        _write_labeled_predictions(project, new, rankers)
    new.summary["phase_seconds"] = {k: round(v, 4) for k, v in seconds.items()}
    Ranking.objects.filter(pk=new.pk).update(summary=new.summary)
    return new


def _write_entries(project, model_version, rankers, picks, texts, bundle) -> Ranking:
    proba = _proba(rankers, [texts[p.item_id] for p in picks])
    labels = {label.name: label for label in project.labels.all()}
    _, origin = choose_weights(project)
    new = Ranking.objects.create(
        project=project,
        model_ref=str(model_version.pk) if model_version else "",
        size=len(picks),
        summary={
            "weights": rankers.weights,
            "weights_from": _weights_from(rankers, origin),
            "counts": {name: sum(p.ranker == name for p in picks) for name in rankers.weights},
            "bundle": bundle or {},
        },
    )
    entries = [
        _entry(new, pick, len(picks) - i, rankers, None if proba is None else proba[i], labels)
        for i, pick in enumerate(picks)
    ]
    QueueEntry.objects.bulk_create(entries, batch_size=2000)
    return new


def _write_labeled_predictions(project: Project, ranking: Ranking, rankers: scoring.RankerSet) -> None:
    """The model's guess for every labeled pool item, beside the queue (the items browser's
    "model disagrees with the label"); one predict_proba and one bulk insert per batch."""
    if rankers.model is None:
        return
    labels = {label.name: label.pk for label in project.labels.all()}
    label_ids = np.array([labels.get(name, 0) for name in rankers.classes])
    labeled = Item.objects.filter(project=project, split=Split.POOL, label__isnull=False)
    for ids, texts in _texts(labeled):
        proba = _proba(rankers, texts)
        best = proba.argmax(axis=1)
        confidence = proba[np.arange(len(best)), best]
        ItemPrediction.objects.bulk_create(
            ItemPrediction(ranking=ranking, item_id=pk, label_id=int(label_id), confidence=float(c))
            for pk, label_id, c in zip(ids, label_ids[best], confidence, strict=True)
            if label_id
        )


def _weights_from(rankers: scoring.RankerSet, origin: str) -> str:
    if rankers.cold_start:
        return "cold start"
    if getattr(rankers, "finding_labels", False):  # older bundles lack the flag
        return f"{origin}, with coverage while some labels have too few examples"
    return origin


def _proba(rankers: scoring.RankerSet, texts: list[str]) -> np.ndarray | None:
    if rankers.model is None or not texts:
        return None
    return rankers.model.named_steps["classifier"].predict_proba(rankers.transform(texts))


def _entry(ranking, pick, priority, rankers, proba_row, labels) -> QueueEntry:
    classes = rankers.classes
    guess = None if proba_row is None else int(np.argmax(proba_row))
    return QueueEntry(
        ranking=ranking,
        item_id=pick.item_id,
        priority=float(priority),
        strategy=pick.ranker,
        score=pick.score,
        suggested_label=None if guess is None else labels.get(classes[guess]),
        confidence=None if guess is None else float(proba_row[guess]),
        reason=rankers.rankers[pick.ranker].explain(pick.score, proba_row, classes)[:300],
    )


def rank_pool(
    project: Project,
    model,
    model_version: ModelVersion | None,
    progress: Callable[[float], None] = lambda done: None,
) -> Ranking:
    """Prepare the rankers and score every rankable item here, chunk after chunk."""
    watermark = model_version.dataset_version.max_annotation_id if model_version else None
    rankers = prepare_rankers(project, model, watermark)
    bounds = chunk_bounds(project, settings.SIFT_SCORE_CHUNK_SIZE)
    candidates = scoring.Candidates(keep=candidate_count())
    for i, (first, last) in enumerate(bounds):
        candidates.merge(score_range(project, rankers, first, last, candidates.keep))
        progress((i + 1) / len(bounds))
    return write_ranking(project, model_version, rankers, candidates, save_bundle(project, rankers))


def queue_plan() -> scoring.QueuePlan:
    """The queue's size and batch size from the settings (the simulator takes the same)."""
    return scoring.QueuePlan(settings.SIFT_QUEUE_SIZE, settings.SIFT_BATCH_SIZE)


def candidate_count() -> int:
    return queue_plan().candidates


def save_bundle(project: Project, rankers: scoring.RankerSet) -> dict:
    """Save the fitted rankers so that workers (and items imported later) can score with them."""
    path = Path(str(project.pk)) / f"rankers-{uuid.uuid4().hex}.joblib"
    return {"path": str(path), "sha256": artifacts.save_object(rankers, path)}


def load_bundle(bundle: dict) -> scoring.RankerSet:
    """Load fitted rankers, refusing a file whose sha256 changed since it was saved."""
    return training.load_artifact(settings.ARTIFACT_DIR / bundle["path"], bundle["sha256"])


def encode_candidates(candidates: scoring.Candidates) -> bytes:
    buffer = io.BytesIO()
    arrays = {f"ids:{r}": candidates.ids[r] for r in candidates.ids}
    arrays |= {f"scores:{r}": candidates.scores[r] for r in candidates.scores}
    arrays |= {f"seconds:{phase}": np.float64(v) for phase, v in candidates.seconds.items()}
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def decode_candidates(payload: bytes, keep: int) -> scoring.Candidates:
    candidates = scoring.Candidates(keep=keep)
    with np.load(io.BytesIO(bytes(payload))) as arrays:
        for key in arrays.files:
            kind, ranker = key.split(":", 1)
            if kind == "ids":
                candidates.ids[ranker] = arrays[key]
                candidates.scores[ranker] = arrays[f"scores:{ranker}"]
            elif kind == "seconds":
                candidates.seconds[ranker] = float(arrays[key])
    return candidates


def place_new_items(project: Project, items: QuerySet[Item]) -> int:
    """Score items that arrived after the last retrain and slot them into the active ranking.

    Each new item goes where it would have ranked among the entries of the ranker that
    values it most, relative to what that ranker already queued.
    """
    ranking = project.active_ranking
    if ranking is None or not ranking.summary.get("bundle"):
        return 0
    rankers = load_bundle(ranking.summary["bundle"])
    labels = {label.name: label for label in project.labels.all()}
    placed = 0
    for ids, texts in _texts(items.filter(split=Split.POOL)):
        scores, proba = rankers.score(texts, ids)
        entries = _placements(ranking, rankers, ids, scores, proba, labels)
        with transaction.atomic():
            QueueEntry.objects.bulk_create(entries, ignore_conflicts=True)
        placed += len(entries)
    return placed


def _placements(ranking, rankers, ids, scores, proba, labels) -> list[QueueEntry]:
    queued = {
        name: np.array(
            ranking.entries.filter(strategy=name).order_by("-score").values_list("score", "priority")
        ).reshape(-1, 2)
        for name in rankers.rankers
    }
    floor = (ranking.entries.aggregate(m=Min("priority"))["m"] or 1.0) - 1.0
    entries = []
    for i, item_id in enumerate(ids):
        # The ranker under which the item would stand nearest the top of what it queued.
        _, name = min((_share(queued[name], values[i]), name) for name, values in scores.items())
        table = queued[name]
        position = int((table[:, 0] >= scores[name][i]).sum()) if len(table) else 0
        pick = mixing.Pick(int(item_id), name, float(scores[name][i]))
        priority = _slot(table, position, floor)
        entries.append(_entry(ranking, pick, priority, rankers, None if proba is None else proba[i], labels))
    return entries


def _share(table: np.ndarray, score: float) -> float:
    """The fraction of a ranker's queued entries that outscore `score` (1 when it queued none)."""
    return float((table[:, 0] >= score).mean()) if len(table) else 1.0


def _slot(table: np.ndarray, position: int, floor: float) -> float:
    """A priority between the entries at `position - 1` and `position` of a ranker's list."""
    if len(table) == 0:
        return floor
    if position == 0:
        return float(table[0, 1] + 1.0)
    if position == len(table):
        return float(table[-1, 1] - 0.5)
    return float((table[position - 1, 1] + table[position, 1]) / 2)


def delete_stale_rankings(project: Project, keep: Ranking) -> None:
    """Drop the rankings (and their ranker files) that the project no longer serves.

    The ranking just replaced is kept until the next swap: a request that read the old
    pointer a moment before the swap still finds its queue.
    """
    previous = Ranking.objects.filter(project=project).exclude(pk=keep.pk).order_by("-pk").first()
    stale = Ranking.objects.filter(project=project).exclude(pk=keep.pk)
    if previous is not None:
        stale = stale.exclude(pk=previous.pk)
    for summary in stale.values_list("summary", flat=True):
        path = (summary or {}).get("bundle", {}).get("path")
        if path:
            (settings.ARTIFACT_DIR / path).unlink(missing_ok=True)
    stale.delete()
