"""Candidate models on live traffic: the shadow (answers stored, never returned) and the canary
(answers a share of clients); every change is recorded as a ServingSwitch. Promotion is the usual
activation (POST /api/v1/models/{id}/activate, learners.lifecycle), rollback removes the canary."""

from datetime import timedelta

import numpy as np
from django.utils import timezone

from labeling.models import Project
from serving.models import ServingSettings, ServingSwitch, ShadowPrediction

QUANTILES = (10, 25, 50, 75, 90)
ROWS = 20_000


def _candidate(project: Project, model_id: object):
    from learners.models import ModelVersion

    candidate = ModelVersion.objects.filter(project=project, pk=model_id).first()
    if candidate is None:
        raise ValueError("No such model version in this project.")
    if candidate.is_active:
        raise ValueError("That model is the active one: choose a candidate.")
    if candidate.status != ModelVersion.Status.READY:
        raise ValueError(f"Model {candidate.short_id} is {candidate.status}; only a ready model can serve.")
    return candidate


def set_shadow(project: Project, model_id: object | None, user=None) -> ServingSettings:
    """Make a model version of the project (not the active one) its shadow, or none."""
    config = ServingSettings.stored(project.pk)
    config.shadow_model = _candidate(project, model_id) if model_id is not None else None
    config.save()
    ServingSwitch.objects.create(
        project=project,
        kind=ServingSwitch.Kind.SHADOW,
        model_ref=str(config.shadow_model_id or ""),
        user=user,
    )
    return config


def set_canary(project: Project, model_id: object | None, share: float, user=None) -> ServingSettings:
    """Route `share` of the clients to a candidate; no model (or share 0) is the rollback."""
    if not 0 <= share <= 1:
        raise ValueError("share must be from 0 to 1.")
    config = ServingSettings.stored(project.pk)
    had = config.canary_model_id is not None and config.canary_share > 0
    if model_id is None or share == 0:
        config.canary_model, config.canary_share = None, 0.0
        kind = ServingSwitch.Kind.ROLLBACK if had else ServingSwitch.Kind.CANARY
    else:
        config.canary_model, config.canary_share = _candidate(project, model_id), share
        kind = ServingSwitch.Kind.CANARY
    config.save()
    ServingSwitch.objects.create(
        project=project,
        kind=kind,
        model_ref=str(config.canary_model_id or ""),
        share=config.canary_share,
        user=user,
    )
    return config


def canary_state(project: Project) -> dict:
    config = ServingSettings.stored(project.pk)
    switches = ServingSwitch.objects.filter(project=project).select_related("user")[:50]
    return {
        "model": str(config.canary_model_id) if config.canary_model_id else None,
        "share": config.canary_share,
        "switches": [
            {
                "kind": s.kind,
                "model": s.model_ref or None,
                "share": s.share,
                "user": s.user.username if s.user else None,
                "at": s.created_at,
            }
            for s in switches
        ],
    }


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
