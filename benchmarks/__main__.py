"""The whole benchmark, as ``make bench`` runs it: ``python -m benchmarks``.

Steps, each a module of its own that can also run alone:

1. ``generate``: fill the scratch PostgreSQL database ``--database`` (made if missing)
   with ``--requests`` requests, unless it already holds requests (then they are used).
2. ``explain_filters``: every list filter under EXPLAIN.
3. ``load``: the pages under wrk over gunicorn, beside the admin and the SQL floor, and
   the figures of the run it replaces.
   ``arrivals``: the hot pages under open-loop Poisson arrivals at 20, 50 and 100 a second,
   and thinking people (fixed and exponential reading times).
   ``flames``: py-spy's flame graphs of the hot pages under load (docs/flames/*-after.svg).
4. ``flag_jobs``: the jobs, cold and with nothing left to do, beside a one-save-per-row
   version of the not-arrived job, and the statistics reports over the same rows.
   (``benchmarks.reports`` also times them for one library; run it alone for that.)
   ``cluster``: the not-arrived job on a PostgreSQL cluster of its own, sized for the data
   (``initdb`` with the machine's binaries), cold.
5. ``api_auth``: the API's sign-in (a token, a call with one) and the sign-in guard while
   an attack's counts are in the database.
6. ``exceptions``: each exception and correction through the API, and the pages that
   show them (a flagged loan, the queue at each trace step, items received unasked).
7. ``duplicates``: a submission checked for duplicates (nothing found, refused with the
   matches, let through with a reason), the page's warning, and the check's SQL alone.
8. ``library_day``: a member library's pages (the lenders' availability, its list with
   patrons, its dashboard, a loan waiting on a renewal) and the queue by region.
11. ``export``: the whole service's export at a million requests, its time and memory.
10. ``imports``: a statewide service's first day (1,800 libraries, 5,000 lenders, 5,000
   staff, 2,000 open loans) imported from CSV, each file twice, into a scratch database.
9. ``iso18626``: a lender's messages at ``POST /iso18626/`` (a shipment, a note, a
   repeat, a refusal) and illdesk's (built, checked, posted over HTTP by the outbox).
12. ``suggest``: the lenders' nightly records, a request's suggestions (beside the same
   counts taken live), a lender string's steps, and the backtest of the ranking.

Each writes its figures to ``docs/benchmarks/<step>.json``; the last step writes them
into ``docs/performance.md``, between the markers ``<!-- measured:start -->`` and
``<!-- measured:end -->`` (the prose around them is written by hand and stays).
``--steps`` runs some of them (``--steps render`` only rewrites the page from the JSON);
``--quick`` runs each once and briefly, to try the harness, not to quote: its figures go
to a temporary folder and the page is left alone.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "benchmarks"
PAGE = ROOT / "docs" / "performance.md"
START, END = "<!-- measured:start -->", "<!-- measured:end -->"
STEPS = (
    "generate",
    "explain_filters",
    "load",
    "arrivals",
    "flames",
    "flag_jobs",
    "cluster",
    "api_auth",
    "exceptions",
    "duplicates",
    "library_day",
    "iso18626",
    "imports",
    "export",
    "suggest",
    "render",
)


def run(module: str, *args: str, check: bool = True) -> int:
    command = [sys.executable, "-m", f"benchmarks.{module}", *args]
    print(f"\n$ {' '.join(command[1:])}", flush=True)
    return subprocess.run(command, cwd=ROOT, check=check).returncode  # noqa: S603


def figures_of(step: str, folder: Path) -> str:
    """Where a step writes its figures (from the project's root, as its report quotes it)."""
    path = folder / f"{step}.json"
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def ensure_database(url: str, name: str, requests: int) -> None:
    """Make the database if missing; fill it unless it already holds requests."""
    subprocess.run(  # noqa: S603 - our own arguments
        ["createdb", "-h", "127.0.0.1", "-U", "postgres", name],  # noqa: S607
        capture_output=True,
        check=False,
    )
    import psycopg2

    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('requests_app_borrowingrequest') IS NOT NULL")
        (migrated,) = cursor.fetchone()
        held = 0
        if migrated:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM requests_app_borrowingrequest)")
            (held,) = cursor.fetchone()
    if held:
        print(f"{name} already holds requests: using them (drop it to generate anew)")
        run("generate", "--requests", str(requests), "--reuse")
    else:
        run("generate", "--requests", str(requests))


