import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("sift")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def refuse_to_start_when_misconfigured(**kwargs: object) -> None:
    """Run Django's system checks in the worker too (an unwritable SIFT_ARTIFACT_DIR, ...).

    `manage.py runserver` and `check` run them, the worker did not: it started and then failed
    every retrain at its last step.
    """
    from django.core import checks

    errors = [e for e in checks.run_checks() if e.is_serious()]
    if errors:
        # SystemExit, not an exception: Celery logs and ignores exceptions raised by signal handlers.
        raise SystemExit("The worker cannot start: " + " ".join(f"{e.msg} ({e.id})" for e in errors))
