"""Files under SIFT_ARTIFACT_DIR: written whole or not at all, and errors that name the folder."""

import contextlib
from pathlib import Path

from django.conf import settings


class ArtifactWriteError(OSError):
    """A file could not be written to the artifact folder (full, read-only, no permission)."""


def model_path(model_version) -> Path:
    """Where a model version's pipeline is saved, relative to the artifact folder."""
    return Path(str(model_version.project_id)) / f"{model_version.pk.hex}.joblib"


def save_object(obj: object, relative: Path) -> str:
    """Save a fitted object with joblib; return its sha256. Raise ArtifactWriteError on a disk error."""
    from siftml import training  # scikit-learn and joblib: only when a model is saved

    try:
        return training.save_artifact(obj, settings.ARTIFACT_DIR / relative)
    except OSError as exc:
        raise _write_error(relative, exc) from exc


def write_bytes(relative: Path, data: bytes) -> None:
    path = settings.ARTIFACT_DIR / relative
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise _write_error(relative, exc) from exc


def remove(relative: str | Path | None) -> None:
    """Delete a file of the artifact folder if it is there (a failed job's leftovers)."""
    # A folder we cannot write to cannot have received a partial file either.
    if relative:
        with contextlib.suppress(OSError):
            (settings.ARTIFACT_DIR / relative).unlink(missing_ok=True)


def _write_error(relative: Path, exc: OSError) -> ArtifactWriteError:
    # "No space left on device" alone does not say which disk: name the folder.
    reason = exc.strerror or str(exc)
    return ArtifactWriteError(
        exc.errno, f"cannot write {relative} in the artifact folder {settings.ARTIFACT_DIR}: {reason}"
    )