def render() -> None:
    """The figures of every step that wrote them, into docs/performance.md."""
    from benchmarks import (
        api_auth,
        arrivals,
        cluster,
        duplicates,
        exceptions,
        explain_filters,
        export,
        flag_jobs,
        imports,
        iso18626,
        library_day,
        load,
        suggest,
    )

    sections = []
    for pattern, module in (
        ("load*.json", load),
        ("arrivals*.json", arrivals),
        ("explain_filters*.json", explain_filters),
        ("flag_jobs*.json", flag_jobs),
        ("cluster*.json", cluster),
        ("api_auth*.json", api_auth),
        ("exceptions*.json", exceptions),
        ("duplicates*.json", duplicates),
        ("library_day*.json", library_day),
        ("iso18626*.json", iso18626),
        ("imports*.json", imports),
        ("export*.json", export),
        ("suggest*.json", suggest),
    ):
        # load.json, then any other run of the same step (load_10m.json: a bigger database)
        for path in sorted(FIGURES.glob(pattern), key=lambda p: (len(p.name), p.name)):
            sections.append(module.markdown_of(json.loads(path.read_text())))
    page = PAGE.read_text()
    if START not in page or END not in page:
        raise SystemExit(f"{PAGE} needs the markers {START} and {END}")
    before, _, rest = page.partition(START)
    _, _, after = rest.partition(END)
    PAGE.write_text(f"{before}{START}\n\n" + "\n\n".join(sections) + f"\n\n{END}{after}")
    print(f"wrote the figures into {PAGE.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--database", default="illdesk_bench", help="a scratch database")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"of {', '.join(STEPS)}")
    parser.add_argument("--quick", action="store_true", help="one short run of each")
    args = parser.parse_args()
    steps = [step.strip() for step in args.steps.split(",") if step.strip()]
    unknown = set(steps) - set(STEPS)
    if unknown:
        raise SystemExit(f"Unknown steps: {', '.join(sorted(unknown))}")
    url = f"postgres://postgres@127.0.0.1:5432/{args.database}"
    os.environ["DATABASE_URL"] = url
    # A quick run's figures are not to quote: they go to a folder of their own, and the
    # page keeps the figures it has.
    folder = Path(tempfile.mkdtemp(prefix="illdesk-bench-quick-")) if args.quick else FIGURES
    folder.mkdir(parents=True, exist_ok=True)
    runs = ["--runs", "1"] if args.quick else []
    failed = []
    if "generate" in steps:
        ensure_database(url, args.database, args.requests)
    if "explain_filters" in steps and run(
        "explain_filters",
        "--out",
        figures_of("explain_filters", folder),
        check=False,
    ):
        failed.append("explain_filters (a filter scans or counts the whole requests table)")
    if "load" in steps:
        quick = ["--duration", "5", "--warmup", "1"] if args.quick else []
        run("load", *runs, *quick, "--out", figures_of("load", folder))
    if "arrivals" in steps:
        quick_arrivals = ["--seconds", "5", "--rates", "20"] if args.quick else []
        run(
            "arrivals",
            *runs,
            *quick_arrivals,
            "--thinking",
            "--out",
            figures_of("arrivals", folder),
        )
    if "flames" in steps and not args.quick:
        run("flames", "--label", "after")
    if "flag_jobs" in steps:
        run("flag_jobs", *runs, "--json", figures_of("flag_jobs", folder))
    if "cluster" in steps:
        # A quick run fills a small cluster of its own, never the full one's folder.
        small = ["--requests", "20000", "--datadir", str(folder / "cluster")]
        run(
            "cluster", *runs, *(small if args.quick else []), "--out", figures_of("cluster", folder)
        )
    if "api_auth" in steps:
        run("api_auth", *runs, "--out", figures_of("api_auth", folder))
    if "exceptions" in steps:
        run("exceptions", *runs, "--out", figures_of("exceptions", folder))
    if "duplicates" in steps:
        run("duplicates", *runs, "--out", figures_of("duplicates", folder))
    if "library_day" in steps:
        run("library_day", *runs, "--out", figures_of("library_day", folder))
    if "iso18626" in steps:
        run("iso18626", *runs, "--out", figures_of("iso18626", folder))
    if "export" in steps:
        limit = ["--limit", "20000"] if args.quick else []
        run("export", *limit, "--out", figures_of("export", folder))
    if "suggest" in steps:
        targets = ["--targets", "100"] if args.quick else []
        run("suggest", *runs, *targets, "--out", figures_of("suggest", folder))
    if "imports" in steps:
        scale = ["--scale", "0.05"] if args.quick else []
        run("imports", *scale, "--out", figures_of("imports", folder))
    if args.quick:
        print(f"figures of this quick run (not written into the page): {folder}")
    elif "render" in steps:
        render()
    if failed:
        raise SystemExit(f"Failed: {'; '.join(failed)}")


if __name__ == "__main__":
    main()
