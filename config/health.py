"""/healthz: for load balancers and docker-compose, checks the database and the job queue.

200 {"ok": true, "database": "ok", "broker": "ok"} while both answer; else 503 with
Retry-After, an "error" saying which is down, and each part's state. The broker check
opens one connection with a short timeout and retries nothing, so a dead broker answers in
about SIFT_HEALTHZ_BROKER_TIMEOUT seconds at worst (a refused port at once).
"""

import logging

from celery import current_app
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from kombu.exceptions import OperationalError as BrokerError

from labeling.middleware import DATABASE_ERRORS, RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE

logger = logging.getLogger(__name__)

BROKER_DOWN = "the job queue (broker) is unreachable; background jobs cannot start"


def _database() -> str | None:
    """None when the database answers, else why not (for the log only)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DATABASE_ERRORS as exc:
        return str(exc).strip() or type(exc).__name__
    return None


def _broker() -> str | None:
    """None when the broker takes a connection, else why not (for the log only)."""
    timeout = settings.SIFT_HEALTHZ_BROKER_TIMEOUT
    try:
        with current_app.connection_for_write(connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
    except (BrokerError, OSError) as exc:
        return str(exc) or type(exc).__name__
    return None


def healthz(request: HttpRequest) -> JsonResponse:
    database, broker = _database(), _broker()
    # The answer names what is down, not the error: it goes to anyone, without a login.
    body: dict[str, object] = {
        "ok": database is None and broker is None,
        "database": "ok" if database is None else "unreachable",
        "broker": "ok" if broker is None else "unreachable",
    }
    if body["ok"]:
        return JsonResponse(body)
    problems = [UNAVAILABLE_MESSAGE] if database else []
    problems += [BROKER_DOWN] if broker else []
    logger.warning("healthz: database %s; broker %s", database or "ok", broker or "ok")
    response = JsonResponse({"error": "; and ".join(problems), **body}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
