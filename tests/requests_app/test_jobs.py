"""The scheduled jobs: each flags or reminds once, tells the right people once per library,
and works set-wise; patron data ages out while the requests stay."""

import datetime as dt
import threading
import time

import pytest
from axes.models import AccessLog
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from members.models import ApiToken, FailedSignIns, KnownPlace, Patron
from members.services import patron_for_request
from members.tokens import issue_token
from requests_app import flags, jobs, selectors, tasks, workflow
from requests_app.models import BorrowingRequest, Notification, StatusEvent
from tests.queries import captured


@pytest.fixture(autouse=True)
def locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ILLDESK_TEAM_EMAIL = "team@example.org"


def send_all_unsent() -> None:
    for pk in Notification.objects.filter(sent_at=None).values_list("pk", flat=True):
        tasks.send_notification.apply(args=[pk])


def test_not_arrived_starts_at_fourteen_days(request_in):
    thirteen, fourteen, fifteen = (request_in("shipped", shipped_days_ago=d) for d in (13, 14, 15))

    result = jobs.flag_not_arrived()

    flagged = set(BorrowingRequest.objects.filter(not_arrived_flagged_at__isnull=False))
    assert flagged == {fourteen, fifteen}
    assert result.count == 2
    assert thirteen not in flagged


def test_the_number_of_days_is_a_setting_by_shipping_method(request_in, settings):
    settings.ILLDESK_NOT_ARRIVED_DAYS = {"delivery": 20, "mail": 25}
    fifteen = request_in("shipped", shipped_days_ago=15)  # by Delivery
    twenty = request_in("shipped", shipped_days_ago=20)
    by_mail = request_in("shipped", shipped_days_ago=22)
    BorrowingRequest.objects.filter(pk=by_mail.pk).update(shipping_method="mail")
    assert jobs.flag_not_arrived().count == 1
    flagged = BorrowingRequest.objects.filter(not_arrived_flagged_at__isnull=False)
    assert set(flagged) == {twenty}
    assert fifteen not in flagged and by_mail not in flagged


def test_flagging_twice_flags_and_tells_once(request_in):
    req = request_in("shipped", shipped_days_ago=20)
    Notification.objects.update(sent_at=timezone.now())  # the workflow's own mails

    assert jobs.flag_not_arrived().count == 1
    assert jobs.flag_not_arrived().count == 0

    assert req.events.filter(action="flag_not_arrived").count() == 1
    digests = Notification.objects.filter(kind="not_arrived")
    assert sorted(digests.values_list("audience", flat=True)) == ["library", "team"]
    send_all_unsent()
    assert sorted(m.to[0] for m in mail.outbox) == ["ill@abbot.example.org", "team@example.org"]
    assert f"#{req.pk} The Wampanoag Way" in mail.outbox[0].body


def test_one_email_per_library_lists_its_loans(request_in, bob, rita, lender, library_two):
    from requests_app.scenarios import drive_to, submit_for

    ours = [request_in("shipped", shipped_days_ago=16) for _ in range(3)]
    theirs = submit_for(
        "shipped",
        shipped_days_ago=16,
        actor=bob,
        library=library_two,
        patron=None,
        citation={"title": "Hill Farming"},
    )
    drive_to(theirs, "shipped", team=rita, staff=bob, lender=lender, shipped_days_ago=16)
    Notification.objects.update(sent_at=timezone.now())

    result = jobs.flag_not_arrived()

    assert (result.count, result.notifications) == (4, 3)  # two libraries and the team
    send_all_unsent()
    by_recipient = {m.to[0]: m for m in mail.outbox}
    ours_mail = by_recipient["ill@abbot.example.org"].body
    assert all(f"#{req.pk} " in ours_mail for req in ours)
    assert "Hill Farming" not in ours_mail
    assert "Hill Farming" in by_recipient["ill@borden.example.org"].body
    team_mail = by_recipient["team@example.org"].body
    assert "[BORDEN]" in team_mail and "[ABBOT]" in team_mail
    html, mimetype = by_recipient["ill@abbot.example.org"].alternatives[0]
    assert mimetype == "text/html"
    assert "<table" in html and f'/requests/{ours[0].pk}/">#{ours[0].pk}</a>' in html
    assert "Pat Reader" not in ours_mail + team_mail


