"""Who may see and do what. Site admins (is_staff) manage every project; otherwise a
project's members see it, and its admin members manage it."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from labeling.models import Item, Membership, Project


def visible_projects(user: AbstractBaseUser) -> QuerySet[Project]:
    if user.is_staff:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def can_create_projects(user: AbstractBaseUser) -> bool:
    return user.is_staff


def is_project_admin(user: AbstractBaseUser, project: Project) -> bool:
    return user.is_staff or project.memberships.filter(user=user, role=Membership.Role.ADMIN).exists()


def get_project_for_user(user: AbstractBaseUser, *, admin: bool = False, **lookup: object) -> Project:
    """Return the project, 404 if the user may not see it, 403 if `admin` and not an admin."""
    project = get_object_or_404(visible_projects(user), **lookup)
    if admin and not is_project_admin(user, project):
        raise PermissionDenied("Only an admin of this project can do that.")
    return project


def get_item_for_user(user: AbstractBaseUser, pk: int, *, admin: bool = False) -> Item:
    """Return the item, 404 if the user may not see its project, 403 if `admin` and not an admin."""
    item = get_object_or_404(
        Item.objects.select_related("project").filter(project__in=visible_projects(user)), pk=pk
    )
    if admin and not is_project_admin(user, item.project):
        raise PermissionDenied("Only an admin of this project can do that.")
    return item
