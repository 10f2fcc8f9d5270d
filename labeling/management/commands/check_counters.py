from django.core.management.base import BaseCommand, CommandError

from labeling import counters
from labeling.models import Label, Project


class Command(BaseCommand):
    help = (
        "Recount each project's items and labels from the rows and compare with the counters the "
        "hot paths read (labeling/counters.py); --fix rewrites the counters that are off."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("projects", nargs="*", help="Project slugs (default: every project).")
        parser.add_argument(
            "--fix", action="store_true", help="Rewrite the counters of a project that is off."
        )

    def handle(self, *args, projects: list[str], fix: bool, **options) -> None:
        found = Project.objects.filter(slug__in=projects) if projects else Project.objects.all()
        missing = sorted(set(projects) - set(found.values_list("slug", flat=True)))
        if missing:
            raise CommandError(f"There is no project {', '.join(repr(slug) for slug in missing)}.")
        names = dict(Label.objects.values_list("pk", "name"))
        off = 0
        for project in found.order_by("slug"):
            differences = counters.differences(project)
            if not differences:
                self.stdout.write(f"{project.slug}: counters match the rows.")
                continue
            off += 1
            for (split, label_id), counts in differences.items():
                what = f"label {names.get(label_id, label_id)!r}" if label_id else "all items"
                self.stdout.write(
                    f"{project.slug}: {split}, {what}: stored {counts['stored'][0]} items / "
                    f"{counts['stored'][1]} annotations, recounted {counts['recounted'][0]} / "
                    f"{counts['recounted'][1]}."
                )
            if fix:
                counters.rebuild(project)
                self.stdout.write(f"{project.slug}: counters rewritten from the rows.")
        if off and not fix:
            raise CommandError(
                f"{off} project(s) have counters that do not match their rows; run with --fix."
            )
