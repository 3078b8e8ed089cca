"""The lender directory: the team finds lenders, sees each one's newest availability, and
records new availability reports; the warnings the "send to a lender" picker shows."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from lenders.models import AvailabilityReport, Lender
from lenders.selectors import availability_warnings, lenders_with_availability
from lenders.services import record_availability
from tests.queries import captured

DAY = dt.date(2026, 12, 28)


@pytest.fixture
def as_rita(client, rita):
    client.force_login(rita)
    return client


def report(lender, days_ago=0, **fields):
    """An availability report dated ``days_ago`` days back."""
    return AvailabilityReport.objects.create(
        lender=lender, reported_at=timezone.now() - dt.timedelta(days=days_ago), **fields
    )


def names(client, query=""):
    response = client.get(f"/lenders/?{query}")
    assert response.status_code == 200, response.content.decode()[:2000]
    return [lender.name for lender, _ in response.context["rows"]]


# --- Who may see it ------------------------------------------------------------------------


def test_it_is_the_teams(client, alice, rita, admin_user, lender):
    for url in ["/lenders/", f"/lenders/{lender.pk}/"]:
        assert client.get(url)["Location"].startswith("/accounts/login/")
    client.force_login(alice)
    # Library staff get lenders' availability at /lenders/ (test_library_lenders_page.py).
    assert "rows" in client.get("/lenders/").context
    assert client.get("/lenders/").context["form"].fields.keys() == {"q", "returns"}
    assert client.get(reverse("lender_detail", args=[lender.pk])).status_code == 403
    new_report = reverse("lender_availability_new", args=[lender.pk])
    assert client.post(new_report, {"lending": "no", "accepting_returns": "yes"}).status_code == 403
    assert not AvailabilityReport.objects.exists()
    for user in (rita, admin_user):
        client.force_login(user)
        assert client.get(reverse("lender_list")).status_code == 200
        assert client.get(reverse("lender_detail", args=[lender.pk])).status_code == 200


def test_an_unknown_lender_is_a_404(as_rita):
    assert as_rita.get("/lenders/999999/").status_code == 404


# --- Search and filters ----------------------------------------------------------------------


@pytest.fixture
def directory(lender):
    dover = Lender.objects.create(
        name="Dover Free Library", oclc_symbol="DOV", kind="in_state",
        charges_fees=True, usual_fee=Decimal("40.00"),
    )  # fmt: skip
    mayo = Lender.objects.create(
        name="Mayo Clinic Library", oclc_symbol="MYO", kind="out_of_state",
        accepts_ifm=True, on_delivery=False,
    )  # fmt: skip
    return {"carver": lender, "dover": dover, "mayo": mayo}


def test_it_searches_by_name_or_oclc_symbol(as_rita, directory):
    assert names(as_rita) == ["Carver College Library", "Dover Free Library", "Mayo Clinic Library"]
    assert names(as_rita, "q=dov") == ["Dover Free Library"]  # the symbol, in any case
    assert names(as_rita, "q=clinic") == ["Mayo Clinic Library"]  # part of the name
    assert names(as_rita, "q=CV") == []  # a symbol matches whole, not in part
    assert names(as_rita, "q=library") == [
        "Carver College Library",
        "Dover Free Library",
        "Mayo Clinic Library",
    ]


def test_it_filters_by_kind_and_fees(as_rita, directory):
    assert names(as_rita, "kind=out_of_state") == ["Mayo Clinic Library"]
    assert names(as_rita, "fees=yes") == ["Dover Free Library"]
    assert names(as_rita, "fees=no&kind=in_state") == ["Carver College Library"]


def test_a_bad_filter_is_a_400_with_the_error(as_rita, directory):
    response = as_rita.get("/lenders/?kind=moon")
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_each_row_shows_the_lenders_terms(as_rita, directory):
    html = as_rita.get("/lenders/").content.decode()
    assert "DOV" in html
    assert "40.00 USD" in html
    assert "In-state" in html
    assert "IFM" in html


# --- The newest availability report -----------------------------------------------------------


def test_the_newest_report_counts(as_rita, directory):
    dover = directory["dover"]
    report(dover, days_ago=30, lending=False, source="old e-mail")
    report(dover, days_ago=2, lending=True, accepting_returns=False,
           closed_from=dt.date(2026, 12, 22), closed_until=dt.date(2027, 1, 2))  # fmt: skip
    response = as_rita.get("/lenders/?q=DOV")
    (lender, availability), = response.context["rows"]  # fmt: skip
    assert availability[:2] == ["Lending", "Not accepting returns"]
    html = response.content.decode()
    assert "Not lending" not in html  # the older report is history, not the current one
    assert (timezone.localdate() - dt.timedelta(days=2)).isoformat() in html
    if timezone.localdate() <= dt.date(2027, 1, 2):
        assert "Closed 2026-12-22 to 2027-01-02" in html
    assert "No report yet" in as_rita.get("/lenders/?q=MYO").content.decode()


def test_the_selector_carries_the_newest_report_on_each_lender(directory):
    dover, carver = directory["dover"], directory["carver"]
    report(dover, days_ago=9, lending=True)
    newest = report(dover, days_ago=1, lending=False, closed_from=DAY)
    found = {lender.pk: lender for lender in lenders_with_availability()}
    assert found[dover.pk].lending is False
    assert found[dover.pk].closed_from == DAY
    assert found[dover.pk].availability_id == newest.pk
    assert found[dover.pk].reported_at == newest.reported_at
    assert found[carver.pk].reported_at is None
    assert found[carver.pk].lending is None


@pytest.mark.parametrize("lenders", [1, 12])
def test_the_list_costs_the_same_queries_for_one_lender_or_many(as_rita, lenders):
    for number in range(lenders):
        lender = Lender.objects.create(name=f"Lender {number:02}", kind="in_state")
        report(lender, days_ago=5, lending=False)
        report(lender, days_ago=1, lending=True)
    with captured() as queries:
        response = as_rita.get("/lenders/?page_size=50&q=lender")
    assert response.status_code == 200
    assert len(response.context["rows"]) == lenders
    # session, user, pager count, the page (newest report by subqueries).
    queries.expect(4)


# --- A lender's page and its history -----------------------------------------------------------


def test_the_lender_page_shows_every_report_newest_first(as_rita, rita, lender):
    report(lender, days_ago=40, lending=False, source="Phone call", note="Roof repairs")
    report(lender, days_ago=3, lending=True, source="E-mail", recorded_by=rita)
    response = as_rita.get(reverse("lender_detail", args=[lender.pk]))
    history = list(response.context["history"])
    assert [r.source for r in history] == ["E-mail", "Phone call"]
    html = response.content.decode()
    assert "Roof repairs" in html
    assert "Rita" in html
    assert (timezone.localdate() - dt.timedelta(days=40)).isoformat() in html
    assert response.context["current"] == ["Lending"]


# --- Recording a report ------------------------------------------------------------------------


def test_recording_a_report(as_rita, rita, lender):
    url = reverse("lender_availability_new", args=[lender.pk])
    response = as_rita.post(url, {
        "lending": "no", "accepting_returns": "yes", "closed_from": "2026-12-22",
        "closed_until": "2027-01-02", "source": "E-mail from the ILL office",
        "note": "Closed for the holidays",
    })  # fmt: skip
    assert response.status_code == 302
    assert response["Location"] == reverse("lender_detail", args=[lender.pk])
    new = AvailabilityReport.objects.get()
    assert (new.lending, new.accepting_returns, new.recorded_by) == (False, True, rita)
    assert (new.closed_from, new.closed_until) == (dt.date(2026, 12, 22), dt.date(2027, 1, 2))
    assert new.source == "E-mail from the ILL office"
    assert lender.current_availability() == new
    page = as_rita.get(response["Location"]).content.decode()
    assert "Availability recorded for Carver College Library" in page


@pytest.mark.parametrize(
    ("closed_from", "closed_until"),
    [("2027-01-02", "2026-12-22"), ("", "2026-12-22")],
)
def test_a_closed_until_needs_a_closed_from_before_it(as_rita, lender, closed_from, closed_until):
    response = as_rita.post(reverse("lender_availability_new", args=[lender.pk]), {
        "lending": "yes", "accepting_returns": "yes",
        "closed_from": closed_from, "closed_until": closed_until,
    })  # fmt: skip
    assert response.status_code == 400
    assert response.context["form"].errors["closed_until"] == [
        "A closed-until date needs a closed-from date on or before it."
    ]
    assert 'aria-invalid="true"' in response.content.decode()
    assert not AvailabilityReport.objects.exists()


def test_bad_input_is_a_400_and_nothing_is_saved(as_rita, lender):
    response = as_rita.post(reverse("lender_availability_new", args=[lender.pk]), {
        "lending": "perhaps", "closed_from": "someday",
    })  # fmt: skip
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"lending", "accepting_returns", "closed_from"}
    assert "There are 3 problems" in response.content.decode()
    assert not AvailabilityReport.objects.exists()


def test_the_page_is_post_only(as_rita, lender):
    assert as_rita.get(reverse("lender_availability_new", args=[lender.pk])).status_code == 405


def test_the_service_refuses_a_backwards_closure(rita, lender):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        record_availability(
            lender, actor=rita, lending=True, accepting_returns=True,
            closed_from=DAY, closed_until=DAY - dt.timedelta(days=1), source="", note="",
        )  # fmt: skip
    assert "closed_until" in refused.value.message_dict
    assert not AvailabilityReport.objects.exists()
    kept = record_availability(
        lender, actor=rita, lending=True, accepting_returns=True,
        closed_from=DAY, closed_until=DAY, source=" OCLC policies ", note="",
    )  # fmt: skip
    assert (kept.recorded_by, kept.source) == (rita, "OCLC policies")


# --- Warnings ------------------------------------------------------------------------------------


def annotated(lender):
    return lenders_with_availability().get(pk=lender.pk)


def test_no_warnings_for_a_lender_that_lends(lender):
    report(lender, lending=True)
    assert availability_warnings(annotated(lender), on_date=DAY, max_cost=Decimal("0")) == []
    # A lender that never reported: nothing known, nothing to warn about.
    other = Lender.objects.create(name="Quiet Library", kind="abroad")
    assert availability_warnings(annotated(other), on_date=DAY, max_cost=Decimal("0")) == []


def test_it_warns_of_a_lender_not_lending_with_the_reports_date(lender):
    made = report(lender, lending=False)
    reported = timezone.localtime(made.reported_at).date().isoformat()
    assert availability_warnings(annotated(lender), on_date=DAY, max_cost=None) == [
        f"not lending (reported {reported})"
    ]
    # The same from the report itself.
    assert availability_warnings(made, on_date=DAY, max_cost=None) == [
        f"not lending (reported {reported})"
    ]


@pytest.mark.parametrize(
    ("on_date", "warned"),
    [
        (dt.date(2026, 12, 21), False),
        (dt.date(2026, 12, 22), True),
        (dt.date(2027, 1, 2), True),
        (dt.date(2027, 1, 3), False),
    ],
)
def test_it_warns_of_a_closure_on_the_day(lender, on_date, warned):
    report(lender, closed_from=dt.date(2026, 12, 22), closed_until=dt.date(2027, 1, 2))
    expected = ["closed 2026-12-22 to 2027-01-02"] if warned else []
    assert availability_warnings(annotated(lender), on_date=on_date, max_cost=None) == expected


def test_an_open_ended_closure(lender):
    report(lender, closed_from=dt.date(2026, 12, 22))
    assert availability_warnings(annotated(lender), on_date=DAY, max_cost=None) == [
        "closed from 2026-12-22"
    ]


def test_it_warns_of_a_lender_not_accepting_returns(lender):
    report(lender, accepting_returns=False)
    assert availability_warnings(annotated(lender), on_date=DAY, max_cost=None) == [
        "not accepting returns"
    ]


def test_only_the_newest_report_warns(lender):
    report(lender, days_ago=10, lending=False, accepting_returns=False)
    report(lender, days_ago=1, lending=True)
    assert availability_warnings(annotated(lender), on_date=DAY, max_cost=None) == []
    # A plain lender (not from the selector) is asked for its newest report.
    assert availability_warnings(lender, on_date=DAY, max_cost=None) == []


@pytest.mark.parametrize(
    ("charges_fees", "max_cost", "warned"),
    [
        (True, Decimal("25.00"), True),
        (True, Decimal("40.00"), False),  # equal to the max cost is within it
        (True, None, False),
        (False, Decimal("0.00"), False),  # no fee charged, whatever the usual fee says
    ],
)
def test_it_warns_of_a_fee_above_the_max_cost(lender, charges_fees, max_cost, warned):
    lender.charges_fees, lender.usual_fee = charges_fees, Decimal("40.00")
    lender.save()
    expected = ["usual fee 40.00 above this request's max cost 25.00"] if warned else []
    assert availability_warnings(annotated(lender), on_date=DAY, max_cost=max_cost) == expected


def test_a_fee_in_another_currency_says_which(lender):
    lender.charges_fees, lender.usual_fee, lender.fee_currency = True, Decimal("30.00"), "CAD"
    lender.save()
    assert availability_warnings(annotated(lender), on_date=DAY, max_cost=Decimal("10.00")) == [
        "usual fee 30.00 CAD above this request's max cost 10.00"
    ]


def test_every_warning_at_once_in_order(lender):
    lender.charges_fees, lender.usual_fee = True, Decimal("15.00")
    lender.save()
    made = report(
        lender, lending=False, accepting_returns=False,
        closed_from=DAY, closed_until=DAY + dt.timedelta(days=3),
    )  # fmt: skip
    reported = timezone.localtime(made.reported_at).date().isoformat()
    assert availability_warnings(annotated(lender), on_date=DAY, max_cost=Decimal("0.00")) == [
        f"not lending (reported {reported})",
        "closed 2026-12-28 to 2026-12-31",
        "not accepting returns",
        "usual fee 15.00 above this request's max cost 0.00",
    ]
