"""A GIN index on the items' text for the items browser's full-text search (PostgreSQL only).

The expression is exactly the one Django writes for SearchVector("text", config="simple"),
so the planner can use the index for labeling/item_browser.py's search. The "simple"
configuration lowercases and splits words without stemming: the same matches as the SQLite
fallback's word-by-word icontains on whole words. SQLite gets no index (it has no tsvector).
"""

from django.db import migrations

INDEX = "item_text_search"
CREATE = (
    f"CREATE INDEX IF NOT EXISTS {INDEX} ON labeling_item "
    "USING gin (to_tsvector('simple'::regconfig, COALESCE(text, '')))"
)
DROP = f"DROP INDEX IF EXISTS {INDEX}"


def _run_on_postgresql(sql: str):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0004_project_promotion_tolerance"),
    ]

    operations = [
        migrations.RunPython(_run_on_postgresql(CREATE), _run_on_postgresql(DROP), elidable=False),
    ]
