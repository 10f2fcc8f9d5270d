"""A model's life after it is fitted: judged once on held-out labels, compared with the
active model on the same items, promoted or kept as a candidate, and activated (or rolled
back to) by an admin, which re-scores the pool so that the queue and its suggestions come
from the model that is active. Its k-fold cross-validation, k more fits, runs in a job of
its own after the retrain so that the new ranking does not wait for it.
"""

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from sklearn.pipeline import Pipeline

from labeling import splits
from labeling.exports import DatasetRow, iter_dataset_rows
from labeling.models import LabelSuspect, Lease, Project, QueueEntry, Ranking, Split
from learners import jobs, ranking, signals
from learners.jobs import report
from learners.models import Job, ModelVersion
from learners.runner import Outcome, run_job
from siftml import evaluation, inspection, promotion_rule, training
from siftml.text import normalize_text

logger = logging.getLogger(__name__)
TEXT_PREVIEW = 280


class ModelUnavailable(Exception):
    """A model's file is missing or is not the file that was saved."""


class ActivationRefused(Exception):
    """This model cannot be made active (not ready, or active already)."""


def split_rows(rows: list[DatasetRow]) -> tuple[list[DatasetRow], list[DatasetRow], int]:
    """Return (training rows, test rows, test rows left out) of one dataset version.

    A test item whose text (up to case and spacing) is also a training text is left out of
    every score: the model has seen that text, so it would flatter the model.
    """
    train = [r for r in rows if r.split == Split.POOL]
    test = [r for r in rows if r.split == Split.TEST]
    if {r.item_pk for r in train} & {r.item_pk for r in test}:
        raise RuntimeError("An item is both in the training and the test rows; refusing to evaluate.")
    seen = {normalize_text(r.text) for r in train}
    kept = [r for r in test if normalize_text(r.text) not in seen]
    return train, kept, len(test) - len(kept)


def test_parts(test: list[DatasetRow], seed: int) -> tuple[list[DatasetRow], list[DatasetRow]]:
    """Split test rows into (decision part, report part) by the fixed hash of labeling.splits.

    Promotion reads only the decision part; every number on the model page comes from the
    report part, which no decision reads, so it carries no winner's-curse bias.
    """
    decision, report_part = [], []
    for row in test:
        part = splits.holdout_part(seed, splits.split_key(row.meta, row.text))
        (decision if part == "decision" else report_part).append(row)
    return decision, report_part


def evaluate_model(model: Pipeline, rows: list[DatasetRow], seed: int) -> tuple[dict, dict]:
    """Judge a fitted model on the report part of its test rows: (headline metrics, full report)."""
    train, all_test, left_out = split_rows(rows)
    decision, test = test_parts(all_test, seed)
    classes = list(model.classes_)
    y_test = [r.label for r in test]
    proba = training.predict_proba(model, [r.text for r in test])
    metrics = evaluation.point_metrics(y_test, proba, classes)
    report: dict = {
        "n": len(test),
        "train_size": len(train),
        "left_out_duplicates": left_out,
        "test_parts": {"report": len(test), "decision": len(decision)},
    }
    if test:
        report.update(evaluation.classification_report(y_test, proba, classes, seed=seed))
        report["roc"] = evaluation.roc_one_vs_rest(y_test, proba, classes)
        report["calibration"] = evaluation.calibration(y_test, proba, classes)
        report["calibrated"] = training.is_calibrated(model)
        if report["calibrated"]:  # the same test items before calibration, for the page's comparison
            raw = training.uncalibrated_proba(model, [r.text for r in test])
            report["calibration_before"] = evaluation.calibration(y_test, raw, classes)
        report["top"] = {
            name: [_with_item(entry, test) for entry in entries]
            for name, entries in evaluation.top_predictions(y_test, proba, classes).items()
        }
        report["segments"] = _segments(test, y_test, evaluation.predicted_labels(proba, classes), seed)
    report["features"] = inspection.top_features(model)
    report["label_suspects"] = []
    report["cross_validation"] = (
        {"pending": "Cross-validation runs in a job of its own after the retrain."}
        if settings.SIFT_CV_FOLDS >= 2
        else {"skipped": "Cross-validation is off (SIFT_CV_FOLDS)."}
    )
    report["warnings"] = evaluation.evaluation_warnings(report, classes)
    if decision and not test:
        report["warnings"].append(
            f"All {len(decision)} labeled test item(s) fell in the decision part, which only "
            "promotion reads: label more test items so that the report part can score this model."
        )
    if left_out:
        report["warnings"].append(
            f"{left_out} test item(s) repeat a training text and were left out of every score."
        )
    return metrics, report


