"""Time ``GET /api/v1/requests/`` in-process: ``python -m benchmarks.api_list``.

Reads the database that ``benchmarks.reports`` filled (same ``DATABASE_URL``; run that
first) and calls the API through Django's test client as its team account, so the
figures are the app's own time (no network, no server): the median of several calls of
each address, and the number of SQL queries each made. The full harness under load is
the benchmark issue's.
"""

import argparse
import os
import statistics
import time

ADDRESSES = [
    "/api/v1/requests/",
    "/api/v1/requests/?page=200",
    "/api/v1/requests/?page_size=500",
    "/api/v1/requests/?status=unfilled&library=LIB1",
    "/api/v1/requests/?status=open&sort=oldest",
    "/api/v1/requests/?overdue=true",
    "/api/v1/lenders/?page_size=100",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illdesk.settings")
    os.environ["ALLOWED_HOSTS"] = "testserver"
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from members.models import User
    from members.tokens import api_lifetime, issue_token

    team = User.objects.get(username="bench-team")
    token = issue_token(team, lifetime=api_lifetime(), name="benchmark")[1]
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    for address in ADDRESSES:
        client.get(address)  # warm
        times = []
        for _ in range(args.runs):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(address)
                times.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"{address} answered {response.status_code}")
        median_ms = statistics.median(times) * 1000
        print(f"{address:52} {median_ms:8.1f} ms  {len(queries)} queries")


if __name__ == "__main__":
    main()
