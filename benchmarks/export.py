"""Leaving at full size: ``python -m benchmarks.export``.

On the benchmark database (``DATABASE_URL``; ``make bench`` fills it): the whole service's
export (``requests_app.exports``), every request of a million, as ``requests.csv`` and as
``requests.json`` with each request's timeline and charges, read to the end as a download
would be. Its time, its size, and this process's peak memory (resident set) above what it
held before, the figure the issue asks about: a million requests in a few hundred MB.
"""

import argparse
import resource
import time
from pathlib import Path

from benchmarks.api_auth import setup_django
from benchmarks.figures import measure_and_write


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stream(make, requests) -> dict:
    """Read ``make(requests)`` to its end; seconds, megabytes written, peak memory."""
    before = peak_mb()
    started = time.perf_counter()
    size = 0
    for part in make(requests):
        size += len(part.encode())
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "written_mb": round(size / 2**20, 1),
        "peak_mb": round(peak_mb()),
        "peak_before_mb": round(before),
    }


def measure(options) -> dict:
    from requests_app import exports
    from requests_app.models import BorrowingRequest

    requests = BorrowingRequest.objects.all()
    if options.limit:
        last = requests.order_by("pk").values_list("pk", flat=True)[options.limit - 1]
        requests = requests.filter(pk__lte=last)
    return {
        "exported": requests.count(),
        "results": {
            "requests.csv": stream(exports.requests_csv, requests),
            "requests.json (with timelines and charges)": stream(exports.as_json, requests),
        },
    }


def markdown_of(figures: dict) -> str:
    lines = [
        "### Leaving: the export",
        "",
        f"`python -m benchmarks.export`, {figures['when']}: {figures['exported']:,} requests "
        f"of {figures['requests']:,}; {figures['cpus']} CPUs. The whole service's files read "
        "to their end in one process, as a download is; its peak resident memory.",
        "",
        "| file | seconds | MB written | peak memory, MB |",
        "| --- | ---: | ---: | ---: |",
    ]
    for what, measured in figures["results"].items():
        lines.append(
            f"| {what} | {measured['seconds']:.1f} | {measured['written_mb']:,.1f} | "
            f"{measured['peak_mb']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=0, help="the first N requests only")
    parser.add_argument("--runs", type=int, default=1, help="(one run: it reads everything)")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    options = parser.parse_args(argv)
    setup_django()
    measure_and_write(1, options.out, lambda: measure(options), markdown_of)


if __name__ == "__main__":
    main()
