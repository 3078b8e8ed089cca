"""The jobs benchmark (``benchmarks.flag_jobs``) measures what the jobs do: the rows it
reports are the rows changed, its one-save-per-row version writes what the job writes, and
its rounds leave the database as they found it."""

import datetime as dt
import io
import json

import pytest
from django.db import connection, transaction
from django.utils import timezone

from benchmarks import flag_jobs, generate
from requests_app import jobs
from requests_app.models import BorrowingRequest, Notification, StatusEvent
from requests_app.scenarios import drive_to, submit_for
from tests.queries import captured


@pytest.fixture(autouse=True)
def nothing_sent(monkeypatch, settings):
    """Whatever a test commits stays in the outbox; a rolled-back run queues nothing."""
    queued = []
    monkeypatch.setattr(jobs, "enqueue", queued.append)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    yield
    assert queued == []


@pytest.fixture
def due_loans(request_in, bob, rita, lender, library_two):
    """Four loans due to be flagged not arrived, three at library one and one at library
    two; besides them a loan shipped lately and one flagged already."""
    due = [request_in("shipped", shipped_days_ago=days) for days in (20, 21, 22)]
    theirs = submit_for(
        "shipped",
        shipped_days_ago=16,
        actor=bob,
        library=library_two,
        patron=None,
        citation={"title": "Hill Farming"},
    )
    due.append(
        drive_to(theirs, "shipped", team=rita, staff=bob, lender=lender, shipped_days_ago=16)
    )
    request_in("shipped", shipped_days_ago=3)
    flagged = request_in("shipped", shipped_days_ago=30)
    BorrowingRequest.objects.filter(pk=flagged.pk).update(
        not_arrived_flagged_at=timezone.now() - dt.timedelta(days=16)
    )
    return due


def state() -> tuple:
    """The rows the jobs write, to see that a round left them as they were."""
    return (
        sorted(BorrowingRequest.objects.values_list("pk", "not_arrived_flagged_at", "patron_id")),
        sorted(BorrowingRequest.objects.values_list("pk", "overdue_flagged_at")),
        StatusEvent.objects.count(),
        Notification.objects.count(),
    )


def writes_of(run) -> tuple[jobs.JobResult, dict]:
    """Run a not-arrived flagging in a transaction rolled back: its result and its writes
    (the loans stamped, their events, the digests), the run's time left out."""
    last_event = StatusEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    with transaction.atomic():
        result = run()
        events = StatusEvent.objects.filter(pk__gt=last_event)
        stamp = events.values_list("at", flat=True).first()
        written = {
            "flagged": set(
                BorrowingRequest.objects.filter(not_arrived_flagged_at=stamp).values_list(
                    "pk", flat=True
                )
            ),
            "events": sorted(
                events.filter(at=stamp).values_list(
                    "request_id", "action", "from_status", "to_status", "actor_id", "note"
                )
            ),
            "digests": sorted(
                Notification.objects.filter(kind="not_arrived", digest_of=stamp).values_list(
                    "audience", "library_id"
                ),
                key=str,
            ),
            "other events": events.exclude(at=stamp).count(),
            "other digests": Notification.objects.exclude(digest_of=stamp).count(),
        }
        transaction.set_rollback(True)
    return result, written


def test_one_save_per_row_flags_and_writes_what_the_job_does(due_loans, library_one, library_two):
    notifications_before = Notification.objects.count()
    per_row, per_row_writes = writes_of(flag_jobs.flag_not_arrived_one_save_per_row)
    job, job_writes = writes_of(jobs.flag_not_arrived)

    assert per_row_writes == job_writes
    assert job_writes["flagged"] == {loan.pk for loan in due_loans}
    assert [event[0] for event in job_writes["events"]] == sorted(loan.pk for loan in due_loans)
    assert {event[1:5] for event in job_writes["events"]} == {
        ("flag_not_arrived", "shipped", "shipped", None)
    }
    assert job_writes["digests"] == sorted(
        [("library", library_one.pk), ("library", library_two.pk), ("team", None)], key=str
    )
    assert job_writes["other events"] == 0
    assert job_writes["other digests"] == notifications_before
    assert (per_row.count, per_row.notifications) == (job.count, job.notifications) == (4, 3)


def test_one_save_per_row_on_a_sample_takes_the_first_due_loans(due_loans, library_one):
    result, written = writes_of(lambda: flag_jobs.flag_not_arrived_one_save_per_row(limit=2))
    assert result.count == 2
    assert written["flagged"] == {loan.pk for loan in due_loans[:2]}
    assert written["digests"] == [("library", library_one.pk), ("team", None)]


def test_measure_counts_the_rows_changed_and_the_statements_sent(due_loans):
    flagged_before = BorrowingRequest.objects.filter(not_arrived_flagged_at__isnull=False).count()
    with captured() as queries:
        measured = flag_jobs.measure(jobs.flag_not_arrived)
    control = ("SAVEPOINT", "RELEASE", "SET CONSTRAINTS")
    sent = [sql for sql in queries if not sql.startswith(control)]

    flagged = BorrowingRequest.objects.filter(not_arrived_flagged_at__isnull=False).count()
    assert measured.rows == flagged - flagged_before == 4
    assert measured.notifications == 3
    assert measured.statements == len(sent) == len(measured.sql) <= 5
    # Inside a transaction (as each round runs), the clock includes the foreign-key checks
    # its commit would run, and leaves them deferred again (on PostgreSQL, where the
    # benchmark runs).
    checks = [sql for sql in queries if sql.startswith("SET CONSTRAINTS")]
    expected = ["SET CONSTRAINTS ALL IMMEDIATE", "SET CONSTRAINTS ALL DEFERRED"]
    assert checks == (expected if connection.vendor == "postgresql" else [])
    assert measured.sql[0].startswith("UPDATE")
    assert measured.seconds > 0


