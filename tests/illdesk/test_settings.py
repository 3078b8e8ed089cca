"""illdesk/settings.py does what its environment says, and production passes check --deploy.

Each case loads the settings in a fresh Python process with a clean environment built from
nothing (the test run itself may have DATABASE_URL or REDIS_URL set, as CI does), so what a
case sees comes only from the variables it sets.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The only variables a subprocess inherits: enough to run Python, none that illdesk reads.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "SYSTEMROOT")


def clean_env(**variables: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    env["DJANGO_SETTINGS_MODULE"] = "illdesk.settings"
    env.update(variables)
    return env


def production_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    return {
        "ILLDESK_PRODUCTION": "1",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "illdesk.example.org",
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        **variables,
    }


def run(args: list[str], **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=clean_env(**variables),
        capture_output=True,
        text=True,
        timeout=120,
    )


def load_settings(*names: str, **variables: str) -> dict:
    """The named settings as a fresh process loads them with exactly these variables."""
    code = (
        "import json, sys\n"
        "from django.conf import settings\n"
        "print(json.dumps({n: getattr(settings, n) for n in sys.argv[1:]}, default=str))\n"
    )
    result = run(["-c", code, *names], **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- Production ---------------------------------------------------------------------------


def test_production_settings_pass_check_deploy_with_no_issues_at_all(tmp_path):
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "DEBUG"], **production_env(tmp_path)
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output


def test_check_deploy_does_report_an_insecure_configuration(tmp_path):
    """The check above can fail: a short key in production is reported."""
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        **production_env(tmp_path, SECRET_KEY="too-short"),
    )
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_production_without_a_secret_key_refuses_to_load(tmp_path):
    variables = production_env(tmp_path)
    del variables["SECRET_KEY"]
    result = run(["-c", "import illdesk.settings"], **variables)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_production_with_debug_on_refuses_to_load(tmp_path):
    result = run(["-c", "import illdesk.settings"], **production_env(tmp_path, DEBUG="1"))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr


def test_production_turns_on_https_only_cookies_and_hsts(tmp_path):
    loaded = load_settings(
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_PROXY_SSL_HEADER",
        "STORAGES",
        **production_env(tmp_path),
    )
    assert loaded["SECURE_SSL_REDIRECT"] is True
    assert loaded["SESSION_COOKIE_SECURE"] is loaded["CSRF_COOKIE_SECURE"] is True
    assert loaded["SECURE_HSTS_SECONDS"] >= 31536000
    assert loaded["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert loaded["STORAGES"]["staticfiles"]["BACKEND"] == (
        "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )


# --- DEBUG --------------------------------------------------------------------------------


def test_debug_is_off_when_debug_is_unset():
    assert load_settings("DEBUG")["DEBUG"] is False


def test_debug_is_off_in_production_when_debug_is_unset(tmp_path):
    assert load_settings("DEBUG", **production_env(tmp_path))["DEBUG"] is False


def test_debug_is_on_only_when_asked_for():
    assert load_settings("DEBUG", DEBUG="1")["DEBUG"] is True
    assert load_settings("DEBUG", DEBUG="0")["DEBUG"] is False


# --- Database -----------------------------------------------------------------------------


def test_database_url_selects_postgresql_with_connection_health_checks():
    database = load_settings("DATABASES", DATABASE_URL="postgres://u@h:5433/x")["DATABASES"][
        "default"
    ]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["USER"], database["HOST"], database["PORT"], database["NAME"]) == (
        "u",
        "h",
        5433,
        "x",
    )
    assert database["CONN_HEALTH_CHECKS"] is True
    assert database["CONN_MAX_AGE"] == 60


def test_without_database_url_it_is_sqlite_in_wal_mode_with_immediate_transactions(tmp_path):
    database = load_settings("DATABASES", SQLITE_PATH=str(tmp_path / "db.sqlite3"))["DATABASES"][
        "default"
    ]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(tmp_path / "db.sqlite3")
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]


def test_the_sqlite_connection_really_runs_in_wal_mode(tmp_path):
    code = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "with connection.cursor() as cursor:\n"
        "    cursor.execute('PRAGMA journal_mode')\n"
        "    print(cursor.fetchone()[0])\n"
    )
    result = run(["-c", code], SQLITE_PATH=str(tmp_path / "db.sqlite3"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wal"


# --- Celery -------------------------------------------------------------------------------


def test_without_redis_url_tasks_run_in_process():
    loaded = load_settings("CELERY_TASK_ALWAYS_EAGER", "CELERY_BROKER_URL")
    assert loaded["CELERY_TASK_ALWAYS_EAGER"] is True
    assert loaded["CELERY_BROKER_URL"] == "memory://"


def test_with_redis_url_tasks_go_through_the_broker():
    url = "redis://broker.example.org:6379/2"
    loaded = load_settings("CELERY_TASK_ALWAYS_EAGER", "CELERY_BROKER_URL", REDIS_URL=url)
    assert loaded["CELERY_TASK_ALWAYS_EAGER"] is False
    assert loaded["CELERY_BROKER_URL"] == url


# --- Secrets from files -------------------------------------------------------------------


def test_secret_key_file_is_read(tmp_path):
    key = secrets.token_urlsafe(64)
    key_file = tmp_path / "secret_key"
    key_file.write_text(key + "\n")
    variables = production_env(tmp_path, SECRET_KEY_FILE=str(key_file))
    del variables["SECRET_KEY"]
    assert load_settings("SECRET_KEY", **variables)["SECRET_KEY"] == key


def test_secret_key_file_wins_over_secret_key(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("from-the-file")
    loaded = load_settings(
        "SECRET_KEY", SECRET_KEY="from-the-variable", SECRET_KEY_FILE=str(key_file)
    )
    assert loaded["SECRET_KEY"] == "from-the-file"
