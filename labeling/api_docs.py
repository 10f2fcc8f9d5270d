"""The API describing itself: an index at /api/v1/, the OpenAPI schema, and its docs pages."""

from csp.decorators import csp_update
from django.urls import reverse
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response


class JsonErrorsMixin:
    """Errors in JSON, like the rest of the API, from views whose pages are HTML or YAML."""

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        # finalize_response renders with the request's renderer: make it JSON's for errors.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response


# The docs pages are the only ones that run inline code: Swagger UI's and Redoc's start-up script
# in our templates, and Redoc's search worker from a blob. Everything still comes from this
# server: default-src stays 'self', so Redoc's logo request to its CDN is refused unsent.
DOCS_CSP = csp_update(
    {
        "script-src": ["'unsafe-inline'", "blob:"],
        "worker-src": ["'self'", "blob:"],
        "img-src": ["blob:"],
        "font-src": ["'self'", "data:"],
    }
)


@method_decorator(DOCS_CSP, name="dispatch")
class DocsView(JsonErrorsMixin, SpectacularSwaggerView):
    """Swagger UI over the schema, with its assets from drf-spectacular-sidecar."""

    template_name = "api/swagger_ui.html"


@method_decorator(DOCS_CSP, name="dispatch")
class RedocView(JsonErrorsMixin, SpectacularRedocView):
    """Redoc over the schema; our template drops the stock one's Google Fonts links."""

    template_name = "api/redoc.html"


class SchemaView(JsonErrorsMixin, SpectacularAPIView):
    """The schema as YAML by default; `?format=json` or `?format=yaml` picks one.

    URL_FORMAT_OVERRIDE is off project-wide (`?format=` names an export format elsewhere),
    so the schema reads the parameter itself.
    """

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[BaseRenderer, str]:
        wanted = request.query_params.get("format")
        if not wanted:
            return super().perform_content_negotiation(request, force)
        # The last renderer of a format wins: plain application/json and application/yaml,
        # which a browser shows instead of downloading.
        by_format = {renderer.format: renderer for renderer in self.get_renderers()}
        if wanted in by_format:
            return by_format[wanted], by_format[wanted].media_type
        if force:  # rendering the error below: in JSON, like every API error
            return by_format["json"], by_format["json"].media_type
        raise NotFound(f"Unknown schema format {wanted!r}; choose json or yaml.")


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([AllowAny])
def api_index(request: Request) -> Response:
    """Where to start: the schema and its two documentation pages."""
    links = {
        "schema": reverse("api-schema"),
        "schema_json": reverse("api-schema") + "?format=json",
        "docs": reverse("api-docs"),
        "redoc": reverse("api-redoc"),
    }
    return Response(
        {
            "name": "Sift API",
            "version": "1",
            "auth": "Authorization: Token KEY (manage.py add_user prints one), or the page session.",
            "links": {name: request.build_absolute_uri(url) for name, url in links.items()},
        }
    )
