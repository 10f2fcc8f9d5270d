"""The serving page: service tokens, how the model answers, and what live traffic looks like."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from labeling.access import get_project_for_user
from serving.forms import ServiceTokenForm, ServingSettingsForm
from serving.models import ServiceToken, ServingSettings


def _render(request, project, token_form=None, settings_form=None, new_key=None, status=200) -> HttpResponse:
    from learners.models import ModelVersion
    from serving import monitoring, shadow  # numpy: loaded on the first page view

    try:
        minutes = max(1, min(10_080, int(request.GET.get("minutes", 60))))
    except ValueError:
        minutes = 60
    context = {
        "project": project,
        "is_admin": True,
        "tokens": ServiceToken.objects.filter(project=project),
        "token_form": token_form or ServiceTokenForm(),
        "settings_form": settings_form or ServingSettingsForm(instance=ServingSettings.stored(project.pk)),
        "new_key": new_key,
        "report": monitoring.monitoring(project, minutes),
        "minutes": minutes,
        "shadow": shadow.comparison(project, minutes),
        "shadow_candidates": ModelVersion.objects.filter(project=project, is_active=False).order_by(
            "-created_at"
        )[:50],
    }
    return render(request, "serving/serving.html", context, status=status)


@login_required
def serving_page(request: HttpRequest, slug: str) -> HttpResponse:
    return _render(request, get_project_for_user(request.user, slug=slug, admin=True))


@login_required
@require_POST
def token_create(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug, admin=True)
    form = ServiceTokenForm(request.POST)
    if not form.is_valid():
        return _render(request, project, token_form=form, status=400)
    token, key = ServiceToken.issue(project, form.cleaned_data["name"], request.user)
    # Shown once, on this answer only: the key is not stored.
    return _render(request, project, new_key={"name": token.name, "key": key})


@login_required
@require_POST
def token_revoke(request: HttpRequest, slug: str, token_id: int) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug, admin=True)
    token = get_object_or_404(ServiceToken, project=project, pk=token_id)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    messages.success(request, f"Revoked {token.name}.")
    return redirect("serving:serving", slug=project.slug)


@login_required
@require_POST
def settings_save(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug, admin=True)
    form = ServingSettingsForm(request.POST, instance=ServingSettings.stored(project.pk))
    if not form.is_valid():
        return _render(request, project, settings_form=form, status=400)
    form.save()
    messages.success(request, "Serving settings saved.")
    return redirect("serving:serving", slug=project.slug)


@login_required
@require_POST
def shadow_save(request: HttpRequest, slug: str) -> HttpResponse:
    from serving import shadow

    project = get_project_for_user(request.user, slug=slug, admin=True)
    try:
        shadow.set_shadow(project, request.POST.get("model") or None)
    except (ValueError, ValidationError):
        messages.error(request, "Choose a model version of this project that is not the active one.")
        return redirect("serving:serving", slug=project.slug)
    messages.success(request, "Shadow model saved.")
    return redirect("serving:serving", slug=project.slug)
