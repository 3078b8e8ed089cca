"""A member library's pages at full size: ``python -m benchmarks.library_day``.

On the benchmark database (``DATABASE_URL``; ``make bench`` fills it), in-process through
Django's test client as a staff account of the busiest library and as the team
(``bench-team``): the lenders' availability page (every lender, searched, filtered to
those not accepting returns), the library's list with its patron column and a search by
a patron's name, its dashboard, a loan waiting on a renewal, and the queue narrowed to a
region. Nothing is written. Medians of ``--runs`` calls (after one warm-up), with the SQL
queries of the last call.
"""

import argparse
from pathlib import Path

from benchmarks.api_auth import setup_django, timed
from benchmarks.figures import measure_and_write


def addresses() -> tuple[object, list[tuple[str, str]], list[tuple[str, str]]]:
    """The busiest library's staff account, and the addresses it and the team visit."""
    from django.db.models import Count

    from lenders.models import Lender
    from members.models import Patron, User
    from requests_app.models import BorrowingRequest, Status

    busiest = (
        BorrowingRequest.objects.values("library_id").annotate(n=Count("id")).order_by("-n").first()
    )
    if busiest is None:
        raise SystemExit("The benchmark database holds no requests: fill it with generate.")
    library_id = busiest["library_id"]
    staff = User.objects.filter(library_id=library_id).first()
    symbol = Lender.objects.exclude(oclc_symbol="").values_list("oclc_symbol", flat=True)[0]
    name = Patron.objects.filter(library_id=library_id).values_list("name", flat=True)[0]
    surname = name.split()[-1]
    waiting = (
        BorrowingRequest.objects.filter(library_id=library_id, status=Status.RENEWAL_REQUESTED)
        .values_list("pk", flat=True)
        .first()
    )
    region = staff.library.region if staff and staff.library else ""
    library_pages = [
        ("lenders: every one", "/lenders/"),
        ("lenders: by symbol", f"/lenders/?q={symbol}"),
        ("lenders: not accepting returns", "/lenders/?returns=not_accepting"),
        ("our requests, with patrons", "/requests/"),
        ("our requests: a patron by name", f"/requests/?patron={surname}"),
        ("dashboard", "/"),
    ]
    if waiting is not None:
        library_pages.append(("a loan waiting on a renewal", f"/requests/{waiting}/"))
    team_pages = [("queue: one region", f"/queue/?region={region}")]
    return staff, library_pages, team_pages


def measure(options) -> dict:
    from django.test import Client

    from members.models import User

    staff, library_pages, team_pages = addresses()
    results: dict[str, dict] = {}
    for user, pages in (
        (staff, library_pages),
        (User.objects.get(username="bench-team"), team_pages),
    ):
        client = Client()
        client.force_login(user)
        for name, address in pages:

            def visit(address=address, client=client):
                response = client.get(address)
                if response.status_code != 200:
                    raise SystemExit(f"{address} answered {response.status_code}")
                return response

            results[name] = {"address": address, **timed(visit, options.runs)}
    return {"library": staff.library.ill_code, "results": results}


def markdown_of(figures: dict) -> str:
    """The figures ``main`` wrote, as the section of docs/performance.md."""
    lines = [
        "### A member library's pages",
        "",
        f"`python -m benchmarks.library_day --runs {figures['runs']}`, {figures['when']}: "
        f"{figures['requests']:,} requests, {figures['lenders']:,} lenders; as the staff of "
        f"{figures['library']} (the busiest library) and as the team; {figures['cpus']} "
        "CPUs. In-process (Django's test client). Medians of "
        f"{figures['runs']} calls, milliseconds.",
        "",
        "| page | address | median ms | min | max | queries |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for what, measured in figures["results"].items():
        lines.append(
            f"| {what} | `{measured['address']}` | {measured['median_ms']:.1f} | "
            f"{measured['min_ms']:.1f} | {measured['max_ms']:.1f} | {measured['queries']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    options = parser.parse_args(argv)
    setup_django()
    from lenders.models import Lender

    measure_and_write(
        options.runs,
        options.out,
        lambda: measure(options),
        markdown_of,
        lenders=Lender.objects.count(),
    )


if __name__ == "__main__":
    main()
