"""``manage.py seed_demo``: the demo data a new install starts with.

These tests make their own data with the command, so they use none of the shared people
fixtures (alice, bob, rita, admin): the command creates accounts of those names itself.
"""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from stdnum import isbn

from lenders.models import AvailabilityReport, Lender
from lenders.selectors import not_accepting_returns, refusing_returns
from members.models import MemberLibrary, Patron, User
from requests_app.models import (
    BorrowingRequest,
    Charge,
    LenderAttempt,
    Message,
    Notification,
    RenewalRequest,
    Status,
    StatusEvent,
    Trace,
    UnrequestedItemReport,
)
from requests_app.selectors import with_return_availability

DEMO_PASSWORD = "illdesk-demo"
MODELS = [
    MemberLibrary,
    Patron,
    User,
    Lender,
    AvailabilityReport,
    BorrowingRequest,
    StatusEvent,
    LenderAttempt,
    RenewalRequest,
    Charge,
    Message,
    Notification,
    MemberLibrary.history.model,
]


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded(db):
    return seed()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def test_the_four_accounts_have_their_roles_libraries_and_the_demo_password(seeded):
    alice = User.objects.get(username="alice")
    bob = User.objects.get(username="bob")
    rita = User.objects.get(username="rita")
    admin = User.objects.get(username="admin")

    assert alice.role == User.Role.LIBRARY_STAFF
    assert bob.role == User.Role.LIBRARY_STAFF
    assert alice.library is not None and bob.library is not None
    assert alice.library != bob.library
    assert rita.role == User.Role.TEAM and rita.library is None
    assert admin.role == User.Role.ADMIN and admin.library is None
    assert admin.is_staff and admin.is_superuser
    assert not (alice.is_staff or bob.is_staff or rita.is_staff)
    for user in (alice, bob, rita, admin):
        assert user.check_password(DEMO_PASSWORD), user.username
    for name in ("alice", "bob", "rita", "admin"):
        assert name in seeded


def test_libraries_differ_in_region_delivery_and_max_cost(seeded):
    libraries = list(MemberLibrary.objects.all())
    assert 5 <= len(libraries) <= 6
    assert len({library.region for library in libraries}) >= 5
    assert {library.on_delivery for library in libraries} == {True, False}
    for library in libraries:
        assert library.bpl_number.isdigit() and library.bpl_number.startswith("2999")
        assert bool(library.delivery_route_code) == library.on_delivery
        assert library.contact_email
    max_costs = {library.max_cost for library in libraries}
    assert {"0.00", "10.00", "25.00", "50.00"} <= {str(cost) for cost in max_costs}
    # Every library has staff, patrons and several requests.
    for library in libraries:
        assert library.staff.filter(role=User.Role.LIBRARY_STAFF).exists()
        assert library.patrons.exists()
        assert library.requests.count() >= 3
    assert Patron.objects.filter(homebound=True).exists()


def test_every_status_has_a_request(seeded):
    present = set(BorrowingRequest.objects.values_list("status", flat=True))
    assert present == set(Status.values)
    assert 30 <= BorrowingRequest.objects.count() <= 50


def test_every_timeline_starts_with_the_submission_and_ends_at_the_status(seeded):
    for req in BorrowingRequest.objects.all():
        events = list(req.events.order_by("at", "id"))
        first, last = events[0], events[-1]
        assert (first.action, first.from_status, first.to_status) == ("submit", "", "submitted")
        assert last.to_status == req.status, req
        # Each event starts where the one before it ended.
        for before, after in zip(events, events[1:], strict=False):
            assert after.from_status == before.to_status, req


def test_requests_use_many_formats_with_valid_identifiers(seeded):
    formats = set(BorrowingRequest.objects.values_list("format", flat=True))
    assert {
        "book",
        "audiobook",
        "video",
        "music",
        "score",
        "periodical_issue",
        "microfilm",
    } <= formats
    for value in BorrowingRequest.objects.exclude(isbn="").values_list("isbn", flat=True):
        assert isbn.is_valid(value), value
    video = BorrowingRequest.objects.filter(format="video")
    assert video.exclude(dvd_region="").exclude(video_encoding="").count() == video.count()


def test_every_lender_kind_and_the_availability_cases(seeded):
    assert set(Lender.objects.values_list("kind", flat=True)) == set(Lender.Kind.values)
    assert AvailabilityReport.objects.filter(lending=False).exists()
    closed = AvailabilityReport.objects.filter(closed_from__isnull=False).get()
    assert closed.closed_from.month == 12 and closed.closed_from.year == timezone.localdate().year
    assert closed.closed_until > closed.closed_from
    assert Lender.objects.filter(charges_fees=True, usual_fee__gt=0).exists()
    special = Lender.objects.get(kind=Lender.Kind.SPECIAL)
    assert special.accepts_ifm and special.charges_fees
    # A lender whose newest report is not lending, and lenders with a history of reports.
    assert any(
        (report := lender.current_availability()) is not None and not report.lending
        for lender in Lender.objects.all()
    )
    assert any(lender.availability_reports.count() > 1 for lender in Lender.objects.all())
    assert not AvailabilityReport.objects.filter(source="").exists()


