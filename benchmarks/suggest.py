"""Sourcing at full size, and whether the suggestions help: ``python -m benchmarks.suggest``.

On the benchmark database (``DATABASE_URL``; ``make bench`` fills it):

1. **Speed.** The job that makes the lenders' records (``jobs.record_lenders``), then, each
   call in a savepoint rolled back after it: one request's suggestions from the records
   (``sourcing.suggested_lenders``, its SQL time apart), the same counts taken live from a
   year of attempts instead of the job's records (the alternative the records replace),
   ``GET …/suggested-lenders/``, ``POST …/lender-string/`` with five lenders, and a lender
   that cannot supply handing the request to the next in its string.
2. **The backtest.** For each filled request of the last six months (a sample of
   ``--targets``), the lenders are ranked by ``sourcing.rank`` from what was known before
   it: the records as the nightly job would have made them at the start of its week, who
   had been asked for the same item before it, and the lenders' availability then. It
   reports how often the lender that filled it ranked first, and in the top three, beside
   two plain baselines: the team's most-used lenders for the format over the year before,
   and lenders picked at random among those lending.
"""

import argparse
import bisect
import datetime as dt
import random
import time
from collections import defaultdict
from pathlib import Path

from benchmarks.api_auth import setup_django
from benchmarks.figures import measure_and_write, rolled_back_calls, spread, table

WEEK = dt.timedelta(days=7)


