"""docker-compose.yml and the Dockerfile deploy the illdesk this repository is.

No Docker engine runs here, so these tests read the files: the Compose file is valid against
the Compose Specification schema, it runs web/worker/beat/db/redis with healthchecks and
health-gated start-up, its commands name the WSGI application and the Celery app that exist,
every variable it sets is one illdesk/settings.py reads (and production's required ones are
set), and the web service's own command and healthcheck, run outside Docker on the
composed environment, migrate, serve and report healthy.
"""

import ast
import http.client
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
APP_SERVICES = ("web", "worker", "beat")
#: What production cannot run without (settings refuse to load, or fall back to SQLite and
#: in-process tasks, or reject every Host header).
PRODUCTION_REQUIRED = {
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "ILLDESK_PRODUCTION",
    "ALLOWED_HOSTS",
}
#: Host variables a deployer sets in .env; the values stand in for real ones.
HOST_ENV = {
    "SECRET_KEY": "k" * 20 + "-compose-test-secret-key-0123456789",
    "POSTGRES_PASSWORD": "pw",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


# --- Helpers ------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: str, host_env: dict[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}`` interpolation."""

    def substitute(match: re.Match) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        current = host_env.get(name)
        if op in (":?", "?") and (current is None or (op == ":?" and current == "")):
            raise LookupError(f"{name}: {arg}")
        if op == ":-" and not current:
            return arg
        if op == "-" and current is None:
            return arg
        return current or ""

    return _VARIABLE.sub(substitute, value)


def environment_of(service: dict) -> dict[str, str]:
    """The service's environment as a mapping, whichever of Compose's two forms it uses."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(
            item.split("=", 1) if "=" in item else (item, "") for item in environment
        )
    return {name: "" if value is None else str(value) for name, value in environment.items()}


def command_of(service: dict) -> str:
    """The service's command as one shell string."""
    command = service.get("command", "")
    if isinstance(command, list):
        if command[:2] == ["sh", "-c"]:
            return command[2]
        return shlex.join(command)
    return command


def variables_settings_read() -> set[str]:
    """Every environment variable illdesk/settings.py reads, found in its source.

    ``env("NAME")``, ``envbool``, ``envint`` and ``envlist`` read ``NAME`` and also
    ``NAME_FILE``; direct ``os.environ.get``/``os.getenv``/``os.environ[...]`` reads count too.
    """
    tree = ast.parse((ROOT / "illdesk" / "settings.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func, first = node.func, node.args[0].value
            if not isinstance(first, str):
                continue
            if isinstance(func, ast.Name) and func.id in {"env", "envbool", "envint", "envlist"}:
                names |= {first, f"{first}_FILE"}
            elif isinstance(func, ast.Attribute) and ast.unparse(func) in {
                "os.environ.get",
                "os.getenv",
            }:
                names.add(first)
        elif (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) == "os.environ"
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(node.slice.value)
    return names


def gunicorn_args(command: str):
    """The gunicorn invocation in a shell command, parsed by gunicorn's own parser."""
    from gunicorn.config import Config

    words = shlex.split(command)
    words = words[words.index("gunicorn") + 1 :]
    for operator in ("&&", "||", ";", "|"):
        if operator in words:
            words = words[: words.index(operator)]
    return Config().parser().parse_args(words)


def gunicorn_app(command: str) -> str:
    """The application gunicorn serves, as ``module:callable``."""
    (app,) = gunicorn_args(command).args
    return app if ":" in app else f"{app}:application"  # gunicorn's default callable


def wsgi_target() -> str:
    """settings.WSGI_APPLICATION ('pkg.module.callable') as gunicorn spells it."""
    module, _, attribute = settings.WSGI_APPLICATION.rpartition(".")
    return f"{module}:{attribute}"


# --- The file is a Compose file -----------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_specification(compose):
    schema_file = files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = sorted(validator_class(schema).iter_errors(compose), key=lambda e: e.json_path)
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)


def test_the_schema_check_catches_a_broken_file(compose):
    """The validation above is not vacuous: a misspelt key fails it."""
    schema_file = files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    broken = {**compose, "services": {**compose["services"], "redis": {"imagee": "redis:7"}}}
    validator_class = jsonschema.validators.validator_for(schema)
    assert list(validator_class(schema).iter_errors(broken))


# --- Services, health and start-up order -------------------------------------------------


def test_it_runs_web_worker_beat_db_and_redis(services):
    assert {"web", "worker", "beat", "db", "redis"} <= set(services)
    assert services["db"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")


def test_db_and_redis_have_healthchecks_that_ask_the_server(services):
    db_check = services["db"]["healthcheck"]["test"]
    redis_check = services["redis"]["healthcheck"]["test"]
    assert db_check[0] in {"CMD", "CMD-SHELL"} and "pg_isready" in " ".join(db_check)
    assert redis_check[0] in {"CMD", "CMD-SHELL"} and "redis-cli ping" in " ".join(redis_check)


def test_postgres_keeps_its_data_in_a_named_volume(compose, services):
    volumes = services["db"]["volumes"]
    data = [v for v in volumes if str(v).endswith(":/var/lib/postgresql/data")]
    assert data, volumes
    assert data[0].split(":")[0] in (compose.get("volumes") or {})


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_start_only_once_db_and_redis_are_healthy(services, name):
    depends_on = services[name]["depends_on"]
    assert isinstance(depends_on, dict), "the short list form cannot wait for health"
    for dependency in ("db", "redis"):
        assert depends_on[dependency]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_share_one_environment(services, name):
    assert environment_of(services[name]) == environment_of(services["web"])


# --- Commands -----------------------------------------------------------------------------


def test_web_migrates_then_serves_the_wsgi_application_settings_names(services):
    command = interpolate(command_of(services["web"]), {})
    assert "manage.py migrate --noinput" in command
    assert command.index("migrate") < command.index("gunicorn")
    # `&&`: gunicorn does not start on a schema the migration failed to build.
    between = command[command.index("migrate") : command.index("gunicorn")]
    assert "&&" in between
    assert gunicorn_app(command) == wsgi_target()
    assert gunicorn_args(command).bind == ["0.0.0.0:8000"]


def test_the_image_default_command_serves_the_same_application():
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    cmd_line = next(line for line in text.splitlines() if line.startswith("CMD "))
    command = json.loads(cmd_line.removeprefix("CMD "))
    assert command[0] == "gunicorn"
    assert gunicorn_app(shlex.join(command)) == wsgi_target()


def test_the_image_runs_as_a_non_root_user_with_production_static_files():
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    assert lines[next(i for i, line in enumerate(lines) if line.startswith("FROM "))] == (
        "FROM python:3.11-slim"
    )
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    collect = next(line for line in lines if "collectstatic" in line)
    assert "ILLDESK_PRODUCTION=1" in collect and "SECRET_KEY=" in collect
    assert "pip install" in text and "pyproject.toml" in text


def test_the_build_context_leaves_out_local_state_and_secrets():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env", "db.sqlite3*"} <= ignored


@pytest.mark.parametrize("name,subcommand", [("worker", "worker"), ("beat", "beat")])
def test_worker_and_beat_run_the_illdesk_celery_app(services, name, subcommand):
    from celery.app.utils import find_app

    from illdesk.celery import app as illdesk_app

    words = shlex.split(command_of(services[name]))
    assert words[0] == "celery"
    app_name = words[words.index("-A") + 1]
    assert words[words.index("-A") + 2] == subcommand
    # What `celery -A <name>` loads is the app in illdesk/celery.py, under its own name.
    assert find_app(app_name) is illdesk_app
    assert app_name == illdesk_app.main == "illdesk"


def test_beat_has_a_schedule_of_tasks_the_worker_knows():
    from illdesk.celery import app

    assert settings.CELERY_BEAT_SCHEDULE
    assert app.conf.beat_schedule == settings.CELERY_BEAT_SCHEDULE
    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry["task"]


# --- Environment --------------------------------------------------------------------------


def test_settings_reader_finds_the_variables_settings_read():
    """The source scan is not vacuous: it sees variables read in every branch."""
    read = variables_settings_read()
    assert {"SECRET_KEY", "SECRET_KEY_FILE", "DATABASE_URL", "SECURE_SSL_REDIRECT"} <= read
    assert "WEB_CONCURRENCY" not in read


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_variable_compose_sets_is_one_settings_reads(services, name):
    unknown = set(environment_of(services[name])) - variables_settings_read()
    assert not unknown, f"{name} sets variables illdesk/settings.py never reads: {unknown}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_set_what_production_needs(services, name):
    environment = {
        key: interpolate(value, HOST_ENV) for key, value in environment_of(services[name]).items()
    }
    missing = {key for key in PRODUCTION_REQUIRED if not environment.get(key)}
    assert not missing
    assert environment["ILLDESK_PRODUCTION"] == "1"
    assert environment["SECRET_KEY"] == HOST_ENV["SECRET_KEY"]
    assert environment["DATABASE_URL"] == "postgres://illdesk:pw@db:5432/illdesk"
    assert environment["REDIS_URL"] == "redis://redis:6379/0"
    assert environment["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"


def test_compose_refuses_to_start_without_the_secrets(services):
    """No default SECRET_KEY or database password can slip into a deployment."""
    environment = environment_of(services["web"])
    with pytest.raises(LookupError, match="SECRET_KEY"):
        interpolate(environment["SECRET_KEY"], {"POSTGRES_PASSWORD": "pw"})
    with pytest.raises(LookupError, match="POSTGRES_PASSWORD"):
        interpolate(environment["DATABASE_URL"], {"SECRET_KEY": "x"})
    with pytest.raises(LookupError, match="POSTGRES_PASSWORD"):
        interpolate(environment_of(services["db"])["POSTGRES_PASSWORD"], {})


def test_database_url_uses_the_db_service_credentials(services):
    db = {k: interpolate(v, HOST_ENV) for k, v in environment_of(services["db"]).items()}
    url = interpolate(environment_of(services["web"])["DATABASE_URL"], HOST_ENV)
    expected = f"postgres://{db['POSTGRES_USER']}:{db['POSTGRES_PASSWORD']}@db:5432/"
    assert url == expected + db["POSTGRES_DB"]


# --- The web service's command and healthcheck, run for real ------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_web_command_and_healthcheck_work_with_the_composed_environment(services, tmp_path):
    """Run web's command (migrate, then gunicorn) on the production environment the Compose
    file gives it, with SQLite and in-process tasks standing in for the db and redis
    services; its healthcheck must pass, although production redirects plain HTTP."""
    web = services["web"]
    port = str(_free_port())
    host_env = {**HOST_ENV, "WEB_CONCURRENCY": "1", "ALLOWED_HOSTS": "illdesk.example.org"}
    environment = {k: interpolate(v, host_env) for k, v in environment_of(web).items()}
    del environment["DATABASE_URL"], environment["REDIS_URL"]
    environment |= {
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
    }
    command = interpolate(command_of(web), host_env).replace("0.0.0.0:8000", f"127.0.0.1:{port}")
    check = web["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    probe = check[3].replace("127.0.0.1:8000", f"127.0.0.1:{port}")

    def healthcheck() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", probe], env=environment, capture_output=True, timeout=30
        )

    server = subprocess.Popen(  # noqa: S602 - the Compose command is a shell command line
        command,
        shell=True,
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        result = healthcheck()
        while result.returncode != 0 and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            result = healthcheck()
        assert server.poll() is None, server.communicate(timeout=10)[0].decode()
        assert result.returncode == 0, result.stderr.decode()
        # The healthcheck passes because it speaks as the TLS proxy would: without the
        # header, production answers with a redirect to https instead.
        connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
        connection.request("GET", "/healthz", headers={"Host": "illdesk.example.org"})
        assert connection.getresponse().status == 301
        connection.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
