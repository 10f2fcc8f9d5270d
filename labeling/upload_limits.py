"""Refuse a request body larger than SIFT_MAX_UPLOAD_BYTES before any of it is read.

Django's own DATA_UPLOAD_MAX_MEMORY_SIZE leaves file uploads out (they stream to a
temporary file), so without this a 2 GB upload would fill the disk and hold a web
worker until its timeout. The check reads only the Content-Length header: Django reads
no body beyond it (a chunked body without one reaches a view empty).
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat

from labeling.middleware import wants_json


def _message() -> str:
    limit = filesizeformat(settings.SIFT_MAX_UPLOAD_BYTES)
    return (
        f"The file is larger than the upload limit of {limit}; nothing was imported. "
        "Split it into smaller files, or import it on the server with `manage.py import_items`."
    )


def _too_large(request: HttpRequest) -> HttpResponse:
    """A 413: JSON for the API, a short page for the browser."""
    if wants_json(request):
        return JsonResponse({"error": _message()}, status=413)
    context = {"message": _message(), "back": request.path.rsplit("/", 1)[0] + "/"}
    return render(request, "labeling/upload_too_large.html", context, status=413)


class UploadLimitMiddleware:
    """Placed before CsrfViewMiddleware, which would otherwise read the body first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django's request parsing answers a malformed header itself
        if length > settings.SIFT_MAX_UPLOAD_BYTES:
            return _too_large(request)
        return self.get_response(request)
