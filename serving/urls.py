from django.urls import path

from serving import views

app_name = "serving"

urlpatterns = [
    path("projects/<slug:slug>/serving", views.serving_page, name="serving"),
    path("projects/<slug:slug>/serving/tokens", views.token_create, name="token-create"),
    path(
        "projects/<slug:slug>/serving/tokens/<int:token_id>/revoke", views.token_revoke, name="token-revoke"
    ),
    path("projects/<slug:slug>/serving/settings", views.settings_save, name="settings-save"),
    path("projects/<slug:slug>/serving/shadow", views.shadow_save, name="shadow-save"),
]
