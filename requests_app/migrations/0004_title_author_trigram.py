"""Trigram indexes for the title/author search (PostgreSQL only).

The search is ``title ILIKE '%words%' OR author ILIKE '%words%'`` (Django's ``icontains``
is ``UPPER(col) LIKE UPPER(%s)``); a GIN index of ``UPPER(col)`` with ``gin_trgm_ops``
serves it for three characters or more, instead of reading every row the other filters
leave. SQLite (the embedded default) has no such index and scans, which is fine at its size.
"""

from django.db import migrations

INDEXES = {
    "request_title_trgm": "title",
    "request_author_trgm": "author",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON requests_app_borrowingrequest "
            f"USING gin (UPPER({column}) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0003_request_created_covering")]

    operations = [migrations.RunPython(create, drop)]
