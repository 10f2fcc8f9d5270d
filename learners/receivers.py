from django.db import transaction
from django.dispatch import receiver

from labeling.signals import items_imported, labels_added
from learners import triggers


@receiver(labels_added)
def start_retrain_when_due(sender: type, project, count: int, **kwargs: object) -> None:
    # After commit: counting labels must not lengthen the annotator's transaction, and a
    # rolled-back label must not count. Robust: the label is saved; a retrain that cannot
    # start is logged (and, when the broker is down, stays queued for the sweeper), never
    # turned into an error answer for the annotator.
    transaction.on_commit(lambda: triggers.maybe_start_retrain(project.pk), robust=True)


@receiver(items_imported)
def rank_imported_items(sender: type, project, batch, **kwargs: object) -> None:
    transaction.on_commit(lambda: triggers.start_scoring_new_items(project, batch.pk), robust=True)
