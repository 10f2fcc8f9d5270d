"""Uploaded files waiting for their import job, under SIFT_UPLOAD_DIR.

The web process saves an upload here and names it in the job's params; the worker that runs
the job reads it, and the file is deleted when the job ends, however it ends (the runner's
work deletes it; a job failed by the sweeper or at send has it deleted by
learners.jobs.discard_outputs). Web and workers must therefore share the folder.
"""

import contextlib
import os
import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile


def path_of(name: str) -> Path:
    """The saved upload called `name` (a bare file name: never a path out of the folder)."""
    return settings.SIFT_UPLOAD_DIR / Path(name).name


def save(upload: UploadedFile) -> str:
    """Save the upload under SIFT_UPLOAD_DIR and return its name there.

    Django already streamed a large upload to a temporary file: it is moved (or copied,
    across file systems), never read into memory.
    """
    folder = settings.SIFT_UPLOAD_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.upload"
    target = folder / name
    try:
        if hasattr(upload, "temporary_file_path"):
            try:
                os.replace(upload.temporary_file_path(), target)
            except OSError:  # another file system: copy it
                shutil.copyfile(upload.temporary_file_path(), target)
        else:
            with target.open("wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return name


def remove(name: str | None) -> None:
    """Delete a saved upload if it is still there."""
    if name:
        with contextlib.suppress(OSError):
            path_of(name).unlink(missing_ok=True)
