from django.urls import path

from serving import api

urlpatterns = [
    path("projects/<int:pk>/service-tokens", api.service_tokens, name="api-service-tokens"),
    path(
        "projects/<int:pk>/service-tokens/<int:token_id>",
        api.service_token_revoke,
        name="api-service-token-revoke",
    ),
    path("projects/<int:pk>/predict", api.predict, name="api-predict"),
    path("projects/<int:pk>/shadow", api.project_shadow, name="api-shadow"),
    path("projects/<int:pk>/canary", api.project_canary, name="api-canary"),
    path("projects/<int:pk>/monitoring", api.project_monitoring, name="api-monitoring"),
    path("projects/<int:pk>/batch-predictions", api.batch_predictions, name="api-batch-predictions"),
    path("jobs/<int:pk>/predictions", api.job_predictions, name="api-job-predictions"),
    path("predictions/<uuid:prediction_id>/feedback", api.feedback, name="api-prediction-feedback"),
]
