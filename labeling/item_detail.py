"""One item in full, for the item page (/projects/SLUG/items/ID/) and GET /api/v1/items/{id}.

Admins see everything: split, resolved label, every annotation, every stored prediction
of the rankings still kept, the item's place in the active queue, and its neighbours.
An annotator sees an item only if they labeled it (to correct their label), with their
own annotations and their own labels on the neighbours; nothing that tells a test item
apart (no split, no resolved label, no predictions, no queue reason). Others get a 404.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.http import Http404

from labeling import item_browser
from labeling.access import get_item_for_user, is_project_admin
from labeling.models import Annotation, Item, ItemPrediction, Project, QueueEntry

NEIGHBOURS = 10
MAX_NEIGHBOURS = 50


def get_browsable_item(user: AbstractBaseUser, pk: int, project: Project | None = None) -> tuple[Item, bool]:
    """The item and whether the user is its project's admin; 404 when they may not browse it."""
    item = get_item_for_user(user, pk)
    if project is not None and item.project_id != project.pk:
        raise Http404("No such item in this project.")
    admin = is_project_admin(user, item.project)
    if not admin and not Annotation.objects.filter(item=item, user=user).exists():
        raise Http404("You can open only the items you labeled.")
    return item, admin


def describe_item(item: Item, user: AbstractBaseUser, *, admin: bool) -> dict:
    item = Item.objects.select_related("project", "label", "import_batch").get(pk=item.pk)
    row = item_browser.describe_rows(item.project, user, [item], admin=admin)[0]
    annotations = item.annotations.select_related("user", "label", "suggested_label", "predicted_label")
    if not admin:
        annotations = annotations.filter(user=user)
    row["history"] = [_history_entry(a, admin) for a in annotations.order_by("pk")]
    if admin:
        row["disputed"] = item.disputed
        row["predictions"] = _predictions(item)
        row["queue"] = _queue_place(item)
    return row


def _history_entry(annotation: Annotation, admin: bool) -> dict:
    entry = {
        "id": annotation.pk,
        "user": annotation.user.username if annotation.user else None,
        "label": annotation.label.name if annotation.label else None,
        "origin": annotation.origin,
        "created_at": annotation.created_at,
        "duration_ms": annotation.duration_ms,
        "suggested_label": annotation.suggested_label.name if annotation.suggested_label else None,
        "suggestion_confidence": annotation.suggestion_confidence,
        "model_ref": annotation.model_ref or None,
    }
    if admin:
        guess = annotation.predicted_label
        entry["predicted_label"] = guess.name if guess else None
    return entry


def _predictions(item: Item) -> list[dict]:
    """Every stored guess of the rankings kept (the active one and the one it replaced)."""
    active = item.project.active_ranking_id
    found = [
        {
            "ranking": e.ranking_id,
            "model_ref": e.ranking.model_ref or None,
            "active": e.ranking_id == active,
            "source": "queue",
            "label": e.suggested_label.name if e.suggested_label else None,
            "confidence": e.confidence,
        }
        for e in QueueEntry.objects.filter(item=item).select_related("ranking", "suggested_label")
    ]
    found += [
        {
            "ranking": p.ranking_id,
            "model_ref": p.ranking.model_ref or None,
            "active": p.ranking_id == active,
            "source": "labeled",
            "label": p.label.name,
            "confidence": p.confidence,
        }
        for p in ItemPrediction.objects.filter(item=item).select_related("ranking", "label")
    ]
    return sorted(found, key=lambda p: -p["ranking"])


def _queue_place(item: Item) -> dict | None:
    entry = QueueEntry.objects.filter(ranking_id=item.project.active_ranking_id, item=item).first()
    if entry is None:
        return None
    ahead = QueueEntry.objects.filter(ranking_id=entry.ranking_id, priority__gt=entry.priority).count()
    return {
        "position": ahead + 1,
        "priority": entry.priority,
        "strategy": entry.strategy,
        "score": entry.score,
        "reason": entry.reason,
    }


def similar_rows(item: Item, user: AbstractBaseUser, *, admin: bool, k: int = NEIGHBOURS) -> list[dict]:
    """The item's nearest neighbours (TF-IDF cosine) among what the user may browse, best first."""
    allowed = None
    if not admin:
        mine = Annotation.objects.filter(item__project=item.project_id, user=user)
        allowed = list(mine.values_list("item", flat=True).distinct())
    from labeling import similar  # numpy, scipy and scikit-learn: loaded on the first such request

    found = similar.nearest(item, k, allowed)
    items = Item.objects.select_related("label", "import_batch").in_bulk([pk for pk, _ in found])
    kept = [(items[pk], score) for pk, score in found if pk in items]
    rows = item_browser.describe_rows(item.project, user, [i for i, _ in kept], admin=admin)
    return [{**row, "similarity": round(score, 4)} for row, (_, score) in zip(rows, kept, strict=True)]
