from django.urls import path

from learners import views

app_name = "learners"

urlpatterns = [
    # The project page's import form (learners.imports: a large file becomes a job).
    path("projects/<slug:slug>/import", views.project_import, name="project-import"),
    path("projects/<slug:slug>/models/", views.project_models, name="project-models"),
    path("projects/<slug:slug>/retrain", views.project_retrain, name="project-retrain"),
    path("projects/<slug:slug>/simulate", views.project_simulate, name="project-simulate"),
    path("projects/<slug:slug>/promotion", views.project_promotion, name="project-promotion"),
    path("projects/<slug:slug>/quality/", views.project_quality, name="project-quality"),
    path("models/<uuid:pk>/", views.model_detail, name="model-detail"),
    path("models/<uuid:pk>/activate", views.model_activate, name="model-activate"),
    path("jobs/<int:pk>/", views.job_detail, name="job-detail"),
    path("jobs/<int:pk>/plot.svg", views.job_plot, name="job-plot"),
]
