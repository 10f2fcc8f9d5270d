"""Pages: project list and settings, import, members, export, the labeling page, and the
team pages (agreement, adjudication, flags, annotator statistics), and the account page."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.views.decorators.http import require_GET, require_POST
from rest_framework.authtoken.models import Token

from labeling import adjudication, exports, services, team_stats, versions
from labeling.access import (
    can_create_projects,
    get_project_for_user,
    is_project_admin,
    visible_projects,
)
from labeling.forms import (
    AdjudicationForm,
    DiffForm,
    ImportForm,
    MemberForm,
    ProjectForm,
    ProjectSettingsForm,
    SnapshotForm,
)


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    # Browsers ask for /favicon.ico wherever a page names no icon (the admin, JSON in a tab).
    return redirect(static("favicon.svg"), permanent=True)


@login_required
@require_GET
def project_list(request: HttpRequest) -> HttpResponse:
    projects = [(p, services.get_project_stats(p)) for p in visible_projects(request.user)]
    context = {"projects": projects, "can_create": can_create_projects(request.user)}
    return render(request, "labeling/project_list.html", context)


@login_required
def project_create(request: HttpRequest) -> HttpResponse:
    if not can_create_projects(request.user):
        raise PermissionDenied("Only admins can create projects.")
    form = ProjectForm(request.POST or None)
    form.fields["annotators"].queryset = form.fields["annotators"].queryset.exclude(pk=request.user.pk)
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        project = services.create_project(request.user, fields.pop("name"), fields.pop("labels"), **fields)
        messages.success(request, f"Created {project.name}. Import items to start labeling.")
        return redirect("labeling:project-detail", slug=project.slug)
    return render(request, "labeling/project_form.html", {"form": form})


@login_required
@require_GET
def project_detail(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug)
    return render_project_detail(request, project)


def render_project_detail(
    request: HttpRequest, project, import_form=None, import_errors=None, status=200, settings_form=None
):
    """The project page; also learners.views.project_import's answer to a bad form or file."""
    is_admin = is_project_admin(request.user, project)
    context = {
        "project": project,
        "stats": services.get_project_stats(project),
        "labels": project.labels.all(),
        "is_admin": is_admin,
        "settings_form": settings_form or ProjectSettingsForm(project=project),
        "open_conflicts": adjudication.count_conflicts(project) if is_admin else 0,
        "open_flags": adjudication.count_open_flags(project) if is_admin else 0,
        "memberships": project.memberships.select_related("user").order_by("user__username"),
        "imports": project.imports.select_related("created_by")[:10],
        "import_form": import_form or ImportForm(),
        "import_errors": import_errors,
        "member_form": MemberForm(),
    }
    return render(request, "labeling/project_detail.html", context, status=status)


@login_required
@require_POST
def project_add_member(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug, admin=True)
    form = MemberForm(request.POST)
    if form.is_valid():
        user = form.cleaned_data["username"]
        services.add_member(project, user, form.cleaned_data["role"])
        messages.success(request, f"{user.username} is now a member ({form.cleaned_data['role']}).")
    else:
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
    return redirect("labeling:project-detail", slug=project.slug)


@login_required
@require_GET
def project_export(request: HttpRequest, slug: str) -> HttpResponse | StreamingHttpResponse:
    project = get_project_for_user(request.user, slug=slug, admin=True)
    fmt = request.GET.get("format", "csv")
    if fmt not in exports.FORMATS:
        return HttpResponse(f"Unknown export format {fmt!r}.", status=400, content_type="text/plain")
    return exports.export_response(project, services.get_label_watermark(project), fmt)


@login_required
@require_GET
def annotate(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug)
    context = {
        "project": project,
        "labels": project.labels.all(),
        "is_admin": is_project_admin(request.user, project),
    }
    return render(request, "labeling/annotate.html", context)


@login_required
@require_POST
def project_settings(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug, admin=True)
    form = ProjectSettingsForm(request.POST, project=project)
    if form.is_valid():
        try:
            services.update_project_settings(project, form.changes())
        except services.SettingsRejected as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Settings saved.")
            return redirect("labeling:project-detail", slug=project.slug)
    return render_project_detail(request, project, settings_form=form, status=400)


@login_required
@require_GET
def agreement(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug)
    is_admin = is_project_admin(request.user, project)
    report = team_stats.get_agreement_report(project, only_pairs_with=None if is_admin else request.user.pk)
    context = {"project": project, "report": report, "is_admin": is_admin}
    return render(request, "labeling/agreement.html", context)


