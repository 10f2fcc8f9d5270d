import time

from django.core.management.base import BaseCommand, CommandError

from labeling.models import Project
from learners import jobs, services
from learners.models import Job


class Command(BaseCommand):
    help = "Retrain a project's model in a worker (or here, with --inline)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("project", help="Project slug.")
        parser.add_argument("--wait", action="store_true", help="Wait for the worker to finish.")
        parser.add_argument("--inline", action="store_true", help="Run in this process, no worker.")
        parser.add_argument("--timeout", type=float, default=3600, help="Seconds --wait waits.")

    def handle(self, *args, project: str, wait: bool, inline: bool, timeout: float, **options) -> None:
        found = Project.objects.filter(slug=project).first()
        if found is None:
            raise CommandError(f"There is no project {project!r}.")
        try:
            job = services.start_retrain(found, trigger="command", enqueue=not inline)
        except (jobs.JobInProgress, jobs.QueueUnreachable) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Retrain job {job.pk} queued.")
        if inline:
            services.run_retrain(job)
        elif wait:
            self._wait(job, timeout)
        job.refresh_from_db()
        if job.state == Job.State.FAILED:
            raise CommandError(f"Job {job.pk} failed: {job.error}")
        self.stdout.write(f"Job {job.pk}: {job.state}. {job.message}")

    def _wait(self, job: Job, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while not job.is_finished:
            if time.monotonic() > deadline:
                raise CommandError(f"Job {job.pk} did not finish within {timeout:.0f} s (still {job.state}).")
            if (job.progress, job.message) != last:
                last = (job.progress, job.message)
                self.stdout.write(f"  {job.progress:4.0%}  {job.message}")
            time.sleep(0.5)
            job.refresh_from_db()
