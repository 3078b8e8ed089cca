"""What the in-process benchmarks share: a call's figures (median, spread, queries), the
table they print and write into docs/performance.md, and the run that stamps and saves
them (``api_auth``, ``exceptions``, ``duplicates``, ``library_day``)."""

import datetime as dt
import json
import os
import statistics
from collections.abc import Callable
from pathlib import Path

HEADER = ["| what | median ms | min | max | queries |", "| --- | ---: | ---: | ---: | ---: |"]


def spread(times_ms: list[float], queries: int) -> dict:
    """The median, min and max of ``times_ms``, rounded, with the queries of a call."""
    return {
        "median_ms": round(statistics.median(times_ms), 3),
        "min_ms": round(min(times_ms), 3),
        "max_ms": round(max(times_ms), 3),
        "queries": queries,
    }


def rolled_back_calls(
    call: Callable[[], object], runs: int, check: Callable[[object], object]
) -> dict:
    """Median and spread of ``call()`` in milliseconds, each call in a savepoint rolled back
    after it, and the queries of the last call; ``check`` sees each result (it stops the
    run on a wrong one). The first call warms up and is not counted."""
    import time

    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    times = []
    for run in range(runs + 1):
        savepoint = transaction.savepoint()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = call()
            took = (time.perf_counter() - started) * 1000
        transaction.savepoint_rollback(savepoint)
        check(result)
        if run:
            times.append(took)
    return spread(times, len(queries))


def row(what: str, measured: dict) -> str:
    return (
        f"| {what} | {measured['median_ms']:.1f} | {measured['min_ms']:.1f} | "
        f"{measured['max_ms']:.1f} | {measured['queries']} |"
    )


def table(results: dict[str, dict]) -> list[str]:
    """The results as the pages' table: one row a call, milliseconds and queries."""
    return [*HEADER, *(row(what, measured) for what, measured in results.items())]


def measure_and_write(
    runs: int,
    out: Path | None,
    measure: Callable[[], dict],
    markdown_of: Callable[[dict], str],
    **stamped: object,
) -> dict:
    """Measure, stamp the figures with when, how many runs and CPUs, the requests in the
    database and ``stamped``; print them as markdown and write them to ``out`` as JSON."""
    from requests_app.models import BorrowingRequest

    figures = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "runs": runs,
        "cpus": os.cpu_count(),
        "requests": BorrowingRequest.objects.count(),
        **stamped,
        **measure(),
    }
    print(markdown_of(figures))
    if out:
        out.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {out}")
    return figures
