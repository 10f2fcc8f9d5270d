from django.contrib import admin
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path

from labeling.api_docs import DocsView, RedocView, SchemaView, api_index
from labeling.api_errors import api_not_found
from labeling.middleware import DATABASE_ERRORS, database_unavailable

handler500 = "labeling.middleware.server_error"


def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and docker-compose: 200 while the app can reach its database, else 503."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DATABASE_ERRORS as exc:
        return database_unavailable(request, exc)
    return JsonResponse({"ok": True})


api_docs = [
    path("", api_index, name="api-index"),
    path("schema", SchemaView.as_view(), name="api-schema"),
    path("docs", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc", RedocView.as_view(url_name="api-schema"), name="api-redoc"),
]

urlpatterns = [
    path("", include("labeling.urls")),
    path("", include("learners.urls")),
    path("", include("serving.urls")),
    path("api/v1/", include(api_docs)),
    path("api/v1/", include("labeling.api_urls")),
    path("api/v1/", include("learners.api_urls")),
    path("api/v1/", include("serving.api_urls")),
    re_path(r"^api/v1/(?P<path>.*)$", api_not_found),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]

# JSON on /api/ paths for errors raised outside any view too; the usual pages elsewhere.
handler400 = "labeling.api_errors.bad_request"
