"""The statistics at /reports/: figures checked against a small, hand-counted service.

The fixture below is the whole service, with the figures worked out by hand:

| request | library | submitted  | what happened                                         |
| ------- | ------- | ---------- | ----------------------------------------------------- |
| r1      | ABBOT   | 2026-01-10 | CVC shipped 01-13 (3 d), received 01-17 (7 d); fee 10; |
|         |         |            | renewal asked 02-20, approved 03-01; overdue 03-05     |
| r2      | ABBOT   | 2026-01-20 | CVC shipped 01-30 (10 d), received 02-03 (14 d); fee 20 |
| r3      | ABBOT   | 2026-02-05 | FAR could not supply ("Non-circulating"); unfilled     |
| r4      | ABBOT   | 2026-02-06 | sent to FAR, then cancelled (a withdrawn attempt)     |
| r5      | BORDEN  | 2026-02-10 | FAR shipped 02-11 (1 d), flagged not arrived 02-25,   |
|         |         |            | lost; shipping 4.50 paid by the library, reimbursed   |
| r6      | BORDEN  | 2026-02-12 | still submitted                                       |
| old     | ABBOT   | 2025-12-31 | before the period; but sent to CVC on 2026-01-01, so   |
|         |         |            | the lenders' figures (by the day sent) count it         |
"""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from lenders.models import Lender
from requests_app import jobs, services, traces, workflow
from requests_app.models import (
    BorrowingRequest,
    StatusEvent,
)
from requests_app.reports import queries as reports
from tests.queries import captured

PERIOD = "start=2026-01-01&end=2026-06-30"
D = dt.date


def at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)))


@pytest.fixture
def service(alice, bob, rita, patron, library_two, lender):
    far = Lender.objects.create(name="Faraway Library", oclc_symbol="FAR", kind="out_of_state")

    def submitted(actor, library, day, title):
        return workflow.submit_request(
            actor=actor, library=library, patron=None, citation={"title": title}, at=at(day)
        )

    def flagged(req, action, day):
        """What the job writes when it flags a loan, dated ``day``."""
        req.refresh_from_db()
        StatusEvent.objects.create(
            request=req, action=action, from_status=req.status, to_status=req.status,
            at=at(day),
        )  # fmt: skip

    def sent(req, by):
        """Sourced an hour after it came, sent to ``by`` the next day."""
        workflow.start_sourcing(req.pk, actor=rita, at=req.created_at + dt.timedelta(hours=1))
        workflow.send_to_lender(
            req.pk, actor=rita, lender=by, at=req.created_at + dt.timedelta(days=1)
        )

    def lent(req, by, shipped, due):
        sent(req, by)
        workflow.ship(
            req.pk, actor=rita, shipped_on=shipped, due_date=due, method="mail", at=at(shipped)
        )

    r1 = submitted(alice, alice.library, D(2026, 1, 10), "One")
    lent(r1, lender, D(2026, 1, 13), D(2026, 2, 13))
    workflow.mark_received(r1.pk, actor=alice, received_on=D(2026, 1, 17), at=at(D(2026, 1, 17)))
    workflow.request_renewal(r1.pk, actor=alice, due_date=D(2026, 3, 13), at=at(D(2026, 2, 20)))
    workflow.answer_renewal(
        r1.pk, actor=rita, approved=True, due_date=D(2026, 3, 13), at=at(D(2026, 3, 1))
    )
    flagged(r1, "flag_overdue", D(2026, 3, 5))

    r2 = submitted(alice, alice.library, D(2026, 1, 20), "Two")
    lent(r2, lender, D(2026, 1, 30), D(2026, 3, 1))
    workflow.mark_received(r2.pk, actor=alice, received_on=D(2026, 2, 3), at=at(D(2026, 2, 3)))
    workflow.mark_returned(r2.pk, actor=alice, method="delivery", at=at(D(2026, 2, 10)))
    workflow.complete(r2.pk, actor=rita, at=at(D(2026, 2, 12)))

    r3 = submitted(alice, alice.library, D(2026, 2, 5), "Three")
    sent(r3, far)
    workflow.lender_unfilled(r3.pk, actor=rita, reason="Non-circulating", at=at(D(2026, 2, 7)))
    workflow.mark_unfilled(r3.pk, actor=rita, reason="No other lender", at=at(D(2026, 2, 8)))

    r4 = submitted(alice, alice.library, D(2026, 2, 6), "Four")
    sent(r4, far)
    workflow.cancel(r4.pk, actor=alice, at=at(D(2026, 2, 8)))

    r5 = submitted(bob, library_two, D(2026, 2, 10), "Five")
    lent(r5, far, D(2026, 2, 11), D(2026, 3, 11))
    flagged(r5, "flag_not_arrived", D(2026, 2, 25))
    workflow.mark_lost(r5.pk, actor=rita, at=at(D(2026, 2, 26)))

    submitted(bob, library_two, D(2026, 2, 12), "Six")
    old = submitted(alice, alice.library, D(2025, 12, 31), "Old")
    lent(old, lender, D(2026, 1, 2), D(2026, 2, 2))

    charges = [
        (r1, "lending_fee", "10.00", "service", True, True, D(2026, 1, 20)),
        (r2, "lending_fee", "20.00", "service", True, False, D(2026, 2, 10)),
        (r5, "shipping", "4.50", "library", False, False, D(2026, 4, 2)),
        (r5, "reimbursement", "4.50", "library", False, True, D(2026, 5, 10)),
        (old, "lending_fee", "99.00", "service", True, True, D(2025, 12, 31)),
    ]
    for req, kind, amount, payer, invoiced, paid, day in charges:
        services.add_charge(
            req.pk, actor=rita, kind=kind, amount=Decimal(amount), payer=payer,
            invoiced=invoiced, paid=paid, at=at(day),
        )  # fmt: skip
    return {"far": far}


