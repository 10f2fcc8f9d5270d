from django.urls import path

from labeling import api, browser_views

urlpatterns = [
    path("projects", api.projects, name="api-projects"),
    path("projects/<int:pk>", api.project_detail, name="api-project"),
    path("projects/<int:pk>/members", api.project_members, name="api-project-members"),
    path("projects/<int:pk>/next", api.project_next, name="api-project-next"),
    path("projects/<int:pk>/stats", api.project_stats, name="api-project-stats"),
    path("projects/<int:pk>/export", api.project_export, name="api-project-export"),
    path("projects/<int:pk>/versions", api.project_versions, name="api-project-versions"),
    path("projects/<int:pk>/versions/<int:number>/export", api.version_export, name="api-version-export"),
    path("projects/<int:pk>/versions/<int:a>/diff/<int:b>", api.version_diff, name="api-version-diff"),
    path("items/<int:pk>", browser_views.api_item, name="api-item"),
    path("items/<int:pk>/similar", browser_views.api_item_similar, name="api-item-similar"),
    path("items/<int:pk>/annotations", api.item_annotations, name="api-item-annotations"),
    path("items/<int:pk>/skip", api.item_skip, name="api-item-skip"),
    path("projects/<int:pk>/history", api.project_history, name="api-project-history"),
    path("projects/<int:pk>/progress", api.project_progress, name="api-project-progress"),
    path("projects/<int:pk>/agreement", api.project_agreement, name="api-project-agreement"),
    path(
        "projects/<int:pk>/annotator-stats", api.project_annotator_stats, name="api-project-annotator-stats"
    ),
    path("projects/<int:pk>/conflicts", api.project_conflicts, name="api-project-conflicts"),
    path("projects/<int:pk>/flags", api.project_flags, name="api-project-flags"),
    path("items/<int:pk>/adjudicate", api.item_adjudicate, name="api-item-adjudicate"),
    path("items/<int:pk>/flags/resolve", api.item_resolve_flags, name="api-item-resolve-flags"),
    path("auth/token/revoke", api.token_revoke, name="api-token-revoke"),
    path("projects/<int:pk>/items", browser_views.api_items, name="api-project-items"),
    path("projects/<int:pk>/items/bulk", browser_views.api_items_bulk, name="api-project-items-bulk"),
    path("projects/<int:pk>/items/export", browser_views.api_items_export, name="api-project-items-export"),
    path("bulk-actions/<int:pk>/revert", browser_views.api_bulk_revert, name="api-bulk-revert"),
]
