"""Fixtures of the items browser's tests: a small known project, and the model's view of it."""

import pytest

from labeling import services
from labeling.models import Item, ItemPrediction, LabelSuspect, QueueEntry, Ranking, Split
from tests.factories import add_member, csv_bytes, make_user

ROWS = [
    {"id": f"r{i}", "text": text, "source": "web" if i % 2 else "app"}
    for i, text in enumerate(
        [
            "great service and great food",
            "terrible service, cold food",
            "the staff were rude",
            "loved the dessert",
            "food was cold but staff were kind",
            "service was slow",
            "a wonderful evening with friends and a very long story about the whole dinner",
            "never again",
        ]
    )
]


@pytest.fixture
def browse(project, owner, annotator):
    """8 items with a `source` column; r0..r2 labeled by the annotator, a flag, a skip, a ranking."""
    batch = services.import_items(project, owner, csv_bytes(ROWS, ["id", "text", "source"]), "reviews.csv")
    items = {item.external_id: item for item in project.items.all()}
    positive, negative = project.labels.all()
    for name, label in [("r0", positive), ("r1", negative), ("r2", negative)]:
        services.save_annotation(items[name], annotator, label)
    services.skip_item(items["r3"], annotator, flag=True, comment="unclear")
    services.skip_item(items["r4"], annotator)
    ranking = Ranking.objects.create(project=project, model_ref="m1")
    queued = [("r5", 0.9, negative, 0.8), ("r6", 0.5, positive, 0.55), ("r7", 0.7, negative, 0.95)]
    QueueEntry.objects.bulk_create(
        QueueEntry(
            ranking=ranking,
            item=items[n],
            priority=p,
            strategy="uncertainty",
            score=p,
            suggested_label=label,
            confidence=c,
            reason="unsure",
        )
        for n, p, label, c in queued
    )
    project.active_ranking = ranking
    project.save()
    return {"items": items, "batch": batch, "positive": positive, "negative": negative}


@pytest.fixture
def model_view(project, owner, browse):
    """r0: bob positive, dora negative (disputed); r2 is a test item; predictions and suspects."""
    items = browse["items"]
    positive, negative = browse["positive"], browse["negative"]
    Item.objects.filter(project=project).update(split=Split.POOL)
    Item.objects.filter(pk=items["r2"].pk).update(split=Split.TEST)
    dora = make_user("dora")
    add_member(project, dora)
    project.overlap = 2
    project.save()
    services.save_annotation(items["r0"], dora, negative)
    ranking = project.active_ranking
    ItemPrediction.objects.bulk_create(
        ItemPrediction(ranking=ranking, item=items[name], label=label, confidence=0.9)
        for name, label in [("r0", positive), ("r1", negative)]
    )
    suspects = [
        ("m1", "r1", negative, positive),  # still labeled negative: a suspect
        ("m1", "r0", positive, negative),  # its label moved to negative since: no longer
        ("m1", "r2", negative, positive),  # a test item: never proposed for relabeling
        ("m0", "r1", negative, positive),  # another model's, not the active one
    ]
    LabelSuspect.objects.bulk_create(
        LabelSuspect(
            project=project, model_ref=ref, item=items[n], given=g, predicted=p, confidence=0.9, p_given=0.1
        )
        for ref, n, g, p in suspects
    )
    return {**browse, "dora": dora}