def scope_of(user, library_id=None):
    return reports.Scope(user=user, start=D(2026, 1, 1), end=D(2026, 6, 30), library_id=library_id)


def counts(row):
    return (row.filled, row.unfilled, row.cancelled, row.lost, row.open)


# --- The figures ---------------------------------------------------------------------------


def test_requests_by_month_count_each_outcome(service, rita):
    per_library, overall = reports.requests_by_month(scope_of(rita))
    assert [(row.month, counts(row)) for row in overall] == [
        (D(2026, 1, 1), (2, 0, 0, 0, 0)),
        (D(2026, 2, 1), (0, 1, 1, 1, 1)),
    ]
    assert [(row.library, row.month, counts(row)) for row in per_library] == [
        ("ABBOT", D(2026, 1, 1), (2, 0, 0, 0, 0)),
        ("ABBOT", D(2026, 2, 1), (0, 1, 1, 0, 0)),
        ("BORDEN", D(2026, 2, 1), (0, 0, 0, 1, 1)),
    ]
    # Fill rate: (filled + lost) / (filled + lost + unfilled); cancelled and open left out.
    assert overall[0].fill_rate == 1.0 and overall[1].fill_rate == 0.5
    assert overall[1].total == 4


def test_turnaround_is_median_and_90th_percentile_of_days(service, rita):
    def as_tuples(rows):
        return [
            (
                r.code,
                r.shipped,
                r.ship_median,
                r.ship_p90,
                r.received,
                r.arrive_median,
                r.arrive_p90,
            )
            for r in rows
        ]

    libraries = reports.turnaround_by_library(scope_of(rita))
    assert as_tuples(libraries) == [
        ("ABBOT", 2, 3, 10, 2, 7, 14),
        ("BORDEN", 1, 1, 1, 0, None, None),
    ]
    # Fill rate: (filled + lost) / (filled + lost + unfilled).
    assert [(r.code, r.outcomes.fill_rate) for r in libraries] == [("ABBOT", 2 / 3), ("BORDEN", 1)]
    assert as_tuples(reports.turnaround_by_lender(scope_of(rita))) == [
        ("CVC", 2, 3, 10, 2, 7, 14),
        ("FAR", 1, 1, 1, 0, None, None),
    ]