def test_a_job_is_a_handful_of_statements_whatever_the_number(request_in):
    for _ in range(6):
        request_in("shipped", shipped_days_ago=20)
    with captured() as queries:
        jobs.flag_not_arrived()
    writes = [q for q in queries if not q.startswith(("SAVEPOINT", "RELEASE"))]
    # the UPDATE that flags, the INSERT … SELECT of events, the libraries, the digests
    assert len(writes) <= 5, "\n".join(writes)


def test_a_loan_received_after_the_flag_keeps_its_history(request_in, alice):
    req = request_in("shipped", shipped_days_ago=20)
    jobs.flag_not_arrived()
    workflow.mark_received(req.pk, actor=alice)
    req.refresh_from_db()
    assert req.not_arrived_flagged_at is not None
    assert list(req.events.values_list("action", flat=True))[-2:] == [
        "flag_not_arrived",
        "mark_received",
    ]
    assert not selectors.with_flag(BorrowingRequest.objects.all(), "not_arrived").exists()


def test_overdue_loans_are_flagged_once_and_the_library_told(request_in):
    late = request_in("received", shipped_days_ago=40)  # due 12 days ago
    on_time = request_in("received", shipped_days_ago=28)  # due today
    Notification.objects.update(sent_at=timezone.now())

    assert jobs.flag_overdue().count == 1
    assert jobs.flag_overdue().count == 0

    late.refresh_from_db()
    on_time.refresh_from_db()
    assert late.overdue_flagged_at and not on_time.overdue_flagged_at
    assert Notification.objects.get(kind="overdue").audience == "library"
    send_all_unsent()
    assert mail.outbox[0].subject == "Overdue: 1 loan(s) past their due date"


def test_a_reminder_three_days_before_the_due_date_once_per_due_date(request_in):
    req = request_in("received", shipped_days_ago=25)  # due in 3 days
    request_in("received", shipped_days_ago=20)  # due in 8 days: not yet
    assert jobs.remind_due_soon().count == 1
    assert jobs.remind_due_soon().count == 0
    # A renewal moved the due date, and that one comes near too: a new reminder.
    BorrowingRequest.objects.filter(pk=req.pk).update(
        due_date=timezone.localdate() + dt.timedelta(days=1)
    )
    assert jobs.remind_due_soon().count == 1
    assert Notification.objects.filter(kind="due_soon").count() == 2


def test_the_reminder_says_the_days_the_flag_counts(request_in):
    request_in("received", shipped_days_ago=25)  # due in 3 days
    Notification.objects.update(sent_at=timezone.now())
    jobs.remind_due_soon()
    send_all_unsent()
    assert [message.subject for message in mail.outbox] == [
        f"Due soon: 1 loan(s) due within {flags.DUE_SOON_DAYS} days"
    ]


def test_patron_data_ages_out_and_the_request_stays(request_in, settings, caplog):
    old = request_in("completed")
    recent = request_in("completed")
    active = request_in("received")
    BorrowingRequest.objects.filter(pk=old.pk).update(
        ended_at=timezone.now() - dt.timedelta(days=91)
    )
    BorrowingRequest.objects.filter(pk=recent.pk).update(
        ended_at=timezone.now() - dt.timedelta(days=89)
    )
    Patron.objects.update(created_at=timezone.now() - dt.timedelta(days=400))

    result = jobs.clear_patron_data()

    old.refresh_from_db()
    recent.refresh_from_db()
    active.refresh_from_db()
    assert old.patron is None
    assert recent.patron is not None and active.patron is not None
    assert (old.title, old.status, old.events.count()) == ("The Wampanoag Way", "completed", 7)
    assert result.count == 1
    assert "1 requests detached from their patron, 0 patrons removed" in caplog.text
    assert "Pat Reader" not in caplog.text


def test_a_patron_with_nothing_left_is_removed(request_in):
    req = request_in("cancelled")
    BorrowingRequest.objects.filter(pk=req.pk).update(
        ended_at=timezone.now() - dt.timedelta(days=100)
    )
    Patron.objects.update(created_at=timezone.now() - dt.timedelta(days=100))
    assert jobs.clear_patron_data().count == 2
    assert not Patron.objects.exists()


