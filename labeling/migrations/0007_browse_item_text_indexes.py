"""A GIN index on the items' text for the items browser's full-text search (PostgreSQL only).

The expression is exactly the one Django writes for SearchVector("text", config="simple"),
so the planner can use the index for labeling/item_browser.py's search. The "simple"
configuration lowercases and splits words without stemming: the same matches as the SQLite
fallback's word-by-word icontains on whole words. SQLite gets no index (it has no tsvector).

A second index serves the "longest text first" sort as a keyset walk: without it every
page sorts the whole project by length (0.4 s at 200,000 items here; 0.03 s with it).
"""

from django.db import migrations

CREATE = [
    "CREATE INDEX IF NOT EXISTS item_text_search ON labeling_item "
    "USING gin (to_tsvector('simple'::regconfig, COALESCE(text, '')))",
    "CREATE INDEX IF NOT EXISTS item_text_length ON labeling_item (project_id, length(text) DESC, id DESC)",
]
DROP = ["DROP INDEX IF EXISTS item_text_search", "DROP INDEX IF EXISTS item_text_length"]


def _run_on_postgresql(statements: list[str]):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0006_scale_labeled_test_index"),
    ]

    operations = [
        migrations.RunPython(_run_on_postgresql(CREATE), _run_on_postgresql(DROP), elidable=False),
    ]