def _with_item(entry: dict, rows: list[DatasetRow]) -> dict:
    row = rows[entry.pop("row")]
    return {"item": row.item_pk, "external_id": row.external_id, "text": row.text[:TEXT_PREVIEW], **entry}


def _segments(test: list[DatasetRow], y_test: list[str], y_pred: np.ndarray, seed: int) -> dict:
    """Metrics per value of every metadata column that splits the test set into groups."""
    columns: dict[str, list] = {"text length": evaluation.length_buckets([r.text for r in test])}
    keys = sorted({key for r in test for key, value in r.meta.items() if _is_category(value)} - {"group"})
    for key in keys:
        values = [r.meta.get(key) for r in test]
        distinct = {str(v) for v in values if v not in (None, "")}
        # One value says nothing; nearly one per item is an id or free text, not a group.
        if 2 <= len(distinct) <= max(2, len(test) // 2):
            columns[key] = values
    return {
        column: evaluation.segment_metrics(y_test, y_pred, values, seed=seed)
        for column, values in columns.items()
    }


def _is_category(value: object) -> bool:
    return isinstance(value, str | int | bool) or value is None


def schedule_cross_validation(model_version: ModelVersion, retrain: Job) -> Job | None:
    """Cross-validate a new model's training labels in an `evaluate` job (inline if the retrain was).

    With cross-validation off there is no such job: the stopping guidance is computed here.
    """
    if model_version.dataset_version_id is None:
        return None
    if settings.SIFT_CV_FOLDS < 2:
        _record_stopping(model_version)
        return None
    inline = bool(retrain.params.get("inline"))
    job = jobs.start_job(
        model_version.project,
        Job.Kind.EVALUATE,
        user=retrain.created_by,
        params={"model": str(model_version.pk)},
        message=f"Waiting for a worker to cross-validate model {model_version.short_id}.",
        enqueue=not inline,
        resend_if_unreachable=True,
    )
    if inline:
        run_cross_validation(job)
    return job


def run_cross_validation(job: Job) -> None:
    """Fit the model's pipeline k times on its training labels; store the spread and the suspects."""
    run_job(job, _run_cross_validation, failure="Failed; the model keeps its test-set evaluation.")


def _run_cross_validation(job: Job) -> Outcome:
    model_version = ModelVersion.objects.select_related("project", "dataset_version").get(
        pk=job.params["model"]
    )
    project = model_version.project
    # The pool split only: a test item never reaches a fold, not even a held-out one.
    train = list(iter_dataset_rows(project, model_version.dataset_version.max_annotation_id, Split.POOL))
    summary, suspects = _cross_validate(
        train, model_version.params, project.seed % 2**31, lambda message: report(job, message=message)
    )
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=model_version.pk)
        locked.evaluation = {**locked.evaluation, "cross_validation": summary, "label_suspects": suspects}
        ModelVersion.objects.filter(pk=locked.pk).update(evaluation=locked.evaluation)
        _store_suspects(project, model_version, suspects)
    report(job, message="Comparing with earlier models: stopping guidance and the common learning curve.")
    _record_stopping(model_version)
    spread = (
        f"macro-F1 {summary['mean']:.3f} ± {summary['std']:.3f}" if "mean" in summary else summary["skipped"]
    )
    return Outcome(
        f"Cross-validated model {model_version.short_id}: {spread}.",
        {"model": str(model_version.pk), "suspects": len(suspects)},
    )


def _cross_validate(
    train: list[DatasetRow], params: dict, seed: int, progress: Callable[[str], None]
) -> tuple[dict, list[dict]]:
    folds = settings.SIFT_CV_FOLDS
    progress(f"Cross-validating: {folds} folds over {len(train)} training labels.")
    summary, oof, classes = inspection.cross_validate(
        [r.text for r in train],
        [r.label for r in train],
        [str(r.meta.get("group") or "") for r in train],
        lambda: training.build_pipeline(params, random_state=seed),
        n_splits=folds,
        seed=seed,
    )
    if oof is None:
        return summary, []
    suspects = inspection.label_suspects([r.label for r in train], oof, classes)
    return summary, [_with_item(entry, train) for entry in suspects]


def _record_stopping(model_version: ModelVersion) -> None:
    """Store the stopping guidance and warm the common learning curve, so no page view loads models."""
    from learners import common_curve, stopping  # both import this module

    try:
        stopping.record_stopping(model_version, load_model(model_version))
    except ModelUnavailable as exc:
        logger.warning("Stopping guidance for model %s skipped (%s).", model_version.short_id, exc)
    common_curve.learning_curve(model_version.project)


