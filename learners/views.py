"""Pages: a project's models and jobs, the retrain button, a job's progress.

The modules that compute (lifecycle, reports, blinding: numpy, scikit-learn, matplotlib)
 are imported in the views that need them, so that a web process starting up
loads none of them (tests/test_light_web.py).
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from labeling.access import get_project_for_user, is_project_admin, visible_projects
from labeling.forms import ImportForm
from labeling.importing import ImportRejected
from labeling.views import render_project_detail
from learners import imports, jobs, simulation_jobs, triggers
from learners.access import get_model_for_user
from learners.forms import PromotionToleranceForm, TopKForm
from learners.models import Job, ModelVersion
from learners.serializers import SimulationSerializer
from siftml.names import STRATEGIES
from siftml.promotion_rule import describe_promotion_rule


@login_required
@require_GET
def project_models(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug)
    context = {
        "project": project,
        "models": ModelVersion.objects.filter(project=project).select_related("dataset_version"),
        "jobs": project.jobs.select_related("created_by")[:20],
        "is_admin": is_project_admin(request.user, project),
        "strategies": STRATEGIES,
        "default_strategies": simulation_jobs.SIMULATION_DEFAULTS["strategies"],
        "promotion_form": PromotionToleranceForm(
            initial={"promotion_tolerance": project.promotion_tolerance}
        ),
        "promotion_rule": describe_promotion_rule(project.promotion_tolerance),
    }
    if context["is_admin"]:
        context["selection"] = simulation_jobs.pool_selection(project)
        context["replay_warning"] = simulation_jobs.REPLAY_WARNING
    return render(request, "learners/models.html", context)


@login_required
@require_POST
def project_import(request: HttpRequest, slug: str) -> HttpResponse:
    """The import form: a small file is imported at once; a large one goes to its job's page."""
    project = get_project_for_user(request.user, slug=slug, admin=True)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return render_project_detail(request, project, import_form=form, status=400)
    upload = form.cleaned_data["file"]
    try:
        started = imports.import_upload(project, request.user, upload)
    except ImportRejected as exc:
        errors = {"message": exc.message, "rows": exc.rows, "file": upload.name}
        return render_project_detail(request, project, import_form=form, import_errors=errors, status=400)
    except jobs.QueueUnreachable as exc:
        messages.error(request, f"Not imported: {exc}.")
        return redirect("labeling:project-detail", slug=project.slug)
    if isinstance(started, Job):
        return redirect("learners:job-detail", pk=started.pk)
    messages.success(request, imports.describe(started))
    return redirect("labeling:project-detail", slug=project.slug)


@login_required
@require_POST
def project_retrain(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug, admin=True)
    try:
        job = triggers.start_retrain(project, request.user)
    except jobs.JobInProgress as exc:
        messages.info(request, str(exc))
        job = exc.job
    except jobs.QueueUnreachable as exc:
        return _queue_unreachable(request, project, exc)
    return redirect("learners:job-detail", pk=job.pk)


def _queue_unreachable(request: HttpRequest, project, exc: jobs.QueueUnreachable) -> HttpResponse:
    # The job was failed, not left queued: say so on the page the button was on.
    messages.error(request, f"Not started: {exc}.")
    return redirect("learners:project-models", slug=project.slug)


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
    try:
        job = simulation_jobs.start_simulation(project, request.user, form.validated_data)
    except jobs.QueueUnreachable as exc:
        return _queue_unreachable(request, project, exc)
    return redirect("learners:job-detail", pk=job.pk)


@login_required
@require_POST
def project_promotion(request: HttpRequest, slug: str) -> HttpResponse:
    from learners import lifecycle

    project = get_project_for_user(request.user, slug=slug, admin=True)
    form = PromotionToleranceForm(request.POST)
    if form.is_valid():
        lifecycle.set_promotion_tolerance(project, form.cleaned_data["promotion_tolerance"])
        messages.success(request, f"Saved. {describe_promotion_rule(project.promotion_tolerance)}")
    else:
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
    return redirect("learners:project-models", slug=project.slug)


@login_required
@require_GET
def model_detail(request: HttpRequest, pk: str) -> HttpResponse:
    from learners import blinding, reports

    model_version = get_model_for_user(request.user, pk)
    form = TopKForm(request.GET)
    k = form.cleaned_data["k"] if form.is_valid() else 10
    curve = reports.learning_curve(model_version.project)
    is_admin = is_project_admin(request.user, model_version.project)
    context = {
        "project": model_version.project,
        "model": model_version,
        "report": blinding.evaluation_for(model_version, k, is_admin=is_admin),
        "pictures": reports.evaluation_pictures(model_version),
        "curve": curve,
        "curve_svg": reports.learning_curve_picture(curve),
        "k": k,
        "is_admin": is_admin,
        "against": ModelVersion.objects.filter(pk=model_version.shadow.get("against")).first(),
    }
    return render(request, "learners/model.html", context)


@login_required
@require_POST
def model_activate(request: HttpRequest, pk: str) -> HttpResponse:
    from learners import lifecycle

    model_version = get_model_for_user(request.user, pk, admin=True)
    try:
        job = lifecycle.start_activation(model_version, request.user)
    except lifecycle.ActivationRefused as exc:
        messages.error(request, str(exc))
        return redirect("learners:model-detail", pk=model_version.pk)
    except jobs.JobInProgress as exc:
        messages.info(request, str(exc))
        job = exc.job
    except jobs.QueueUnreachable as exc:
        return _queue_unreachable(request, model_version.project, exc)
    return redirect("learners:job-detail", pk=job.pk)


@login_required
@require_GET
def job_plot(request: HttpRequest, pk: int) -> FileResponse:
    job = get_object_or_404(Job.objects.filter(project__in=visible_projects(request.user)), pk=pk)
    path = job.result.get("plot")
    if not path or not (settings.ARTIFACT_DIR / path).exists():
        raise Http404("This job has no plot.")
    return FileResponse(open(settings.ARTIFACT_DIR / path, "rb"), content_type="image/svg+xml")


@login_required
@require_GET
def project_quality(request: HttpRequest, slug: str) -> HttpResponse:
    from learners import blinding

    project = get_project_for_user(request.user, slug=slug)
    is_admin = is_project_admin(request.user, project)
    context = {
        "project": project,
        "quality": blinding.quality_for(project, is_admin=is_admin),
        "is_admin": is_admin,
    }
    return render(request, "learners/quality.html", context)
