from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from serving.models import PredictionLog


class Command(BaseCommand):
    help = "Delete prediction log rows older than SIFT_PREDICTION_LOG_DAYS (feedback on them goes too)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="Override SIFT_PREDICTION_LOG_DAYS.")

    def handle(self, *args, days: int | None = None, **options) -> None:
        keep = settings.SIFT_PREDICTION_LOG_DAYS if days is None else days
        if keep < 0:
            self.stderr.write("--days must be 0 or more.")
            raise SystemExit(2)
        cutoff = timezone.now() - timedelta(days=keep)
        _, per_model = PredictionLog.objects.filter(created_at__lt=cutoff).delete()
        deleted = per_model.get(PredictionLog._meta.label, 0)
        self.stdout.write(f"Deleted {deleted} row(s) logged before {cutoff:%Y-%m-%d %H:%M} UTC.")