def _store_suspects(project: Project, model_version: ModelVersion, suspects: list[dict]) -> None:
    """Keep the suspects as rows too, so the items browser can filter on them in SQL.

    Only this model's and the active model's rows are kept (the browser reads the active one's).
    """
    active = Ranking.objects.filter(pk=project.active_ranking_id).values_list("model_ref", flat=True).first()
    stale = LabelSuspect.objects.filter(project=project)
    stale.exclude(model_ref=active or "").delete()
    stale.filter(model_ref=str(model_version.pk)).delete()
    labels = dict(project.labels.values_list("name", "pk"))
    LabelSuspect.objects.bulk_create(
        LabelSuspect(
            project=project,
            model_ref=str(model_version.pk),
            item_id=entry["item"],
            given_id=labels[entry["given"]],
            predicted_id=labels[entry["predicted"]],
            confidence=entry["confidence"],
            p_given=entry["p_given"],
        )
        for entry in suspects
        if entry["given"] in labels and entry["predicted"] in labels
    )


def load_model(model_version: ModelVersion) -> Pipeline:
    """Load a model's file after checking its sha256; raise ModelUnavailable otherwise."""
    path = settings.ARTIFACT_DIR / Path(model_version.artifact)
    if not model_version.artifact or not path.exists():
        raise ModelUnavailable(f"The file of model {model_version.short_id} is missing ({path.name}).")
    try:
        return training.load_artifact(path, model_version.sha256)
    except training.ArtifactMismatch as exc:
        raise ModelUnavailable(str(exc)) from None


def compare_with_active(candidate: ModelVersion, model: Pipeline, rows: list[DatasetRow]) -> dict:
    """Compare a new model with the active one on the same test items; record and return the decision.

    The candidate is kept as a candidate only when even the top of the paired-bootstrap
    interval of (its macro-F1 - the active model's) is more than the project's
    `promotion_tolerance` below zero; `promotion_rule.describe_promotion_rule` says so in words.
    """
    project = Project.objects.get(pk=candidate.project_id)
    active = ModelVersion.objects.filter(project=project, is_active=True).exclude(pk=candidate.pk).first()
    _, all_test, _ = split_rows(rows)
    # Same seed as evaluate_model's (services passes project.seed % 2**31), so the parts match.
    test, _ = test_parts(all_test, project.seed % 2**31)
    record: dict = {
        "against": str(active.pk) if active else None,
        "tolerance": project.promotion_tolerance,
        "n": len(test),
        "part": "decision",
    }
    if active is None:
        record.update(promoted=True, reason="No model was active: this one becomes the active model.")
    elif not test:
        record.update(
            promoted=True,
            reason="There are no labeled test items in the decision part to compare on; the newer "
            "model takes over. "
            "Label test items so that the next model is judged.",
        )
    else:
        record.update(_compare(active, candidate, model, test, project))
    ModelVersion.objects.filter(pk=candidate.pk).update(shadow=record)
    candidate.shadow = record
    return record


def _compare(
    active: ModelVersion, candidate: ModelVersion, model: Pipeline, test: list[DatasetRow], project: Project
) -> dict:
    try:
        active_model = load_model(active)
    except ModelUnavailable as exc:
        return {
            "promoted": True,
            "reason": f"The active model cannot be loaded ({exc}); the new one replaces it.",
        }
    texts, y_true = [r.text for r in test], [r.label for r in test]
    pred_active = evaluation.predicted_labels(
        training.predict_proba(active_model, texts), active_model.classes_
    )
    pred_new = evaluation.predicted_labels(training.predict_proba(model, texts), model.classes_)
    labels = sorted(set(y_true) | set(active_model.classes_) | set(model.classes_))
    compared = promotion_rule.decide(
        y_true, pred_active, pred_new, labels, project.promotion_tolerance, seed=project.seed % 2**31
    )
    drop = compared["a"] - compared["b"]
    tolerance = project.promotion_tolerance
    promoted = compared["promoted"]
    numbers = (
        f"macro-F1 {compared['b']:.3f} against {compared['a']:.3f} for the active model "
        f"{active.short_id} on the same {len(test)} decision-part test items"
    )
    if promoted:
        reason = f"Promoted: {numbers} (tolerance {tolerance:.3f})."
    else:
        reason = (
            f"Kept as a candidate: {numbers}, {drop:.3f} lower; even the 95% interval's best case "
            f"({compared['difference']['high']:+.3f}) is worse than the project's tolerance of "
            f"{tolerance:.3f}. An admin can still activate it."
        )
    return {
        "promoted": promoted,
        "reason": reason,
        "candidate_macro_f1": compared["b"],
        "active_macro_f1": compared["a"],
        "difference": compared["difference"],
    }


def outcome_message(model_version: ModelVersion) -> str:
    if model_version.is_active:
        return f"Model {model_version.short_id} is active."
    return f"Model {model_version.short_id}: {model_version.shadow.get('reason', 'not activated.')}"


