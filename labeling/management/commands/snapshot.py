from django.core.management.base import BaseCommand, CommandError

from labeling import services
from labeling.models import Project


class Command(BaseCommand):
    help = "Snapshot a project's labels as a new dataset version, with a note."

    def add_arguments(self, parser) -> None:
        parser.add_argument("project", help="Project slug.")
        parser.add_argument("--note", default="", help="Why this snapshot (shown with the version).")

    def handle(self, *args, project: str, note: str, **options) -> None:
        found = Project.objects.filter(slug=project).first()
        if found is None:
            raise CommandError(f"There is no project {project!r}.")
        if len(note) > 2000:
            raise CommandError("The note is longer than 2000 characters.")
        version = services.create_dataset_version(found, None, note=note)
        counts = version.counts
        self.stdout.write(
            f"Dataset version {version.number}: {counts['total']} labeled items "
            f"({counts['split'].get('pool', 0)} pool, {counts['split'].get('test', 0)} test), "
            f"sha256 {version.sha256}."
        )
