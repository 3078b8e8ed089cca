"""Exceptions and corrections at full size: ``python -m benchmarks.exceptions``.

On the benchmark database (``DATABASE_URL``; ``make bench`` fills it), in-process through
Django's test client, so the figures are the app's own time (no network, no server):

- each exception and correction of docs/workflow.md through the API, as the team
  (``bench-team``), or as a staff account of the loan's library for the library's report,
  on a request of the right kind picked from the generated ones; every call runs in a
  savepoint rolled back after it, so each run acts on the same row as the first;
- the pages that show them: a flagged loan's request page, the queue at each trace step,
  the team's list of items received unasked (``--reports`` of them, added for the run)
  and one report's page with its likely matches among every request.

Everything it adds is rolled back. Medians of ``--runs`` calls (after one warm-up), with
the SQL queries of the last call.
"""

import argparse
import datetime as dt
from collections.abc import Callable
from pathlib import Path

from benchmarks.api_auth import setup_django
from benchmarks.figures import measure_and_write, rolled_back_calls, table


def timed(call: Callable, runs: int, *, expect: int = 200) -> dict:
    """Median and spread of ``call()`` in milliseconds, each in a savepoint rolled back
    after it, and the queries of the last call; stops if an answer is not ``expect``."""

    def check(response) -> None:
        if response.status_code != expect:
            raise SystemExit(f"answered {response.status_code}: {response.content[:500]!r}")

    return rolled_back_calls(call, runs, check)


def _one(queryset, what: str):
    found = queryset.first() if queryset.ordered else queryset.order_by("-pk").first()
    if found is None:
        raise SystemExit(f"The benchmark database holds no {what}: fill it with generate.")
    return found


def pick() -> dict:
    """A request of each kind the actions need, from the generated ones (in the caller's
    transaction, which is rolled back)."""
    from django.db.models import Exists, OuterRef
    from django.utils import timezone

    from requests_app.models import BorrowingRequest, Charge, RenewalRequest, Status

    today = timezone.localdate()
    requests = BorrowingRequest.objects
    shipped_long_ago = requests.filter(
        status=Status.SHIPPED, shipped_on__lt=today - dt.timedelta(days=30)
    )
    unreported = shipped_long_ago.filter(trace="").order_by("-pk")
    # Loans the job flagged are mostly lost or received by now: flag one that is not.
    flagged = _one(unreported[1:], "second loan past its days")
    requests.filter(pk=flagged.pk).update(not_arrived_flagged_at=timezone.now())
    flagged.refresh_from_db()
    renewed = RenewalRequest.objects.filter(request=OuterRef("pk"))
    received = requests.filter(status=Status.RECEIVED, received_on__isnull=False)
    return {
        "flagged": flagged,
        "unreported": _one(unreported, "loan past its days"),
        "sourcing": _one(requests.filter(status=Status.SOURCING), "request being sourced"),
        "shipped": _one(requests.filter(status=Status.SHIPPED), "shipped loan"),
        # Received and never renewed: its receipt is its last step, which reopen takes back.
        "received": _one(received.filter(~Exists(renewed)), "loan received, not renewed"),
        "unfilled": _one(
            requests.filter(status=Status.UNFILLED, patron__isnull=False), "unfilled request"
        ),
        "charge": _one(
            Charge.objects.filter(amount__gt=0, paid_on__isnull=True, voided_by__isnull=True),
            "unpaid charge",
        ),
    }


def add_reports(count: int) -> int:
    """``count`` items received unasked, spread over the libraries, a tenth still open."""
    from django.utils import timezone

    from members.models import User
    from requests_app.models import BorrowingRequest, UnrequestedItemReport

    staff = list(User.objects.filter(library__isnull=False).values_list("pk", "library_id")[:500])
    titles = list(BorrowingRequest.objects.order_by("-pk").values_list("title", flat=True)[:count])
    team = User.objects.get(username="bench-team")
    now = timezone.now()
    UnrequestedItemReport.objects.bulk_create(
        UnrequestedItemReport(
            library_id=staff[n % len(staff)][1],
            reported_by_id=staff[n % len(staff)][0],
            title=titles[n % len(titles)],
            slip_number=f"ILL {900000 + n}",
            created_at=now - dt.timedelta(hours=n),
            **(
                {}
                if n % 10 == 0
                else {
                    "outcome": UnrequestedItemReport.Outcome.RETURNED,
                    "resolution": "Back to the lender.",
                    "resolved_by": team,
                    "resolved_at": now - dt.timedelta(hours=n - 1),
                }
            ),
        )
        for n in range(count)
    )
    return UnrequestedItemReport.objects.count()


