"""With ILLDESK_REQUIRE_SERVICES set (as CI sets it), a missing service fails the run."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_suite_with(**env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= env_overrides
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-p",
            "no:cacheprovider",
            "tests/requests_app/test_identifiers.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_unreachable_redis_stops_the_run():
    result = run_suite_with(
        ILLDESK_REQUIRE_SERVICES="1",
        DATABASE_URL=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x"),
        REDIS_URL="redis://127.0.0.1:1/0",
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Redis at redis://127.0.0.1:1/0 does not answer" in result.stdout + result.stderr


def test_sqlite_is_not_accepted_when_services_are_required():
    result = run_suite_with(ILLDESK_REQUIRE_SERVICES="1", REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 3
    assert "DATABASE_URL does not point at PostgreSQL" in result.stdout + result.stderr


def test_without_the_flag_the_suite_falls_back_to_sqlite_and_says_so():
    result = run_suite_with(ILLDESK_REQUIRE_SERVICES="")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "runs on SQLite" in result.stdout
