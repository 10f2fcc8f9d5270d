"""Imports of any size: a small upload now, a large one as an "import" job.

POST /api/v1/projects/{id}/imports and the project page's import form are served from here
(learners/api.py, learners/views.py; the URLs are the same as ever) rather than from
labeling, because labeling must not import learners and a large import is a job
(learners.jobs). Both entry points call `import_upload`:

- an upload of at most SIFT_IMPORT_INLINE_BYTES is checked and written in the request by
  labeling.services.import_items (201 with the counts, or 400 with the row errors);
- a larger one is saved under SIFT_UPLOAD_DIR (learners.uploads) and an "import" job started
  (202 with the job). The worker runs the same import_items, reporting progress; the job's
  result holds the same counts, or on failure the same {"error", "rows"} as the 400 would.

The import is one transaction, so a lost worker leaves nothing imported: the sweeper fails
the silent job (and deletes its upload). Progress is written from a thread of its own,
since the import's transaction hides the job row's updates made on its own connection;
the last report, once every row is written, is made inside the transaction on purpose: it
locks the job row until the commit, so the sweeper cannot fail a job whose items are
committing, and an import whose job was failed meanwhile raises JobAbandoned and rolls back.
"""

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, connection

from labeling import services
from labeling.importing import ImportRejected
from labeling.models import ImportBatch, Project
from learners import jobs, runner, uploads
from learners.models import Job

logger = logging.getLogger(__name__)

FAILED = "Failed: nothing was imported."
# At most one progress write per this many seconds while rows are written.
REPORT_SECONDS = 0.5


def import_upload(project: Project, user: AbstractBaseUser, upload: UploadedFile) -> ImportBatch | Job:
    """Import a small upload now (an ImportBatch), or start an import job for a large one (a Job).

    Raises ImportRejected for a bad small file (nothing written) and jobs.QueueUnreachable
    when the job cannot be sent (the job failed, its upload deleted).
    """
    if upload.size <= settings.SIFT_IMPORT_INLINE_BYTES:
        return services.import_items(project, user, upload, upload.name)
    name = uploads.save(upload)
    try:
        return jobs.start_job(
            project,
            Job.Kind.IMPORT,
            user=user,
            params={"upload": name, "file_name": upload.name[:255], "bytes": upload.size},
            message=f"Waiting for a worker to import {upload.name[:200]}.",
        )
    except jobs.QueueUnreachable:
        raise  # fail_job deleted the upload
    except BaseException:
        uploads.remove(name)
        raise


def counts(batch: ImportBatch) -> dict[str, int]:
    """The 201 answer's body, and an import job's result."""
    return {
        "id": batch.pk,
        "imported": batch.rows,
        "pool": batch.pool,
        "test": batch.test,
        "labeled": batch.labeled,
    }


def describe(batch: ImportBatch) -> str:
    return (
        f"Imported {batch.rows:,} items from {batch.file_name}: {batch.pool:,} pool, "
        f"{batch.test:,} test, {batch.labeled:,} already labeled."
    )


def run_import(job: Job) -> runner.Outcome | None:
    """The import job's work, run by the worker (learners.tasks.import_file)."""
    return runner.run_job(job, _import, failure=FAILED)


def _import(job: Job) -> runner.Outcome | None:
    name = job.params["upload"]
    try:
        try:
            upload = uploads.path_of(name).open("rb")
        except FileNotFoundError:
            error = (
                f"The uploaded file is not in {settings.SIFT_UPLOAD_DIR} on this worker: web and "
                "workers must share SIFT_UPLOAD_DIR. Upload the file again."
            )
            jobs.fail_job(job, error, FAILED)
            return None
        with upload, _Progress(job) as progress:
            try:
                batch = services.import_items(
                    job.project, job.created_by, upload, job.params["file_name"], progress=progress
                )
            except ImportRejected as exc:
                jobs.fail_job(job, exc.message, FAILED, result={"error": exc.message, "rows": exc.rows})
                return None
    finally:
        uploads.remove(name)
    return runner.Outcome(message=describe(batch), result=counts(batch))


class _Progress:
    """The import's progress callback: ("check" | "write", done, total) -> jobs.report."""

    def __init__(self, job: Job):
        self.job = job
        # Already inside a transaction (a test's): nothing else can see the job row anyway.
        self.same_connection = connection.in_atomic_block
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"import-{job.pk}")
        self.pending: Future | None = None
        self.last = 0.0

    def __enter__(self) -> "_Progress":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.pool.submit(connection.close)  # the thread's own connection
        self.pool.shutdown(wait=True)

    def __call__(self, phase: str, done: int, total: int) -> None:
        share = min(done / total, 1.0) if total else 1.0
        if phase == "check":
            progress, message = 0.01 + 0.39 * share, f"Checking the file: {share:.0%} read."
        else:
            progress, message = 0.4 + 0.59 * share, f"Writing items: {done:,} of {total:,}."
        self._raise_pending()
        last_write = phase == "write" and done >= total
        if self.same_connection or last_write or not connection.in_atomic_block:
            jobs.report(self.job, progress=progress, message=message)
            return
        now = time.monotonic()
        if now - self.last >= REPORT_SECONDS and (self.pending is None or self.pending.done()):
            self.last = now
            self.pending = self.pool.submit(self._report_apart, progress, message)

    def _report_apart(self, progress: float, message: str) -> None:
        try:
            jobs.report(
                Job(pk=self.job.pk, kind=self.job.kind, state=Job.State.RUNNING),
                progress=progress,
                message=message,
            )
        except DatabaseError as exc:  # a missed progress write is not fatal
            logger.warning("progress of import job %s not written: %s", self.job.pk, exc)

    def _raise_pending(self) -> None:
        """Stop the import (rolling it back) once a report found the job no longer running."""
        if self.pending is not None and self.pending.done():
            done, self.pending = self.pending, None
            done.result()  # re-raises JobAbandoned
