import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labeling import exports, services, versions
from labeling.models import Project


class Command(BaseCommand):
    help = (
        "Export a project's labels (every labeled item, with its split) as CSV, JSONL or Parquet: "
        "the labels as they are now, or a dataset version with --version."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):
        # `--version N` names a dataset version here; Django's own --version gives way.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser) -> None:
        parser.add_argument("project", help="Project slug.")
        parser.add_argument("--version", type=int, help="Dataset version number (default: the labels now).")
        parser.add_argument("--format", choices=versions.FORMATS, default="csv")
        parser.add_argument("-o", "--output", type=Path, help="File to write (default: stdout).")

    def handle(
        self, *args, project: str, version: int | None, format: str, output: Path | None, **options
    ) -> None:
        found = Project.objects.filter(slug=project).first()
        if found is None:
            raise CommandError(f"There is no project {project!r}.")
        if version is None:
            watermark = services.get_label_watermark(found)
            metadata = {"sift.project": found.slug, "sift.max_annotation_id": str(watermark)}
            chunks = versions.stream_rows(exports.iter_dataset_rows(found, watermark), format, metadata)
        else:
            chosen = found.versions.filter(number=version).first()
            if chosen is None:
                numbers = sorted(found.versions.values_list("number", flat=True))
                have = f"it has {numbers[0]}–{numbers[-1]}" if numbers else "it has none yet"
                raise CommandError(f"Project {project!r} has no dataset version {version} ({have}).")
            chunks = versions.stream_version(chosen, format)
        self._write(chunks, output)

    def _write(self, chunks, output: Path | None) -> None:
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
