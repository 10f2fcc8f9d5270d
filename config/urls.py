from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [
    path("", include("labeling.urls")),
    path("", include("learners.urls")),
    path("api/v1/", include("labeling.api_urls")),
    path("api/v1/", include("learners.api_urls")),
    path("api/v1/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]