def test_runjobs_runs_each_job_once_and_says_what_it_did(request_in, capsys):
    request_in("shipped", shipped_days_ago=20)
    call_command("runjobs")
    out = capsys.readouterr().out
    assert "not arrived: 1, 2 notification(s) queued" in out
    assert "overdue: 0" in out
    assert "patron data cleared: 0" in out
    call_command("runjobs", "flag_not_arrived")
    assert capsys.readouterr().out.startswith("not arrived: 0")


def test_beat_runs_every_job(settings, db):
    scheduled = {
        entry["args"][0]
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "requests_app.tasks.run_job"
    }
    assert scheduled == set(jobs.JOBS)
    assert tasks.run_job.apply(args=["flag_overdue"]).get() == "overdue: 0"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_flag_and_tell_once(request_in):
    for _ in range(5):
        request_in("shipped", shipped_days_ago=20)
    Notification.objects.update(sent_at=timezone.now())
    barrier = threading.Barrier(2)
    results = []

    def worker():
        barrier.wait()
        try:
            results.append(jobs.flag_not_arrived().count)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(results) == 5, results
    assert StatusEvent.objects.filter(action="flag_not_arrived").count() == 5
    # Each loan is in exactly one digest to its library: nobody is told twice.
    for loan in BorrowingRequest.objects.all():
        covering = Notification.objects.filter(
            kind="not_arrived", library=loan.library, digest_of=loan.not_arrived_flagged_at
        )
        assert covering.count() == 1


def test_retention_keeps_patrons_it_has_no_business_with(request_in, patron, library_one):
    registered = Patron.objects.create(library=library_one, card_number="777", name="Hal Home")
    old = request_in("completed")
    request_in("received")  # the same patron (pat) has a loan out
    BorrowingRequest.objects.filter(pk=old.pk).update(
        ended_at=timezone.now() - dt.timedelta(days=200)
    )
    Patron.objects.update(created_at=timezone.now() - dt.timedelta(days=400))
    # Registered lately, for a request not made yet.
    Patron.objects.filter(pk=registered.pk).update(
        created_at=timezone.now() - dt.timedelta(days=10)
    )

    result = jobs.clear_patron_data()

    assert result.count == 1  # the old request detached; nobody removed
    assert Patron.objects.filter(pk=patron.pk, name="Pat Reader").exists()
    assert Patron.objects.filter(pk=registered.pk).exists()


def test_a_patron_registered_long_ago_and_never_asked_for_is_removed(library_one, caplog):
    """docs/privacy.md: patrons registered before the retention period with no request
    left go, and a patron added by hand (in the admin) who was never used is one."""
    unused = Patron.objects.create(library=library_one, card_number="888", name="Ida Idle")
    Patron.objects.filter(pk=unused.pk).update(created_at=timezone.now() - dt.timedelta(days=91))

    assert jobs.clear_patron_data().count == 1
    assert not Patron.objects.filter(pk=unused.pk).exists()
    assert "0 requests detached from their patron, 1 patrons removed" in caplog.text


def test_a_digest_says_nothing_of_loans_that_moved_on_meanwhile(request_in, alice):
    req = request_in("shipped", shipped_days_ago=20)
    Notification.objects.update(sent_at=timezone.now())
    jobs.flag_not_arrived()
    workflow.mark_received(req.pk, actor=alice)  # arrived before the e-mail went out

    send_all_unsent()

    assert mail.outbox == []
    reasons = set(
        Notification.objects.filter(kind="not_arrived").values_list("last_error", flat=True)
    )
    assert reasons == {"Nothing left to tell."}


def _fields_in(condition) -> set[str]:
    """The field names a Q (or an F inside it) refers to."""
    names = set()
    for child in getattr(condition, "children", []):
        if isinstance(child, tuple):
            names.add(child[0].split("__")[0])
            names |= {child[1].name} if hasattr(child[1], "name") else set()
        else:
            names |= _fields_in(child)
    return names


def test_the_job_stamps_are_in_no_index():
    # A stamp in an index key or condition makes each job's UPDATE rewrite every index of
    # the row (no HOT update): 24 s for 100,000 loans at a million requests, not 5.
    stamps = {*flags.STAMP_FIELDS, "due_reminded_for"}
    for index in BorrowingRequest._meta.indexes:
        used = {name.lstrip("-") for name in index.fields} | set(index.include or ())
        used |= _fields_in(index.condition) if index.condition is not None else set()
        assert not used & stamps, index.name
    assert _fields_in(Q(status="shipped", not_arrived_flagged_at__isnull=True)) == {
        "status",
        "not_arrived_flagged_at",
    }


