from django.urls import path

from labeling import views

app_name = "labeling"

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("projects/new", views.project_create, name="project-create"),
    path("projects/<slug:slug>/", views.project_detail, name="project-detail"),
    path("projects/<slug:slug>/import", views.project_import, name="project-import"),
    path("projects/<slug:slug>/members", views.project_add_member, name="project-add-member"),
    path("projects/<slug:slug>/export", views.project_export, name="project-export"),
    path("projects/<slug:slug>/annotate", views.annotate, name="annotate"),
    path("projects/<slug:slug>/settings", views.project_settings, name="project-settings"),
    path("projects/<slug:slug>/agreement", views.agreement, name="agreement"),
    path("projects/<slug:slug>/adjudicate", views.adjudicate, name="adjudicate"),
    path("projects/<slug:slug>/flags", views.flags, name="flags"),
    path("projects/<slug:slug>/annotators", views.annotator_stats, name="annotator-stats"),
    path("account/", views.account, name="account"),
]
