"""``make run``: the README's first command."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_make_run_on_another_port_points_the_email_links_there():
    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", "HOST=127.0.0.1:8080"],  # noqa: S607
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    (serve,) = [line for line in planned.splitlines() if "runserver" in line]
    assert "runserver 127.0.0.1:8080" in serve
    assert "ILLDESK_BASE_URL=${ILLDESK_BASE_URL:-http://127.0.0.1:8080}" in serve
