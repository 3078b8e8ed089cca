"""The benchmark data generator (``benchmarks.generate``) fills PostgreSQL with a service
the app can work on: every status, timelines the workflow would have written, the jobs'
marks, sequences the app can insert after, and pages that answer."""

import datetime as dt
import io

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection, transaction
from django.db.models import Count, F, Max, OuterRef, Subquery
from django.utils import timezone

from benchmarks import generate
from lenders.models import Lender
from members.models import MemberLibrary, Patron, User
from requests_app import jobs, notifications, workflow
from requests_app.identifiers import item_key
from requests_app.models import (
    BorrowingRequest,
    Charge,
    LenderAttempt,
    RenewalRequest,
    Status,
    StatusEvent,
)
from tests.queries import captured

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SMALL = ["--requests", "2000", "--libraries", "20", "--lenders", "50", "--batch", "700"]


@pytest.fixture(autouse=True)
def no_broker(monkeypatch, settings):
    """The digests and notifications the checks cause stay in the outbox."""
    monkeypatch.setattr(jobs, "enqueue", lambda pk: None)
    monkeypatch.setattr(notifications, "enqueue", lambda pk: None)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def fill(*extra: str) -> generate.Summary:
    return generate.run(generate.parse_args([*SMALL, *extra]), out=io.StringIO())


