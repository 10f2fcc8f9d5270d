"""Pages: project list and settings, import, members, export, and the labeling page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from labeling import exports, services
from labeling.access import (
    can_create_projects,
    get_project_for_user,
    is_project_admin,
    visible_projects,
)
from labeling.forms import ImportForm, MemberForm, ProjectForm
from labeling.importing import ImportRejected


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
    return _render_detail(request, project)


def _render_detail(request: HttpRequest, project, import_form=None, import_errors=None, status=200):
    context = {
        "project": project,
        "stats": services.get_project_stats(project),
        "labels": project.labels.all(),
        "is_admin": is_project_admin(request.user, project),
        "memberships": project.memberships.select_related("user").order_by("user__username"),
        "imports": project.imports.select_related("created_by")[:10],
        "import_form": import_form or ImportForm(),
        "import_errors": import_errors,
        "member_form": MemberForm(),
    }
    return render(request, "labeling/project_detail.html", context, status=status)


@login_required
@require_POST
def project_import(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug, admin=True)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_detail(request, project, import_form=form, status=400)
    upload = form.cleaned_data["file"]
    try:
        batch = services.import_items(project, request.user, upload.read(), upload.name)
    except ImportRejected as exc:
        errors = {"message": exc.message, "rows": exc.rows, "file": upload.name}
        return _render_detail(request, project, import_form=form, import_errors=errors, status=400)
    messages.success(
        request,
        f"Imported {batch.rows} items from {batch.file_name}: {batch.pool} pool, "
        f"{batch.test} test, {batch.labeled} already labeled.",
    )
    return redirect("labeling:project-detail", slug=project.slug)


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
    context = {"project": project, "labels": project.labels.all()}
    return render(request, "labeling/annotate.html", context)
