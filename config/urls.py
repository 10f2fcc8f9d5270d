from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from labeling.api_errors import api_not_found


def healthz(request: HttpRequest) -> JsonResponse:
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
