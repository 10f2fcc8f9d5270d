from django.contrib import admin
from django.urls import include, path, re_path

from config.health import healthz
from labeling.api_docs import DocsView, RedocView, SchemaView, api_index
from labeling.api_errors import api_not_found

handler500 = "labeling.middleware.server_error"


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