def sql_ms(call) -> tuple[float, int]:
    """The milliseconds ``call`` spent in SQL (as the database driver timed its queries),
    and their number."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call()
    return sum(float(query["time"]) for query in captured) * 1000, len(captured)


def median_sql(call, runs: int) -> dict:
    """The SQL time of ``call`` (``sql_ms``): median and spread of ``runs`` calls."""
    times, count = [], 0
    for _ in range(runs):
        took, count = sql_ms(call)
        times.append(took)
    return spread(times, count)


def live_counts(fmt: str):
    """The suggestions' per-lender counts taken live from the attempts of the last year (no
    job): the alternative to ``LenderRecord``."""
    from django.db.models import Count, Q
    from django.utils import timezone

    from requests_app.models import LenderAttempt

    since = timezone.now() - dt.timedelta(days=365)
    return list(
        LenderAttempt.objects.filter(
            resolved_at__gte=since, request__format=fmt, outcome__in=["shipped", "unfilled"]
        )
        .values("lender_id")
        .annotate(asked=Count("id"), filled=Count("id", filter=Q(outcome="shipped")))
        .order_by("-filled")[:300]
    )


def speed(options) -> dict:
    from django.db import transaction
    from django.test import Client

    from benchmarks.exceptions import pick
    from lenders.models import Lender
    from members.models import User
    from requests_app import jobs, sourcing, workflow
    from requests_app.models import BorrowingRequest

    results: dict[str, dict] = {}
    started = time.perf_counter()
    made = jobs.record_lenders()
    job_seconds = time.perf_counter() - started
    team = User.objects.get(username="bench-team")
    client = Client()
    client.force_login(team)
    with transaction.atomic():
        # A book has the most lenders with a record (the panel's largest case); a video few.
        for fmt in ("book", "video"):
            one = (
                BorrowingRequest.objects.select_related("library")
                .filter(status="sourcing", format=fmt)
                .order_by("pk")
                .first()
            ) or pick()["sourcing"]
            results[f"suggestions for a {fmt} request"] = rolled_back_calls(
                lambda one=one: sourcing.suggested_lenders(one), options.runs, _none
            )
            results[f"  of which SQL ({fmt})"] = median_sql(
                lambda one=one: sourcing.suggested_lenders(one), 11
            )
        req = BorrowingRequest.objects.select_related("library").get(pk=pick()["sourcing"].pk)
        for fmt in ("book", "video"):
            results[f"the {fmt} counts taken live from a year of attempts, no job"] = median_sql(
                lambda fmt=fmt: live_counts(fmt), 5
            )
        url = f"/api/v1/requests/{req.pk}/suggested-lenders/"
        results["GET …/suggested-lenders/ (the team)"] = rolled_back_calls(
            lambda: client.get(url), options.runs, _ok
        )
        page = f"/requests/{req.pk}/"
        results["the team's request page, with the string and suggestions"] = rolled_back_calls(
            lambda: client.get(page), options.runs, _ok
        )
        five = [s.lender_id for s in sourcing.suggested_lenders(req, limit=30) if s.usable][
            :5
        ] or list(Lender.objects.filter(is_active=True).values_list("pk", flat=True)[:5])
        results["POST …/lender-string/ with five lenders (sent to the first)"] = rolled_back_calls(
            lambda: client.post(
                f"/api/v1/requests/{req.pk}/lender-string/",
                {"lenders": five},
                content_type="application/json",
            ),
            options.runs,
            _ok,
        )
        lenders = list(Lender.objects.filter(pk__in=five))
        workflow.set_lender_string(req.pk, actor=team, lenders=lenders)
        results["cannot supply: on to the next lender of the string"] = rolled_back_calls(
            lambda: workflow.lender_unfilled(req.pk, actor=team, reason="Not on the shelf."),
            options.runs,
            _none,
        )
        transaction.set_rollback(True)
    return {
        "results": results,
        "job": {"seconds": round(job_seconds, 1), "records": made.count},
    }


def _none(result) -> None:
    return None


def _ok(response) -> None:
    if response.status_code != 200:
        raise SystemExit(f"answered {response.status_code}: {response.content[:300]!r}")


# --- The backtest -------------------------------------------------------------------------


def backtest(options) -> dict:
    from django.db.models import Max
    from django.utils import timezone

    from lenders.selectors import lenders_with_availability
    from requests_app import sourcing
    from requests_app.models import BorrowingRequest, LenderAttempt

    end = BorrowingRequest.objects.aggregate(last=Max("created_at"))["last"]
    start = end - dt.timedelta(days=182)
    rng = random.Random(options.seed)

    # Every answered attempt, oldest answer first, with its request's item.
    rows = list(
        LenderAttempt.objects.filter(outcome__in=["shipped", "unfilled"], resolved_at__isnull=False)
        .values_list(
            "resolved_at", "lender_id", "request__format", "outcome", "sent_at",
            "request__shipped_on", "request__received_on", "request__charges_total",
            "request_id", "request__isbn", "request__oclc_number", "request__item_key",
        )
        .order_by("resolved_at")
        .iterator(chunk_size=20_000)
    )  # fmt: skip
    answered_at = [row[0] for row in rows]
    by_item: dict[str, list[int]] = defaultdict(list)  # an item's answers, as row numbers
    for number, row in enumerate(rows):
        for key in _item_keys(row[9], row[10], row[11]):
            by_item[key].append(number)

    # The filled requests of the last six months, and who filled each.
    filled = {row[8]: row[1] for row in rows if row[3] == "shipped"}
    targets = list(
        BorrowingRequest.objects.filter(created_at__gte=start, pk__in=list(filled))
        .select_related("library")
        .only(
            "pk", "created_at", "format", "max_cost", "needed_by", "isbn", "oclc_number",
            "item_key", "library__on_delivery",
        )
    )  # fmt: skip
    targets = sorted(rng.sample(targets, min(options.targets, len(targets))), key=_created)

    ranked_first = ranked_top3 = used_first = used_top3 = random_first = random_top3 = 0
    known_item = 0
    rank_seconds = 0.0
    week_of = None
    for target in targets:
        week = start + WEEK * ((target.created_at - start) // WEEK)
        if week != week_of:
            week_of = week
            before = bisect.bisect_left(answered_at, week)
            year_ago = bisect.bisect_left(answered_at, week - dt.timedelta(days=365))
            records = sourcing.tally(_tally_row(row) for row in rows[year_ago:before])
            lenders = {
                lender.pk: lender
                for lender in lenders_with_availability(as_of=week).filter(is_active=True)
            }
            day = timezone.localdate(week)
            lending = [pk for pk, lender in lenders.items() if lender.lending is not False]
            by_format: dict[str, list[tuple[int, int]]] = defaultdict(list)
            used: dict[str, list[tuple[int, int]]] = defaultdict(list)
            for (lender_id, fmt), record in records.items():
                by_format[fmt].append((record.filled, lender_id))
                used[fmt].append((record.asked, lender_id))
            for fmt in by_format:
                by_format[fmt].sort(reverse=True)
                used[fmt].sort(reverse=True)
        winner = filled[target.pk]
        began = time.perf_counter()
        history: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        cutoff = bisect.bisect_left(answered_at, target.created_at)
        seen: set[int] = set()
        for key in _item_keys(target.isbn, target.oclc_number, target.item_key):
            for number in by_item.get(key, ()):
                if number >= cutoff:
                    break
                if number not in seen and rows[number][8] != target.pk:
                    seen.add(number)
                    history[rows[number][1]][rows[number][3]] += 1
        known_item += winner in history and history[winner].get("shipped", 0) > 0
        candidates = {pk for _, pk in by_format[target.format][: sourcing.CANDIDATES]}
        candidates |= set(history)
        need = sourcing.Need(
            format=target.format,
            max_cost=target.max_cost,
            needed_by=target.needed_by,
            on_delivery=target.library.on_delivery,
            today=day,
        )
        facts = [
            sourcing.lender_facts(
                lenders[pk], day, records.get((pk, target.format)), history.get(pk, {})
            )
            for pk in candidates
            if pk in lenders
        ]
        best = [s.lender_id for s in sourcing.rank(need, facts, limit=3)]
        rank_seconds += time.perf_counter() - began
        ranked_first += best[:1] == [winner]
        ranked_top3 += winner in best
        most_used = [pk for _, pk in used[target.format][:3]]
        used_first += most_used[:1] == [winner]
        used_top3 += winner in most_used
        picked = rng.sample(lending, 3)
        random_first += picked[0] == winner
        random_top3 += winner in picked
    count = len(targets)

    def share(hits: int) -> float:
        return round(100 * hits / count, 1) if count else 0.0

    return {
        "backtest": {
            "targets": count,
            "from": start.date().isoformat(),
            "to": end.date().isoformat(),
            "item_filled_before_by_the_winner": share(known_item),
            "rank_ms_per_request": round(1000 * rank_seconds / max(count, 1), 2),
            "methods": {
                "the suggestions (sourcing.rank)": [share(ranked_first), share(ranked_top3)],
                "the team's most-used lenders for the format": [
                    share(used_first), share(used_top3),
                ],
                "lenders picked at random among those lending": [
                    share(random_first), share(random_top3),
                ],
            },
        }
    }  # fmt: skip


def _created(req) -> dt.datetime:
    return req.created_at


def _item_keys(isbn: str, oclc_number: str, item_key: str) -> list[str]:
    keys = [f"k:{item_key}"] if item_key else []
    if isbn:
        keys.append(f"i:{isbn}")
    if oclc_number:
        keys.append(f"o:{oclc_number}")
    return keys


def _tally_row(row) -> tuple:
    from django.utils import timezone

    _, lender_id, fmt, outcome, sent_at, shipped_on, received_on, charges = row[:8]
    return lender_id, fmt, outcome, timezone.localdate(sent_at), shipped_on, received_on, charges


def measure(options) -> dict:
    figures = {}
    if not options.backtest_only:
        figures |= speed(options)
    figures |= backtest(options)
    return figures


def markdown_of(figures: dict) -> str:
    """The figures ``main`` wrote, as the section of docs/performance.md and
    docs/sourcing.md."""
    lines = ["### Sourcing: lender strings and suggestions", ""]
    if "results" in figures:
        job = figures["job"]
        lines += [
            f"`python -m benchmarks.suggest --runs {figures['runs']}`, {figures['when']}: "
            f"{figures['requests']:,} requests; {figures['cpus']} CPUs. The nightly job "
            f"made {job['records']:,} lender records in {job['seconds']} s. Then, "
            "in-process, each call in a savepoint rolled back after it; medians, "
            "milliseconds (the SQL rows give the time spent in the database alone).",
            "",
            *table(figures["results"]),
            "",
        ]
    test = figures["backtest"]
    lines += [
        f"The backtest: {test['targets']:,} filled requests of {test['from']} to "
        f"{test['to']}, each ranked from what was known before it "
        f"({test['rank_ms_per_request']} ms a request). The lender that filled it had "
        f"filled the same item before in {test['item_filled_before_by_the_winner']} % of "
        "them.",
        "",
        "| method | lender that filled it ranked first | in the top three |",
        "| --- | ---: | ---: |",
        *(
            f"| {method} | {first} % | {top3} % |"
            for method, (first, top3) in test["methods"].items()
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--targets", type=int, default=2_000, help="requests to backtest")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backtest-only", action="store_true")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    options = parser.parse_args(argv)
    setup_django()
    measure_and_write(options.runs, options.out, lambda: measure(options), markdown_of)


if __name__ == "__main__":
    main()
