from django.contrib import admin
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

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


urlpatterns = [
    path("", include("labeling.urls")),
    path("", include("learners.urls")),
    path("api/v1/", include("labeling.api_urls")),
    path("api/v1/", include("learners.api_urls")),
    path("api/v1/schema", SpectacularAPIView.as_view(), name="api-schema"),
    re_path(r"^api/v1/(?P<path>.*)$", api_not_found),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]
