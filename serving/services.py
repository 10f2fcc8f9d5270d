"""Answering a batch of texts, logging the answers, and turning texts into items."""

import hashlib
import logging
import time
import uuid
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.cache import cache as shared_cache
from django.db import transaction
from django.utils import timezone

from labeling import splits
from labeling.models import ImportBatch, Item, Label, Origin, Project
from labeling.signals import items_imported
from serving import engine
from serving.models import Feedback, Outcome, PredictionLog, ServiceToken, ServingSettings, ShadowPrediction
from siftml import screening

logger = logging.getLogger(__name__)


def _unit_hash(*parts: object) -> float:
    """A float in [0, 1) from the parts, the same in every process (for fixed random shares)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class BadBatch(ValueError):
    """The request's `texts` is not a list of 1 to SIFT_PREDICT_MAX_BATCH entries."""


def check_batch(texts: object) -> list:
    limit = settings.SIFT_PREDICT_MAX_BATCH
    if not isinstance(texts, list):
        raise BadBatch('Send {"texts": [...]}: a list of strings.')
    if not texts:
        raise BadBatch("texts is empty: send at least one text.")
    if len(texts) > limit:
        raise BadBatch(f"At most {limit} texts per request (got {len(texts)}); split the batch.")
    return texts


@dataclass
class Answer:
    prediction_id: uuid.UUID
    outcome: str
    reason: str | None
    label: str | None
    confidence: float | None
    best_guess: dict | None
    top_k: list[dict]
    flags: list[str]
    unknown_rate: float | None
    cached: bool

    def as_dict(self, index: int, model: engine.LoadedModel) -> dict:
        return {
            "index": index,
            "prediction_id": str(self.prediction_id),
            "outcome": self.outcome,
            "label": self.label,
            "confidence": self.confidence,
            "best_guess": self.best_guess,
            "top_k": self.top_k,
            "reason": self.reason,
            "reason_text": screening.REASONS.get(self.reason) if self.reason else None,
            "flags": self.flags,
            "unknown_word_rate": self.unknown_rate,
            "cached": self.cached,
            "model": model.model_id,
            "dataset_version": model.dataset_version,
        }


def predict(project: Project, texts: list, client_key: str = "") -> tuple[engine.LoadedModel, list[dict]]:
    """Answer each text (label, abstain or refusal); log the answers; draw the audit sample."""
    started = time.perf_counter()
    config = ServingSettings.of(project.pk)
    model = _model_for(project.pk, config, client_key)
    answers, scored = answer_texts(project.pk, model, config, texts)
    latency_ms = (time.perf_counter() - started) * 1000
    shadows = _shadow_answers(project, model, texts, scored, config)
    _log(project, model, texts, answers, latency_ms, client_key, config, shadows)
    return model, [a.as_dict(i, model) for i, a in enumerate(answers)]


def answer_texts(
    project_id: int, model: engine.LoadedModel, config: ServingSettings, texts: list
) -> tuple[list["Answer"], dict[int, engine.Scored]]:
    """Each text's answer (label, abstain or refusal) from `model`, nothing logged; also the scores by index.

    The one place the safeguards apply: the input checks, the filtering model, the
    confidence threshold. Used by `predict` and by batch prediction jobs (serving.batch).
    """
    max_chars = settings.SIFT_PREDICT_MAX_CHARS
    reasons = [screening.check_input(t, max_chars) for t in texts]
    ok = [i for i, r in enumerate(reasons) if r is None]
    refuse_above = (
        config.ood_threshold if config.ood_action == ServingSettings.OutOfDistribution.REFUSE else None
    )
    scored = dict(zip(ok, engine.score(project_id, model, [texts[i] for i in ok], refuse_above), strict=True))
    return [_answer(reasons[i], scored.get(i), model, config) for i in range(len(texts))], scored


def in_canary(project_id: int, client_key: str, share: float) -> bool:
    """Whether this client is in the canary share: a fixed hash of its key, so one client sees one model."""
    return _unit_hash("canary", project_id, client_key) < share


def _model_for(project_id: int, config: ServingSettings, client_key: str) -> engine.LoadedModel:
    """The active model, or the canary for the clients in its share (the active one if it cannot load)."""
    active = engine.loaded_model(project_id)
    canary = config.canary_model_id
    if (
        canary is None
        or str(canary) == active.model_id
        or not in_canary(project_id, client_key, config.canary_share)
    ):
        return active
    try:
        return engine.candidate_model(project_id, canary)
    except Exception:  # a broken candidate falls back to the active model
        logger.exception("canary model %s of project %s failed to load", canary, project_id)
        return active


