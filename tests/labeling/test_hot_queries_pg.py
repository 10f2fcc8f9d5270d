"""The hot queries keep their good plan on a large table that has no planner statistics.

Right after a bulk load PostgreSQL has not analyzed the new rows (autovacuum lags or is
off), which is when a plan that scans the items costs seconds per /next (issue 12). Every
query that /next runs is EXPLAINed here, on 100,000 items inserted in the test's own
transaction (so nothing can have analyzed them): none may scan items sequentially. The
counts on the hot paths (labeled test items, labels since the last retrain) read the
counters of labeling/counters.py and touch neither items nor annotations.
"""

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labeling import counters, queue
from labeling.models import Annotation, Item, QueueEntry, Ranking
from learners import services as learner_services

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="planner statistics are PostgreSQL's"
)

N_ITEMS = 100_000


def _bulk_items(project) -> None:
    # One INSERT ... SELECT: 100,000 rows in about a second, with no ANALYZE after them.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Item._meta.db_table}
                (project_id, external_id, text, meta, content_hash, split, rand_key,
                 label_origin, label_count, conflict, created_at, origin, disputed)
            SELECT %s, 'x' || g, 'text number ' || g, '{{}}', md5(g::text),
                   CASE WHEN g %% 5 = 0 THEN 'test' ELSE 'pool' END, random(), '', 0, false, now(),
                   'import', false
            FROM generate_series(1, %s) AS g
            """,
            [project.pk, N_ITEMS],
        )


def _queue(project) -> Ranking:
    ranking = Ranking.objects.create(project=project, size=2000, summary={})
    pool = (
        Item.objects.filter(project=project, split="pool").order_by("rand_key").values_list("pk", flat=True)
    )
    QueueEntry.objects.bulk_create(
        QueueEntry(ranking=ranking, item_id=pk, priority=float(2000 - i), strategy="margin", score=0.5)
        for i, pk in enumerate(pool[:2000])
    )
    project.active_ranking = ranking
    project.save(update_fields=["active_ranking"])
    return ranking


def _plans(queries) -> list[tuple[str, str]]:
    plans = []
    with connection.cursor() as cursor:
        for query in queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT") or Item._meta.db_table not in sql:
                continue
            cursor.execute("EXPLAIN " + sql)
            plans.append((sql, "\n".join(row[0] for row in cursor.fetchall())))
    return plans


def _assert_no_item_scan(plans) -> None:
    assert plans, "no query on items was captured"
    for sql, plan in plans:
        assert f"Seq Scan on {Item._meta.db_table}" not in plan, f"{sql}\n{plan}"


@pytest.mark.parametrize("test_share", [0.0, 1.0])
def test_next_item_never_scans_the_items(project, annotator, test_share):
    _bulk_items(project)
    _queue(project)
    project.test_fraction, project.test_target = test_share, 500
    project.save(update_fields=["test_fraction", "test_target"])
    with CaptureQueriesContext(connection) as captured:
        served = queue.serve_next_item(project, annotator, rng=random.Random(0))
    assert served is not None
    plans = _plans(captured.captured_queries)
    _assert_no_item_scan(plans)
    if test_share == 0.0:
        assert served.strategy == "margin"  # from the queue
        # The queue's items are looked up by id: no walk of the pool index per queue entry.
        ranked = [plan for sql, plan in plans if f'"{Item._meta.db_table}"."id" IN (' in sql]
        assert ranked
        pkey = f"Index Scan on {Item._meta.db_table}_pkey", f"Index Scan using {Item._meta.db_table}_pkey"
        assert all(any(scan in plan for scan in pkey) for plan in ranked), ranked[0]


def _tables(queries) -> set[str]:
    return {
        table
        for query in queries
        for table in (Item._meta.db_table, Annotation._meta.db_table)
        if table in query["sql"]
    }


def test_counting_labels_since_the_last_retrain_reads_no_item_or_annotation(project):
    _bulk_items(project)
    counters.rebuild(project)
    with CaptureQueriesContext(connection) as captured:
        assert learner_services.count_labels_since_last_retrain(project) == 0
    assert captured.captured_queries
    assert not _tables(captured.captured_queries)  # the counters and the last job only


def test_the_test_set_check_reads_the_counters_only(project):
    _bulk_items(project)
    label = project.labels.first()
    Item.objects.filter(project=project, split="test", pk__lt=Item.objects.order_by("pk")[3000].pk).update(
        label=label, label_count=1
    )
    counters.rebuild(project)  # the UPDATE above bypassed the services
    project.test_target = 100
    with CaptureQueriesContext(connection) as captured:
        assert not queue._needs_test_labels(project)
    assert not _tables(captured.captured_queries)
    project.test_target = 1_000
    assert queue._needs_test_labels(project)