def test_a_round_runs_cold_then_again_and_leaves_the_rows_as_they_were(due_loans):
    before = state()

    figures = flag_jobs.job_round("flag_not_arrived")

    assert state() == before
    cold, again = figures["cold"], figures["again"]
    assert (cold["rows"], cold["notifications"], again["rows"], again["statements"]) == (4, 3, 0, 1)
    assert flag_jobs.job_round("flag_not_arrived")["cold"]["rows"] == 4  # fresh each round
    if connection.vendor == "postgresql":
        assert figures["wal_bytes"] > 0
        assert figures["commit_seconds"] > 0
    else:
        assert figures["wal_bytes"] is figures["commit_seconds"] is None


def test_later_gives_the_overdue_and_retention_jobs_their_backlog(request_in, patron):
    due_soon = request_in("received", shipped_days_ago=25)  # due in three days
    ended = request_in("completed")
    BorrowingRequest.objects.filter(pk=ended.pk).update(
        ended_at=timezone.now() - dt.timedelta(days=85)
    )
    before = state()

    assert flag_jobs.job_round("flag_overdue")["cold"]["rows"] == 0
    overdue = flag_jobs.job_round("flag_overdue", later_days=7)
    assert (overdue["cold"]["rows"], overdue["again"]["rows"]) == (1, 0)
    assert flag_jobs.job_round("clear_patron_data")["cold"]["rows"] == 0
    # The ended request is detached; its patron has a loan out, so stays.
    retention = flag_jobs.job_round("clear_patron_data", later_days=7)
    assert (retention["cold"]["rows"], retention["again"]["rows"]) == (1, 0)

    assert state() == before
    due_soon.refresh_from_db()
    assert due_soon.overdue_flagged_at is None
    assert timezone.now() - BorrowingRequest.objects.get(pk=ended.pk).ended_at > dt.timedelta(84)


def test_the_per_row_round_flags_a_sample_and_rolls_back(due_loans):
    before = state()

    figures = flag_jobs.per_row_round(2)

    assert state() == before
    assert (figures["due"], figures["due_libraries"], figures["cold"]["rows"]) == (4, 2, 2)
    # The loans; a save and an event for each; a digest for library one and the team's.
    assert figures["cold"]["statements"] == 1 + 2 * 2 + 2


def test_the_summary_takes_medians_and_extrapolates_the_sample():
    def round_of(seconds: float) -> dict:
        cold = {"seconds": seconds, "statements": 207, "rows": 100, "notifications": 5, "sql": []}
        memory = {"peak_rss_mb": 80.0, "rss_before_mb": 60.0, "ru_maxrss_mb": 80.0}
        return {"due": 1000, "due_libraries": 40, "sample": 100, "cold": cold, **memory,
                "wal_bytes": 10, "commit_seconds": 0.1}  # fmt: skip

    summary = flag_jobs.summarize(flag_jobs.PER_ROW, [round_of(s) for s in (4.0, 2.0, 3.0)])

    assert summary["cold"]["seconds"] == 3.0
    assert summary["extrapolated"]
    assert summary["all_seconds"] == pytest.approx(30.0)
    # The loans and two statements each, scaled; a digest per library and the team's.
    assert summary["all_statements"] == (207 - 5) * 10 + 40 + 1


def test_a_database_that_is_not_a_generated_one_is_refused(db):
    # SQLite is refused; so is a PostgreSQL database with no requests (this test's).
    with pytest.raises(SystemExit, match="benchmarks.generate"):
        flag_jobs.check_database()


def fingerprint() -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT md5(string_agg(concat_ws('|', id, patron_id, not_arrived_flagged_at, "
            "overdue_flagged_at), ',' ORDER BY id)) FROM requests_app_borrowingrequest"
        )
        requests = cursor.fetchone()[0]
    return requests, StatusEvent.objects.count(), Notification.objects.count()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_benchmark_over_a_generated_database_changes_nothing(tmp_path, capsys):
    small = ["--requests", "1000", "--libraries", "10", "--lenders", "30", "--batch", "500"]
    generate.run(generate.parse_args(small), out=io.StringIO())
    before = fingerprint()
    out = tmp_path / "jobs.json"

    flag_jobs.main(["--runs", "1", "--per-row-sample", "30", "--json", str(out)])

    assert fingerprint() == before
    figures = json.loads(out.read_text())
    measured = figures["jobs"]
    not_arrived = measured["flag_not_arrived"]
    assert figures["due_not_arrived"] == 100
    assert (not_arrived["cold"]["rows"], not_arrived["again"]["rows"]) == (100, 0)
    assert not_arrived["cold"]["statements"] <= 5
    assert not_arrived["wal_bytes"] > 0 and not_arrived["commit_seconds"] > 0
    per_row = measured[flag_jobs.PER_ROW]
    assert (per_row["cold"]["rows"], per_row["due"], per_row["extrapolated"]) == (30, 100, True)
    assert per_row["all_seconds"] == pytest.approx(per_row["cold"]["seconds"] * 100 / 30)
    assert measured["flag_overdue"]["later_days"] == 7
    for job in measured.values():
        assert job["peak_rss_mb"] >= job["rss_before_mb"] > 0
    assert len(figures["reports"]["reports"]) == 18
    table = capsys.readouterr().out
    assert "One save per row for all 100 due loans (extrapolated linearly" in table
    assert "| not arrived | cold |" in flag_jobs.markdown_of(figures)
