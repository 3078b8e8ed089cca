"""Time the statistics reports: ``python -m benchmarks.reports --requests 1000000``.

Fills the database in ``DATABASE_URL`` (a scratch PostgreSQL database: it writes rows) with
requests spread over five years across many libraries and lenders, in every outcome, with
their lender attempts, charges, renewals and flags, then times each report the /reports/
pages show, for the last twelve months and for all five years, as the team (every
library) and for one library. ``--reuse`` skips the filling when the rows are there.
"""

import argparse
import datetime as dt
import os
import random
import resource
import time
from decimal import Decimal

BATCH = 10_000


def report_functions() -> dict:
    """Each report the /reports/ pages show, by name (Django set up)."""
    from requests_app.reports import queries as reports

    return {
        "requests by month": reports.requests_by_month,
        "turnaround by library": reports.turnaround_by_library,
        "turnaround by lender": reports.turnaround_by_lender,
        "turnaround chart and table": reports.turnaround_distribution,
        "flags and renewals": reports.flags_by_month,
        "lenders": reports.lenders,
        "unfilled reasons": reports.unfilled_reasons,
        "charges by quarter": reports.charges_by_quarter,
        "reimbursement sheet": reports.reimbursements_by_quarter,
    }


def periods(today: dt.date) -> dict[str, dt.date]:
    """The periods timed, by name: the first day of each, to ``today``."""
    return {
        "12 months": today - dt.timedelta(days=365),
        "5 years": today - dt.timedelta(days=5 * 365 + 1),
    }


