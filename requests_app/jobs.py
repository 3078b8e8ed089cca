"""The scheduled jobs: flag loans that have not arrived or are overdue, remind libraries of
due dates, let patron data age out, and keep the lenders' records the sourcing suggestions
read.

Each job works set-wise, in a handful of SQL statements whatever the number of requests
(at a million requests, docs/performance.md):
one ``UPDATE`` marks the rows with this run's timestamp (its ``WHERE`` only matches rows not
marked yet, so two workers running at once, or one run twice, mark each row once), one
``INSERT … SELECT`` writes their timeline events, and one notification per library (plus
one for the team) is written to the outbox: a digest that lists the rows carrying the run's
timestamp. Celery beat runs them (``CELERY_BEAT_SCHEDULE``); ``manage.py runjobs`` runs
each once.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from members import sign_in
from members.models import Patron
from members.tokens import delete_expired as delete_expired_tokens

from . import rules, sourcing
from .flags import (
    DUE_SOON,
    IN_TRANSIT,
    NOT_ARRIVED,
    OVERDUE,
    WITH_LIBRARY_DUE,
    Flag,
    due_to_be_flagged_not_arrived,
)
from .models import BorrowingRequest, LenderRecord, Notification, StatusEvent
from .notifications import enqueue

logger = logging.getLogger(__name__)


@dataclass
class JobResult:
    job: str
    count: int
    notifications: int = 0

    def __str__(self) -> str:
        told = f", {self.notifications} notification(s) queued" if self.notifications else ""
        return f"{self.job}: {self.count}{told}"


def _now() -> dt.datetime:
    # Each run's timestamp identifies its rows; make it unique to the microsecond.
    return timezone.now()


def _write_events(scope: Q, flag: Flag, stamp: dt.datetime, action: str, note: str) -> None:
    """One timeline event per request this run marked, in one statement.

    The stamps are in no index (see the model), so the rows are found through ``scope``,
    the job's own condition, which its partial index serves: the run only marks rows in
    it, and holds them locked.
    """
    marked = BorrowingRequest.objects.filter(scope, **{flag.stamp: stamp})
    where, where_params = marked.query.get_compiler(connection=connection).compile(
        marked.query.where
    )
    events = StatusEvent._meta.db_table
    requests = BorrowingRequest._meta.db_table
    # Table and column names are ours, the condition the ORM's; every value is a parameter.
    insert = (
        f"INSERT INTO {events} (request_id, action, from_status, to_status, actor_id, at, note)"
    )
    select = f"SELECT id, %s, status, status, NULL, %s, %s FROM {requests} WHERE {where}"  # noqa: S608
    sql = f"{insert} {select}"
    # Raw SQL gets the timestamp in the form the ORM stores it (SQLite keeps it as text).
    at = connection.ops.adapt_datetimefield_value(stamp)
    with connection.cursor() as cursor:
        cursor.execute(sql, [action, at, note, *where_params])


def _digests(scope: Q, flag: Flag, stamp: dt.datetime, *, team: bool) -> list[Notification]:
    """One digest per library that has rows in this run (and one for the team)."""
    library_ids = (
        BorrowingRequest.objects.filter(scope, **{flag.stamp: stamp})
        .order_by()
        .values_list("library_id", flat=True)
        .distinct()
    )
    rows = [
        Notification(kind=flag.name, digest_of=stamp, library_id=library_id, audience="library")
        for library_id in library_ids
    ]
    if team and rows:
        rows.append(Notification(kind=flag.name, digest_of=stamp, audience="team"))
    created = Notification.objects.bulk_create(rows, batch_size=500)
    ids = [n.pk for n in created if n.pk is not None]
    if len(ids) < len(created):  # a backend that does not return ids from bulk inserts
        ids = list(
            Notification.objects.filter(digest_of=stamp, kind=flag.name).values_list(
                "pk", flat=True
            )
        )

    def enqueue_all() -> None:
        for pk in ids:
            enqueue(pk)

    transaction.on_commit(enqueue_all)
    return created


def flag_not_arrived() -> JobResult:
    """Shipped longer ago than its method's days (``rules.not_arrived_days``) and not
    received: flag once."""
    stamp = _now()
    due = due_to_be_flagged_not_arrived(timezone.localdate())
    with transaction.atomic():
        count = BorrowingRequest.objects.filter(due).update(not_arrived_flagged_at=stamp)
        notifications = []
        if count:
            _write_events(
                IN_TRANSIT, NOT_ARRIVED, stamp, "flag_not_arrived",
                f"Not arrived {rules.not_arrived_rule()}.",
            )  # fmt: skip
            notifications = _digests(IN_TRANSIT, NOT_ARRIVED, stamp, team=True)
    logger.info("Flagged %d loans not arrived.", count)
    return JobResult("not arrived", count, len(notifications))


def flag_overdue() -> JobResult:
    """With the library past the due date and not flagged yet: flag once, tell the library."""
    stamp = _now()
    with transaction.atomic():
        count = BorrowingRequest.objects.filter(
            WITH_LIBRARY_DUE, OVERDUE.condition(), overdue_flagged_at__isnull=True
        ).update(overdue_flagged_at=stamp)
        notifications = []
        if count:
            _write_events(WITH_LIBRARY_DUE, OVERDUE, stamp, "flag_overdue", "Past its due date.")
            notifications = _digests(WITH_LIBRARY_DUE, OVERDUE, stamp, team=False)
    logger.info("Flagged %d loans overdue.", count)
    return JobResult("overdue", count, len(notifications))


def remind_due_soon() -> JobResult:
    """Due soon (``flags.DUE_SOON``): remind the library once per due date."""
    stamp = _now()
    with transaction.atomic():
        count = (
            BorrowingRequest.objects.filter(WITH_LIBRARY_DUE, DUE_SOON.condition())
            .filter(Q(due_reminded_for__isnull=True) | ~Q(due_reminded_for=F("due_date")))
            .update(due_reminded_for=F("due_date"), due_reminded_at=stamp)
        )
        notifications = []
        if count:
            notifications = _digests(WITH_LIBRARY_DUE, DUE_SOON, stamp, team=False)
    logger.info("Reminded libraries of %d loans due soon.", count)
    return JobResult("due soon", count, len(notifications))


def clear_patron_data() -> JobResult:
    """Requests ended ``ILLDESK_PATRON_RETENTION_DAYS`` ago lose their patron, and a patron
    whose every request is such is removed, as is one registered that long ago who has no
    request. The requests, citations, dates, charges and events stay. A patron with a
    request still open, or ended lately, is kept whole."""
    cutoff = timezone.now() - dt.timedelta(days=settings.ILLDESK_PATRON_RETENTION_DAYS)
    aged = BorrowingRequest.objects.filter(ended_at__lt=cutoff, patron__isnull=False)
    with transaction.atomic():
        # Patrons with an aged request and no other kind: locked, so a request submitted
        # for one of them meanwhile waits for this job (and then adds the patron anew).
        leaving = list(
            Patron.objects.select_for_update()
            .filter(pk__in=aged.values("patron_id"))
            .exclude(requests__ended_at__isnull=True)
            .exclude(requests__ended_at__gte=cutoff)
            .values_list("pk", flat=True)
        )
        detached = aged.update(patron=None)
        # And patrons registered before the cutoff who now have no request at all: added
        # by hand and never used, or left with none by the line above.
        unused = (
            Patron.objects.select_for_update()
            .filter(created_at__lt=cutoff)
            .exclude(Exists(BorrowingRequest.objects.filter(patron=OuterRef("pk"))))
            .values_list("pk", flat=True)
        )
        removed = _delete_patrons(sorted({*leaving, *unused}))
    logger.info(
        "Patron data retention: %d requests detached from their patron, %d patrons removed.",
        detached,
        removed,
    )
    return JobResult("patron data cleared", detached + removed)


def _delete_patrons(ids: list[int]) -> int:
    """Delete patrons by id in batches, without loading them, unless a request refers to
    one after all.

    The job holds the patrons' row locks by now, so no request can be saved for them any
    more; but one saved while the job waited for a lock was not in the snapshot that chose
    them. Each DELETE is a statement of its own, whose snapshot sees it, so that patron
    stays (and the run is not undone by a foreign key at commit).
    """
    patrons = Patron._meta.db_table
    requests = BorrowingRequest._meta.db_table
    removed = 0
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 5000):
            batch = ids[start : start + 5000]
            marks = ", ".join(["%s"] * len(batch))
            cursor.execute(
                f"DELETE FROM {patrons} WHERE id IN ({marks}) AND NOT EXISTS "  # noqa: S608
                f"(SELECT 1 FROM {requests} WHERE patron_id = {patrons}.id)",
                batch,
            )
            removed += cursor.rowcount
    return removed


def clear_sign_in_records() -> JobResult:
    """API tokens past their expiry, and sign-in records past their use
    (``members.sign_in.forget_old_records``)."""
    count = delete_expired_tokens() + sign_in.forget_old_records()
    logger.info("Sign-in records cleared: %d.", count)
    return JobResult("sign-in records cleared", count)


def record_lenders() -> JobResult:
    """Rebuild the lenders' records for the sourcing suggestions (``sourcing.tally``) from
    the attempts answered over the last year: a summary, replaced whole."""
    now = timezone.now()
    since = now - dt.timedelta(days=sourcing.RECORD_DAYS)
    records = sourcing.tally(sourcing.answered_attempts(since))
    rows = [
        LenderRecord(
            lender_id=lender_id,
            format=fmt,
            asked=record.asked,
            filled=record.filled,
            days_to_ship=record.days_to_ship,
            days_to_arrive=record.days_to_arrive,
            usual_cost=record.usual_cost or 0,
            computed_at=now,
        )
        for (lender_id, fmt), record in records.items()
    ]
    with transaction.atomic():
        LenderRecord.objects.all().delete()
        LenderRecord.objects.bulk_create(rows, batch_size=5_000)
    logger.info("Lender records made: %d.", len(rows))
    return JobResult("lender records made", len(rows))


#: Every scheduled job, in the order ``runjobs`` runs them.
JOBS = {
    "flag_not_arrived": flag_not_arrived,
    "flag_overdue": flag_overdue,
    "remind_due_soon": remind_due_soon,
    "clear_patron_data": clear_patron_data,
    "clear_sign_in_records": clear_sign_in_records,
    "record_lenders": record_lenders,
}