@login_required
def adjudicate(request: HttpRequest, slug: str) -> HttpResponse:
    """The conflicts queue; a POST decides one item's label."""
    project = get_project_for_user(request.user, slug=slug, admin=True)
    if request.method == "POST":
        item, label = _reviewed_item(request, project)
        if label is None:
            raise BadRequest("Choose one of the project's labels.")
        adjudication.adjudicate_item(item, request.user, label)
        messages.success(request, f"{item.external_id} is now “{label}”.")
        return redirect("labeling:adjudicate", slug=project.slug)
    context = {
        "project": project,
        "reviews": adjudication.list_conflicts(project),
        "count": adjudication.count_conflicts(project),
        "labels": project.labels.all(),
    }
    return render(request, "labeling/adjudicate.html", context)


@login_required
def flags(request: HttpRequest, slug: str) -> HttpResponse:
    """Flagged items; a POST closes an item's flags, deciding its label or returning it to the queue."""
    project = get_project_for_user(request.user, slug=slug, admin=True)
    if request.method == "POST":
        item, label = _reviewed_item(request, project)
        try:
            adjudication.resolve_flags(item, request.user, label)
        except adjudication.NoOpenFlags as exc:
            messages.error(request, str(exc))
        else:
            outcome = f"labeled “{label}”." if label else "back in the queue."
            messages.success(request, f"{item.external_id}: {outcome}")
        return redirect("labeling:flags", slug=project.slug)
    context = {
        "project": project,
        "reviews": adjudication.list_open_flags(project),
        "count": adjudication.count_open_flags(project),
        "labels": project.labels.all(),
    }
    return render(request, "labeling/flags.html", context)


def _reviewed_item(request: HttpRequest, project) -> tuple:
    form = AdjudicationForm(request.POST, project=project)
    if not form.is_valid():
        raise BadRequest("Choose one of the project's items and labels.")
    item = get_object_or_404(project.items, pk=form.cleaned_data["item"])
    return item, form.cleaned_data["label"]


@login_required
@require_GET
def project_versions(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug)
    found = list(project.versions.select_related("created_by", "parent"))
    context = {
        "project": project,
        "versions": found,
        "is_admin": is_project_admin(request.user, project),
        "snapshot_form": SnapshotForm(),
        "diff_form": DiffForm(
            initial={"a": found[1].number, "b": found[0].number} if len(found) > 1 else None
        ),
        "formats": versions.FORMATS,
    }
    return render(request, "labeling/versions.html", context)


@login_required
@require_POST
def version_snapshot(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug, admin=True)
    form = SnapshotForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return redirect("labeling:project-versions", slug=project.slug)
    version = services.create_dataset_version(project, request.user, note=form.cleaned_data["note"])
    messages.success(
        request, f"Saved dataset version {version.number} ({version.counts['total']} labeled items)."
    )
    return redirect("labeling:project-versions", slug=project.slug)


@login_required
@require_GET
def annotator_stats(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug, admin=True)
    context = {
        "project": project,
        "annotators": team_stats.get_annotator_stats(project),
        "suggestions": team_stats.get_suggestion_stats(project),
    }
    return render(request, "labeling/annotators.html", context)


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """The user's API token: create a new one (shown once) or revoke it."""
    new_key = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            revoked = services.revoke_api_token(request.user)
            messages.success(request, "Your API token is revoked." if revoked else "You had no API token.")
            return redirect("labeling:account")
        new_key = services.issue_api_token(request.user).key
    context = {
        "token": Token.objects.filter(user=request.user).first(),
        "new_key": new_key,
        "session_hours": settings.SESSION_COOKIE_AGE // 3600,
    }
    return render(request, "labeling/account.html", context)


@login_required
@require_GET
def version_export(request: HttpRequest, slug: str, number: int) -> HttpResponse | StreamingHttpResponse:
    project = get_project_for_user(request.user, slug=slug, admin=True)
    version = get_object_or_404(project.versions, number=number)
    fmt = request.GET.get("format", "csv")
    if fmt not in versions.FORMATS:
        return HttpResponse(f"Unknown export format {fmt!r}.", status=400, content_type="text/plain")
    return versions.version_response(version, fmt)


@login_required
@require_GET
def version_diff_pick(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug, admin=True)
    form = DiffForm(request.GET)
    if not form.is_valid():
        messages.error(request, "Pick two version numbers to compare.")
        return redirect("labeling:project-versions", slug=project.slug)
    return redirect(
        "labeling:version-diff", slug=project.slug, a=form.cleaned_data["a"], b=form.cleaned_data["b"]
    )


@login_required
@require_GET
def version_diff(request: HttpRequest, slug: str, a: int, b: int) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug, admin=True)
    old = get_object_or_404(project.versions, number=a)
    new = get_object_or_404(project.versions, number=b)
    context = {"project": project, "old": old, "new": new, "diff": versions.diff_versions(project, old, new)}
    return render(request, "labeling/version_diff.html", context)