def measure(options) -> dict:
    from django.db import transaction
    from django.test import Client
    from django.utils import timezone

    from members.models import User
    from members.tokens import api_lifetime, issue_token
    from requests_app.models import UnrequestedItemReport

    team = User.objects.get(username="bench-team")
    results: dict[str, dict] = {}
    today = timezone.localdate()
    with transaction.atomic():
        rows = pick()
        reports = add_reports(options.reports)
        key = issue_token(team, lifetime=api_lifetime(), name="benchmark")[1]
        api = Client(HTTP_AUTHORIZATION=f"Token {key}")
        pages = Client()
        pages.force_login(team)
        library = User.objects.filter(library_id=rows["unreported"].library_id).first()
        if library is None:
            raise SystemExit("The loan's library has no staff account.")
        library_api = Client(
            HTTP_AUTHORIZATION=f"Token {issue_token(library, lifetime=api_lifetime())[1]}"
        )

        def act(client, req, action: str, body: dict, expect: int = 200) -> None:
            results[action] = timed(
                lambda: client.post(
                    f"/api/v1/requests/{req.pk}/{action}/", body, content_type="application/json"
                ),
                options.runs,
                expect=expect,
            )

        flagged, shipped, received = rows["flagged"], rows["shipped"], rows["received"]
        act(library_api, rows["unreported"], "not-arrived", {"note": "Not in our bins."})
        act(api, flagged, "trace", {"note": "Asked the lender to check its out-bin."})
        replacement = {
            "shipped_on": str(today),
            "due_date": str(today + dt.timedelta(days=28)),
            "method": "delivery",
            "tracking_number": "REPL-1",
        }
        act(api, flagged, "replacement-shipped", replacement)
        act(api, flagged, "cleared", {"note": "Found in the branch's bin."})
        act(api, rows["sourcing"], "edit-item", {"oclc_number": "857088669"})
        due = max(shipped.due_date or today, today) + dt.timedelta(days=7)
        act(api, shipped, "correct-shipment", {"due_date": str(due)})
        act(api, received, "correct-receipt", {"received_on": str(received.shipped_on)})
        act(api, received, "reopen", {"reason": "Marked received by mistake."})
        charge = rows["charge"]
        act(api, charge.request, "void-charge", {"charge": charge.pk, "reason": "Typed twice."})
        act(api, charge.request, "charge-paid", {"charge": charge.pk})
        act(api, rows["unfilled"], "request-again", {}, expect=201)

        open_report = _one(
            UnrequestedItemReport.objects.filter(resolved_at__isnull=True), "open report"
        )
        results["resolve"] = timed(
            lambda: api.post(
                f"/api/v1/unrequested-items/{open_report.pk}/resolve/",
                {"outcome": "matched", "note": "Yours.", "request": shipped.pk},
                content_type="application/json",
            ),
            options.runs,
        )
        for name, address in (
            ("page: a flagged loan", f"/requests/{flagged.pk}/"),
            *(
                (f"queue: trace={step}", f"/queue/?status=all&trace={step}")
                for step in ("flagged", "reported", "cleared", "lost")
            ),
            ("items received unasked: open", "/unrequested-items/?open=yes"),
            ("items received unasked: all", "/unrequested-items/"),
            ("a report, with its likely matches", f"/unrequested-items/{open_report.pk}/"),
        ):
            results[name] = timed(lambda address=address: pages.get(address), options.runs)
        transaction.set_rollback(True)
    return {"reports": reports, "results": results}


def markdown_of(figures: dict) -> str:
    """The figures ``main`` wrote, as the section of docs/performance.md."""
    lines = [
        "### Exceptions and corrections",
        "",
        f"`python -m benchmarks.exceptions --runs {figures['runs']}`, {figures['when']}: "
        f"{figures['requests']:,} requests, {figures['reports']:,} items received unasked "
        f"(a tenth open); {figures['cpus']} CPUs. In-process (Django's test client): each "
        "action through the API on a generated request of the right kind, in a savepoint "
        "rolled back after it; then the pages. Medians of "
        f"{figures['runs']} calls, milliseconds.",
        "",
        *table(figures["results"]),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    options = parser.parse_args(argv)
    setup_django()
    measure_and_write(options.runs, options.out, lambda: measure(options), markdown_of)


if __name__ == "__main__":
    main()
