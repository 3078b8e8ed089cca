"""Every supported filter of the lists, under EXPLAIN: no sequential scan of the requests.

``python -m benchmarks.explain_filters [--out docs/performance-filters.json]`` reads the
PostgreSQL database in ``DATABASE_URL`` (filled by ``benchmarks.generate``) and requests,
in this process, the team's queue with each of its filters (each value of the choices,
one realistic value of the others, and the filtered view the load benchmark uses), a
member library's list with each of its filters, and ``GET /api/v1/requests/`` with each
of its own. Each statement a page runs on the requests table goes again through
``EXPLAIN (ANALYZE, FORMAT JSON)`` in a transaction that is rolled back. The table lists
per address its statements on the requests table, the slowest one's time, whether any
plan scans the requests table sequentially, and whether any counts the whole table (no
WHERE, no LIMIT). It exits 1 when one does: that filter would slow down as the years of
requests pile up.
"""

import argparse
import datetime as dt
import json
import statistics
import sys
import urllib.parse
from pathlib import Path

from benchmarks.load import (
    REQUESTS_TABLE,
    ROOT,
    count_on_requests_table,
    plan_nodes,
    plan_outline,
    setup_django,
    statement_of_page,
)


def sample_values() -> dict[str, str]:
    """One real value for each filter that takes free text, read from the data."""
    from django.db.models import Count

    from requests_app.models import BorrowingRequest, Status

    newest = BorrowingRequest.objects.order_by("-id")
    busiest = (
        BorrowingRequest.objects.order_by()
        .values("library__ill_code", "library_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    lent = newest.filter(lender__isnull=False).select_related("lender").first()
    titled = newest.exclude(title="").first()
    word = max(titled.title.split(), key=len)
    return {
        "library": busiest["library__ill_code"],
        "library_id": busiest["library_id"],
        "region": newest.select_related("library").first().library.region,
        "lender": lent.lender.oclc_symbol,
        "word": word,
        "isbn": newest.exclude(isbn="").values_list("isbn", flat=True).first(),
        "oclc": newest.exclude(oclc_number="").values_list("oclc_number", flat=True).first(),
        "ill_number": newest.exclude(lender_request_number="")
        .values_list("lender_request_number", flat=True)
        .first(),
        "card": BorrowingRequest.objects.filter(
            library_id=busiest["library_id"], patron__isnull=False
        )
        .order_by("-id")
        .values_list("patron__card_number", flat=True)
        .first(),
        "statuses": Status.values,
    }


def addresses(values: dict) -> list[tuple[str, str, str]]:
    """(who, list, query string) for every filter and value worth asking for."""
    from django.utils import timezone

    from requests_app.flags import LIST_FLAGS as FLAGS
    from requests_app.traces import STEP_CHOICES

    today = timezone.localdate()
    queue = [
        {},
        *({"status": status} for status in ["open", "all", *values["statuses"]]),
        {"library": values["library"]},
        {"region": values["region"]},
        {"lender": values["lender"]},
        *({"assigned": who} for who in ("mine", "nobody", "bench-team")),
        *({"flag": flag} for flag in FLAGS),
        *({"status": "all", "trace": step} for step, _ in STEP_CHOICES),
        {"needed_before": (today + dt.timedelta(days=30)).isoformat()},
        {"older_than": 30},
        *({"q": text} for text in (values["word"], values["isbn"], values["oclc"])),
        {"q": values["ill_number"]},
        {"q": values["library"]},
        *(
            {"sort": sort, "status": "all"}
            for sort in ("oldest", "newest", "needed_by", "due_date")
        ),
        {"status": "completed", "library": values["library"], "older_than": 30},
        {"page": 200},
    ]
    member = [
        {},
        *({"status": status} for status in values["statuses"]),
        *({"flag": flag} for flag in FLAGS),
        {"patron": values["card"]},
        {"q": values["word"]},
        *({"sort": sort} for sort in ("newest", "oldest")),
    ]
    api = [
        {},
        *(
            {flag: answer}
            for flag in ("not_arrived", "overdue", "over_max_cost")
            for answer in ("true", "false")
        ),  # fmt: skip
        {"patron": values["card"]},
        {"status": "shipped", "library": values["library"]},
        {"q": values["word"]},
        {"trace": "reported"},
    ]
    found = [("team", "/queue/", query) for query in queue]
    found += [("staff", "/requests/", query) for query in member]
    found += [("team", "/api/v1/requests/", query) for query in api]
    return [(who, path, urllib.parse.urlencode(query)) for who, path, query in found]


def explain_address(client, path: str, query: str, headers: dict) -> dict:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    url = f"{path}?{query}" if query else path
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    statements = [
        q["sql"]
        for q in captured.captured_queries
        if statement_of_page(q["sql"]) and f'"{REQUESTS_TABLE}"' in q["sql"]
    ]
    seq_scans, slowest, slowest_plan, uncounted = [], 0.0, [], []
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
            (plan,) = cursor.fetchone()[0]
            took = plan["Planning Time"] + plan["Execution Time"]
            if took > slowest:
                slowest, slowest_plan = took, [sql, *plan_outline(plan["Plan"])]
            if any(
                node["Node Type"] == "Seq Scan" and node.get("Relation Name") == REQUESTS_TABLE
                for node in plan_nodes(plan["Plan"])
            ):
                seq_scans.append(sql)
            if count_on_requests_table(sql) == "unfiltered":
                uncounted.append(sql)
        transaction.set_rollback(True)
    return {
        "url": url,
        "statements": len(statements),
        "slowest_ms": round(slowest, 2),
        "slowest_plan": slowest_plan,
        "seq_scan": seq_scans,
        "unfiltered_count": uncounted,
    }


def markdown_of(report: dict) -> str:
    """The figures ``main`` wrote, as the section of docs/performance.md."""
    summary, results = report["summary"], report["results"]
    slowest = sorted(results, key=lambda result: -result["slowest_ms"])[:8]
    size = f", {summary['requests']:,} requests" if "requests" in summary else ""
    lines = [
        f"### Every filter under EXPLAIN{size}",
        "",
        "`python -m benchmarks.explain_filters`: "
        f"{summary['addresses']} addresses (the queue, a library's list and the API, with "
        f"each filter); sequential scans of the requests table: **{summary['with_seq_scan']}**;"
        f" counts of the whole table: **{summary['with_unfiltered_count']}**. The slowest "
        f"statement of an address: median {summary['median_slowest_ms']} ms, max "
        f"{summary['max_slowest_ms']} ms (one EXPLAIN ANALYZE each, so often from a cold "
        "cache). The slowest addresses:",
        "",
        "| address | statements | slowest ms | plan of the slowest |",
        "| --- | ---: | ---: | --- |",
    ]
    for result in slowest:
        plan = "; ".join(line.strip() for line in result["slowest_plan"][1:4])
        lines.append(
            f"| `{result['url']}` | {result['statements']} | {result['slowest_ms']:.1f} | {plan} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance-filters.json")
    args = parser.parse_args()
    setup_django("1000000/minute")
    from django.test import Client

    from members.models import User
    from members.tokens import api_lifetime, issue_token

    values = sample_values()
    team = User.objects.get(username="bench-team")
    staff = (
        User.objects.filter(library_id=values["library_id"], is_active=True).order_by("id").first()
    )
    clients = {"team": Client(), "staff": Client()}
    clients["team"].force_login(team)
    clients["staff"].force_login(staff)
    token = issue_token(team, lifetime=api_lifetime(), name="benchmark")[1]
    results = []
    for who, path, query in addresses(values):
        headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if path.startswith("/api/") else {}
        result = explain_address(clients[who], path, query, headers)
        results.append(result)
        flags = ("SEQ SCAN " if result["seq_scan"] else "") + (
            "UNFILTERED COUNT" if result["unfiltered_count"] else ""
        )
        print(
            f"{result['url'][:80]:80} {result['statements']:2} statements, slowest "
            f"{result['slowest_ms']:7.2f} ms {flags}",
            flush=True,
        )
    failures = [r for r in results if r["seq_scan"] or r["unfiltered_count"]]
    from requests_app.models import BorrowingRequest

    summary = {
        "requests": BorrowingRequest.objects.count(),
        "addresses": len(results),
        "with_seq_scan": sum(bool(r["seq_scan"]) for r in results),
        "with_unfiltered_count": sum(bool(r["unfiltered_count"]) for r in results),
        "median_slowest_ms": statistics.median(r["slowest_ms"] for r in results),
        "max_slowest_ms": max(r["slowest_ms"] for r in results),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "results": results}, indent=2) + "\n")
    print(
        f"\n{summary['addresses']} addresses; sequential scans of the requests table: "
        f"{summary['with_seq_scan']}; "
        f"counts of the whole table: {summary['with_unfiltered_count']}; "
        f"slowest statement median {summary['median_slowest_ms']} ms, "
        f"max {summary['max_slowest_ms']} ms. Figures in {args.out}"
    )
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