@pytest.mark.postgres
def test_the_requests_table_keeps_room_on_each_page(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reloptions FROM pg_class WHERE relname = %s",
            [BorrowingRequest._meta.db_table],
        )
        (options,) = cursor.fetchone()
    assert "fillfactor=90" in options


@pytest.mark.postgres
def test_the_flag_jobs_update_their_rows_in_place(request_in):
    loans = [request_in("shipped", shipped_days_ago=20) for _ in range(3)]
    overdue = request_in("received", shipped_days_ago=40)  # due 12 days ago

    def updates() -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = %s",
                [BorrowingRequest._meta.db_table],
            )
            return cursor.fetchone()

    before = updates()
    assert jobs.flag_not_arrived().count == len(loans)
    assert jobs.flag_overdue().count == 1
    after = updates()

    assert (after[0] - before[0], after[1] - before[1]) == (4, 4), "every update a HOT one"
    assert StatusEvent.objects.filter(request=overdue, action="flag_overdue").count() == 1


def test_sign_in_records_go_when_they_are_of_no_more_use(alice, settings):
    """Expired API tokens, failure counts older than the guard's hour, and the places an
    account signed in from (its own and django-axes' log) after
    ``ILLDESK_KNOWN_ADDRESS_DAYS``."""
    now = timezone.now()
    live, _ = issue_token(alice, lifetime=dt.timedelta(hours=1))
    issue_token(alice, lifetime=dt.timedelta(hours=1), now=now - dt.timedelta(hours=2))
    for minutes in (10, 70):
        FailedSignIns.objects.create(
            username="alice",
            address="203.0.113.9",
            bucket=now - dt.timedelta(minutes=minutes),
            count=3,
        )
    long_ago = now - dt.timedelta(days=settings.ILLDESK_KNOWN_ADDRESS_DAYS + 1)
    for address, seen in (("10.0.0.7", now), ("192.0.2.8", long_ago)):
        KnownPlace.objects.create(username="alice", address=address, last_seen=seen)
    old_log = AccessLog.objects.create(username="alice", ip_address="192.0.2.8", user_agent="")
    AccessLog.objects.filter(pk=old_log.pk).update(attempt_time=long_ago)

    assert jobs.clear_sign_in_records().count == 4
    assert list(ApiToken.objects.all()) == [live]
    assert FailedSignIns.objects.get().bucket > now - dt.timedelta(minutes=11)
    assert KnownPlace.objects.get().address == "10.0.0.7"
    assert not AccessLog.objects.exists()


def _wait_for_a_lock_wait(timeout: float = 10) -> None:
    """Until some other connection waits for a row lock (PostgreSQL)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("nobody came to wait for the lock")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_request_saved_while_retention_waits_keeps_its_patron(alice, library_one):
    """The job chose the patron from a snapshot taken before the request was saved; it must
    see the request once it has the lock, keep the patron and finish its run."""
    idle = Patron.objects.create(library=library_one, card_number="555", name="Nell Late")
    Patron.objects.filter(pk=idle.pk).update(created_at=timezone.now() - dt.timedelta(days=100))
    holding, release, outcome = threading.Event(), threading.Event(), []

    def submit():
        try:
            with transaction.atomic():
                patron = patron_for_request(library=library_one, patron_id=idle.pk)  # locks it
                holding.set()
                release.wait(10)
                workflow.submit_request(
                    actor=alice, library=library_one, patron=patron, citation={"title": "Late"}
                )
        finally:
            connection.close()

    def retention():
        try:
            outcome.append(jobs.clear_patron_data())
        except Exception as exc:  # the test says what it was
            outcome.append(exc)
        finally:
            connection.close()

    submitter = threading.Thread(target=submit)
    submitter.start()
    assert holding.wait(10)
    job = threading.Thread(target=retention)
    job.start()
    _wait_for_a_lock_wait()  # the job now waits for the patron's row
    release.set()
    submitter.join(30)
    job.join(30)

    assert isinstance(outcome[0], jobs.JobResult), outcome
    assert Patron.objects.filter(pk=idle.pk).exists()
    assert BorrowingRequest.objects.get().patron_id == idle.pk
