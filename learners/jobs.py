"""Job bookkeeping shared by every kind of background job."""

from learners.models import Job


def update_job(job: Job, **fields: object) -> None:
    """Write job fields at once, outside any long transaction, so pages see progress."""
    for name, value in fields.items():
        setattr(job, name, value)
    Job.objects.filter(pk=job.pk).update(**fields)
