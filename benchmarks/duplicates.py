"""The duplicate check at full size: ``python -m benchmarks.duplicates``.

On the benchmark database (``DATABASE_URL``; ``make bench`` fills it), in-process through
Django's test client, as ``benchmarks.exceptions`` does: a submission by the staff of the
library whose open requests share one item the most (the worst case the data holds), each
call in a savepoint rolled back after it:

- a new item (nothing matches: 201), the same item again (400 with the matches), the same
  item with a reason (201), through the API; the page's warning;
- the check's SQL alone (``duplicates.open_duplicates``), and its plan under EXPLAIN
  ANALYZE: which indexes it reads, and that it reads no table in full.

Everything it adds is rolled back. Medians of ``--runs`` calls (after one warm-up).
"""

import argparse
import time
from pathlib import Path

from benchmarks.api_auth import setup_django
from benchmarks.exceptions import timed
from benchmarks.figures import measure_and_write, spread, table


def timed_check(call, runs: int) -> dict:
    """Median and spread of ``call()`` (the check alone) in milliseconds, and its queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = []
    for run in range(runs + 1):  # the first is the warm-up
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            found = call()
            took = (time.perf_counter() - started) * 1000
        if run:
            times.append(took)
    return {**spread(times, len(queries)), "matches": len(found)}


def most_asked_for() -> dict:
    """The library's open requests that share one item the most, and one of them to ask
    for again: its library, patron, item and a staff account of the library. Among items
    with an ISBN and an OCLC number, so that the check reads all three of its indexes."""
    from django.db import connection

    from members.models import User
    from requests_app.models import OPEN_STATUSES, BorrowingRequest

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT library_id, item_key, count(*) FROM requests_app_borrowingrequest"
            " WHERE status = ANY(%s) AND patron_id IS NOT NULL"
            " AND isbn <> '' AND oclc_number <> ''"
            " GROUP BY library_id, item_key ORDER BY count(*) DESC, library_id LIMIT 1",
            [list(OPEN_STATUSES)],
        )
        row = cursor.fetchone()
    if row is None:
        raise SystemExit("The benchmark database holds no open request: fill it with generate.")
    library_id, key, shared = row
    asked = (
        BorrowingRequest.objects.filter(
            library_id=library_id, item_key=key, status__in=OPEN_STATUSES, patron__isnull=False
        )
        .exclude(isbn="")
        .exclude(oclc_number="")
        .select_related("patron")
        .order_by("-pk")
        .first()
    )
    staff = User.objects.filter(library_id=library_id, is_active=True).order_by("pk").first()
    if asked is None or staff is None:
        raise SystemExit("The most asked-for item's library has no staff account.")
    return {"request": asked, "staff": staff, "shared": shared}


def explain(sql: str, params: tuple) -> dict:
    """The check's plan (EXPLAIN ANALYZE): its time, the indexes it reads, any full scan."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()[0]
    indexes: list[str] = []
    seq_scans: list[str] = []

    def walk(node: dict) -> None:
        if "Index Name" in node and node["Index Name"] not in indexes:
            indexes.append(node["Index Name"])
        if node["Node Type"] == "Seq Scan":
            seq_scans.append(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    return {
        "execution_ms": round(plan["Execution Time"], 3),
        "indexes": indexes,
        "seq_scans": seq_scans,
    }


def measure(options) -> dict:
    from django.db import transaction
    from django.test import Client

    from members.tokens import api_lifetime, issue_token
    from requests_app import duplicates
    from requests_app.models import BorrowingRequest

    results: dict[str, dict] = {}
    with transaction.atomic():
        picked = most_asked_for()
        req, staff = picked["request"], picked["staff"]
        api = Client(HTTP_AUTHORIZATION=f"Token {issue_token(staff, lifetime=api_lifetime())[1]}")
        pages = Client()
        pages.force_login(staff)
        item = {
            "format": req.format,
            "title": req.title,
            "author": req.author,
            "volume": req.volume,
            "isbn": req.isbn,
            "oclc_number": req.oclc_number,
        }
        submission = {"patron": req.patron_id, **item}

        def submit(body: dict):
            return lambda: api.post("/api/v1/requests/", body, content_type="application/json")

        new_item = submission | {"title": "A Title Nobody Asked For", "isbn": "", "oclc_number": ""}
        results["submit: a new item (201)"] = timed(submit(new_item), options.runs, expect=201)
        results["submit: the same item again (400, with the matches)"] = timed(
            submit(submission), options.runs, expect=400
        )
        results["submit: the same item, with a reason (201)"] = timed(
            submit(submission | {"duplicate_reason": "A second copy for a book group."}),
            options.runs,
            expect=201,
        )
        page = {
            "card_number": req.patron.card_number,
            "max_cost": "0",
            **item,
        }
        results["page: the warning"] = timed(
            lambda: pages.post("/requests/new/", page), options.runs, expect=400
        )

        def check() -> list:
            return duplicates.open_duplicates(
                library_id=req.library_id,
                patron_id=req.patron_id,
                isbn=req.isbn,
                oclc_number=req.oclc_number,
                item_key=req.item_key,
                volume=req.volume,
            )

        results["the check's SQL alone"] = timed_check(check, options.runs)
        query = duplicates.matching_requests(
            library_id=req.library_id,
            patron_id=req.patron_id,
            isbn=req.isbn,
            oclc_number=req.oclc_number,
            item_key=req.item_key,
        )
        sql, params = query.query.sql_with_params()
        plan = explain(sql, params)
        transaction.set_rollback(True)
    return {
        "library_open_requests": BorrowingRequest.objects.filter(
            library_id=req.library_id, status__in=duplicates.OPEN_STATUSES
        ).count(),
        "shared": picked["shared"],
        "results": results,
        "plan": plan,
    }


def markdown_of(figures: dict) -> str:
    """The figures ``main`` wrote, as the section of docs/performance.md."""
    plan = figures["plan"]
    lines = [
        "### The duplicate check",
        "",
        f"`python -m benchmarks.duplicates --runs {figures['runs']}`, {figures['when']}: "
        f"{figures['requests']:,} requests; {figures['cpus']} CPUs. The library whose open "
        f"requests share one item the most ({figures['shared']} of its "
        f"{figures['library_open_requests']:,} open requests), asking for it again; "
        "in-process (Django's test client), each call in a savepoint rolled back after it. "
        f"Medians of {figures['runs']} calls, milliseconds. The item has an ISBN and an "
        "OCLC number, so the check reads all three of its indexes.",
        "",
        *table(figures["results"]),
    ]

    scans = ", ".join(plan["seq_scans"]) or "none"
    lines += [
        "",
        f"The check's plan (EXPLAIN ANALYZE): {plan['execution_ms']:.2f} ms, reading "
        f"{', '.join(f'`{name}`' for name in plan['indexes'])}; full scans: {scans}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    options = parser.parse_args(argv)
    setup_django()
    measure_and_write(options.runs, options.out, lambda: measure(options), markdown_of)


if __name__ == "__main__":
    main()
