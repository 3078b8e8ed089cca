# illdesk: `make run` serves the app on the embedded default, `make test` runs every check.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1:8000
PEER_PORT ?= 8765

.PHONY: install run test screenshots lint format migrate seed worker beat clean bench

# The environment is rebuilt when pyproject.toml changes.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

# axe-core for the browser tests' accessibility checks, pinned in package.json and
# package-lock.json. Without npm the tests that use it are skipped (in CI they fail).
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --no-audit --no-fund && touch $@; \
	else \
	  echo "npm not found: the browser tests' accessibility checks will be skipped"; \
	fi

# Embedded default: SQLite file, Celery tasks in-process, e-mail to the console.
# `make run HOST=0.0.0.0:8080` serves elsewhere; the links in e-mail follow it. The demo's
# ISO 18626 lender (manage.py iso18626_peer) answers beside it on PEER_PORT.
run: install
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 ILLDESK_DEMO_PEER=http://127.0.0.1:$(PEER_PORT) $(BIN)/python manage.py seed_demo
	DEBUG=1 ILLDESK_BASE_URL=$${ILLDESK_BASE_URL:-http://$(HOST)} sh -c '$(BIN)/python manage.py iso18626_peer --port $(PEER_PORT) & peer=$$!; trap "kill $$peer 2>/dev/null" EXIT INT TERM; $(BIN)/python manage.py runserver $(HOST)'

# Lint, format and type checks, then the whole suite (on DATABASE_URL/REDIS_URL when they are set).
# PYTEST_ARGS='-m "not browser"' leaves out the browser tests.
test: install node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Retake the screenshots in docs/screenshots from the browser tests.
screenshots: install node_modules/.installed
	ILLDESK_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -m browser -q

# The benchmark behind docs/performance.md: a scratch PostgreSQL database (illdesk_bench)
# filled with a million requests (about 4 minutes and 2.6 GB, once), then the pages under
# load, the filters, the jobs and the reports, written into docs/performance.md. Needs
# PostgreSQL, Redis and wrk. BENCH_ARGS='--quick' tries the harness in a few minutes;
# BENCH_ARGS='--requests 100000 --database illdesk_bench_small' measures a smaller service.
bench: install
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: install
	$(BIN)/python manage.py seed_demo

worker: install
	$(BIN)/celery -A illdesk worker --loglevel=INFO

beat: install
	$(BIN)/celery -A illdesk beat --loglevel=INFO

clean:
	rm -rf $(VENV) node_modules staticfiles .pytest_cache .ruff_cache *.egg-info
