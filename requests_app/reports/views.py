"""The statistics pages at ``/reports/``: tables, charts, and each table as CSV.

A page reads its period (and, for the team, a library) from the address, asks
``reports`` for its rows, and lays them out as ``Table``s. The same table is the HTML
table and, with ``?format=csv&table=<slug>``, the CSV download, so the two always have
the same columns. Charts are SVG drawn on the server (``charts``) with their numbers in
the table beside them.
"""

import csv
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from core.forms import DATE
from members.access import signed_in_user
from members.models import MemberLibrary, User
from members.selectors import libraries_visible_to

from ..models import ChargeKind, ChargePayer
from . import charts
from . import queries as reports

#: Rows an HTML table shows a page; the CSV has them all.
ROWS_PER_PAGE = 100
#: The longest period a report covers at once, and the dates it may start and end.
MAX_DAYS = 366 * 10
EARLIEST = dt.date(1990, 1, 1)


def _a_year_before(end: dt.date) -> dt.date:
    """The first of the month eleven months before ``end``'s: twelve months with it."""
    month = end.year * 12 + end.month - 1 - 11
    return dt.date(month // 12, month % 12 + 1, 1) if month >= 12 else EARLIEST


class PeriodForm(forms.Form):
    start = forms.DateField(label="From", required=False, widget=DATE)
    end = forms.DateField(label="To", required=False, widget=DATE)
    library = forms.CharField(
        label="Library ILL code", required=False, max_length=20, help_text="All when empty."
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if not user.is_team:
            del self.fields["library"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        today = timezone.localdate()
        end = data.get("end") or today
        start = data.get("start") or _a_year_before(end)
        latest = today + dt.timedelta(days=366)
        for name, day in (("start", data.get("start")), ("end", data.get("end"))):
            if day is not None and not EARLIEST <= day <= latest:
                self.add_error(name, f"Choose a date from {EARLIEST:%Y} to {latest:%Y}.")
        if self.errors:
            return data
        if start > end:
            self.add_error("start", "The start must be on or before the end.")
        elif (end - start).days > MAX_DAYS:
            self.add_error("start", "Choose a period of ten years or less.")
        data["start"], data["end"] = start, end
        code = data.get("library", "").strip()
        data["library_id"] = None
        if code:
            library = MemberLibrary.objects.filter(ill_code__iexact=code).first()
            if library is None:
                self.add_error("library", "No library has this ILL code.")
            else:
                data["library_id"] = library.pk
        return data

    def scope(self) -> reports.Scope:
        data = self.cleaned_data
        return reports.Scope(
            user=self.user, start=data["start"], end=data["end"], library_id=data["library_id"]
        )


# --- Tables -----------------------------------------------------------------------------


def _text(value, percent: bool = False) -> str:
    if value is None:
        return ""
    if percent:
        return f"{value * 100:.1f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def _month(row) -> str:
    return f"{row.month:%Y-%m}"


@dataclass
class Column:
    header: str
    #: The cell's value, from a row of the table's own kind (each table has its own).
    value: Callable[[Any], object]
    numeric: bool = True
    #: A share from 0 to 1, shown as a percentage with one decimal.
    percent: bool = False


@dataclass
class Table:
    slug: str
    title: str
    columns: list[Column]
    rows: list[Any]
    note: str = ""
    #: Set by the view: the rows of this page (all of them for a short table).
    page: Page[Any] | None = None

    @property
    def headers(self) -> list[str]:
        return [column.header for column in self.columns]

    def cells(self, rows=None) -> list[list[tuple[str, bool]]]:
        """Each row as (text, numeric) per column; the text is what the CSV holds too."""
        return [
            [(_text(column.value(row), column.percent), column.numeric) for column in self.columns]
            for row in (self.rows if rows is None else rows)
        ]

    def page_cells(self):
        return self.cells(self.page.object_list if self.page is not None else self.rows)


def _attr(name: str) -> Callable[[object], object]:
    return lambda row: getattr(row, name)


def _label(choices) -> Callable[[str], str]:
    labels = dict(choices)
    return lambda value: labels.get(value, value)


OUTCOME_COLUMNS = [
    Column("Filled", _attr("filled")),
    Column("Unfilled", _attr("unfilled")),
    Column("Cancelled", _attr("cancelled")),
    Column("Lost", _attr("lost")),
    Column("Open", _attr("open")),
    Column("Total", _attr("total")),
    Column("Fill rate (%)", _attr("fill_rate"), percent=True),
]


def _whose(scope: reports.Scope) -> str:
    """Whose figures a page shows: every library's, or one library's, by its name."""
    user = scope.user
    library_id = scope.library_id or (user.library_id if user.is_library_staff else None)
    if library_id is None:
        return "Every library"
    return MemberLibrary.objects.values_list("name", flat=True).get(pk=library_id)


def _requests_page(scope: reports.Scope) -> list[Table]:
    per_library, overall = reports.requests_by_month(scope)
    return [
        Table(
            "overall",
            f"{_whose(scope)}, by month",
            [Column("Month", _month, numeric=False), *OUTCOME_COLUMNS],
            overall,
        ),
        Table(
            "by-library",
            "By library and month",
            [
                Column("Library", _attr("library"), numeric=False),
                Column("Month", _month, numeric=False),
                *OUTCOME_COLUMNS,
            ],
            per_library,
        ),
    ]


TURNAROUND_COLUMNS = [
    Column("Loans shipped", _attr("shipped")),
    Column("Days to ship: median", _attr("ship_median")),
    Column("Days to ship: 90th percentile", _attr("ship_p90")),
    Column("Loans received", _attr("received")),
    Column("Days to arrive: median", _attr("arrive_median")),
    Column("Days to arrive: 90th percentile", _attr("arrive_p90")),
]


def _outcome(name: str) -> Callable[[reports.TurnaroundRow], object]:
    return lambda row: row.outcomes and getattr(row.outcomes, name)


def _turnaround_page(scope: reports.Scope) -> list[Table]:
    return [
        Table(
            "libraries",
            "Fill rate and turnaround by library",
            [
                Column("Library", _attr("code"), numeric=False),
                Column("Requests", _outcome("total")),
                Column("Filled", _outcome("filled")),
                Column("Lost", _outcome("lost")),
                Column("Unfilled", _outcome("unfilled")),
                Column("Fill rate (%)", _outcome("fill_rate"), percent=True),
                *TURNAROUND_COLUMNS,
            ],
            reports.turnaround_by_library(scope),
            note="Fill rate: filled and lost (the lender supplied it) over those and the "
            "unfilled. Medians and percentiles are nearest-rank: of 3 and 10 days, the "
            "median is 3.",
        ),
        Table(
            "lenders",
            "Turnaround by lender",
            [
                Column("Lender", _attr("name"), numeric=False),
                Column("OCLC symbol", _attr("code"), numeric=False),
                *TURNAROUND_COLUMNS,
            ],
            reports.turnaround_by_lender(scope),
            note="Loans count under the lender that shipped them.",
        ),
        Table(
            "days",
            "How many days loans took",
            [
                Column("Days after submission", _attr("days")),
                Column("Loans shipped that day", _attr("to_ship")),
                Column("Loans received that day", _attr("to_arrive")),
            ],
            reports.turnaround_distribution(scope),
            note=f"The chart's numbers. 0 is the day of submission; "
            f"{reports.MAX_DAYS_SHOWN} is {reports.MAX_DAYS_SHOWN} days or more.",
        ),
    ]


def _flags_page(scope: reports.Scope) -> list[Table]:
    return [
        Table(
            "by-month",
            "Flags and renewals by month",
            [
                Column("Month", _month, numeric=False),
                Column("Not arrived", _attr("not_arrived")),
                Column("Replacements shipped", _attr("replaced")),
                Column("Flagged overdue", _attr("overdue")),
                Column("Renewals asked", _attr("renewals_asked")),
                Column("Renewals approved", _attr("renewals_approved")),
                Column("Renewals denied", _attr("renewals_denied")),
            ],
            reports.flags_by_month(scope),
            note="Each count falls in the month it happened: a flag when it was set (by the "
            "job, or by the library reporting it), a renewal when it was asked for and when "
            "the lender answered.",
        )
    ]


def _lenders_page(scope: reports.Scope) -> list[Table]:
    return [
        Table(
            "lenders",
            "Lenders, the ones we rely on most first",
            [
                Column("Lender", _attr("name"), numeric=False),
                Column("OCLC symbol", _attr("oclc_symbol"), numeric=False),
                Column("Sent", _attr("sent")),
                Column("Filled", _attr("filled")),
                Column("Unfilled", _attr("unfilled")),
                Column("No answer", _attr("no_answer")),
                Column("Withdrawn", _attr("withdrawn")),
                Column("Waiting", _attr("pending")),
                Column("Fill rate (%)", _attr("fill_rate"), percent=True),
                Column("Lending fees", _attr("fees")),
                Column("Fee per loan", _attr("fee_per_loan")),
            ],
            reports.lenders(scope),
            note="Requests count in the period they were sent to the lender; withdrawn means "
            "the request was cancelled while the lender had it. Fee per loan: the lending "
            "fees recorded on its loans, over the loans it filled.",
        ),
        Table(
            "reasons",
            "Why lenders could not supply",
            [
                Column("Reason", _attr("reason"), numeric=False),
                Column("Times", _attr("times")),
                Column("Lenders", _attr("lenders")),
            ],
            reports.unfilled_reasons(scope),
        ),
    ]


def _charges_page(scope: reports.Scope) -> list[Table]:
    kind, payer = _label(ChargeKind.choices), _label(ChargePayer.choices)
    return [
        Table(
            "reimbursements",
            "Reimbursement sheet: what each library owes, by quarter",
            [
                Column("Library", _attr("library"), numeric=False),
                Column("Quarter", _attr("quarter"), numeric=False),
                Column("Costs the service bore", _attr("paid_by_service")),
                Column("Costs to reimburse", _attr("to_reimburse")),
                Column("Reimbursed", _attr("reimbursed")),
                Column("Balance owed", _attr("balance")),
            ],
            reports.reimbursements_by_quarter(scope),
            note="Costs are lending fees, shipping, IFM, invoices and IFLA vouchers. The "
            "service pays lenders; costs borne by the library or its patron are to "
            "reimburse, and the library's payments are recorded as reimbursements.",
        ),
        Table(
            "by-quarter",
            "Charges by library, quarter, kind and payer",
            [
                Column("Library", _attr("library"), numeric=False),
                Column("Quarter", _attr("quarter"), numeric=False),
                Column("Kind", lambda r: kind(r.kind), numeric=False),
                Column("Paid by", lambda r: payer(r.payer), numeric=False),
                Column("Charges", _attr("charges")),
                Column("Total", _attr("total")),
                Column("Invoiced", _attr("invoiced")),
                Column("Paid", _attr("paid")),
                Column("Not yet paid", _attr("unpaid")),
            ],
            reports.charges_by_quarter(scope),
            note="Amounts in the service's currency, in the quarter each charge was "
            "recorded. Invoiced and paid: the lender's invoice, and whether the service "
            "has paid it.",
        ),
    ]


@dataclass(frozen=True)
class Report:
    slug: str
    title: str
    summary: str
    tables: Callable[[reports.Scope], list[Table]]
    chart: Callable[[reports.Scope], str] | None = None
    chart_alt: str = ""
    #: "months" or "quarters": the period widens to whole ones, so none shows in part.
    whole: str | None = None

    def scope_for(self, scope: reports.Scope) -> reports.Scope:
        if self.whole == "months":
            return scope.whole_months()
        if self.whole == "quarters":
            return scope.whole_quarters()
        return scope

    @property
    def has_chart(self) -> bool:
        return self.chart is not None


REPORTS = {
    report.slug: report
    for report in [
        Report(
            "requests",
            "Requests by month",
            "How the requests submitted each month came out: filled, unfilled, cancelled, "
            "lost, or still open.",
            _requests_page,
            chart=lambda scope: charts.requests_by_month(reports.requests_by_month(scope)[1]),
            chart_alt="Stacked bars of requests per month by outcome; the numbers are in "
            "the first table below.",
            whole="months",
        ),
        Report(
            "turnaround",
            "Fill rate and turnaround",
            "How many requests were filled, and how many days they took to ship and to "
            "arrive, by library and by lender.",
            _turnaround_page,
            chart=lambda scope: charts.turnaround(reports.turnaround_distribution(scope)),
            chart_alt="How many loans took each number of days to ship and to arrive; the "
            "numbers are in the last table below.",
        ),
        Report(
            "flags",
            "Not arrived, overdue and renewals",
            "Loans flagged not arrived or overdue, and renewals asked, approved and denied, "
            "month by month.",
            _flags_page,
            whole="months",
        ),
        Report(
            "lenders",
            "Lenders",
            "Requests sent to each lender and what came of them, its fees per loan, and why "
            "lenders could not supply.",
            _lenders_page,
        ),
        Report(
            "charges",
            "Charges by quarter",
            "Fees and costs per library and quarter, by kind and payer, with what is "
            "invoiced and paid, and what each library owes: the sheet for reimbursements.",
            _charges_page,
            whole="quarters",
        ),
    ]
}


# --- Views ------------------------------------------------------------------------------


def _read(request: HttpRequest) -> tuple[PeriodForm, reports.Scope | None]:
    """The period (and library) in the address, and the scope it makes when valid."""
    form = PeriodForm(request.GET, user=signed_in_user(request))
    return form, form.scope() if form.is_valid() else None


@login_required
def report_index(request: HttpRequest) -> HttpResponse:
    form, scope = _read(request)
    context = {"form": form, "reports": REPORTS.values(), "scope": scope}
    return render(request, "reports/index.html", context, status=200 if scope else 400)


@login_required
def report_page(request: HttpRequest, slug: str) -> HttpResponse:
    report = REPORTS.get(slug)
    if report is None:
        raise Http404("No such report.")
    form, scope = _read(request)
    context = {"form": form, "report": report, "reports": REPORTS.values()}
    if scope is None:
        return render(request, "reports/report.html", context, status=400)
    scope = report.scope_for(scope)
    tables = report.tables(scope)
    if request.GET.get("format") == "csv":
        return _csv(request, report, tables, scope)
    for table in tables:
        table.page = Paginator(table.rows, ROWS_PER_PAGE).get_page(
            request.GET.get(f"{table.slug}-page")
        )
    context |= {"tables": tables, "scope": scope, "library": _library_code(scope)}
    return render(request, "reports/report.html", context)


@login_required
def report_chart(request: HttpRequest, slug: str) -> HttpResponse:
    report = REPORTS.get(slug)
    if report is None or report.chart is None:
        raise Http404("No chart for this report.")
    _form, scope = _read(request)
    if scope is None:
        return HttpResponse("Bad period.", status=400, content_type="text/plain")
    return HttpResponse(report.chart(report.scope_for(scope)), content_type="image/svg+xml")


def _library_code(scope: reports.Scope) -> str:
    if scope.library_id is None:
        return ""
    return libraries_visible_to(scope.user).get(pk=scope.library_id).ill_code


def _safe(text: str, numeric: bool) -> str:
    """A text cell a spreadsheet would read as a formula is kept as text."""
    if not numeric and text.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + text
    return text


def _csv(request: HttpRequest, report: Report, tables: list[Table], scope) -> HttpResponse:
    wanted = request.GET.get("table") or tables[0].slug
    table = next((table for table in tables if table.slug == wanted), None)
    if table is None:
        raise Http404("No such table in this report.")
    name = f"illdesk-{report.slug}-{table.slug}-{scope.start}-{scope.end}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response.write("\ufeff")  # a byte-order mark: spreadsheets then read the text as UTF-8
    writer = csv.writer(response)
    writer.writerow(table.headers)
    writer.writerows([[_safe(text, numeric) for text, numeric in row] for row in table.cells()])
    return response
