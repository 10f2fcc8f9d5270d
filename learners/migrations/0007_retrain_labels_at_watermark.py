from django.db import migrations


def backfill(apps, schema_editor):
    """Give each retrain that fixed a watermark the count of labels it saw.

    The auto-retrain trigger now reads the project's label counter minus this count
    (learners.services.count_labels_since_last_retrain) instead of counting annotations.
    """
    Job = apps.get_model("learners", "Job")
    Annotation = apps.get_model("labeling", "Annotation")
    for job in Job.objects.filter(kind="retrain", params__has_key="watermark").only("pk", "project_id", "params"):
        labels = Annotation.objects.filter(
            item__project_id=job.project_id, pk__lte=job.params["watermark"], label__isnull=False
        ).count()
        Job.objects.filter(pk=job.pk).update(params={**job.params, "labels_at_watermark": labels})


class Migration(migrations.Migration):
    dependencies = [
        ("learners", "0006_job_kind_import"),
        ("labeling", "0008_label_tally_counters"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
