"""Stopping guidance for a new model, computed once in its evaluate job (never on page view).

The math is siftml.stopping's; here the Django side: the stop set (a fixed random sample of
pool items), the models compared, and the result stored on the model version as
`evaluation["stopping"]`, where the model API and the project page read it.
"""

import logging

from django.db import transaction

from labeling.exports import iter_dataset_rows
from labeling.models import Item, Project, Split
from learners import lifecycle
from learners.models import ModelVersion
from siftml import evaluation, stopping, training

logger = logging.getLogger(__name__)


def stop_set_texts(project: Project, size: int = stopping.STOP_SET_SIZE) -> list[str]:
    """The stop set: the `size` pool items lowest on their per-item random key.

    `Item.rand_key` is a hash of the project's seed and the item (labeling.splits.random_key),
    so the set is a uniform sample, the same for every model; labeled or not, an item stays in
    it, and only an import whose items hash lower can change it.
    """
    items = Item.objects.filter(project=project, split=Split.POOL).order_by("rand_key", "pk")
    return list(items.values_list("text", flat=True)[:size])


def record_stopping(model_version: ModelVersion, model) -> dict:
    """Compare the model with the previous one (stop set) and with one ~WINDOW labels older (slope)."""
    project = model_version.project
    earlier = list(
        ModelVersion.objects.filter(
            project=project, status=ModelVersion.Status.READY, created_at__lt=model_version.created_at
        ).order_by("-created_at")
    )
    seed = project.seed % 2**31
    agreement, kappas, slope = None, [], None
    previous = earlier[0] if earlier else None
    if previous is not None:
        texts = stop_set_texts(project)
        try:
            before = _predict(lifecycle.load_model(previous), texts)
            agreement = stopping.prediction_agreement(before, _predict(model, texts))
            history = previous.evaluation.get("stopping", {}).get("kappas", [])
            kappas = [*history, agreement["kappa"]][-stopping.STABLE_ROUNDS :]
        except lifecycle.ModelUnavailable as exc:
            logger.warning("Stopping guidance: model %s left out (%s).", previous.short_id, exc)
    reference = next((m for m in earlier if m.train_size <= model_version.train_size - stopping.WINDOW), None)
    reference = reference or (earlier[-1] if earlier else None)
    if reference is not None:
        slope = _slope(project, model_version, model, reference, seed)
    result = stopping.guidance(slope, agreement, kappas)
    result |= {
        "kappas": kappas,
        "previous": str(previous.pk) if previous else None,
        "reference": str(reference.pk) if reference else None,
    }
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=model_version.pk)
        ModelVersion.objects.filter(pk=locked.pk).update(evaluation={**locked.evaluation, "stopping": result})
    return result


def _predict(model, texts: list[str]):
    return evaluation.predicted_labels(training.predict_proba(model, texts), model.classes_)


def _slope(project: Project, current: ModelVersion, model, reference: ModelVersion, seed: int) -> dict | None:
    """Both models on the report part of the current model's test labels (no decision reads it)."""
    rows = list(iter_dataset_rows(project, current.dataset_version.max_annotation_id))
    _, test, _ = lifecycle.split_rows(rows)
    _, common = lifecycle.test_parts(test, seed)
    if not common:
        return None
    try:
        old_model = lifecycle.load_model(reference)
    except lifecycle.ModelUnavailable as exc:
        logger.warning("Stopping guidance: model %s left out (%s).", reference.short_id, exc)
        return None
    texts, y_true = [r.text for r in common], [r.label for r in common]
    old, new = _predict(old_model, texts), _predict(model, texts)
    labels = sorted(set(y_true) | set(old_model.classes_) | set(model.classes_))
    between = current.train_size - reference.train_size
    return stopping.curve_slope(y_true, old, new, labels, between, seed=seed)