def fingerprint() -> str:
    """A digest of every request and event, to compare two fills."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT md5(string_agg(concat_ws('|', id, library_id, patron_id, status, title, "
            "created_at, shipped_on, due_date, ended_at), ',' ORDER BY id)) "
            "FROM requests_app_borrowingrequest"
        )
        requests = cursor.fetchone()[0]
        cursor.execute(
            "SELECT md5(string_agg(concat_ws('|', request_id, action, to_status, at, actor_id, "
            "note), ',' ORDER BY id)) FROM requests_app_statusevent"
        )
        return requests + cursor.fetchone()[0]


def trigram_statistics() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, a.attstattarget FROM pg_class c"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = 1"
            " WHERE c.relname IN ('request_title_trgm', 'request_author_trgm')"
        )
        return dict(cursor.fetchall())


def test_a_small_fill_is_a_service_the_app_works_on(client):
    summary = fill()

    # The storage the migrations set survives the rebuilt indexes: the finer statistics
    # of the trigram indexes and the room left on each page of the requests table.
    assert trigram_statistics() == {"request_title_trgm": 1000, "request_author_trgm": 1000}

    # Counts: what the summary says is what the tables hold.
    assert BorrowingRequest.objects.count() == 2000
    assert MemberLibrary.objects.count() == 20
    assert Lender.objects.count() == 50
    for model in (Patron, User, LenderAttempt, RenewalRequest, Charge, StatusEvent):
        assert model.objects.count() == summary.rows[model._meta.db_table] > 0, model
    assert User.objects.filter(role="team").count() == 6

    # Every status; a request still open is from the last months (but for the loans
    # shipped long ago and never flagged).
    by_status = dict(BorrowingRequest.objects.values_list("status").annotate(n=Count("id")))
    assert set(by_status) == set(Status.values)
    assert by_status == dict(summary.statuses)
    assert by_status["completed"] > 1000
    a_year_ago = timezone.now() - dt.timedelta(days=365)
    open_and_old = BorrowingRequest.objects.exclude(status__in=generate.FINAL).filter(
        created_at__lt=a_year_ago
    )
    assert open_and_old.exclude(status=Status.SHIPPED).count() == 0

    # Each request's timeline: begins with its submission, each event moves on from the
    # status the one before left, and the last one leaves the request in its status.
    latest = StatusEvent.objects.filter(request=OuterRef("pk")).order_by("-at", "-id")
    with_last = BorrowingRequest.objects.annotate(
        last_status=Subquery(latest.values("to_status")[:1])
    )
    assert not with_last.exclude(last_status=F("status")).exists()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE previous IS NULL AND (action <> 'submit'
                                                               OR from_status <> '')),
                   count(*) FILTER (WHERE previous IS NOT NULL AND from_status <> previous),
                   count(*) FILTER (WHERE at > now())
            FROM (SELECT action, from_status, at,
                         lag(to_status) OVER (PARTITION BY request_id ORDER BY at, id) previous
                  FROM requests_app_statusevent) timeline
            """
        )
        assert cursor.fetchone() == (0, 0, 0)
        # Dates in order, in the service's time zone; ended requests have ended_at.
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE shipped_on < (created_at AT TIME ZONE %(zone)s)::date
                                       OR received_on < shipped_on
                                       OR returned_on < received_on
                                       OR due_date <= shipped_on
                                       OR received_on > %(today)s),
                   count(*) FILTER (WHERE (status IN %(final)s) <> (ended_at IS NOT NULL))
            FROM requests_app_borrowingrequest
            """,
            {
                "zone": settings.TIME_ZONE,
                "today": timezone.localdate(),
                "final": tuple(generate.FINAL),
            },
        )
        assert cursor.fetchone() == (0, 0)

    # Lender attempts: one pending for each request with a lender now, none otherwise.
    pending = LenderAttempt.objects.filter(outcome="pending")
    sent = BorrowingRequest.objects.filter(status=Status.SENT_TO_LENDER)
    assert set(pending.values_list("request", flat=True)) == set(sent.values_list("pk", flat=True))

    # The retention job has been: nothing ended long ago keeps its patron.
    retention = dt.timedelta(days=settings.ILLDESK_PATRON_RETENTION_DAYS + 1)
    aged = BorrowingRequest.objects.filter(ended_at__lt=timezone.now() - retention)
    assert aged.exists() and not aged.filter(patron__isnull=False).exists()

    # The not-arrived job finds exactly the loans left for it, then nothing.
    expected = round(2000 * 0.1)
    assert summary.due_not_arrived == expected
    assert jobs.flag_not_arrived().count == expected
    assert jobs.flag_not_arrived().count == 0
    assert jobs.flag_overdue().count == 0  # the hourly jobs have flagged the rest already

    # Sequences: the app's own inserts follow the generated rows.
    team = User.objects.get(username="bench-team")
    library = MemberLibrary.objects.filter(is_active=True).first()
    staff = User.objects.filter(library=library, is_active=True).first()
    patron = Patron.objects.create(library=library, card_number="NEW-1", name="New Reader")
    new = workflow.submit_request(
        actor=staff, library=library, patron=patron, citation={"title": "After the fill"}
    )
    assert new.pk == 2001
    before = StatusEvent.objects.exclude(request=new).aggregate(last=Max("id"))["last"]
    assert new.events.get().pk == before + 1
    Lender.objects.create(name="New lender", kind="in_state")
    User.objects.create_user("new-team-member", role="team")

    # The team's queue answers, with the queries tests/requests_app/web/test_queue.py pins (inside a
    # transaction, as a test request runs there) whatever the page size or number; each
    # with the filter form's fragment not cached yet (a cached one saves a query).
    client.force_login(team)
    counts = set()
    for query in ("", "page_size=1", "page_size=20", "page_size=5&page=3", "status=all"):
        caches["fragments"].clear()
        with captured() as queries, transaction.atomic():
            response = client.get(f"/queue/?{query}")
        assert response.status_code == 200, query
        assert len(response.context["page"]) > 0, query
        counts.add(sum(1 for sql in queries if sql not in ("BEGIN", "COMMIT")))
    assert counts == {7}, counts
    assert client.get(f"/requests/{new.pk - 1}/").status_code == 200


def test_the_same_seed_fills_the_same_and_a_full_database_is_refused():
    fill("--seed", "7")
    first = fingerprint()

    with pytest.raises(SystemExit, match="--reuse .* --replace"):
        fill("--seed", "7")
    assert fill("--reuse").rows["requests_app_borrowingrequest"] == 2000
    assert fingerprint() == first

    fill("--seed", "7", "--replace")
    assert fingerprint() == first
    fill("--seed", "8", "--replace")
    assert fingerprint() != first


def test_lenders_have_a_shape_a_ranking_can_learn():
    """Requests ask for items of a catalogue, the popular again and again, each held by few
    lenders: a filled item is filled by its holders (the one that filled it before, often),
    and a lender's fill rate depends on the format (rare formats: academic and special
    lenders)."""
    fill()
    # Each request's key is the one a save would make (the generator makes it quicker).
    for req in BorrowingRequest.objects.only("format", "title", "author", "volume", "item_key"):
        assert req.item_key == item_key(
            format=req.format, title=req.title, author=req.author, volume=req.volume
        ), req.pk
    with connection.cursor() as cursor:
        # The same items, with the same citation, asked for again by other libraries.
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE libraries >= 2), count(*) FILTER (WHERE libraries >= 3),
                   count(*) FILTER (WHERE citations > 1)
            FROM (SELECT oclc_number, count(DISTINCT library_id) libraries,
                         count(DISTINCT (format, title, author, isbn, item_key)) citations
                  FROM requests_app_borrowingrequest WHERE oclc_number <> ''
                  GROUP BY oclc_number) items
            """
        )
        by_two_libraries, by_three_libraries, citations_that_differ = cursor.fetchone()
        assert by_two_libraries >= 50 and by_three_libraries >= 20
        assert citations_that_differ == 0
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE nth > 1)::float / count(*), max(nth)
            FROM (SELECT row_number() OVER (PARTITION BY item_key, isbn, oclc_number
                                            ORDER BY created_at, id) nth
                  FROM requests_app_borrowingrequest) asked
            """
        )
        asked_before, most_asked = cursor.fetchone()
        assert 0.25 <= asked_before <= 0.6 and most_asked >= 10

        # A filled item is shipped by one of few lenders: often the one that shipped it before.
        cursor.execute(
            """
            WITH fills AS (
                SELECT a.lender_id, r.item_key || r.isbn || r.oclc_number AS item,
                       row_number() OVER (PARTITION BY r.item_key, r.isbn, r.oclc_number
                                          ORDER BY a.sent_at) nth,
                       row_number() OVER (PARTITION BY r.item_key, r.isbn, r.oclc_number,
                                                       a.lender_id ORDER BY a.sent_at) nth_by_lender
                FROM requests_app_lenderattempt a
                JOIN requests_app_borrowingrequest r ON r.id = a.request_id
                WHERE a.outcome = 'shipped'
            ), items AS (
                SELECT item, count(DISTINCT lender_id) lenders FROM fills
                GROUP BY item HAVING count(*) >= 3
            )
            SELECT (SELECT count(*) FROM fills WHERE nth > 1),
                   (SELECT count(*) FROM fills WHERE nth > 1 AND nth_by_lender > 1),
                   (SELECT count(*) FROM items), (SELECT max(lenders) FROM items),
                   (SELECT avg(lenders) FROM items)
            """
        )
        refills, by_an_earlier_filler, items, most_lenders, mean_lenders = cursor.fetchone()
        assert refills >= 300 and by_an_earlier_filler >= 0.5 * refills
        assert items >= 30 and most_lenders <= generate.MOST_HOLDERS and mean_lenders <= 3

        # Fill rates follow the lenders' collections: scores, microfilm and periodical issues
        # are filled by academic and special lenders, rarely by the others they are sent to.
        cursor.execute(
            """
            SELECT avg((a.outcome = 'shipped')::int)
                       FILTER (WHERE l.kind = 'special' OR l.name ~ '(University|College)'),
                   avg((a.outcome = 'shipped')::int)
                       FILTER (WHERE NOT (l.kind = 'special' OR l.name ~ '(University|College)'))
            FROM requests_app_lenderattempt a
            JOIN requests_app_borrowingrequest r ON r.id = a.request_id
            JOIN lenders_lender l ON l.id = a.lender_id
            WHERE a.outcome IN ('shipped', 'unfilled')
              AND r.format IN ('score', 'microfilm', 'periodical_issue')
            """
        )
        academic_or_special, others = cursor.fetchone()
        assert academic_or_special - others >= 0.3, (academic_or_special, others)