def time_report(run, scope, runs: int) -> tuple[float, int]:
    """The median seconds of ``runs`` runs of one report, and the queries one run sends."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            run(scope)
            times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2], len(queries)


def fill(count: int, libraries: int, lenders: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from lenders.models import Lender
    from members.models import MemberLibrary, User
    from requests_app.models import (
        BorrowingRequest,
        Charge,
        LenderAttempt,
        RenewalRequest,
        StatusEvent,
    )

    rng = random.Random(7)  # the same service every run
    started = time.perf_counter()
    library_rows = MemberLibrary.objects.bulk_create(
        MemberLibrary(
            name=f"Library {n}",
            ill_code=f"LIB{n}",
            bpl_number=f"2999{n:06d}",
            library_type="public",
            region=f"Region {n % 6}",
        )  # fmt: skip
        for n in range(libraries)
    )
    lender_rows = Lender.objects.bulk_create(
        Lender(name=f"Lender {n}", oclc_symbol=f"L{n:05d}", kind="out_of_state")
        for n in range(lenders)
    )
    staff = User.objects.create_user("bench-staff", role="library_staff", library=library_rows[0])
    team = User.objects.create_user("bench-team", role="team")
    now = timezone.now()
    reasons = ["Non-circulating", "In use", "Lost", "Not owned", "Policy: no AV"]

    def batch_of(first: int, size: int, count: int = count):
        requests, plans = [], []
        for n in range(first, first + size):
            # Requests arrive over time: the n-th of count is about n/count of five years in.
            age = 5 * 365 * (1 - n / count) + rng.uniform(-0.5, 0.5)
            created = now - dt.timedelta(days=max(age, 0))
            day = timezone.localtime(created).date()
            roll = rng.random()
            req = BorrowingRequest(
                library=library_rows[int(rng.paretovariate(1.2)) % libraries],
                created_by=staff,
                title=f"Benchmark title {n}",
                created_at=created,
            )
            lender = lender_rows[int(rng.paretovariate(1.1)) % lenders]
            shipped = day + dt.timedelta(days=int(rng.expovariate(1 / 6)))
            if roll < 0.70 and shipped < now.date():
                req.status, req.lender = "completed", lender
                req.shipped_on, req.due_date = shipped, shipped + dt.timedelta(days=28)
                req.received_on = min(
                    shipped + dt.timedelta(days=int(rng.expovariate(1 / 4))), now.date()
                )
                req.returned_on, req.return_method = req.received_on, "delivery"
            elif roll < 0.82:
                req.status = "unfilled"
            elif roll < 0.90:
                req.status = "cancelled"
            elif roll < 0.91 and shipped < now.date():
                req.status, req.lender = "lost", lender
                req.shipped_on, req.due_date = shipped, shipped + dt.timedelta(days=28)
                req.not_arrived_flagged_at = created + dt.timedelta(days=20)
            else:
                req.status = "submitted"
            requests.append(req)
            plans.append((lender, roll))
        return requests, plans

    made = 0
    while made < count:
        size = min(BATCH, count - made)
        requests, plans = batch_of(made, size)
        BorrowingRequest.objects.bulk_create(requests)
        attempts, charges, renewals = [], [], []
        for req, (lender, roll) in zip(requests, plans, strict=True):
            if req.status in ("completed", "lost", "unfilled"):
                attempts.append(
                    LenderAttempt(
                        request=req, sequence=1, lender=lender, sent_by=team,
                        sent_at=req.created_at + dt.timedelta(days=1),
                        outcome="unfilled" if req.status == "unfilled" else "shipped",
                        reason=rng.choice(reasons) if req.status == "unfilled" else "",
                    )
                )  # fmt: skip
            if req.status == "completed" and roll < 0.08:
                charges.append(
                    Charge(
                        request=req, kind="lending_fee", amount=Decimal(rng.choice("123")),
                        payer="service", created_by=team,
                        invoiced_on=(req.created_at + dt.timedelta(days=12)).date(),
                        paid_on=(req.created_at + dt.timedelta(days=40)).date()
                        if roll < 0.05 else None,
                        created_at=req.created_at + dt.timedelta(days=10),
                    )
                )  # fmt: skip
            if req.status == "completed" and 0.3 < roll < 0.34:
                renewals.append(
                    RenewalRequest(
                        request=req, requested_due_date=req.due_date + dt.timedelta(days=28),
                        requested_by=staff, requested_at=req.created_at + dt.timedelta(days=20),
                        answer="approved", new_due_date=req.due_date + dt.timedelta(days=28),
                        answered_by=team, answered_at=req.created_at + dt.timedelta(days=22),
                    )
                )  # fmt: skip
        StatusEvent.objects.bulk_create(
            StatusEvent(
                request=req, action="flag_not_arrived", from_status="shipped",
                to_status="shipped", at=req.not_arrived_flagged_at,
            )
            for req in requests
            if req.not_arrived_flagged_at
        )  # fmt: skip
        LenderAttempt.objects.bulk_create(attempts)
        Charge.objects.bulk_create(charges)
        RenewalRequest.objects.bulk_create(renewals)
        made += size
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # as autovacuum would: index-only scans need it
    print(f"filled {count:,} requests in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--libraries", type=int, default=1_800)
    parser.add_argument("--lenders", type=int, default=5_000)
    parser.add_argument(
        "--runs", type=int, default=3, help="timed runs of each; the median is shown"
    )
    parser.add_argument("--reuse", action="store_true", help="use the rows already there")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illdesk.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from members.models import User
    from requests_app.models import BorrowingRequest
    from requests_app.reports import queries as reports

    call_command("migrate", verbosity=0)
    if not args.reuse:
        fill(args.requests, args.libraries, args.lenders)
    total = BorrowingRequest.objects.count()
    team = User.objects.get(username="bench-team")
    busiest = (
        BorrowingRequest.objects.values("library_id").order_by().annotate(n=django.db.models.Count("id"))
        .order_by("-n").first()["library_id"]
    )  # fmt: skip
    today = timezone.localdate()
    print(f"{total:,} requests in {connection.vendor}; median of {args.runs} runs each")
    print(f"{'report':28} {'period':10} {'every library':>14} {'one library':>12} {'queries':>8}")
    for name, run in report_functions().items():
        for period, start in periods(today).items():
            cells = []
            for library_id in (None, busiest):
                scope = reports.Scope(user=team, start=start, end=today, library_id=library_id)
                seconds, queries = time_report(run, scope, args.runs)
                cells.append(seconds)
            print(f"{name:28} {period:10} {cells[0]:13.2f}s {cells[1]:11.2f}s {queries:8}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
