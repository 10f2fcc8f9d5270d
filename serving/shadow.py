"""The shadow model against the active one, on the live traffic both answered."""

from datetime import timedelta

import numpy as np
from django.utils import timezone

from labeling.models import Project
from serving.models import ServingSettings, ShadowPrediction

QUANTILES = (10, 25, 50, 75, 90)
ROWS = 20_000


def set_shadow(project: Project, model_id: object | None) -> ServingSettings:
    """Make a model version of the project (not the active one) its shadow, or none."""
    from learners.models import ModelVersion

    config = ServingSettings.stored(project.pk)
    if model_id is not None:
        candidate = ModelVersion.objects.filter(project=project, pk=model_id).first()
        if candidate is None:
            raise ValueError("No such model version in this project.")
        if candidate.is_active:
            raise ValueError("That model is the active one: choose a candidate to shadow it.")
        config.shadow_model = candidate
    else:
        config.shadow_model = None
    config.save()
    return config


def _quantiles(values: list[float]) -> dict:
    if not values:
        return {f"p{q}": None for q in QUANTILES}
    got = np.percentile(np.asarray(values, float), QUANTILES)
    return {f"p{q}": float(v) for q, v in zip(QUANTILES, got, strict=True)}


def comparison(project: Project, minutes: int = 60) -> dict:
    """Agreement, confidence distributions and, where feedback says what was right, accuracy of each."""
    config = ServingSettings.stored(project.pk)
    since = timezone.now() - timedelta(minutes=minutes)
    rows = list(
        ShadowPrediction.objects.filter(prediction__project=project, prediction__created_at__gte=since)
        .order_by("-prediction__created_at")
        .values(
            "model_ref",
            "label",
            "confidence",
            "prediction__model_ref",
            "prediction__label",
            "prediction__confidence",
            "prediction__feedback__correct",
            "prediction__feedback__label__name",
        )[:ROWS]
    )
    shadow_ref = str(config.shadow_model_id) if config.shadow_model_id else None
    if shadow_ref is not None:  # the current shadow's answers only
        rows = [r for r in rows if r["model_ref"] == shadow_ref]
    agree = sum(r["label"] == r["prediction__label"] for r in rows)
    judged = [r for r in rows if r["prediction__feedback__correct"] is not None]
    truths = []
    for r in judged:
        if r["prediction__feedback__correct"]:
            truths.append((r, r["prediction__label"]))
        elif r["prediction__feedback__label__name"]:
            truths.append((r, r["prediction__feedback__label__name"]))
        else:  # "wrong" without the right label: the active model was wrong; the shadow unknown
            truths.append((r, None))
    known = [(r, t) for r, t in truths if t is not None]
    return {
        "window_minutes": minutes,
        "shadow_model": shadow_ref,
        "compared": len(rows),
        "agreement": agree / len(rows) if rows else None,
        "active_confidence": _quantiles([r["prediction__confidence"] for r in rows]),
        "shadow_confidence": _quantiles([r["confidence"] for r in rows]),
        "with_feedback": len(judged),
        "active_right": sum(bool(r["prediction__feedback__correct"]) for r in judged),
        "shadow_right": sum(r["label"] == t for r, t in known),
        "shadow_judged": len(known),
    }
