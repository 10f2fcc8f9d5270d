"""A database that is briefly unreachable (a restart, a failover, too many connections) is an
answer that says "try again", not a 500 with a traceback page.

Three places see such an error, and all of them answer with `database_unavailable`: the DRF
exception handler (labeling.api_errors) for API views, this middleware for page views, and
`server_error` (the project's handler500) for anything raised outside a view, such as the
session being saved on the way out.
"""

import logging
import sys
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
UNAVAILABLE_MESSAGE = "the database is unavailable; try again in a few seconds"
RETRY_AFTER_SECONDS = 5


def wants_json(request: HttpRequest) -> bool:
    """The API and the health check answer machines; everything else is a page."""
    return request.path.startswith("/api/") or request.path == "/healthz"


def database_unavailable(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """A 503 with Retry-After: JSON on the API, a plain page elsewhere."""
    # A warning, not an error with a traceback: the fault is outside the code, and a restart
    # would otherwise flood the log with identical tracebacks.
    logger.warning("Database unavailable during %s %s: %s", request.method, request.path, exc)
    if wants_json(request):
        response: HttpResponse = JsonResponse({"error": UNAVAILABLE_MESSAGE}, status=503)
    else:
        response = _plain_page("503.html", 503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _plain_page(template: str, status: int) -> HttpResponse:
    # Rendered without the request: context processors would read the user, whose session
    # lives in the database that may be the very thing that is down.
    return HttpResponse(loader.get_template(template).render(), status=status)


class DatabaseUnavailableMiddleware:
    """Turn a database error raised by a page view into a 503."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_ERRORS):
            return database_unavailable(request, exception)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a 503 when the uncaught error was the database's, else a plain 500."""
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_ERRORS):
        return database_unavailable(request, exc)
    if wants_json(request):
        return JsonResponse(
            {"error": "Something went wrong on the server; the error was logged."}, status=500
        )
    return _plain_page("500.html", 500)