def test_lenders_of_the_same_name_stay_apart(service, rita):
    Lender.objects.filter(oclc_symbol="FAR").update(name="Carver College Library")
    rows = reports.turnaround_by_lender(scope_of(rita))
    assert [(r.name, r.code, r.shipped) for r in rows] == [
        ("Carver College Library", "CVC", 2),
        ("Carver College Library", "FAR", 1),
    ]


def test_the_turnaround_distribution_is_the_charts_numbers(service, rita):
    rows = reports.turnaround_distribution(scope_of(rita))
    assert [(r.days, r.to_ship, r.to_arrive) for r in rows] == [
        (1, 1, 0), (3, 1, 0), (7, 0, 1), (10, 1, 0), (14, 0, 1),
    ]  # fmt: skip


def test_nearest_rank_percentiles():
    assert reports.nearest_rank({}, 0.5) is None
    assert reports.nearest_rank({4: 1}, 0.9) == 4
    days = {1: 2, 2: 3, 5: 4, 30: 1}  # 10 loans: 1,1,2,2,2,5,5,5,5,30
    assert reports.nearest_rank(days, 0.5) == 2
    assert reports.nearest_rank(days, 0.9) == 5
    assert reports.nearest_rank(days, 1.0) == 30


def test_flags_and_renewals_fall_in_the_month_they_happened(service, rita):
    rows = reports.flags_by_month(scope_of(rita))
    assert [
        (
            r.month,
            r.not_arrived,
            r.overdue,
            r.renewals_asked,
            r.renewals_approved,
            r.renewals_denied,
        )
        for r in rows
    ] == [(D(2026, 2, 1), 1, 0, 1, 0, 0), (D(2026, 3, 1), 0, 1, 0, 1, 0)]


def test_a_flag_a_renewal_cleared_still_counts(service, rita, alice):
    r1 = BorrowingRequest.objects.get(title="One")
    BorrowingRequest.objects.filter(pk=r1.pk).update(overdue_flagged_at=None)  # as a renewal does
    assert sum(row.overdue for row in reports.flags_by_month(scope_of(rita))) == 1


def test_lenders_with_what_came_of_their_requests_and_their_fees(service, rita):
    rows = reports.lenders(scope_of(rita))
    assert [
        (r.oclc_symbol, r.sent, r.filled, r.unfilled, r.withdrawn, r.fees, r.fee_per_loan)
        for r in rows
    ] == [
        ("CVC", 3, 3, 0, 0, Decimal("30.00"), Decimal("10.00")),
        ("FAR", 3, 1, 1, 1, Decimal("0.00"), Decimal("0.00")),
    ]
    assert rows[1].fill_rate == 0.5  # filled / (filled + unfilled + no answer)
    reasons = reports.unfilled_reasons(scope_of(rita))
    assert [(r.reason, r.times, r.lenders) for r in reasons] == [("Non-circulating", 1, 1)]


def test_charges_by_library_quarter_kind_and_payer(service, rita):
    rows = reports.charges_by_quarter(scope_of(rita))
    assert [
        (r.library, r.quarter, r.kind, r.payer, r.charges, r.total, r.invoiced, r.paid, r.unpaid)
        for r in rows
    ] == [
        ("ABBOT", "2026-Q1", "lending_fee", "service", 2, Decimal("30.00"), Decimal("30.00"),
         Decimal("10.00"), Decimal("20.00")),
        ("BORDEN", "2026-Q2", "reimbursement", "library", 1, Decimal("4.50"), Decimal("0.00"),
         Decimal("4.50"), None),
        ("BORDEN", "2026-Q2", "shipping", "library", 1, Decimal("4.50"), Decimal("0.00"),
         Decimal("0.00"), Decimal("4.50")),
    ]  # fmt: skip


def test_the_reimbursement_sheet_says_what_each_library_owes(service, rita):
    rows = reports.reimbursements_by_quarter(scope_of(rita))
    assert [
        (r.library, r.quarter, r.paid_by_service, r.to_reimburse, r.reimbursed, r.balance)
        for r in rows
    ] == [
        ("ABBOT", "2026-Q1", Decimal("30.00"), Decimal("0.00"), Decimal("0.00"), Decimal("0.00")),
        ("BORDEN", "2026-Q2", Decimal("0.00"), Decimal("4.50"), Decimal("4.50"), Decimal("0.00")),
    ]