def test_alice_holds_a_loan_whose_lender_is_not_accepting_returns(seeded):
    """The demo shows the library's lenders page and the return's confirmation at work."""
    alice = User.objects.get(username="alice")
    ours = with_return_availability(BorrowingRequest.objects.filter(library=alice.library))
    (held,) = ours.filter(return_on_hold=True)
    assert held.status == Status.RECEIVED
    refusing = refusing_returns(held.lender_id)
    assert refusing is not None and refusing.note and refusing.source
    # The lender stopped taking returns after it shipped the loan.
    assert timezone.localdate(refusing.reported_at) > held.shipped_on
    assert Lender.objects.filter(not_accepting_returns()).count() >= 2


def test_charges_messages_and_the_cases_the_jobs_will_flag(seeded):
    today = timezone.localdate()
    over = [req for req in BorrowingRequest.objects.all() if req.charges_total > req.max_cost]
    assert over
    assert Charge.objects.exists() and Message.objects.count() >= 2
    assert BorrowingRequest.objects.filter(
        status=Status.SHIPPED, shipped_on__lte=today - dt.timedelta(days=15)
    ).exists()
    assert BorrowingRequest.objects.filter(
        status__in=[Status.RECEIVED, Status.RENEWAL_REQUESTED], due_date__lt=today
    ).exists()
    # Somebody's first lender could not supply: the request keeps both attempts.
    assert LenderAttempt.objects.filter(outcome=LenderAttempt.Outcome.UNFILLED).exists()


def test_the_exceptions_and_corrections_of_a_lived_in_desk(seeded):
    traces = set(BorrowingRequest.objects.exclude(trace="").values_list("trace", flat=True))
    assert {Trace.TRACING, Trace.REPLACEMENT_SHIPPED, Trace.CLEARED} <= traces
    # A loan past its days that nobody reported: the morning's job flagged it.
    assert BorrowingRequest.objects.filter(
        status=Status.SHIPPED, trace="", not_arrived_flagged_at__isnull=False
    ).exists()
    actions = set(StatusEvent.objects.values_list("action", flat=True))
    assert {"edit_item", "correct_shipment", "reopen", "request_again"} <= actions
    assert {"void_charge", "charge_invoiced", "charge_paid"} <= actions
    voided = Charge.objects.filter(voided_by__isnull=False).get()
    assert voided.amount == Decimal("985.00") and voided.voided_by.amount == -voided.amount
    assert Charge.objects.filter(paid_on__isnull=False).exists()
    assert Charge.objects.filter(invoiced_on__isnull=False, paid_on__isnull=True).exists()
    again = BorrowingRequest.objects.get(follows__isnull=False)
    assert again.follows.status == Status.UNFILLED and again.status == Status.SUBMITTED
    reports = UnrequestedItemReport.objects.order_by("created_at")
    assert [report.outcome for report in reports] == ["sent_on", ""]


def test_one_request_went_on_despite_the_duplicate_warning_with_its_reason(seeded):
    duplicate = BorrowingRequest.objects.get(possible_duplicate_of__isnull=False)
    first = duplicate.possible_duplicate_of
    assert (duplicate.isbn, duplicate.library) == (first.isbn, first.library)
    assert duplicate.patron != first.patron
    submitted = duplicate.events.get(action="submit")
    assert submitted.note.startswith(f"Submitted although #{first.pk} asks for the same item: ")


def test_demo_data_mails_nobody(seeded):
    assert Notification.objects.exists()
    assert not Notification.objects.filter(sent_at__isnull=True).exists()


def test_running_twice_changes_nothing(seeded):
    before = counts()
    output = seed()
    assert counts() == before
    assert "nothing changed" in output


def test_an_existing_admin_account_is_kept(db):
    User.objects.create_superuser("admin", "boss@example.org", "their-own-password-1")
    output = seed()
    admin = User.objects.get(username="admin")
    assert admin.check_password("their-own-password-1")
    assert "existing account kept" in output
    assert MemberLibrary.objects.exists()


def test_a_clashing_account_stops_it_and_writes_nothing(db):
    User.objects.create_user("alice", password="x-long-enough-1", role=User.Role.TEAM)
    with pytest.raises(CommandError, match="alice"):
        seed()
    assert not MemberLibrary.objects.exists()
    assert not BorrowingRequest.objects.exists()
    assert User.objects.count() == 1


def test_the_desk_has_a_past_not_one_busy_afternoon(seeded):
    """Every demo request was once dated today ("0 d" in the queue): requests that never
    shipped were submitted over the days before, each in office hours."""
    today = timezone.localdate()
    unshipped = BorrowingRequest.objects.filter(shipped_on__isnull=True)
    ages = {(today - timezone.localdate(req.created_at)).days for req in unshipped}
    assert len(ages) >= 4 and max(ages) >= 5
    for req in unshipped.filter(follows__isnull=True):
        assert 9 <= timezone.localtime(req.created_at).hour < 17, req
