"""What the model and data-quality pages show: stored evaluations, pictures, the learning curve,
and the project's data-quality report. Reads only; nothing here refits the served model.

Pictures of an evaluation never change (a model's evaluation is written once), so they are
cached by model id; the data-quality report is cached until labels, items or the active
model change.
"""

import random

from django.core.cache import cache
from django.db.models import Count, Max
from django.db.models.functions import Length

from labeling.exports import iter_dataset_rows
from labeling.models import Annotation, Item, Origin, Project, Split
from labeling.services import get_project_stats
from learners import common_curve
from learners.models import ModelVersion
from siftml import plots, quality

CACHE_SECONDS = 15 * 60
SAMPLE = 2000  # texts per side for near duplicates and drift
LENGTH_SAMPLE = 50_000
MAX_K = 50


def learning_curve(project: Project) -> list[dict]:
    """Macro-F1 of every ready model version on one common set: see learners.common_curve."""
    return common_curve.learning_curve(project)


def evaluation_data(model_version: ModelVersion, k: int) -> dict:
    """The stored evaluation with its top-k lists cut to `k` (at most MAX_K)."""
    data = dict(model_version.evaluation)
    data["decisions_served"] = decisions_served(model_version.project_id)
    if "top" in data:
        data["top"] = {name: entries[:k] for name, entries in data["top"].items()}
    return data


def decisions_served(project_id: int) -> int:
    """How many promotion decisions compared two models on the project's decision part."""
    return ModelVersion.objects.filter(project_id=project_id, shadow__has_key="difference").count()


def evaluation_pictures(model_version: ModelVersion) -> dict:
    """SVGs of a model's stored evaluation, drawn once per model and cached."""
    key = f"sift:evaluation-svg:{model_version.pk}"
    pictures = cache.get(key)
    if pictures is None:
        pictures = _draw_evaluation(model_version.evaluation)
        cache.set(key, pictures, CACHE_SECONDS)
    return pictures


def _draw_evaluation(report: dict) -> dict:
    if not report.get("n"):
        return {}
    overall = report["macro_f1"]["value"]
    return {
        "confusion": plots.confusion_matrix_svg(report["confusion"]["labels"], report["confusion"]["matrix"]),
        "per_class": plots.per_class_svg(report["per_class"]),
        "roc": plots.roc_svg(report["roc"]) if report["roc"]["classes"] else "",
        "calibration": plots.calibration_svg(report["calibration"]),
        "calibration_before": (
            plots.calibration_svg(report["calibration_before"], "Before calibration")
            if report.get("calibration_before")
            else ""
        ),
        "segments": {
            column: plots.segments_svg(column, segments, overall)
            for column, segments in report.get("segments", {}).items()
        },
    }


def learning_curve_picture(points: list[dict]) -> str:
    return plots.learning_curve_svg(points) if points else ""


def data_quality(project: Project) -> dict:
    """The project's data-quality report, cached until its items, labels or active model change."""
    state = Item.objects.filter(project=project).aggregate(n=Count("pk"), last=Max("pk"))
    watermark = Annotation.objects.filter(item__project=project).aggregate(m=Max("pk"))["m"] or 0
    active = (
        ModelVersion.objects.filter(project=project, is_active=True).select_related("dataset_version").first()
    )
    # The active model's suspects arrive with its cross-validation, after it became active.
    model_key = f"{active.pk}:{active.evaluation.get('cross_validation', {}).get('mean')}" if active else "-"
    key = f"sift:quality:{project.pk}:{state['n']}:{state['last']}:{watermark}:{model_key}"
    report = cache.get(key)
    if report is None:
        report = _build_quality(project, active)
        cache.set(key, report, CACHE_SECONDS)
    return report


def _build_quality(project: Project, active: ModelVersion | None) -> dict:
    stats = get_project_stats(project)
    lengths = _lengths(project)
    return {
        "stats": stats,
        "balance_svg": plots.label_balance_svg(stats["per_label"]) if stats["per_label"] else "",
        "lengths": lengths,
        "exact_duplicates": _exact_duplicates(project),
        "near_duplicates": _near_duplicates(project),
        "disagreements": _disagreements(project),
        "suspects": _suspects(project, active),
        "drift": _drift(project, active),
    }


def _sample_fraction(project: Project, wanted: int) -> float:
    total = project.items.count()
    return 1.0 if total <= wanted else wanted / total


