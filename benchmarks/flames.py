"""Flame graphs of the hot pages under load: ``python -m benchmarks.flames --label after``.

Each hot page (the queue's default view, filtered and page 200, the member library's list,
the request page) is served by gunicorn as ``benchmarks.load`` serves it, under wrk's 20
connections, while py-spy samples every worker (``--subprocesses``) for ``--seconds``. The
graphs go to ``docs/flames/<page>-<label>.svg``; ``docs/performance.md`` shows the ones
taken before and after a change side by side. Sampling slows the workers a little (py-spy
stops each process to read its stack), so these runs give the shape, not the figures: the
figures come from ``benchmarks.load``, run without a profiler.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from benchmarks import load

ROOT = Path(__file__).resolve().parent.parent
FLAMES = ROOT / "docs" / "flames"
HOT_PAGES = ("queue_default", "queue_filtered", "queue_deep", "member_list", "detail")


def py_spy() -> str:
    program = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(program).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy")
    return program


def record(server: load.AppServer, plan: Path, out: Path, seconds: int, users: int) -> None:
    """py-spy on every worker while wrk loads the page (started first, stopped after)."""
    loading = threading.Thread(
        target=load.run_wrk, args=(server.base, plan, users, seconds + 4), daemon=True
    )
    loading.start()
    command = [py_spy(), "record", "--pid", str(server.process.pid), "--subprocesses"]
    command += ["--duration", str(seconds), "--rate", "200", "--format", "flamegraph"]
    command += ["--output", str(out), "--nonblocking"]
    subprocess.run(command, check=True, capture_output=True)  # noqa: S603 - our arguments
    loading.join()
    server.wait_until_idle()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--label", required=True, help="before or after: the files' suffix")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--pages", default=",".join(HOT_PAGES))
    parser.add_argument("--out", type=Path, default=FLAMES)
    options = parser.parse_args()
    py_spy()
    load.wrk_program()
    load.setup_django(load.API_RATE_FOR_THE_RUN)
    from django.db import connection

    sizes = load.requests_by_library()
    accounts = load.choose_people(sizes)
    settings = argparse.Namespace(
        older_than=30, filter_status="completed", workers=3, threads=0, sync=False,
        redis_url="redis://127.0.0.1:6379/0",
    )  # fmt: skip
    wanted = {key.strip() for key in options.pages.split(",")}
    pages = [page for page in load.choose_pages(accounts, sizes, settings) if page.key in wanted]
    connection.close()
    options.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="illdesk-flames-"))
    server = load.AppServer(settings, workdir / "gunicorn.log")
    try:
        server.start()
        people = load.sign_in_everyone(server.base, accounts, options.users, 3)
        for page in pages:
            person = people[page.person]
            load.check_page(server.base, page, person)
            plan = workdir / f"{page.key}.plan"
            load.write_plan(page, person, plan, 0)
            out = options.out / f"{page.key}-{options.label}.svg"
            record(server, plan, out, options.seconds, options.users)
            plan.unlink()
            print(f"{page.label}: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
