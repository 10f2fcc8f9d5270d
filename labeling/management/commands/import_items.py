from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labeling import services
from labeling.importing import ImportRejected
from labeling.models import Project


class Command(BaseCommand):
    help = "Import items from a CSV or JSONL file into a project (all rows or none)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("project", help="Project slug.")
        parser.add_argument("file", type=Path)

    def handle(self, *args, project: str, file: Path, **options) -> None:
        found = Project.objects.filter(slug=project).first()
        if found is None:
            raise CommandError(f"There is no project {project!r}.")
        try:
            upload = file.open("rb")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None
        # Streamed from disk (read twice, line by line), never read whole into memory.
        with upload:
            try:
                batch = services.import_items(found, None, upload, file.name)
            except ImportRejected as exc:
                lines = [f"  row {row['row']}: {row['error']}" for row in exc.rows]
                raise CommandError("\n".join([f"{file.name}: {exc.message}", *lines])) from None
        self.stdout.write(
            f"Imported {batch.rows} items into {found.slug}: {batch.pool} pool, "
            f"{batch.test} test, {batch.labeled} labeled."
        )