def test_the_charges_page_covers_whole_quarters(client, service, rita):
    client.force_login(rita)
    response = client.get("/reports/charges/?start=2026-03-01&end=2026-04-15")
    scope = response.context["scope"]
    assert (scope.start, scope.end) == (D(2026, 1, 1), D(2026, 6, 30))
    first = response.context["tables"][1].rows[0]
    assert (first.quarter, first.total) == ("2026-Q1", Decimal("30.00"))  # not March alone


def test_months_and_quarters_are_the_services_local_ones(alice, rita, patron):
    req = workflow.submit_request(
        actor=alice, library=alice.library, patron=patron, citation={"title": "Late"}
    )
    late = timezone.make_aware(dt.datetime.combine(D(2026, 1, 31), dt.time(23, 30)))  # UTC: Feb 1
    BorrowingRequest.objects.filter(pk=req.pk).update(created_at=late)
    january = reports.Scope(user=rita, start=D(2026, 1, 1), end=D(2026, 1, 31))
    assert [row.month for row in reports.requests_by_month(january)[1]] == [D(2026, 1, 1)]
    february = reports.Scope(user=rita, start=D(2026, 2, 1), end=D(2026, 2, 28))
    assert reports.requests_by_month(february)[1] == []


# --- Who sees what -------------------------------------------------------------------------


def test_library_staff_count_only_their_own_library(service, alice):
    scope = scope_of(alice)
    per_library, overall = reports.requests_by_month(scope)
    assert {row.library for row in per_library} == {"ABBOT"}
    assert [counts(row) for row in overall] == [(2, 0, 0, 0, 0), (0, 1, 1, 0, 0)]
    assert {r.library for r in reports.charges_by_quarter(scope)} == {"ABBOT"}
    assert [(r.oclc_symbol, r.sent) for r in reports.lenders(scope)] == [("CVC", 3), ("FAR", 2)]
    flags = reports.flags_by_month(scope)
    assert sum(r.not_arrived for r in flags) == 0  # that was BORDEN's loan


def test_a_library_cannot_read_another_librarys_figures_on_the_pages(client, service, alice):
    from requests_app.reports.views import REPORTS

    client.force_login(alice)
    for slug, report in REPORTS.items():
        own = client.get(f"/reports/{slug}/?{PERIOD}")
        theirs = client.get(f"/reports/{slug}/?{PERIOD}&library=BORDEN")
        assert own.status_code == theirs.status_code == 200, slug
        for table in own.context["tables"]:
            asked = f"{PERIOD}&format=csv&table={table.slug}"
            assert (
                client.get(f"/reports/{slug}/?{asked}").content
                == client.get(f"/reports/{slug}/?{asked}&library=BORDEN").content
            ), (slug, table.slug)
            cells = [text for row in table.cells() for text, _ in row]
            assert not any("BORDEN" in text for text in cells), (slug, table.slug)
        if report.has_chart:
            chart = f"/reports/{slug}/chart.svg?{PERIOD}"
            assert client.get(chart).content == client.get(f"{chart}&library=BORDEN").content
    flags = client.get(f"/reports/flags/?{PERIOD}&format=csv").content.decode("utf-8-sig")
    assert ",1,0,1,0,0" not in flags  # February's not-arrived flag was BORDEN's


def test_the_team_may_narrow_to_one_library(client, service, rita):
    client.force_login(rita)
    page = client.get(f"/reports/requests/?{PERIOD}&library=borden&format=csv&table=by-library")
    rows = list(csv.reader(io.StringIO(page.content.decode("utf-8-sig"))))
    assert [row[:2] for row in rows[1:]] == [["BORDEN", "2026-02"]]
    unknown = client.get(f"/reports/requests/?{PERIOD}&library=NOPE")
    assert unknown.status_code == 400
    assert "No library has this ILL code." in unknown.content.decode()


