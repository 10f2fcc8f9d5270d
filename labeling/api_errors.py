"""Every API error is JSON {"error": "..."} with the right status."""

import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from labeling.middleware import DATABASE_ERRORS, database_unavailable

logger = logging.getLogger(__name__)


def json_exception_handler(exc: Exception, context: dict) -> Response | JsonResponse | None:
    if isinstance(exc, DATABASE_ERRORS):
        return database_unavailable(context["request"], exc)
    response = exception_handler(exc, context)
    if response is None:
        if settings.DEBUG:
            return None  # Django's debug page, with the traceback
        # An unexpected error is still JSON for API clients; the traceback goes to the log.
        logger.error("API error in %s", context.get("view"), exc_info=exc)
        return Response(
            {"error": "Something went wrong on the server; the error was logged."},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"error": _first_message(exc.detail), "fields": exc.detail}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"error": str(response.data["detail"])}
    return response


def _first_message(detail: object, field: str = "") -> str:
    if isinstance(detail, dict):
        key, value = next(iter(detail.items()))
        prefix = "" if key == "non_field_errors" else str(key)
        return _first_message(value, prefix)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0], field)
    return f"{field}: {detail}" if field else str(detail)


def api_not_found(request: HttpRequest, path: str) -> JsonResponse:
    """An unknown /api/v1/ URL: a JSON 404 like every other API error, not Django's HTML page."""
    return JsonResponse({"error": f"There is no API endpoint {request.path!r}."}, status=404)
