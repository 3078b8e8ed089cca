"""Going live at full size: ``python -m benchmarks.imports``.

A statewide service's first day: 12 regions, 1,800 member libraries, 5,000 lenders (a
fifth with availability, a tenth ISO 18626 partners), 5,000 staff accounts and 2,000 open
loans, written as the CSV files docs/go-live.md describes and imported with
``manage.py import KIND FILE``, each in a process of its own as an admin would run it, into
a scratch PostgreSQL database (``--database``, made afresh and dropped after). Each file
twice: the first import, then the same file again (nothing changes). Wall time and the
process's peak memory; the issue's target is under a minute each.
"""

import argparse
import csv
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"regions": 12, "libraries": 1800, "lenders": 5000, "staff": 5000, "loans": 2000}
STATUSES = ("submitted", "sourcing", "sent_to_lender", "shipped", "received", "returned")


def write_csv(path: Path, header: list[str], rows) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)


def files(folder: Path, sizes: dict[str, int], seed: int = 1) -> dict[str, Path]:
    """The five files of a service of ``sizes``."""
    rng = random.Random(seed)
    today = dt.date.today()  # noqa: DTZ011 - a day for the files, in the machine's zone
    regions = [f"Region {n + 1}" for n in range(sizes["regions"])]
    paths = {kind: folder / f"{kind}.csv" for kind in sizes}
    write_csv(paths["regions"], ["name"], ([name] for name in regions))
    libraries = [f"L{n:04d}" for n in range(sizes["libraries"])]
    write_csv(
        paths["libraries"],
        ["name", "ill_code", "bpl_number", "library_type", "region", "max_cost",
         "contact_email", "on_delivery", "address"],
        (
            [f"{code} Public Library", code, str(80000 + n), "public", rng.choice(regions),
             rng.choice(["0", "10.00", "25.00"]), f"ill@{code.lower()}.example.org",
             rng.choice(["yes", "no"]), f"{n} Main Street\nTown {n}, MA 01{n % 1000:03d}"]
            for n, code in enumerate(libraries)
        ),
    )  # fmt: skip
    lenders = [f"Q{n:04d}" for n in range(sizes["lenders"])]
    write_csv(
        paths["lenders"],
        ["name", "oclc_symbol", "kind", "charges_fees", "usual_fee", "iso18626_address",
         "agency_id_type", "agency_id_value", "iso18626_password", "lending",
         "accepting_returns", "availability_source", "availability_note"],
        (
            [f"Lender {symbol}", symbol, rng.choice(["in_state", "out_of_state", "member"]),
             "yes" if n % 3 == 0 else "no", "15.00" if n % 3 == 0 else "0",
             *( [f"https://{symbol.lower()}.example.org/iso18626", "ISIL", f"US-{symbol}",
                 f"secret-{symbol}"] if n % 10 == 0 else ["", "", "", ""]),
             *( ["yes", rng.choice(["yes", "no"]), "E-mail", "As reported"] if n % 5 == 0
                else ["", "", "", ""])]
            for n, symbol in enumerate(lenders)
        ),
    )  # fmt: skip
    write_csv(
        paths["staff"],
        ["username", "first_name", "last_name", "email", "role", "library", "is_active"],
        (
            [f"staff{n:05d}", f"First{n}", f"Last{n}", f"staff{n}@example.org",
             "team" if n < 20 else "library_staff", "" if n < 20 else libraries[n % len(libraries)],
             "yes"]
            for n in range(sizes["staff"])
        ),
    )  # fmt: skip
    loan_rows = []
    for n in range(sizes["loans"]):
        status = STATUSES[n % len(STATUSES)]
        step = STATUSES.index(status)

        def day(days_ago: int) -> str:
            return (today - dt.timedelta(days=days_ago)).isoformat()

        loan_rows.append([
            f"OLD-{n}", libraries[n % len(libraries)], f"2{n:07d}", f"Patron {n}",
            f"Moved Title {n}", status, day(30),
            lenders[n % len(lenders)] if step >= 2 else "", day(28) if step >= 2 else "",
            day(20) if step >= 3 else "",
            (today + dt.timedelta(days=20)).isoformat() if step >= 3 else "",
            "delivery" if step >= 3 else "", day(10) if step >= 4 else "",
            day(2) if step >= 5 else "", "delivery" if step >= 5 else "",
        ])  # fmt: skip
    write_csv(
        paths["loans"],
        ["old_id", "library", "patron_card", "patron_name", "title", "status", "submitted_on",
         "lender", "sent_on", "shipped_on", "due_date", "shipping_method", "received_on",
         "returned_on", "return_method"],
        loan_rows,
    )  # fmt: skip
    return paths


def import_file(kind: str, path: Path, env: dict[str, str]) -> dict:
    """``manage.py import`` in a process of its own: seconds, peak memory, its last line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "import", kind, str(path), "--no-progress"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"import {kind} failed:\n{done.stderr[-3000:]}")
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return {
        "seconds": round(seconds, 2),
        "peak_mb": round(peak / 1024),
        "said": done.stdout.strip().splitlines()[-1],
    }


def measure(options) -> dict:
    url = f"postgres://postgres@127.0.0.1:5432/{options.database}"
    psql = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(["dropdb", *psql, "--if-exists", options.database], check=True)  # noqa: S603, S607
    subprocess.run(["createdb", *psql, options.database], check=True)  # noqa: S603, S607
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env |= {"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "illdesk.settings"}
    try:
        subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True
        )
        sizes = {kind: max(1, int(size * options.scale)) for kind, size in SIZES.items()}
        results: dict[str, dict] = {}
        with tempfile.TemporaryDirectory() as folder:
            paths = files(Path(folder), sizes)
            for kind in SIZES:
                results[f"{kind}: {sizes[kind]:,} rows"] = import_file(kind, paths[kind], env)
                results[f"{kind}: the same file again"] = import_file(kind, paths[kind], env)
    finally:
        subprocess.run(["dropdb", *psql, "--if-exists", options.database], check=False)  # noqa: S603, S607
    return {"sizes": sizes, "results": results}


def markdown_of(figures: dict) -> str:
    lines = [
        "### Going live: the imports",
        "",
        f"`python -m benchmarks.imports`, {figures['when']}: {figures['cpus']} CPUs. Each "
        "file imported by `manage.py import` in a process of its own (Django's start "
        "included) into a fresh PostgreSQL database, then the same file again. Target: "
        "under a minute each.",
        "",
        "| file | seconds | largest process so far, MB | what it said |",
        "| --- | ---: | ---: | --- |",
    ]
    for what, measured in figures["results"].items():
        said = measured["said"].split(": ", 1)[-1]
        lines.append(f"| {what} | {measured['seconds']:.1f} | {measured['peak_mb']} | {said} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="illdesk_bench_import")
    parser.add_argument("--scale", type=float, default=1.0, help="of the sizes (1 = full)")
    parser.add_argument("--runs", type=int, default=1, help="(one run: each import is minutes)")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    options = parser.parse_args(argv)
    figures = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        **measure(options),
    }
    print(markdown_of(figures))
    if options.out:
        options.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
