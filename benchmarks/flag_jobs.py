"""Time the flag jobs over many requests: ``python -m benchmarks.flag_jobs --requests 100000``.

Fills the database in ``DATABASE_URL`` (use a scratch PostgreSQL database: it writes rows)
with shipped loans, a tenth of them due to be flagged, then times ``flag_not_arrived``
cold and again when nothing is left to flag, and reports the SQL statements each ran and
the process's peak memory. The full harness (pages under load, the admin side by side) is
the benchmark issue's; this is its first piece.
"""

import argparse
import datetime as dt
import os
import resource
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illdesk.settings")
    # The digests are queued but not sent: this times the job, not the mail server.
    os.environ.pop("REDIS_URL", None)
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.dummy.EmailBackend"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from members.models import MemberLibrary, User
    from requests_app import jobs
    from requests_app.models import BorrowingRequest, StatusEvent

    call_command("migrate", verbosity=0)
    library, _ = MemberLibrary.objects.get_or_create(
        ill_code="BENCH", defaults={"name": "Bench", "bpl_number": "1", "library_type": "public"}
    )
    user, _ = User.objects.get_or_create(
        username="bench", defaults={"role": "library_staff", "library": library}
    )
    today = timezone.localdate()
    started = time.perf_counter()
    batch = []
    for n in range(args.requests):
        days_ago = 20 if n % 10 == 0 else 3  # a tenth are due to be flagged
        shipped_on = today - dt.timedelta(days=days_ago)
        batch.append(
            BorrowingRequest(
                library=library,
                created_by=user,
                title=f"bench {n}",
                status="shipped",
                shipped_on=shipped_on,
                due_date=shipped_on + dt.timedelta(days=28),
            )  # fmt: skip
        )
        if len(batch) == 5000:
            BorrowingRequest.objects.bulk_create(batch)
            batch = []
    BorrowingRequest.objects.bulk_create(batch)
    print(f"filled {args.requests:,} shipped loans in {time.perf_counter() - started:.1f} s")

    for label in ("cold", "nothing left to flag"):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = jobs.flag_not_arrived()
            elapsed = time.perf_counter() - started
        statements = [q for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
        print(f"flag_not_arrived, {label}: {elapsed:.2f} s, {result.count:,} flagged, "
              f"{len(statements)} SQL statements")  # fmt: skip
    events = StatusEvent.objects.filter(action="flag_not_arrived").count()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"timeline events written: {events:,}; peak memory of this process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