def start_activation(model_version: ModelVersion, user: AbstractBaseUser | None, enqueue: bool = True) -> Job:
    """Queue a job that re-scores the pool with this model and then makes it the active one.

    Raises ActivationRefused for a model that cannot be activated, JobInProgress while
    another activation is queued or running, QueueUnreachable when the broker is down.
    """
    model_version.refresh_from_db()
    if model_version.status != ModelVersion.Status.READY:
        raise ActivationRefused(
            f"Model {model_version.short_id} is {model_version.status}; only a ready model can be activated."
        )
    if model_version.is_active:
        raise ActivationRefused(f"Model {model_version.short_id} is already the active model.")
    return jobs.start_job(
        model_version.project,
        Job.Kind.ACTIVATE,
        user=user,
        params={"model": str(model_version.pk)},
        message=f"Waiting for a worker to activate model {model_version.short_id}.",
        enqueue=enqueue,
    )


def run_activation(job: Job) -> ModelVersion | None:
    """Load the model (sha256 checked), rank the pool with it, then swap both in at once.

    A failure marks the job failed and leaves the active model and ranking as they were.
    """
    outcome = run_job(job, _run_activation, failure="Failed; the active model did not change.")
    return outcome and ModelVersion.objects.get(pk=job.params["model"])


def _run_activation(job: Job) -> Outcome:
    report(job, message="Loading the model.")
    model_version = ModelVersion.objects.select_related("project").filter(pk=job.params.get("model")).first()
    if model_version is None:
        raise ModelUnavailable("The model to activate no longer exists.")
    model = load_model(model_version)
    new_ranking = ranking.rank_pool(
        model_version.project,
        model,
        model_version,
        progress=lambda done: report(job, progress=0.05 + 0.9 * done, message="Ranking the unlabeled pool."),
    )
    report(job)  # a job failed meanwhile must not swap its queue in
    activate(model_version, new_ranking)
    return Outcome(
        f"Model {model_version.short_id} is active; it ranked {new_ranking.size} items.",
        {"model": str(model_version.pk), "ranking": new_ranking.pk},
    )


def activate(model_version: ModelVersion | None, new_ranking: Ranking) -> None:
    """Make the model (none in cold start) active and its ranking the queue, both at once."""
    project = new_ranking.project
    with transaction.atomic():
        Project.objects.select_for_update().get(pk=project.pk)
        if model_version is not None:
            ModelVersion.objects.filter(project=project, is_active=True).update(is_active=False)
            ModelVersion.objects.filter(pk=model_version.pk).update(
                is_active=True, activated_at=timezone.now()
            )
            model_version.is_active = True
        Project.objects.filter(pk=project.pk).update(active_ranking=new_ranking)
        _refresh_held_suggestions(project, new_ranking)
    if model_version is not None:  # after the block: committed, unless a caller's transaction holds it
        signals.model_activated.send(sender=ModelVersion, project_id=project.pk)
    ranking.delete_stale_rankings(project, keep=new_ranking)


def _refresh_held_suggestions(project: Project, new_ranking: Ranking) -> None:
    """Items held by annotators show the new model's suggestion, or none, never the old one's."""
    _apply_suggestions(_held_leases(project, new_ranking), new_ranking)


def _held_leases(project: Project, new_ranking: Ranking) -> list[Lease]:
    leases = Lease.objects.filter(item__project=project, expires_at__gt=timezone.now())
    return list(leases.exclude(model_ref=new_ranking.model_ref).select_related("item"))


def _apply_suggestions(leases: list[Lease], new_ranking: Ranking) -> None:
    """Rewrite each lease with a filtered UPDATE, not save(): annotators keep labeling during the
    swap, and a lease whose item was just labeled (deleted) or served again is simply skipped."""
    item_ids = [lease.item_id for lease in leases]
    entries = {e.item_id: e for e in QueueEntry.objects.filter(ranking=new_ranking, item__in=item_ids)}
    for lease in leases:
        entry = entries.get(lease.item_id)
        if entry is None:
            # The old model chose the item (model_ref stays true), but its guess is withdrawn.
            fields = {"suggested_label": None, "suggestion_confidence": None}
        else:
            on_pool = lease.item.split == Split.POOL
            fields = {
                "model_ref": new_ranking.model_ref,
                "strategy": entry.strategy,
                "score": entry.score,
                "reason": entry.reason,
                "suggested_label_id": entry.suggested_label_id if on_pool else None,
                "suggestion_confidence": entry.confidence if on_pool else None,
            }
        Lease.objects.filter(pk=lease.pk, expires_at=lease.expires_at).update(**fields)


def set_promotion_tolerance(project: Project, tolerance: float) -> None:
    Project.objects.filter(pk=project.pk).update(promotion_tolerance=tolerance)
    project.promotion_tolerance = tolerance
