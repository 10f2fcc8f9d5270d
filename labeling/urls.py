from django.urls import path

from labeling import browser_views, views

app_name = "labeling"

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("projects/new", views.project_create, name="project-create"),
    path("projects/<slug:slug>/", views.project_detail, name="project-detail"),
    path("projects/<slug:slug>/members", views.project_add_member, name="project-add-member"),
    path("projects/<slug:slug>/export", views.project_export, name="project-export"),
    path("projects/<slug:slug>/annotate", views.annotate, name="annotate"),
    path("projects/<slug:slug>/settings", views.project_settings, name="project-settings"),
    path("projects/<slug:slug>/agreement", views.agreement, name="agreement"),
    path("projects/<slug:slug>/adjudicate", views.adjudicate, name="adjudicate"),
    path("projects/<slug:slug>/flags", views.flags, name="flags"),
    path("projects/<slug:slug>/annotators", views.annotator_stats, name="annotator-stats"),
    path("account/", views.account, name="account"),
    path("projects/<slug:slug>/items/<int:pk>/", browser_views.item_page, name="item-detail"),
    path("projects/<slug:slug>/items/<int:pk>/label", browser_views.item_relabel, name="item-relabel"),
    path("projects/<slug:slug>/versions/", views.project_versions, name="project-versions"),
    path("projects/<slug:slug>/versions/new", views.version_snapshot, name="version-snapshot"),
    path("projects/<slug:slug>/versions/diff", views.version_diff_pick, name="version-diff-pick"),
    path("projects/<slug:slug>/versions/<int:number>/export", views.version_export, name="version-export"),
    path("projects/<slug:slug>/versions/<int:a>/diff/<int:b>/", views.version_diff, name="version-diff"),
    path("projects/<slug:slug>/items/", browser_views.items, name="items"),
    path("projects/<slug:slug>/items/bulk", browser_views.items_bulk, name="items-bulk"),
    path("projects/<slug:slug>/bulk-actions/<int:pk>/revert", browser_views.bulk_revert, name="bulk-revert"),
]
