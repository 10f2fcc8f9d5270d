"""System checks: fail at start-up, not on the first retrain, when a folder is unusable."""

import os

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_folders(app_configs: object, **kwargs: object) -> list[Error]:
    errors = []
    for name, folder in [("SIFT_ARTIFACT_DIR", settings.ARTIFACT_DIR)]:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            errors.append(Error(f"Cannot create {name} {folder}: {exc}", id="sift.E001"))
            continue
        if not os.access(folder, os.W_OK):
            errors.append(Error(f"{name} {folder} is not writable.", id="sift.E002"))
    return errors


@register()
def check_ranker_names(app_configs: object, **kwargs: object) -> list[Error]:
    from siftml.sampling import RANKERS

    if set(settings.SIFT_RANKERS) != set(RANKERS):
        return [
            Error(
                f"SIFT_RANKERS {sorted(settings.SIFT_RANKERS)} differs from the ranker registry "
                f"{sorted(RANKERS)}.",
                id="sift.E003",
            )
        ]
    return []
