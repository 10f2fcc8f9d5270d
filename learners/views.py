"""Pages: a project's models and jobs, the retrain button, a job's progress."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from labeling.access import get_project_for_user, is_project_admin, visible_projects
from learners import services, simulation, simulation_jobs
from learners.models import Job, ModelVersion
from learners.serializers import SimulationSerializer


@login_required
@require_GET
def project_models(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug)
    context = {
        "project": project,
        "models": ModelVersion.objects.filter(project=project).select_related("dataset_version"),
        "jobs": project.jobs.select_related("created_by")[:20],
        "is_admin": is_project_admin(request.user, project),
        "strategies": simulation.STRATEGIES,
        "default_strategies": simulation_jobs.SIMULATION_DEFAULTS["strategies"],
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


@login_required
@require_POST
def project_simulate(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug, admin=True)
    given = {
        "strategies": request.POST.getlist("strategies"),
        "batch": request.POST.get("batch"),
        "budget": request.POST.get("budget"),
    }
    form = SimulationSerializer(data={name: value for name, value in given.items() if value})
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("learners:project-models", slug=project.slug)
    job = simulation_jobs.start_simulation(project, request.user, form.validated_data)
    return redirect("learners:job-detail", pk=job.pk)


@login_required
@require_GET
def job_plot(request: HttpRequest, pk: int) -> FileResponse:
    job = get_object_or_404(Job.objects.filter(project__in=visible_projects(request.user)), pk=pk)
    path = job.result.get("plot")
    if not path or not (settings.ARTIFACT_DIR / path).exists():
        raise Http404("This job has no plot.")
    return FileResponse(open(settings.ARTIFACT_DIR / path, "rb"), content_type="image/svg+xml")
