"""What the labeling page shows beside the item: the annotator's recent labels and progress."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Max, Subquery
from django.utils import timezone

from labeling import counters
from labeling.models import Annotation, Origin, Project, Split

MAX_HISTORY = 100


def get_history(project: Project, user: AbstractBaseUser, limit: int = 20) -> list[Annotation]:
    """The user's latest annotation of each of the items they labeled most recently.

    A label taken back shows as an annotation with no label; a correction replaces the
    older entry, since only the latest annotation per item is the user's vote.
    """
    limit = max(1, min(limit, MAX_HISTORY))
    latest = (
        Annotation.objects.filter(item__project=project, user=user, origin=Origin.HUMAN)
        .values("item_id")
        .annotate(last=Max("pk"))
        .order_by("-last")
        .values("last")[:limit]
    )
    return list(
        Annotation.objects.filter(pk__in=Subquery(latest))
        .select_related("item", "label", "suggested_label")
        .order_by("-pk")
    )


def get_progress(project: Project, user: AbstractBaseUser, *, include_test: bool) -> dict:
    """The annotator's counts (today, in this project) and the project's; test progress for admins."""
    latest = (
        Annotation.objects.filter(item__project=project, user=user, origin=Origin.HUMAN)
        .values("item_id")
        .annotate(last=Max("pk"))
        .values("last")
    )
    mine = Annotation.objects.filter(pk__in=Subquery(latest), label__isnull=False)
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    counts = counters.summary(project)
    progress = {
        "today": mine.filter(created_at__gte=midnight).count(),
        "mine": mine.count(),
        "pool_labeled": counts["labeled"][Split.POOL],
        "pool_total": counts["splits"][Split.POOL],
    }
    if include_test:
        progress["test_labeled"] = counts["labeled"][Split.TEST]
        progress["test_total"] = counts["splits"][Split.TEST]
        progress["test_target"] = project.test_target
    return progress
