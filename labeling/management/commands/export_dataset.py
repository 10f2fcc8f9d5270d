import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labeling import exports, services
from labeling.models import Project


class Command(BaseCommand):
    help = "Export a project's labels (every labeled item, with its split) as CSV or JSONL."

    def add_arguments(self, parser) -> None:
        parser.add_argument("project", help="Project slug.")
        parser.add_argument("--format", choices=exports.FORMATS, default="csv")
        parser.add_argument("-o", "--output", type=Path, help="File to write (default: stdout).")

    def handle(self, *args, project: str, format: str, output: Path | None, **options) -> None:
        found = Project.objects.filter(slug=project).first()
        if found is None:
            raise CommandError(f"There is no project {project!r}.")
        watermark = services.get_label_watermark(found)
        chunks = exports.stream_export(exports.iter_dataset_rows(found, watermark), format)
        if output is None:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            return
        try:
            with open(output, "wb") as f:
                for chunk in chunks:
                    f.write(chunk)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}.") from None
        self.stderr.write(f"Wrote {output}.")
