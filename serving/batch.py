"""Batch predictions: a file of texts (or the unlabeled pool) answered by a "predict" job.

POST /api/v1/projects/{id}/batch-predictions checks an uploaded CSV/JSONL file with the
import's checks (labeling.importing, any label accepted and ignored) and saves it under
SIFT_UPLOAD_DIR, or takes the project's unlabeled pool items, then starts a "predict" job
(learners.jobs). The worker (learners.tasks.predict_batch -> run_batch) answers the texts
with the active model in batches of SIFT_PREDICT_MAX_BATCH through the same safeguards as the
predict API (serving.services.answer_texts: refusals, abstain, the filtering model), without
logging them, and writes a CSV (formula cells neutralised, labeling.exports) or JSONL file under
SIFT_PREDICTIONS_DIR. GET /api/v1/jobs/{id}/predictions streams it.

The file is written to a temporary name and renamed once every row is in it: a job that fails
leaves no file behind, and no partial file is ever served.
"""

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile

from labeling import exports, importing
from labeling.models import Item, Project, Split
from learners import jobs, runner, uploads
from learners.models import Job

FAILED = "Failed: no predictions were written."


class NothingToPredict(ValueError):
    """The request names no texts (an empty pool, an unknown format, no file)."""


@dataclass
class PredictionRow:
    """One line of the output file."""

    COLUMNS = ("id", "text", "outcome", "label", "confidence", "reason", "meta")
    TEXT_COLUMNS = ("id", "text", "label")

    id: str
    text: str
    outcome: str
    label: str
    confidence: float | None
    reason: str
    meta: dict

    def as_export(self) -> dict:
        return {
            "id": self.id,
            "text": self.text,
            "outcome": self.outcome,
            "label": self.label,
            "confidence": self.confidence,
            "reason": self.reason,
            "meta": self.meta,
        }


def output_path(job: Job) -> Path:
    return settings.SIFT_PREDICTIONS_DIR / f"job-{job.pk}.{job.params['format']}"


def start_batch(
    project: Project,
    user: AbstractBaseUser,
    fmt: str,
    upload: UploadedFile | None = None,
    unlabeled: bool = False,
) -> Job:
    """Check the request and start a "predict" job.

    Raises NothingToPredict or importing.ImportRejected (nothing saved), engine.NoActiveModel
    when the project has no active model, and jobs.QueueUnreachable (the job failed).
    """
    from serving import engine  # numpy and scikit-learn: loaded on first use

    if fmt not in exports.FORMATS:
        raise NothingToPredict(f"format must be one of {', '.join(exports.FORMATS)} (got {fmt!r}).")
    if (upload is None) == (not unlabeled):
        raise NothingToPredict(
            'Send either a multipart `file` (CSV or JSONL with a text column) or {"unlabeled": true}.'
        )
    model = engine.active_model_row(project.pk)
    if upload is None:
        n = Item.objects.filter(project=project, split=Split.POOL, label__isnull=True).count()
        if not n:
            raise NothingToPredict("The project has no unlabeled pool items to predict.")
        params = {"source": "unlabeled", "format": fmt, "rows": n, "model": str(model.pk)}
        return jobs.start_job(
            project, Job.Kind.PREDICT, user=user, params=params, message="Waiting for a worker to predict."
        )
    summary = importing.check_upload(upload, upload.name, None)  # raises ImportRejected
    upload.seek(0)
    name = uploads.save(upload)
    params = {
        "source": "file",
        "upload": name,
        "file_name": upload.name[:255],
        "format": fmt,
        "rows": summary.rows,
        "model": str(model.pk),
    }
    try:
        return jobs.start_job(
            project,
            Job.Kind.PREDICT,
            user=user,
            params=params,
            message=f"Waiting for a worker to predict {upload.name[:200]}.",
        )
    except jobs.QueueUnreachable:
        raise  # fail_job deleted the upload
    except BaseException:
        uploads.remove(name)
        raise


def run_batch(job: Job) -> runner.Outcome | None:
    """The predict job's work, run by the worker (learners.tasks.predict_batch)."""
    return runner.run_job(job, _predict, failure=FAILED)


def _texts(job: Job) -> Iterator[tuple[str, str]]:
    """(id, text) of each text to answer."""
    if job.params["source"] == "unlabeled":
        items = Item.objects.filter(project_id=job.project_id, split=Split.POOL, label__isnull=True)
        yield from items.order_by("pk").values_list("external_id", "text").iterator(2000)
        return
    with uploads.path_of(job.params["upload"]).open("rb") as upload:
        for row in importing.iter_rows(upload, job.params["file_name"], None):
            yield row.external_id or "", row.text


def _chunks(pairs: Iterator[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    chunk: list[tuple[str, str]] = []
    for pair in pairs:
        chunk.append(pair)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _rows(job: Job, model, config, total: int, counts: dict) -> Iterator[PredictionRow]:
    from serving import services

    done = 0
    for chunk in _chunks(_texts(job), settings.SIFT_PREDICT_MAX_BATCH):
        answers, _ = services.answer_texts(job.project_id, model, config, [t for _, t in chunk])
        for (external_id, text), a in zip(chunk, answers, strict=True):
            counts[a.outcome] = counts.get(a.outcome, 0) + 1
            guess = a.best_guess or {}
            yield PredictionRow(
                id=external_id,
                text=text,
                outcome=a.outcome,
                label=a.label or "",
                confidence=a.confidence,
                reason=a.reason or "",
                meta={"best_guess": guess or None, "top_k": a.top_k, "flags": a.flags},
            )
        done += len(chunk)
        share = min(done / total, 1.0) if total else 1.0
        jobs.report(job, progress=0.05 + 0.9 * share, message=f"Predicted {done:,} of {total:,} texts.")


def _predict(job: Job) -> runner.Outcome | None:
    from serving import engine
    from serving.models import ServingSettings

    try:
        try:
            model = engine.loaded_model(job.project_id)
        except engine.NoActiveModel as exc:
            jobs.fail_job(job, str(exc), FAILED)
            return None
        if job.params["source"] == "file" and not uploads.path_of(job.params["upload"]).exists():
            error = (
                f"The uploaded file is not in {settings.SIFT_UPLOAD_DIR} on this worker: web and "
                "workers must share SIFT_UPLOAD_DIR. Upload the file again."
            )
            jobs.fail_job(job, error, FAILED)
            return None
        config = ServingSettings.of(job.project_id)
        fmt = job.params["format"]
        target = output_path(job)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        counts: dict[str, int] = {}
        try:
            with partial.open("wb") as out:
                rows = _rows(job, model, config, job.params["rows"], counts)
                lines = exports.stream_export(
                    rows, fmt, columns=PredictionRow.COLUMNS, text_columns=PredictionRow.TEXT_COLUMNS
                )
                for chunk in lines:
                    out.write(chunk)
            os.replace(partial, target)
        finally:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
    finally:
        uploads.remove(job.params.get("upload"))
    n = sum(counts.values())
    result = {"rows": n, "file": target.name, "format": fmt, "model": model.model_id, "outcomes": counts}
    return runner.Outcome(
        message=f"Predicted {n:,} texts with model {model.model_id}: {json.dumps(counts, sort_keys=True)}.",
        result=result,
    )


def download_path(job: Job) -> Path | None:
    """The finished job's file, or None if it is gone."""
    name = (job.result or {}).get("file")
    if not name:
        return None
    path = settings.SIFT_PREDICTIONS_DIR / Path(name).name
    return path if path.is_file() else None
