"""Pages: a project's models and jobs, the retrain button, a job's progress."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from labeling.access import get_project_for_user, is_project_admin, visible_projects
from learners import services
from learners.models import Job, ModelVersion


@login_required
@require_GET
def project_models(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug)
    context = {
        "project": project,
        "models": ModelVersion.objects.filter(project=project).select_related("dataset_version"),
        "jobs": project.jobs.select_related("created_by")[:20],
        "is_admin": is_project_admin(request.user, project),
    }
    return render(request, "learners/models.html", context)


@login_required
@require_POST
def project_retrain(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug, admin=True)
    try:
        job = services.start_retrain(project, request.user)
    except services.RetrainInProgress as exc:
        messages.info(request, str(exc))
        job = exc.job
    return redirect("learners:job-detail", pk=job.pk)


@login_required
@require_GET
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(
        Job.objects.select_related("project").filter(project__in=visible_projects(request.user)), pk=pk
    )
    return render(request, "learners/job.html", {"job": job, "project": job.project})
