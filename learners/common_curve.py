"""The learning curve across model versions, every version scored on one common set.

Each model's own evaluation uses the test labels of its dataset version, a set that grows
over time: those points are not comparable. Here every stored model predicts the current
report-part test labels (never the decision part, so the curve carries no winner's curse),
with a BCa interval per point. Predicting reads the saved artifacts; nothing is refitted.
"""

import logging

from django.core.cache import cache
from django.db.models import Max

from labeling.exports import iter_dataset_rows
from labeling.models import Annotation, Project
from learners import lifecycle
from learners.models import ModelVersion
from siftml import evaluation, training

logger = logging.getLogger(__name__)
CACHE_SECONDS = 15 * 60


def learning_curve(project: Project) -> list[dict]:
    """One point per ready model, all on the same current report labels; cached until either changes."""
    models = list(
        ModelVersion.objects.filter(project=project, status=ModelVersion.Status.READY).order_by("created_at")
    )
    watermark = Annotation.objects.filter(item__project=project).aggregate(m=Max("pk"))["m"] or 0
    active = next((str(m.pk) for m in models if m.is_active), "-")
    key = f"sift:common-curve:{project.pk}:{watermark}:{active}:" + ",".join(str(m.pk) for m in models)
    points = cache.get(key)
    if points is None:
        points = _score_all(project, models, watermark)
        cache.set(key, points, CACHE_SECONDS)
    return points


def _score_all(project: Project, models: list[ModelVersion], watermark: int) -> list[dict]:
    seed = project.seed % 2**31
    # split_rows leaves out test texts that repeat a current pool text: every model may
    # have trained on such a text, so it cannot be in a set common to all of them.
    _, test, _ = lifecycle.split_rows(list(iter_dataset_rows(project, watermark)))
    _, common = lifecycle.test_parts(test, seed)
    if not common:
        return []
    texts, y_true = [r.text for r in common], [r.label for r in common]
    points = []
    for m in models:
        try:
            model = lifecycle.load_model(m)
        except lifecycle.ModelUnavailable as exc:
            logger.warning("Learning curve: model %s left out (%s).", m.short_id, exc)
            continue
        proba = training.predict_proba(model, texts)
        macro = evaluation.classification_report(y_true, proba, list(model.classes_), seed=seed)["macro_f1"]
        points.append(
            {
                "model": str(m.pk),
                "short_id": m.short_id,
                "train_size": m.train_size,
                "test_size": len(common),
                "macro_f1": macro["value"],
                "low": macro["low"],
                "high": macro["high"],
                "active": m.is_active,
            }
        )
    return points