def test_a_page_is_headed_by_whose_figures_it_shows(client, service, alice, rita):
    """A library's own report was headed "Every library": it names the library."""
    client.force_login(alice)
    own = client.get(f"/reports/requests/?{PERIOD}").content.decode()
    assert f"{alice.library.name}, by month" in own and "Every library" not in own
    client.force_login(rita)
    every = client.get(f"/reports/requests/?{PERIOD}").content.decode()
    assert "Every library, by month" in every
    narrowed = client.get(f"/reports/requests/?{PERIOD}&library=borden").content.decode()
    assert "Borden" in narrowed.split(", by month")[0][-80:]


def test_reports_need_a_login(client, db):
    for url in ("/reports/", "/reports/requests/", "/reports/requests/chart.svg"):
        assert client.get(url)["Location"].startswith("/accounts/login/"), url


# --- Pages, CSV and charts ----------------------------------------------------------------


def test_each_table_downloads_as_csv_with_the_same_columns(client, service, rita):
    from requests_app.reports.views import REPORTS

    client.force_login(rita)
    for slug in REPORTS:
        page = client.get(f"/reports/{slug}/?{PERIOD}")
        assert page.status_code == 200
        for table in page.context["tables"]:
            response = client.get(f"/reports/{slug}/?{PERIOD}&format=csv&table={table.slug}")
            assert response["Content-Type"] == "text/csv; charset=utf-8"
            assert (
                f"illdesk-{slug}-{table.slug}-2026-01-01-2026-06-30.csv"
                in (response["Content-Disposition"])
            )
            assert response.content.startswith("\ufeff".encode())  # for spreadsheets
            rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
            assert rows[0] == table.headers, (slug, table.slug)
            assert len(rows) == 1 + len(table.rows)
            assert f">{table.headers[-1]}</th>" in page.content.decode()


def test_the_csv_holds_the_figures(client, service, rita):
    client.force_login(rita)

    def lines(url):
        return client.get(url).content.decode("utf-8-sig").splitlines()

    assert lines(f"/reports/charges/?{PERIOD}&format=csv&table=by-quarter") == [
        "Library,Quarter,Kind,Paid by,Charges,Total,Invoiced,Paid,Not yet paid",
        "ABBOT,2026-Q1,Lending fee,The service,2,30.00,30.00,10.00,20.00",
        "BORDEN,2026-Q2,Reimbursement by the library,The library,1,4.50,0.00,4.50,",
        "BORDEN,2026-Q2,Shipping,The library,1,4.50,0.00,0.00,4.50",
    ]
    assert lines(f"/reports/charges/?{PERIOD}&format=csv")[1:] == [
        "ABBOT,2026-Q1,30.00,0.00,0.00,0.00",
        "BORDEN,2026-Q2,0.00,4.50,4.50,0.00",
    ]
    assert lines(f"/reports/requests/?{PERIOD}&format=csv")[1:] == [
        "2026-01,2,0,0,0,0,2,100.0",
        "2026-02,0,1,1,1,1,4,50.0",
    ]


def test_text_that_a_spreadsheet_would_run_stays_text(client, service, rita):
    Lender.objects.filter(oclc_symbol="FAR").update(name="=HYPERLINK(1)")
    client.force_login(rita)
    text = client.get(f"/reports/lenders/?{PERIOD}&format=csv").content.decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text


def test_charts_are_svg_with_their_numbers_in_a_table(client, service, rita):
    client.force_login(rita)
    page = client.get(f"/reports/requests/?{PERIOD}").content.decode()
    assert f'src="/reports/requests/chart.svg?{PERIOD}"'.replace("&", "&amp;") in page
    assert 'alt="Stacked bars of requests per month' in page
    for slug in ("requests", "turnaround"):
        chart = client.get(f"/reports/{slug}/chart.svg?{PERIOD}")
        assert chart.status_code == 200
        assert chart["Content-Type"] == "image/svg+xml"
        assert chart.content.startswith(b"<?xml") and b"<svg" in chart.content
        assert b"<script" not in chart.content
    assert client.get("/reports/flags/chart.svg").status_code == 404


