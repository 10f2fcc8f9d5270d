from django.urls import path

from learners import api

urlpatterns = [
    # Served here, not in labeling, because a large import is a job (learners.imports).
    path("projects/<int:pk>/imports", api.project_imports, name="api-project-imports"),
    path("projects/<int:pk>/retrain", api.project_retrain, name="api-project-retrain"),
    path("projects/<int:pk>/jobs", api.project_jobs, name="api-project-jobs"),
    path("projects/<int:pk>/models", api.project_models, name="api-project-models"),
    path("projects/<int:pk>/simulations", api.project_simulations, name="api-project-simulations"),
    path("jobs/<int:pk>", api.job_detail, name="api-job"),
    path("models/<uuid:pk>", api.model_detail, name="api-model"),
    path("models/<uuid:pk>/activate", api.model_activate, name="api-model-activate"),
    path("models/<uuid:pk>/evaluation", api.model_evaluation, name="api-model-evaluation"),
]
