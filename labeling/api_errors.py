"""Every API error is JSON {"error": "..."} with the right status."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.csrf import csrf_failure as page_csrf_failure
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from labeling.middleware import DATABASE_ERRORS, database_unavailable, wants_json

logger = logging.getLogger(__name__)


def json_exception_handler(exc: Exception, context: dict) -> Response | JsonResponse | None:
    if isinstance(exc, DATABASE_ERRORS):
        return database_unavailable(context["request"], exc)
    if isinstance(exc, RequestDataTooBig):
        return _too_big()
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


def _too_big() -> Response:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)
    message = f"The request body is larger than {limit} MB; send less at once (imports: split the file)."
    return Response({"error": message}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)


def _first_message(detail: object, field: str = "") -> str:
    if isinstance(detail, dict):
        key, value = next(iter(detail.items()))
        prefix = "" if key == "non_field_errors" else str(key)
        return _first_message(value, prefix)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0], field)
    return f"{field}: {detail}" if field else str(detail)


# Exempt: otherwise a POST to a mistyped API path fails the CSRF check before it can say 404.
@csrf_exempt
def api_not_found(request: HttpRequest, path: str) -> JsonResponse:
    """An unknown /api/v1/ URL: a JSON 404 like every other API error, not Django's HTML page."""
    return JsonResponse({"error": f"There is no API endpoint {request.path!r}."}, status=404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: JSON on /api/ paths, Django's usual page everywhere else."""
    if wants_json(request):
        message = (
            f"CSRF check failed ({reason}). A session-authenticated API request that changes "
            "something needs the X-CSRFToken header; or authenticate with 'Authorization: Token KEY'."
        )
        return JsonResponse({"error": message}, status=403)
    return page_csrf_failure(request, reason=reason)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400 (a bad Host header, for one): JSON on API paths, Django's page elsewhere."""
    if wants_json(request):
        return JsonResponse({"error": "Bad request; the server could not accept it as sent."}, status=400)
    return defaults.bad_request(request, exception)
