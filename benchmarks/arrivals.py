"""The hot pages as people really arrive: ``python -m benchmarks.arrivals [--rates 20,50,100]
[--seconds 30] [--runs 3] [--out docs/benchmarks/arrivals.json]``.

wrk's connections are closed loops: each asks again the moment it has its answer (or
after a fixed think time), so the load waits for the server and a slow answer delays the
calls behind it, which then never count as slow (coordinated omission). People do not wait
for each other. This script is an open loop: calls arrive as a Poisson process at a set
rate (exponential gaps, drawn from a seeded generator), each on its own connection, each
sent at its moment whether or not earlier calls have been answered, and each timed from
the moment it was due to the end of its answer, so time spent waiting for a connection or
a worker counts. Each arrival is one of the hot pages at random (the queue's default view,
filtered and page 200, the member library's list, the request page), as the person who
would open it; the figures are per page.

Beside the open loop, ``--thinking`` runs 20 people as closed loops who read each page
for a while before the next, once with a fixed 2 s (what ``benchmarks.load --think-ms``
asked of wrk) and once with exponential reading times of the same mean, and reports how
bunched their calls arrive: the most calls due in any 100 ms, and the calls already in the
server when each one arrives. That is the comparison behind docs/performance.md's
"Thinking users".

The server is gunicorn as ``benchmarks.load`` starts it (gunicorn.conf.py's workers) on the
PostgreSQL database in ``DATABASE_URL``; the figures are medians over ``--runs`` runs. The
client is one asyncio process; its own CPU time is reported, since it shares the cores.
"""

import argparse
import asyncio
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import load
from benchmarks.flames import HOT_PAGES

ROOT = Path(__file__).resolve().parent.parent
#: How long a call may take before it counts as failed (it still counts in the figures).
CALL_TIMEOUT = 30.0
BUNCH_WINDOW = 0.1


@dataclass
class Target:
    key: str
    path: str
    cookies: list[str]


@dataclass
class Call:
    page: str
    due: float
    latency_ms: float = 0.0
    status: int = 0
    in_flight: int = 0


@dataclass
class Run:
    calls: list[Call] = field(default_factory=list)
    in_flight: int = 0


def poisson_schedule(rate: float, seconds: float, seed: int) -> list[float]:
    """Arrival moments of a Poisson process of ``rate`` a second over ``seconds``."""
    draw = random.Random(seed)
    moments, now = [], draw.expovariate(rate)
    while now < seconds:
        moments.append(now)
        now += draw.expovariate(rate)
    return moments


def most_in_window(moments: list[float], window: float = BUNCH_WINDOW) -> int:
    """The most arrivals in any ``window`` seconds: how bunched the calls come."""
    ordered, most, start = sorted(moments), 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] > window:
            start += 1
        most = max(most, end - start + 1)
    return most


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def call_once(host: str, port: int, target: Target, cookie: str) -> int:
    """One GET on a connection of its own, read to the end; the answer's status."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            f"GET {target.path} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        await writer.drain()
        head = await reader.readline()
        await reader.read()
        return int(head.split()[1]) if head else 0
    finally:
        writer.close()


async def timed(run: Run, host: str, port: int, target: Target, cookie: str, due: float, clock):
    """``call_once`` timed from the moment it was due."""
    record = Call(target.key, due, in_flight=run.in_flight)
    run.in_flight += 1
    try:
        record.status = await asyncio.wait_for(call_once(host, port, target, cookie), CALL_TIMEOUT)
    except (TimeoutError, OSError):
        record.status = 0
    finally:
        run.in_flight -= 1
    record.latency_ms = (clock() - due) * 1000
    run.calls.append(record)


async def open_loop(base: str, targets: list[Target], rate: float, seconds: float, seed: int):
    host, port = base.removeprefix("http://").split(":")
    draw = random.Random(seed + 1)
    run, tasks = Run(), []
    start = time.perf_counter()

    def clock() -> float:
        return time.perf_counter() - start

    for moment in poisson_schedule(rate, seconds, seed):
        wait = moment - clock()
        if wait > 0:
            await asyncio.sleep(wait)
        target = draw.choice(targets)
        cookie = draw.choice(target.cookies)
        tasks.append(
            asyncio.create_task(timed(run, host, int(port), target, cookie, moment, clock))
        )
    await asyncio.gather(*tasks)
    return run


async def thinking(base: str, targets: list[Target], users: int, think: float, fixed: bool,
                   seconds: float, seed: int) -> Run:  # fmt: skip
    """``users`` closed loops, each reading its page ``think`` seconds (fixed or
    exponential with that mean) before the next, all starting together as wrk's do."""
    host, port = base.removeprefix("http://").split(":")
    run = Run()
    start = time.perf_counter()

    def clock() -> float:
        return time.perf_counter() - start

    async def person(number: int) -> None:
        draw = random.Random(seed * 1000 + number)
        target = targets[number % len(targets)]
        cookie = target.cookies[number % len(target.cookies)]
        while clock() < seconds:
            await timed(run, host, int(port), target, cookie, clock(), clock)
            await asyncio.sleep(think if fixed else draw.expovariate(1 / think))

    await asyncio.gather(*(person(number) for number in range(users)))
    return run


