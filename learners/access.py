"""Who may see and change a model version: the members and admins of its project."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from labeling.access import is_project_admin, visible_projects
from learners.models import ModelVersion


def get_model_for_user(user: AbstractBaseUser, pk: object, *, admin: bool = False) -> ModelVersion:
    """Return the model version, 404 if the user may not see its project, 403 if `admin` and not one."""
    model_version = get_object_or_404(
        ModelVersion.objects.select_related("project", "dataset_version").filter(
            project__in=visible_projects(user)
        ),
        pk=pk,
    )
    if admin and not is_project_admin(user, model_version.project):
        raise PermissionDenied("Only an admin of this project can do that.")
    return model_version