def test_a_bad_period_is_a_400_with_the_reason(client, rita):
    client.force_login(rita)
    for far_away in ("end=0001-01-05", "start=9999-12-30&end=9999-12-31"):
        for url in ("/reports/", "/reports/requests/", "/reports/turnaround/chart.svg"):
            assert client.get(f"{url}?{far_away}").status_code == 400, (url, far_away)
    response = client.get("/reports/requests/?start=2026-05-01&end=2026-01-01")
    assert response.status_code == 400
    assert "The start must be on or before the end." in response.content.decode()
    assert client.get("/reports/requests/?start=1900-01-01").status_code == 400
    assert client.get("/reports/requests/?start=yesterday").status_code == 400
    assert client.get("/reports/nothing/").status_code == 404


def test_by_default_a_report_covers_the_last_twelve_months(client, rita):
    client.force_login(rita)
    scope = client.get("/reports/lenders/").context["scope"]
    today = timezone.localdate()
    assert scope.end == today
    assert scope.start.day == 1 and 11 <= (today - scope.start).days // 30 <= 12
    months = client.get("/reports/requests/").context["scope"]
    assert months.start == scope.start and months.end.month == today.month


#: Queries each report page makes, on each database: the session and the user (2), the
#: report's own grouped queries, one query for the names of the libraries or lenders it
#: grouped, and the session's save (3). Turnaround: outcomes, then per library and per
#: lender the percentiles (PostgreSQL: one query each; SQLite: one per figure), names,
#: and the counts behind the chart's table. Lenders: attempts, fees, names, reasons.
#: Charges: the reimbursement sheet and the charges, each with its libraries' codes.
REPORT_QUERIES = {
    "postgresql": {"requests": 4, "turnaround": 8, "flags": 5, "lenders": 6, "charges": 6},
    "sqlite": {"requests": 4, "turnaround": 10, "flags": 5, "lenders": 6, "charges": 6},
}


def test_a_report_page_costs_the_same_queries_however_much_it_shows(
    client, rita, request_in, bob, library_two
):
    client.force_login(rita)

    def queries(slug):
        with captured() as statements:
            assert client.get(f"/reports/{slug}/").status_code == 200
        return len(statements)

    req = request_in("shipped")
    services.add_charge(req.pk, actor=rita, kind="shipping", amount=Decimal("2"))
    expected = REPORT_QUERIES[connection.vendor]
    assert {slug: queries(slug) for slug in expected} == expected
    for status in ("received", "completed", "unfilled", "renewal_requested", "lost"):
        more = request_in(status)
        services.add_charge(more.pk, actor=rita, kind="lending_fee", amount=Decimal("5"))
    workflow.submit_request(actor=bob, library=library_two, patron=None, citation={"title": "B"})
    assert {slug: queries(slug) for slug in expected} == expected


def test_no_turnaround_is_negative_even_for_a_row_from_before_the_date_rules(request_in, rita):
    """The workflow refuses a shipment or a receipt before the step before it; a loan
    recorded earlier with such dates counts as the same day, never as fewer than 0."""
    req = request_in("received")
    day = timezone.localtime(req.created_at).date()
    BorrowingRequest.objects.filter(pk=req.pk).update(
        shipped_on=day - dt.timedelta(days=9), received_on=day - dt.timedelta(days=5)
    )
    scope = reports.Scope(user=rita, start=day - dt.timedelta(days=30), end=day)
    (row,) = reports.turnaround_by_library(scope)
    assert (row.ship_median, row.ship_p90, row.arrive_median, row.arrive_p90) == (0, 0, 0, 0)
    assert [(d.days, d.to_ship, d.to_arrive) for d in reports.turnaround_distribution(scope)] == [
        (0, 1, 1)
    ]


def test_a_loan_flagged_reported_and_traced_counts_once_and_replacements_count(
    request_in, alice, rita
):
    req = request_in("shipped", shipped_days_ago=20)
    jobs.flag_not_arrived()
    traces.report_not_arrived(req.pk, actor=alice)
    traces.trace(req.pk, actor=rita, note="Asked the lender.")
    traces.replacement_shipped(
        req.pk, actor=rita, shipped_on=timezone.localdate(),
        due_date=timezone.localdate() + dt.timedelta(days=28), method="mail",
    )  # fmt: skip
    today = timezone.localdate()
    (row,) = reports.flags_by_month(reports.Scope(rita, today.replace(day=1), today))
    assert (row.not_arrived, row.replaced) == (1, 1)