def figures_of(run: Run, seconds: float, settled_after: float = 0) -> dict:
    """The run's figures, per page and in all; with ``settled_after``, also those of the
    calls due after that many seconds (thinking people, once their first pages, all
    asked at once at the start, are behind them)."""
    pages: dict[str, dict] = {}
    for key in sorted({call.page for call in run.calls}):
        latencies = [call.latency_ms for call in run.calls if call.page == key]
        pages[key] = {
            "calls": len(latencies),
            "p50_ms": round(percentile(latencies, 0.50), 1),
            "p95_ms": round(percentile(latencies, 0.95), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
        }
    every = [call.latency_ms for call in run.calls]
    return {
        "calls": len(run.calls),
        "per_second": round(len(run.calls) / seconds, 1),
        "failed": sum(1 for call in run.calls if call.status != 200),
        "statuses": dict(Counter(call.status for call in run.calls)),
        "p50_ms": round(percentile(every, 0.50), 1),
        "p95_ms": round(percentile(every, 0.95), 1),
        "p99_ms": round(percentile(every, 0.99), 1),
        "most_due_in_100ms": most_in_window([call.due for call in run.calls]),
        "mean_in_flight_at_arrival": round(
            statistics.fmean(call.in_flight for call in run.calls) if run.calls else 0, 2
        ),
        "pages": pages,
        **({"settled": settled(run, settled_after)} if settled_after else {}),
    }


def settled(run: Run, after: float) -> dict:
    later = [call for call in run.calls if call.due >= after]
    latencies = [call.latency_ms for call in later]
    return {
        "calls": len(later),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "most_due_in_100ms": most_in_window([call.due for call in later]),
    }


def median_figures(runs: list[dict]) -> dict:
    """The median of each figure over the runs (the pages' too)."""
    keys = ("p50_ms", "p95_ms", "p99_ms")
    merged = {
        name: statistics.median(run[name] for run in runs)
        for name in (*keys, "per_second", "most_due_in_100ms", "mean_in_flight_at_arrival")
    }
    merged["calls"] = sum(run["calls"] for run in runs)
    merged["failed"] = sum(run["failed"] for run in runs)
    merged["pages"] = {
        page: {name: statistics.median(run["pages"][page][name] for run in runs) for name in keys}
        for page in runs[0]["pages"]
        if all(page in run["pages"] for run in runs)
    }
    if all("settled" in run for run in runs):
        merged["settled"] = {
            name: statistics.median(run["settled"][name] for run in runs)
            for name in (*keys, "most_due_in_100ms", "calls")
        }
    merged["runs"] = runs
    return merged


def targets_of(pages, people) -> list[Target]:
    return [Target(page.key, page.first_path(), people[page.person].cookies) for page in pages]


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="20,50,100", help="page views a second")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--thinking", action="store_true", help="also the thinking people")
    parser.add_argument("--think-ms", type=int, default=2000)
    parser.add_argument("--users", type=int, default=20, help="thinking people")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--sync", action="store_true")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "arrivals.json")
    options = parser.parse_args(argv)
    options.rate_list = [float(rate) for rate in options.rates.split(",") if rate.strip()]
    if not options.rate_list or min(options.rate_list) <= 0:
        parser.error("--rates takes page views a second, such as 20,50,100")
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    load.setup_django(load.API_RATE_FOR_THE_RUN)
    from django.db import connection
    from django.utils import timezone

    started = timezone.now()
    data = load.describe_data()
    sizes = load.requests_by_library()
    accounts = load.choose_people(sizes)
    options.older_than, options.filter_status = 30, "completed"
    pages = [page for page in load.choose_pages(accounts, sizes, options) if page.key in HOT_PAGES]
    connection.close()
    workdir = Path(tempfile.mkdtemp(prefix="illdesk-arrivals-"))
    server = load.AppServer(options, workdir / "gunicorn.log")
    results: dict = {"open": {}, "thinking": {}}
    cpu_before = client_cpu_seconds()
    try:
        server.start()
        people = load.sign_in_everyone(server.base, accounts, options.users, options.workers)
        targets = targets_of(pages, people)
        for page, target in zip(pages, targets, strict=True):
            load.check_page(server.base, page, people[page.person])
            asyncio.run(open_loop(server.base, [target], 5, 2, options.seed))  # warm
        server.wait_until_idle()
        for number in range(options.runs):
            for rate in options.rate_list:
                run = asyncio.run(
                    open_loop(server.base, targets, rate, options.seconds, options.seed + number)
                )
                figures = figures_of(run, options.seconds)
                results["open"].setdefault(str(int(rate)), []).append(figures)
                print(f"run {number + 1}: {rate:5.0f}/s  p50 {figures['p50_ms']:7.1f}  "
                      f"p95 {figures['p95_ms']:7.1f}  p99 {figures['p99_ms']:7.1f} ms  "
                      f"failed {figures['failed']}", flush=True)  # fmt: skip
                server.wait_until_idle()
            if options.thinking:
                for fixed in (True, False):
                    name = "fixed" if fixed else "exponential"
                    run = asyncio.run(
                        thinking(server.base, targets, options.users, options.think_ms / 1000,
                                 fixed, options.seconds, options.seed + number)
                    )  # fmt: skip
                    figures = figures_of(run, options.seconds, options.think_ms / 1000)
                    results["thinking"].setdefault(name, []).append(figures)
                    bunched = figures["most_due_in_100ms"]
                    print(f"run {number + 1}: {options.users} thinking ({name})  "
                          f"p50 {figures['p50_ms']:7.1f}  p95 {figures['p95_ms']:7.1f} ms  "
                          f"most due in 100 ms {bunched}", flush=True)  # fmt: skip
                    server.wait_until_idle()
    finally:
        server.stop()
    report = {
        "command": " ".join(["python", "-m", "benchmarks.arrivals", *(argv or sys.argv[1:])]),
        "started": started.isoformat(timespec="seconds"),
        "machine": load.machine(),
        "data": data,
        "gunicorn": load.gunicorn_shape(options),
        "seconds": options.seconds,
        "runs": options.runs,
        "users": options.users,
        "think_ms": options.think_ms,
        "labels": {page.key: page.label for page in pages},
        "client_cpu_seconds": round(client_cpu_seconds() - cpu_before, 1),
        "open": {rate: median_figures(runs) for rate, runs in results["open"].items()},
        "thinking": {name: median_figures(runs) for name, runs in results["thinking"].items()},
    }
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_of(report))


