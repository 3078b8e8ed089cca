"""The open-loop load (``benchmarks.arrivals``) arrives as people do and times what they
wait: Poisson arrivals at the rate asked, each timed from the moment it was due, so a
server slower than the arrivals shows in the figures instead of slowing the load down."""

import asyncio
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from benchmarks import arrivals, load


def test_arrivals_are_a_poisson_process_at_the_rate_asked():
    moments = arrivals.poisson_schedule(rate=50, seconds=200, seed=3)
    gaps = [b - a for a, b in zip(moments, moments[1:], strict=False)]
    assert len(moments) / 200 == pytest.approx(50, rel=0.05)
    # Exponential gaps: their spread equals their mean (a fixed pace would have none).
    assert statistics.pstdev(gaps) / statistics.fmean(gaps) == pytest.approx(1, abs=0.05)
    assert arrivals.poisson_schedule(rate=50, seconds=5, seed=3) == [m for m in moments if m < 5]


def test_the_most_arrivals_in_a_window():
    assert arrivals.most_in_window([0.0, 0.05, 0.09, 0.5, 0.55]) == 3
    assert arrivals.most_in_window([0.0, 0.2, 0.4]) == 1
    assert arrivals.most_in_window([]) == 0


def run_loop(coroutine):
    """``asyncio.run`` in a thread of its own: the browser tests' Playwright may hold an
    event loop in this one (as the benchmark runs in a process of its own)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class OneAtATime(BaseHTTPRequestHandler):
    """A server that takes 50 ms a call and serves one call at a time (20 a second)."""

    def do_GET(self):  # noqa: N802 - http.server's name
        time.sleep(0.05)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_server():
    server = HTTPServer(("127.0.0.1", 0), OneAtATime)
    server.request_queue_size = 128
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_calls_arriving_faster_than_served_wait_and_the_wait_is_counted(slow_server):
    target = arrivals.Target("page", "/", ["a=b"])
    calm = run_loop(arrivals.open_loop(slow_server, [target], rate=5, seconds=2, seed=1))
    rush = run_loop(arrivals.open_loop(slow_server, [target], rate=60, seconds=1, seed=1))
    calm_figures = arrivals.figures_of(calm, 2)
    rush_figures = arrivals.figures_of(rush, 1)

    assert calm_figures["failed"] == rush_figures["failed"] == 0
    assert calm_figures["p50_ms"] < 150
    # Sixty a second at twenty a second's pace: the later calls queue for hundreds of ms.
    # A closed loop would have waited for each answer and reported about 50 ms.
    assert rush_figures["p95_ms"] > 500
    assert rush_figures["pages"]["page"]["calls"] == rush_figures["calls"]
    assert rush_figures["mean_in_flight_at_arrival"] > calm_figures["mean_in_flight_at_arrival"]


def test_thinking_people_with_a_fixed_time_arrive_together(slow_server):
    """As wrk's fixed think time does: people who start together and read for the same
    time come back together, however few calls a second they make."""
    target = arrivals.Target("page", "/", ["a=b"])
    fixed = run_loop(arrivals.thinking(slow_server, [target], 8, 0.4, True, 1.5, seed=1))
    figures = arrivals.figures_of(fixed, 1.5)
    assert figures["most_due_in_100ms"] >= 4
    assert figures["p95_ms"] > 200  # the eighth of a bunch waits for seven calls of 50 ms


def test_the_report_says_each_page_at_each_rate():
    figures = {
        "pages": {"queue_default": {"p50_ms": 20.0, "p95_ms": 40.0, "p99_ms": 60.0}},
        "calls": 100, "failed": 0, "p50_ms": 20.0, "p95_ms": 40.0, "p99_ms": 60.0,
    }  # fmt: skip
    report = {
        "command": "python -m benchmarks.arrivals", "started": "now", "seconds": 30,
        "runs": 3, "client_cpu_seconds": 1.0, "data": {"requests": 1_000_000},
        "gunicorn": {"workers": 3, "class": "gthread", "threads": 2, "keepalive": 0},
        "labels": {"queue_default": "queue, default view"},
        "open": {"20": figures, "50": figures}, "thinking": {}, "users": 20, "think_ms": 2000,
    }  # fmt: skip
    text = arrivals.markdown_of(report)
    assert "| 20/s | queue, default view | 20.0 | 40.0 | 60.0 |" in text
    assert "| 50/s | **all** (100 calls, 0 failed) | 20.0 | 40.0 | 60.0 |" in text
    assert "3 gthread workers of 2 threads, no keep-alive" in text


def test_the_load_benchmark_runs_gunicorn_as_deployed():
    """The workers the figures are quoted for are gunicorn.conf.py's, unless asked."""
    deployed = load.gunicorn_shape(argparse_namespace(threads=0, sync=False))
    assert deployed == {
        "workers": 3, "class": "gthread", "threads": 4, "keepalive": 2,
    }  # fmt: skip
    assert load.gunicorn_shape(argparse_namespace(threads=0, sync=True))["class"] == "sync"


def argparse_namespace(**values):
    from argparse import Namespace

    return Namespace(workers=3, **values)


def test_the_load_table_shows_the_run_it_replaced(tmp_path):
    """``make bench`` writes each page's figures beside those of the run before."""
    import json

    page = {
        "label": "queue, default view",
        "sql": {"floor_ms": 10.0, "seq_scan_on_requests": False, "queries": 6,
                "unfiltered_count_on_requests": False},
        "load": {"1": {"p50_ms": 20.0, "p95_ms": 30.0, "p99_ms": 40.0, "requests_per_s": 50.0,
                       "errors": {}, "disturbed_runs": 0, "runs": [{}]}},
    }  # fmt: skip
    old = tmp_path / "load.json"
    before = {"p50_ms": 45.0, "p95_ms": 58.0, "p99_ms": 70.0, "requests_per_s": 22.0}
    old.write_text(json.dumps({"started": "2026-12-03", "pages": {
        "queue_default": {**page, "load": {"1": {**page["load"]["1"], **before}}},
    }}))  # fmt: skip
    previous = load.previous_figures(old)
    memory = {"peak_vmhwm_mb": 100, "peak_vmhwm_mb_by_worker": [100], "peak_sampled_vmrss_mb": 100}
    table = load.markdown({"queue_default": page}, [], [1], memory, previous)
    assert "| queue, default view | 1 | 20.0 | 30.0 | 40.0 |" in table
    assert table.splitlines()[2].endswith("| 45.0 / 58.0 |")
    assert load.previous_figures(tmp_path / "none.json") is None


def test_the_settled_figures_leave_out_the_calls_asked_together_at_the_start():
    run = arrivals.Run(
        [arrivals.Call("page", due=0.0, latency_ms=400.0, status=200) for _ in range(10)]
        + [arrivals.Call("page", due=1.0 + n, latency_ms=30.0, status=200) for n in range(90)]
    )
    figures = arrivals.figures_of(run, 100, settled_after=0.5)
    assert figures["p95_ms"] == 400.0 and figures["most_due_in_100ms"] == 10
    assert figures["settled"] == {
        "calls": 90, "p50_ms": 30.0, "p95_ms": 30.0, "p99_ms": 30.0, "most_due_in_100ms": 1,
    }  # fmt: skip
