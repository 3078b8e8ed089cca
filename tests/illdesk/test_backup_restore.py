"""Backup and restore, as docs/operations.md tells it: ``pg_dump -Fc`` of the live
database, ``pg_restore --no-owner`` into a new one, and every row is back.

The test fills this test database through the workflow (requests in every status, their
timeline events, a job's flags, messages, charges, the outbox), dumps it with the real
``pg_dump``, restores the file into a database of its own (dropped afterwards) with the
real ``pg_restore``, and compares the two with psycopg2: each request and event by id and
fields, every table row for row, and every sequence, so new rows after a restore do not
collide with restored ones.
"""

import os
import subprocess
import uuid
from decimal import Decimal

import pytest
from django.db import connection

from requests_app import jobs, services
from requests_app.models import StatusEvent
from tests.services import keep_in_outbox, pg_connect, require_program

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

STATUSES = ["submitted", "shipped", "renewal_requested", "completed", "cancelled", "unfilled"]

REQUEST_FIELDS = "id, status, title, library_id, patron_id, lender_id, due_date, created_at"
EVENT_FIELDS = "id, request_id, action, from_status, to_status, actor_id, at, note"

#: Each table of the schema, its rows in a stable order, as one text: equal texts, equal rows.
TABLES = """
    SELECT table_name FROM information_schema.tables
    WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name
"""
TABLE_DIGEST = """
    SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY t::text)) FROM "{table}" AS t
"""
SEQUENCES = "SELECT sequencename, last_value FROM pg_sequences ORDER BY sequencename"


def _client_args() -> tuple[list[str], dict[str, str]]:
    """The connection options of pg_dump and pg_restore, and their environment."""
    db = connection.settings_dict
    args = ["--host", db["HOST"], "--port", str(db["PORT"] or 5432), "--username", db["USER"]]
    env = os.environ | ({"PGPASSWORD": db["PASSWORD"]} if db["PASSWORD"] else {})
    return args, env


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{command[0]} failed:\n{done.stderr[-3000:]}"


def _contents(database) -> dict[str, object]:
    """What a database holds: requests and events by id, every table's rows, sequences."""
    with database.cursor() as cursor:
        cursor.execute(f"SELECT {REQUEST_FIELDS} FROM requests_app_borrowingrequest ORDER BY id")  # noqa: S608
        requests = cursor.fetchall()
        cursor.execute(f"SELECT {EVENT_FIELDS} FROM requests_app_statusevent ORDER BY id")  # noqa: S608
        events = cursor.fetchall()
        cursor.execute(TABLES)
        rows = {}
        for (table,) in cursor.fetchall():
            cursor.execute(TABLE_DIGEST.format(table=table))
            rows[table] = cursor.fetchone()
        cursor.execute(SEQUENCES)
        sequences = cursor.fetchall()
    return {"requests": requests, "events": events, "tables": rows, "sequences": sequences}


@pytest.fixture
def new_database():
    """An empty database of its own (unique name), dropped after the test."""
    name = f"illdesk_restore_{uuid.uuid4().hex[:10]}"
    server = pg_connect("postgres")
    server.autocommit = True
    with server.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with server.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.close()


def test_a_dump_restored_into_a_new_database_holds_every_request_and_event(
    tmp_path, monkeypatch, new_database, request_in, alice, rita
):
    keep_in_outbox(monkeypatch)
    requests = [request_in(status) for status in STATUSES]
    requests.append(request_in("shipped", shipped_days_ago=20))
    jobs.flag_not_arrived()
    services.post_message(requests[0].pk, actor=alice, body="Any edition will do.")
    services.add_charge(requests[3].pk, actor=rita, kind="lending_fee", amount=Decimal("12.50"))
    assert StatusEvent.objects.filter(action="flag_not_arrived").exists()

    options, env = _client_args()
    backup = tmp_path / "illdesk.dump"
    dbname = connection.settings_dict["NAME"]
    _run([require_program("pg_dump"), "-Fc", *options, "--file", str(backup), dbname], env)
    restore = [require_program("pg_restore"), "--no-owner", "--exit-on-error", *options]
    _run([*restore, "-d", new_database, str(backup)], env)

    original, restored = pg_connect(), pg_connect(new_database)
    try:
        before, after = _contents(original), _contents(restored)
    finally:
        original.close()
        restored.close()
    assert [row[0] for row in after["requests"]] == [r.pk for r in requests]
    assert {row[1] for row in after["requests"]} == set(STATUSES)
    assert len(after["events"]) == StatusEvent.objects.count() > len(requests)
    assert after["requests"] == before["requests"]
    assert after["events"] == before["events"]
    assert after["tables"] == before["tables"]
    assert after["sequences"] == before["sequences"]
    assert {"requests_app_notification", "django_migrations", "members_patron"} <= set(
        table for table, (count, _) in after["tables"].items() if count
    )