def _shadow_answers(project, model, texts, scored: dict, config) -> dict[int, ShadowPrediction]:
    """The shadow model's answers to the texts the active model answered (index -> unsaved row).

    Never part of the response, and never its failure: a shadow that cannot load or answer is
    logged and skipped. Measured after the request's latency, which stays the active model's.
    """
    if config.shadow_model_id is None or str(config.shadow_model_id) == model.model_id:
        return {}
    answered = [i for i, s in scored.items() if s.proba is not None]
    if not answered:
        return {}
    try:
        shadow = engine.candidate_model(project.pk, config.shadow_model_id)
        results = engine.score(project.pk, shadow, [texts[i] for i in answered], None)
    except Exception:  # the live answer must not depend on the candidate
        logger.exception("shadow model %s of project %s failed", config.shadow_model_id, project.pk)
        return {}
    out = {}
    for i, result in zip(answered, results, strict=True):
        best = int(np.argmax(result.proba))
        confidence = float(result.proba[best])
        out[i] = ShadowPrediction(
            model_ref=shadow.model_id,
            label=str(shadow.classes[best]),
            confidence=confidence,
            abstain=confidence < config.confidence_threshold,
        )
    return out


def _answer(reason: str | None, scored: engine.Scored | None, model, config: ServingSettings) -> Answer:
    pid = uuid.uuid4()
    if reason is not None or scored is None:
        return Answer(pid, Outcome.REFUSED, reason, None, None, None, [], [], None, False)
    if scored.proba is None:  # the filtering model refused it
        return Answer(
            pid,
            Outcome.REFUSED,
            screening.OUT_OF_DISTRIBUTION,
            None,
            None,
            None,
            [],
            [],
            scored.unknown_rate,
            scored.cached,
        )
    flags = [screening.OUT_OF_DISTRIBUTION] if scored.unknown_rate > config.ood_threshold else []
    top = [
        {"label": label, "probability": p}
        for label, p in screening.top_k(scored.proba[None, :], model.classes, config.top_k)[0]
    ]
    best = top[0]
    if best["probability"] < config.confidence_threshold:
        return Answer(
            pid,
            Outcome.ABSTAIN,
            None,
            None,
            None,
            {"label": best["label"], "confidence": best["probability"]},
            top,
            flags,
            scored.unknown_rate,
            scored.cached,
        )
    return Answer(
        pid,
        Outcome.LABEL,
        None,
        best["label"],
        best["probability"],
        None,
        top,
        flags,
        scored.unknown_rate,
        scored.cached,
    )


def _logged_share(project_id: int, n: int) -> float:
    """1 while this minute's predictions stay under SIFT_PREDICTION_LOG_RATE, else the sample share."""
    key = f"serving:logged:{project_id}:{int(time.time() // 60)}"
    shared_cache.add(key, 0, timeout=120)
    try:
        count = shared_cache.incr(key, n)
    except ValueError:  # evicted between add and incr
        shared_cache.set(key, n, timeout=120)
        count = n
    return 1.0 if count <= settings.SIFT_PREDICTION_LOG_RATE else settings.SIFT_PREDICTION_LOG_SAMPLE


def _log(project, model, texts, answers: list[Answer], latency_ms, client_key, config, shadows) -> None:
    share = _logged_share(project.pk, len(answers))
    now = timezone.now()
    request_id = uuid.uuid4()
    rows = []
    shadow_rows = []
    for index, (text, a) in enumerate(zip(texts, answers, strict=True)):
        if share < 1.0 and _unit_hash("log", a.prediction_id) >= share:
            continue
        is_text = isinstance(text, str)
        rows.append(
            PredictionLog(
                id=a.prediction_id,
                project=project,
                model_ref=model.model_id,
                dataset_version=model.dataset_version,
                request_id=request_id,
                batch_size=len(answers),
                latency_ms=latency_ms,
                outcome=a.outcome,
                reason=a.reason or "",
                label=a.label or (a.best_guess or {}).get("label", ""),
                confidence=a.confidence
                if a.confidence is not None
                else (a.best_guess or {}).get("confidence"),
                flagged=bool(a.flags),
                cached=a.cached,
                # Unfamiliar texts are kept: their feedback is what the next labels should cover.
                text=text if a.reason in (None, screening.OUT_OF_DISTRIBUTION) else "",
                text_length=len(text) if is_text else 0,
                unknown_rate=a.unknown_rate,
                client_key=client_key[:100],
                weight=1.0 / share,
                created_at=now,
            )
        )
        if index in shadows:
            shadows[index].prediction_id = a.prediction_id
            shadow_rows.append(shadows[index])
    audited = [r for r in rows if r.outcome != Outcome.REFUSED and in_audit_sample(r.id, config.audit_share)]
    if not audited and not shadow_rows:
        # One INSERT is atomic on its own: skip the BEGIN and COMMIT round trips of a transaction
        # (bulk_create opens one; a single row's save() without parents does not).
        if len(rows) == 1:
            rows[0].save(force_insert=True)
        else:
            PredictionLog.objects.bulk_create(rows)
        return
    with transaction.atomic():
        PredictionLog.objects.bulk_create(rows)
        ShadowPrediction.objects.bulk_create(shadow_rows)
        if audited:
            _add_audit_items(project, audited)


