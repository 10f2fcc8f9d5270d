"""Overlap enforced where labels are written: a new vote needs a free place on the item.

An item has `overlap` places. Other annotators' live votes fill them, and so do their live
leases (the queue promised them the place). The caller holds the item's row lock.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from labeling.models import Item, Lease, Origin
from labeling.resolution import Vote, resolve


class NoRoomForLabel(Exception):
    """The item's `overlap` places are taken by other annotators' labels or live leases."""

    def __init__(self, item_id: int, overlap: int, *, held: bool):
        places = f"{overlap} label{'s' if overlap != 1 else ''}"
        if held:
            message = (
                f"Item {item_id} is now held by another annotator (this project wants {places} per "
                "item and the other places are taken); your lease on it expired or you never had one. "
                "Ask for the next item."
            )
        else:
            message = (
                f"Item {item_id} already has its {places} from other annotators and needs no more. "
                "Ask for the next item."
            )
        super().__init__(message)


def check_room(item: Item, user: AbstractBaseUser) -> None:
    """Refuse a new vote on an item whose `overlap` places others already fill (caller holds the lock).

    The queue serves an item to at most `overlap` annotators, but a label can arrive
    without the queue: a direct POST, or a page that kept an item past its lease while the
    item went to someone else. A correction of one's own live vote always passes, and an
    imported label takes no place: overlap counts people, and checking imported labels by
    hand is a review, not a second assignment.
    """
    voters = resolve(item_votes(item)).voters
    if str(user.pk) in voters:
        return
    overlap = item.project.overlap
    others = sum(voter != "import" for voter in voters)
    if others >= overlap:
        raise NoRoomForLabel(item.pk, overlap, held=False)
    leased = Lease.objects.filter(item=item, expires_at__gt=timezone.now()).exclude(user=user).count()
    if others + leased >= overlap:
        raise NoRoomForLabel(item.pk, overlap, held=True)


def item_votes(item: Item) -> list[Vote]:
    return [
        Vote(pk, "import" if origin == Origin.IMPORT else str(user_id), label_id, origin)
        for pk, user_id, label_id, origin in item.annotations.order_by("pk").values_list(
            "pk", "user_id", "label_id", "origin"
        )
    ]
