"""What the prediction log says about a project's live traffic: load, latency, outcomes,
cache, label shares against the test set, input drift, and live accuracy from the audits."""

from datetime import timedelta

import numpy as np
from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone

from labeling.models import Item, Project, Split
from learners.models import ModelVersion
from serving import engine
from serving.models import Outcome, PredictionLog
from siftml import screening

RECENT_INPUTS = 5_000
REFERENCE_TEXTS = 2_000
LATENCY_REQUESTS = 10_000
_reference: dict[str, dict[str, np.ndarray]] = {}


def reference_features(project: Project, model: engine.LoadedModel) -> dict[str, np.ndarray]:
    """Length and unknown-word rate of the project's test texts, which no model trained on.

    Training texts would make the unknown-word rate 0 by construction; the test split is
    the same distribution the model was judged on, so it is the baseline. Kept per model.
    """
    if model.model_id in _reference:
        return _reference[model.model_id]
    texts = list(
        Item.objects.filter(project=project, split=Split.TEST)
        .order_by("rand_key")
        .values_list("text", flat=True)[:REFERENCE_TEXTS]
    )
    rates = [model.vocabulary.unknown_rate(t)[0] for t in texts]
    features = {"text_length": np.array([len(t) for t in texts], float), "unknown_word_rate": np.array(rates)}
    _reference[model.model_id] = features
    return features


def _share(part: float, whole: float) -> float | None:
    return float(part / whole) if whole else None


def monitoring(project: Project, minutes: int = 60) -> dict:
    since = timezone.now() - timedelta(minutes=minutes)
    rows = PredictionLog.objects.filter(project=project, created_at__gte=since)
    by_outcome = {o: 0.0 for o in Outcome.values}
    for entry in rows.values("outcome").annotate(n=Sum("weight")):
        by_outcome[entry["outcome"]] = float(entry["n"])
    total = sum(by_outcome.values())
    reasons = {
        e["reason"]: float(e["n"])
        for e in rows.filter(outcome=Outcome.REFUSED).values("reason").annotate(n=Sum("weight"))
    }
    modelled = rows.filter(unknown_rate__isnull=False).aggregate(
        n=Sum("weight"),
        hits=Sum("weight", filter=Q(cached=True)),
        flagged=Sum("weight", filter=Q(flagged=True)),
    )
    # One latency per request (every row of a request carries the request's time).
    per_request = rows.values("request_id").annotate(ms=Max("latency_ms")).order_by()
    latencies = np.array(list(per_request.values_list("ms", flat=True)[:LATENCY_REQUESTS]), float)
    n_requests = rows.aggregate(n=Count("request_id", distinct=True))["n"]

    active = ModelVersion.objects.filter(project=project, is_active=True).first()
    report = {
        "window_minutes": minutes,
        "active_model": str(active.pk) if active else None,
        "requests": n_requests,
        "predictions": total,
        "requests_per_minute": n_requests / minutes,
        "latency_ms": {
            "p50": float(np.percentile(latencies, 50)) if len(latencies) else None,
            "p95": float(np.percentile(latencies, 95)) if len(latencies) else None,
        },
        "outcomes": by_outcome,
        "refusal_rate": _share(by_outcome[Outcome.REFUSED], total),
        "abstain_rate": _share(by_outcome[Outcome.ABSTAIN], total),
        "flagged_rate": _share(modelled["flagged"] or 0.0, total),
        "refusal_reasons": reasons,
        "cache_hit_rate": _share(modelled["hits"] or 0.0, modelled["n"] or 0.0),
        "label_distribution": label_distribution(project, rows),
        "drift": {
            "verdict": "not enough data",
            "text": "No active model.",
            "n_recent": 0,
            "n_reference": 0,
            "features": [],
        },
        "live_accuracy": None,
        "alerts": [],
    }
    if active is None:
        return report
    try:
        model = engine.loaded_model(project.pk)
    except engine.NoActiveModel:
        return report
    recent = list(
        rows.filter(unknown_rate__isnull=False)
        .order_by("-created_at")
        .values_list("text_length", "unknown_rate")[:RECENT_INPUTS]
    )
    recent_features = {
        "text_length": np.array([r[0] for r in recent], float),
        "unknown_word_rate": np.array([r[1] for r in recent], float),
    }
    drift = screening.drift_report(reference_features(project, model), recent_features)
    for feature in drift["features"]:
        feature["psi_band"] = screening.psi_band(feature["psi"])
    report["drift"] = drift
    report["live_accuracy"] = live_accuracy(project, str(active.pk))
    report["alerts"] = alerts(active, drift, report["live_accuracy"])
    return report


def label_distribution(project: Project, rows) -> list[dict]:
    """Share of each label among answered predictions (best guesses included) and in the test set."""
    live = {
        e["label"]: float(e["n"])
        for e in rows.exclude(outcome=Outcome.REFUSED).values("label").annotate(n=Sum("weight"))
    }
    test = dict(
        Item.objects.filter(project=project, split=Split.TEST, label__isnull=False)
        .values_list("label__name")
        .annotate(n=Count("id"))
    )
    live_total, test_total = sum(live.values()), sum(test.values())
    names = list(project.labels.values_list("name", flat=True))
    return [
        {
            "label": name,
            "live": live.get(name, 0.0) / live_total if live_total else 0.0,
            "test": test.get(name, 0) / test_total if test_total else 0.0,
        }
        for name in names
    ]


def live_accuracy(project: Project, model_ref: str) -> dict | None:
    """Accuracy of the model's answers on the audit sample annotators labeled, with a BCa interval."""
    audited = PredictionLog.objects.filter(
        project=project, model_ref=model_ref, audit_item__label__isnull=False
    ).values_list("label", F("audit_item__label__name"))
    correct = [predicted == truth for predicted, truth in audited]
    return screening.accuracy_interval(correct, seed=project.seed)


def alerts(active: ModelVersion, drift: dict, accuracy: dict | None) -> list[str]:
    out = []
    if drift["verdict"] == "drifted":
        moved = ", ".join(f["name"].replace("_", " ") for f in drift["features"] if f["drifted"])
        out.append(
            f"Inputs have drifted since model {active.short_id} was trained ({moved}): "
            "label some recent inputs and retrain."
        )
    test_accuracy = (active.metrics or {}).get("accuracy")
    if accuracy is not None and test_accuracy is not None and accuracy["high"] < test_accuracy:
        out.append(
            f"Live accuracy is below the test set's {test_accuracy:.0%} (audit: {accuracy['value']:.0%}, "
            f"95% interval {accuracy['low']:.0%}–{accuracy['high']:.0%}): label the audit items and retrain."
        )
    return out