def markdown_of(report: dict) -> str:
    labels = report["labels"]
    lines = [
        "### The hot pages as people arrive (open loop), 1,000,000 requests"
        if report["data"]["requests"] == 1_000_000
        else f"### The hot pages as people arrive, {report['data']['requests']:,} requests",
        "",
        f"`{report['command']}`, started {report['started']}: Poisson arrivals for "
        f"{report['seconds']:.0f} s at each rate, each a random hot page on a connection of its "
        f"own, timed from the moment it was due; medians of {report['runs']} runs; gunicorn "
        f"{load.workers_in_words(report['gunicorn'])}. The client took "
        f"{report['client_cpu_seconds']} s of CPU in all.",
        "",
        "| rate | page | p50 ms | p95 ms | p99 ms |",
        "| ---: | --- | ---: | ---: | ---: |",
    ]
    for rate, figures in report["open"].items():
        in_order = [key for key in labels if key in figures["pages"]]
        for key in in_order + sorted(set(figures["pages"]) - set(in_order)):
            page = figures["pages"][key]
            lines.append(
                f"| {rate}/s | {labels.get(key, key)} | {page['p50_ms']:.1f} | "
                f"{page['p95_ms']:.1f} | {page['p99_ms']:.1f} |"
            )
        lines.append(
            f"| {rate}/s | **all** ({figures['calls']:,} calls, {figures['failed']} failed) | "
            f"{figures['p50_ms']:.1f} | {figures['p95_ms']:.1f} | {figures['p99_ms']:.1f} |"
        )
    if report["thinking"]:
        lines += [
            "",
            f"{report['users']} people, each reading a page for {report['think_ms']:,} ms "
            "(fixed, as wrk's think time, or exponential with that mean) before the next:",
            "",
            "| reading time | calls/s | p50 ms | p95 ms | p99 ms | calls in the server at an "
            "arrival | after the first page: p50 / p95 / p99 ms | most due in any 100 ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, figures in report["thinking"].items():
            later = figures.get("settled") or {}
            after = (
                f"{later['p50_ms']:.1f} / {later['p95_ms']:.1f} / {later['p99_ms']:.1f}"
                if later
                else "—"
            )
            lines.append(
                f"| {name} | {figures['per_second']:.1f} | {figures['p50_ms']:.1f} | "
                f"{figures['p95_ms']:.1f} | {figures['p99_ms']:.1f} | "
                f"{figures['mean_in_flight_at_arrival']:.2f} | {after} | "
                f"{figures['most_due_in_100ms']} at the start, "
                f"{later.get('most_due_in_100ms', '—')} after |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
