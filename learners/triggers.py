"""Starting background work after a write: light enough for every web request.

An annotation, an import or a button starts a job here; nothing in this module imports
numpy or scikit-learn, so a web process that serves labels never loads them (the jobs
themselves run in learners.services, in a worker). learners.services re-exports these.
"""

from django.contrib.auth.models import AbstractBaseUser

from labeling import counters
from labeling.models import Annotation, Project
from learners import jobs
from learners.models import Job


def start_retrain(
    project: Project,
    user: AbstractBaseUser | None = None,
    trigger: str = "manual",
    enqueue: bool = True,
) -> Job:
    """Queue a retrain job; JobInProgress if one is queued or running for the project.

    With `enqueue=False` the caller runs it (`run_retrain`) instead of a worker. An automatic
    retrain whose message cannot be sent stays queued for the sweeper; any other start
    raises QueueUnreachable.
    """
    return jobs.start_job(
        project,
        Job.Kind.RETRAIN,
        user=user,
        # Inline retrains (tests, `retrain --inline`) also cross-validate inline.
        params={"trigger": trigger, "inline": not enqueue},
        enqueue=enqueue,
        resend_if_unreachable=trigger == "auto",
    )


def maybe_start_retrain(project_id: int) -> Job | None:
    """Start a retrain when `retrain_every` labels arrived since the last one began."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None or project.retrain_every == 0:
        return None
    if count_labels_since_last_retrain(project) < project.retrain_every:
        return None
    try:
        return start_retrain(project, trigger="auto")
    except jobs.JobInProgress:
        return None  # the running job starts the next one when it ends


def count_labels_since_last_retrain(project: Project) -> int:
    """Labels given since the last retrain's watermark.

    It runs after every annotation, so it reads the project's label counter (kept in each
    annotation's transaction, labeling/counters.py) minus the labels the last retrain saw
    (`labels_at_watermark`), instead of counting annotations: 707 ms at 1M items
    unanalyzed, 39 ms analyzed (issue 12).
    """
    last = Job.objects.filter(
        project=project, kind=Job.Kind.RETRAIN, params__has_key="labels_at_watermark"
    ).first()
    return counters.labels_given(project) - (last.params["labels_at_watermark"] if last else 0)


def labels_up_to(project: Project, watermark: int) -> int:
    """Annotations with a label among the project's first `watermark` ids (a count: the retrain's, once)."""
    return Annotation.objects.filter(item__project=project, pk__lte=watermark, label__isnull=False).count()


def start_scoring_new_items(project: Project, import_batch_id: int) -> Job | None:
    """Queue a job that ranks newly imported items with the active rankers, if there are any."""
    if project.active_ranking_id is None:
        return None
    # Sent after the import commits: an unreachable queue must not undo the import.
    return jobs.start_job(
        project, Job.Kind.SCORE, params={"import_batch": import_batch_id}, resend_if_unreachable=True
    )
