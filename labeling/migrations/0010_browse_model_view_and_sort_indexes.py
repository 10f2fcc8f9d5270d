"""The items browser's model view and sort indexes.

Items get `disputed` (live votes disagree, adjudicated or not) and `last_labeled_at` (the
"recent" sort), both backfilled from the annotations; queue entries get an index for the
"priority" sort; predictions for labeled pool items and out-of-fold label suspects get
tables that the browser filters on (written by learners from now on).
"""

import django.db.models.deletion
from django.db import migrations, models


def backfill(apps, schema_editor) -> None:
    from django.db.models import Max, OuterRef, Subquery

    from labeling.resolution import Vote, resolve

    Item = apps.get_model("labeling", "Item")
    Annotation = apps.get_model("labeling", "Annotation")
    latest = Annotation.objects.filter(item=OuterRef("pk")).values("item").annotate(t=Max("created_at"))
    Item.objects.filter(pk__in=Annotation.objects.values("item")).update(last_labeled_at=Subquery(latest.values("t")[:1]))
    votes: dict[int, list] = {}
    rows = Annotation.objects.filter(item__label_count__gt=1).order_by("item", "pk")
    for pk, item_id, user_id, label_id, origin in rows.values_list("pk", "item", "user", "label", "origin"):
        voter = "import" if origin == "import" else str(user_id)
        votes.setdefault(item_id, []).append(Vote(pk, voter, label_id, origin))
    disputed = [item_id for item_id, item_votes in votes.items() if resolve(item_votes).disputed]
    Item.objects.filter(pk__in=disputed).update(disputed=True)


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0009_item_origin_feedback_audit"),
    ]

    operations = [
        migrations.CreateModel(
            name="ItemPrediction",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("confidence", models.FloatField()),
            ],
        ),
        migrations.CreateModel(
            name="LabelSuspect",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("model_ref", models.CharField(max_length=64)),
                ("confidence", models.FloatField()),
                ("p_given", models.FloatField(help_text="The out-of-fold probability of the given label.")),
            ],
        ),
        migrations.AddField(
            model_name="item",
            name="disputed",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="item",
            name="last_labeled_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="item",
            index=models.Index(
                condition=models.Q(("disputed", True)), fields=["project"], name="item_disputed"
            ),
        ),
        migrations.AddIndex(
            model_name="item",
            index=models.Index(
                models.F("project"),
                models.OrderBy(models.F("last_labeled_at"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                condition=models.Q(("last_labeled_at__isnull", False)),
                name="item_recent",
            ),
        ),
        migrations.AddIndex(
            model_name="queueentry",
            index=models.Index(
                models.F("ranking"),
                models.OrderBy(models.F("priority"), descending=True),
                models.OrderBy(models.F("item"), descending=True),
                name="queue_priority_item",
            ),
        ),
        migrations.AddField(
            model_name="itemprediction",
            name="item",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="predictions", to="labeling.item"
            ),
        ),
        migrations.AddField(
            model_name="itemprediction",
            name="label",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="labeling.label"
            ),
        ),
        migrations.AddField(
            model_name="itemprediction",
            name="ranking",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="predictions", to="labeling.ranking"
            ),
        ),
        migrations.AddField(
            model_name="labelsuspect",
            name="given",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="labeling.label"
            ),
        ),
        migrations.AddField(
            model_name="labelsuspect",
            name="item",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="labeling.item"
            ),
        ),
        migrations.AddField(
            model_name="labelsuspect",
            name="predicted",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="labeling.label"
            ),
        ),
        migrations.AddField(
            model_name="labelsuspect",
            name="project",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="labeling.project"
            ),
        ),
        migrations.AddConstraint(
            model_name="itemprediction",
            constraint=models.UniqueConstraint(fields=("ranking", "item"), name="prediction_unique_item"),
        ),
        migrations.AddIndex(
            model_name="labelsuspect",
            index=models.Index(fields=["project", "model_ref", "item"], name="suspect_model_item"),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