def in_audit_sample(prediction_id: uuid.UUID, share: float) -> bool:
    """A fixed `share` of predictions, by hash of their id: no client can steer it."""
    return _unit_hash("audit", prediction_id) < share


def _new_items_batch(project: Project, origin: str, n: int) -> ImportBatch:
    return ImportBatch.objects.create(
        project=project, file_name=f"prediction API ({origin})", sha256="", rows=n, pool=0, test=0, labeled=0
    )


def _new_item(project: Project, batch: ImportBatch, text: str, origin: str, meta: dict) -> Item:
    """An item split by the import's hash rule (labeling.splits), so a text keeps one split."""
    key = splits.split_key(meta, text)
    external_id = f"{origin}-{meta['prediction']}"
    return Item(
        project=project,
        external_id=external_id,
        text=text,
        meta=meta,
        content_hash=splits.content_hash(text),
        split=splits.assign_split(project.seed, key, project.test_fraction),
        rand_key=splits.random_key(project.seed, key + external_id),
        import_batch=batch,
        origin=origin,
    )


def _add_items(project: Project, origin: str, entries: list[tuple[str, dict]]) -> list[Item]:
    """Insert texts as new items (one batch), rank them through items_imported; skip known texts."""
    known = set(
        Item.objects.filter(
            project=project, content_hash__in=[splits.content_hash(t) for t, _ in entries]
        ).values_list("content_hash", flat=True)
    )
    fresh = [(t, m) for t, m in entries if splits.content_hash(t) not in known]
    if not fresh:
        return []
    batch = _new_items_batch(project, origin, len(fresh))
    items = Item.objects.bulk_create([_new_item(project, batch, t, origin, m) for t, m in fresh])
    batch.test = sum(i.split == "test" for i in items)
    batch.pool = len(items) - batch.test
    batch.save(update_fields=["pool", "test"])
    items_imported.send(sender=Project, project=project, batch=batch)
    return items


def _add_audit_items(project: Project, rows: list[PredictionLog]) -> None:
    items = _add_items(
        project,
        Origin.AUDIT,
        [(r.text, {"prediction": str(r.id), "model": r.model_ref, "predicted": r.label}) for r in rows],
    )
    by_prediction = {i.meta["prediction"]: i for i in items}
    for row in rows:
        if str(row.id) in by_prediction:
            row.audit_item = by_prediction[str(row.id)]
    PredictionLog.objects.bulk_update([r for r in rows if r.audit_item_id], ["audit_item"])


class FeedbackRefused(ValueError):
    """The feedback cannot be taken: `status` says how to answer."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def give_feedback(
    prediction: PredictionLog, correct: bool, label_name: str | None, token: ServiceToken | None
) -> tuple[Feedback, Item | None, bool]:
    """Keep the feedback; make the text an item unless the project has it: (feedback, item, created)."""
    label = None
    if label_name is not None:
        label = Label.objects.filter(project_id=prediction.project_id, name=label_name).first()
        if label is None:
            raise FeedbackRefused(f"{label_name!r} is not a label of this project.", 400)
    if not prediction.text:
        raise FeedbackRefused(
            "This input was refused before the model (not text): there is nothing to label.", 409
        )
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=prediction.project_id)
        if Feedback.objects.filter(prediction=prediction).exists():
            raise FeedbackRefused("This prediction already has feedback.", 409)
        meta = {
            "prediction": str(prediction.id),
            "model": prediction.model_ref,
            "predicted": prediction.label,
            "feedback": {"correct": correct, "label": label_name},
        }
        created = _add_items(project, Origin.FEEDBACK, [(prediction.text, meta)])
        item = (
            created[0]
            if created
            else Item.objects.filter(
                project=project, content_hash=splits.content_hash(prediction.text)
            ).first()
        )
        feedback = Feedback.objects.create(
            prediction=prediction, correct=correct, label=label, item=item, token=token
        )
    return feedback, item, bool(created)