def _lengths(project: Project) -> dict:
    # rand_key is uniform in [0, 1) and indexed: a fraction of it is a random sample.
    fraction = _sample_fraction(project, LENGTH_SAMPLE)
    rows = project.items.filter(rand_key__lt=fraction).annotate(n=Length("text")).values_list("split", "n")
    by_split: dict[str, list[int]] = {Split.POOL: [], Split.TEST: []}
    for split, n in rows:
        by_split[split].append(n)
    everything = sorted(by_split[Split.POOL] + by_split[Split.TEST])
    summary = {}
    if everything:
        summary = {
            "median": everything[len(everything) // 2],
            "p95": everything[int(0.95 * (len(everything) - 1))],
            "max": everything[-1],
            "very_short": sum(n < 5 for n in everything),
            "sampled": len(everything),
        }
    svg = plots.histograms_svg("Text length", "characters", by_split) if everything else ""
    return {"svg": svg, **summary}


def _exact_duplicates(project: Project, limit: int = 20) -> dict:
    groups = (
        project.items.values("content_hash")
        .annotate(n=Count("pk"), labels=Count("label", distinct=True), splits=Count("split", distinct=True))
        .filter(n__gt=1)
        .order_by("-labels", "-n")
    )
    shown = list(groups[:limit])
    items = Item.objects.filter(project=project, content_hash__in=[g["content_hash"] for g in shown])
    members: dict[str, list[Item]] = {}
    for item in items.select_related("label").order_by("pk"):
        members.setdefault(item.content_hash, []).append(item)
    totals = groups.aggregate(groups=Count("content_hash"))
    return {
        "groups": totals["groups"] or 0,
        "conflicting": groups.filter(labels__gt=1).count(),
        "shown": [{**g, "items": members.get(g["content_hash"], [])} for g in shown],
    }


def _near_duplicates(project: Project, limit: int = 25) -> dict:
    fraction = _sample_fraction(project, SAMPLE)
    items = list(project.items.filter(rand_key__lt=fraction).select_related("label").order_by("pk")[:SAMPLE])
    pairs = quality.near_duplicates([item.text for item in items])
    return {
        "sampled": len(items),
        "count": len(pairs),
        "across_splits": sum(items[i].split != items[j].split for i, j, _ in pairs),
        "pairs": [{"a": items[i], "b": items[j], "similarity": s} for i, j, s in pairs[:limit]],
    }


def _disagreements(project: Project, limit: int = 50) -> dict:
    """Items whose annotators' live votes differ (each annotator's latest vote counts)."""
    candidates = project.items.filter(label_count__gte=2).order_by("pk")
    votes = (
        Annotation.objects.filter(item__in=candidates)
        .exclude(origin__in=[Origin.IMPORT, Origin.ADJUDICATION])
        .order_by("item_id", "pk")
        .values_list("item_id", "user__username", "label__name")
    )
    latest: dict[int, dict[str, str | None]] = {}
    for item_id, username, label in votes.iterator(2000):
        latest.setdefault(item_id, {})[username] = label
    split = {item_id: {u: lab for u, lab in by_user.items() if lab} for item_id, by_user in latest.items()}
    disputed = [item_id for item_id, by_user in split.items() if len(set(by_user.values())) > 1]
    shown = {i.pk: i for i in Item.objects.filter(pk__in=disputed[:limit]).select_related("label")}
    return {
        "multi_voted": sum(len(by_user) > 1 for by_user in split.values()),
        "count": len(disputed),
        "shown": [
            {"item": shown[pk], "votes": sorted(split[pk].items())} for pk in disputed[:limit] if pk in shown
        ],
    }


def _suspects(project: Project, active: ModelVersion | None) -> dict:
    """Imported pool labels that the active model's out-of-fold predictions strongly contradict.

    Pool items only: a test item is never proposed for relabeling, however confidently the
    model gets it wrong. Relabeling test items toward the model would pull the yardstick
    toward the thing it measures (every test score and promotion would flatter the model).
    A label corrected since is dropped.
    """
    if active is None or not active.evaluation:
        return {"available": False}
    flagged = list(active.evaluation.get("label_suspects", []))
    current = (
        Item.objects.filter(pk__in=[e["item"] for e in flagged], split=Split.POOL)
        .select_related("label")
        .in_bulk()
    )
    still = [
        e
        for e in flagged
        if e["item"] in current and current[e["item"]].label and current[e["item"]].label.name == e["given"]
    ]
    imported = [e for e in still if current[e["item"]].label_origin == Origin.IMPORT]
    return {
        "available": True,
        "model": active,
        "imported": sorted(imported, key=lambda e: -e["confidence"]),
        "other_origins": len(still) - len(imported),
    }


def _drift(project: Project, active: ModelVersion | None) -> dict:
    """Items imported after the active model's dataset version, against what it learned from."""
    if active is None or active.dataset_version is None:
        return {
            "skipped": "No active model yet: drift is measured against what the active model learned from."
        }
    version = active.dataset_version
    new_items = project.items.filter(import_batch__created_at__gt=version.created_at)
    new_count = new_items.count()
    if new_count == 0:
        return {
            "skipped": f"No items were imported after dataset v{version.number} (the active model's data)."
        }
    rng = random.Random(project.seed)
    reference = _reservoir(
        (r.text for r in iter_dataset_rows(project, version.max_annotation_id, split=Split.POOL)), SAMPLE, rng
    )
    fraction = min(1.0, SAMPLE / new_count)
    new = list(new_items.filter(rand_key__lt=fraction).values_list("text", flat=True)[:SAMPLE])
    found = quality.drift(reference, new, seed=project.seed % 2**31)
    found.update(version=version.number, new_count=new_count, reference_count=len(reference))
    if "auc" in found:
        found["svg"] = plots.histograms_svg(
            "How 'new' the novelty model finds each text (out of fold)",
            "probability of being a newly imported text",
            {"training texts": found["reference_scores"], "newly imported": found["new_scores"]},
            bins=20,
        )
    return found


def _reservoir(values, size: int, rng: random.Random) -> list[str]:
    """A uniform random sample of `size` values from a stream of unknown length."""
    sample: list[str] = []
    for seen, value in enumerate(values):
        if seen < size:
            sample.append(value)
        else:
            j = rng.randrange(seen + 1)
            if j < size:
                sample[j] = value
    return sample
