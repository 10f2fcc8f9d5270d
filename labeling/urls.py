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
]
