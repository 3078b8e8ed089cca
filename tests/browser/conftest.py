"""Browser tests: headless Chromium driven by Playwright for Python, checked with axe-core.

What they need besides the virtualenv:

- Chromium at ``/usr/bin/chromium`` (Debian's ``chromium`` package), or wherever
  ``$CHROMIUM`` points. Playwright's own browser download is not used.
- axe-core in ``node_modules/`` (``npm ci``, pinned in ``package.json``; ``make test``
  runs it).

When either is missing the browser tests are skipped, saying why; with
``ILLDESK_REQUIRE_SERVICES=1`` (as ``.ci/run`` sets it) the run stops with an error
instead. Every test under ``tests/browser/`` carries the ``browser`` marker, so
``pytest -m "not browser"`` leaves them out.

Fixtures: ``browser`` (one Chromium for the session), ``page`` (a fresh context and page
per test), ``login`` (log in through the login form), ``axe_check`` and
``assert_no_serious_violations`` (accessibility), ``screenshot`` (PNG files into
``$ILLDESK_SCREENSHOTS``, by default a pytest temporary directory).
"""

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import PASSWORD  # every test user's password

# Playwright's sync API runs an asyncio event loop in the main thread (in a greenlet) and
# leaves it marked as running for as long as Playwright is started: here from the first
# browser test to the end of the session, so also during any test that runs after the
# browser tests. Django sees that running loop and refuses every ORM call from the main
# thread with SynchronousOnlyOperation, in fixtures and tests alike. Nothing actually runs
# concurrently (the loop only turns while the test is blocked in a Playwright call), so
# the check is a false alarm here and is switched off for the whole test process. It has
# to be set before the first ORM call after Playwright starts, hence at import.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
REQUIRE_SERVICES = os.environ.get("ILLDESK_REQUIRE_SERVICES", "") in {"1", "true", "yes"}

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 30_000  # generous: CI shares two cores with PostgreSQL, Redis and a worker

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SERIOUS = {"serious", "critical"}
# Fixtures that inject axe-core: a test using one of them needs node_modules/axe-core.
AXE_FIXTURES = {"axe_check", "assert_no_serious_violations"}


# --- What is missing ----------------------------------------------------------------------


def _browser_problem() -> str | None:
    """None when Playwright and Chromium are there, else what is missing and how to fix it."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]', or make test)"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (
            f"no Chromium at {CHROMIUM} (apt-get install chromium, "
            "or set CHROMIUM to the browser's path)"
        )
    return None


def _axe_problem() -> str | None:
    if not AXE_JS.is_file():
        return f"no axe-core at {AXE_JS.relative_to(ROOT)} (run npm ci, or make test)"
    return None


def pytest_configure(config):
    # pyproject.toml registers the marker; this keeps --strict-markers happy without it.
    if not any(line.split(":", 1)[0].strip() == "browser" for line in config.getini("markers")):
        config.addinivalue_line("markers", "browser: runs in headless Chromium (tests/browser)")


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    """Mark everything under tests/browser before ``-m`` deselects by marker; afterwards,
    skip (locally) or stop the run (CI) when a selected browser test cannot run."""
    for item in items:
        if HERE in Path(str(item.path)).parents and not item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.browser)
    result = yield
    _skip_or_stop(items)
    return result


def _skip_or_stop(items):
    selected = [item for item in items if item.get_closest_marker("browser")]
    if not selected:
        return
    browser_problem = _browser_problem()
    axe_problem = _axe_problem()
    needs_axe = [item for item in selected if AXE_FIXTURES & set(getattr(item, "fixturenames", ()))]
    problems = [p for p in (browser_problem, axe_problem if needs_axe else None) if p]
    if not problems:
        return
    if REQUIRE_SERVICES:
        pytest.exit(
            "ILLDESK_REQUIRE_SERVICES is set but the browser tests cannot run: "
            + "; ".join(problems),
            returncode=3,
        )
    for item in selected:
        if browser_problem:
            item.add_marker(pytest.mark.skip(reason=f"browser test: {browser_problem}"))
        elif item in needs_axe:
            item.add_marker(pytest.mark.skip(reason=f"accessibility check: {axe_problem}"))


# --- The browser --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run (starting it takes about a second)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh context (no cookies, no storage) and page for each test, closed after it.

    Requests that leave this machine are aborted and fail the test: pages must not load
    anything from a CDN or any other outside host, and tests must not depend on a network.
    Anything the content security policy blocks (an inline script or style) fails it too.
    """
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    outside = []

    def block_outside(route):
        host = urlsplit(route.request.url).hostname
        if route.request.url.startswith(("http:", "https:", "ws:", "wss:")) and host not in {
            "localhost",
            "127.0.0.1",
            "::1",
        }:
            outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", block_outside)
    page = context.new_page()
    blocked = []
    page.on(
        "console",
        lambda message: (
            blocked.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    yield page
    context.close()
    if outside:
        pytest.fail(f"the page tried to load from outside hosts: {outside}", pytrace=False)
    if blocked:
        pytest.fail("the content security policy blocked: " + "\n".join(blocked), pytrace=False)


@pytest.fixture
def login(live_server):
    """``login(page, username)``: log in through the form at /accounts/login/.

    The users made by tests/conftest.py's fixtures (alice, bob, rita, admin_user) all have
    the password ``PASSWORD``; request the user's fixture in the test so the account exists.
    """

    def _login(page, username, password=PASSWORD):
        page.goto(f"{live_server.url}/accounts/login/")
        page.locator("#id_username").fill(username)
        page.locator("#id_password").fill(password)
        with page.expect_navigation():
            page.locator("button[type=submit]").click()
        if urlsplit(page.url).path == "/accounts/login/":
            errors = page.locator(".error, .errorlist").all_inner_texts()
            pytest.fail(f"could not log in as {username!r}: {' '.join(errors) or page.url}")
        return page

    return _login


# --- Accessibility ------------------------------------------------------------------------


@pytest.fixture
def axe_check():
    """``axe_check(page)``: run axe-core's WCAG 2.0/2.1 A and AA rules on the page as it is
    now; returns axe's list of violations (each with id, impact, help, helpUrl, nodes)."""

    def _axe_check(page):
        if problem := _axe_problem():
            pytest.fail(problem)
        # Evaluated through the DevTools protocol, which the page's content security policy
        # does not govern; a <script> tag with the code inline would be blocked by it.
        page.evaluate(AXE_JS.read_text())
        return page.evaluate(
            """async (tags) => {
                const results = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
                return results.violations;
            }""",
            AXE_TAGS,
        )

    return _axe_check


def describe_violations(violations) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']} "
            f"[{violation['helpUrl']}]"
        )
        for node in violation["nodes"]:
            target = " ".join(
                " >> ".join(part) if isinstance(part, list) else part for part in node["target"]
            )
            lines.append(f"    at {target}: {node['html'][:200]}")
    return "\n".join(lines)


@pytest.fixture
def assert_no_serious_violations(axe_check):
    """``assert_no_serious_violations(page)``: fail listing every serious or critical axe
    violation (rule, help, the elements); returns all violations, minor ones included."""

    def _assert(page):
        violations = axe_check(page)
        serious = [v for v in violations if v["impact"] in SERIOUS]
        if serious:
            pytest.fail(
                f"axe found serious accessibility problems on {page.url}:\n"
                + describe_violations(serious),
                pytrace=False,
            )
        return violations

    return _assert


# --- Screenshots --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    """``$ILLDESK_SCREENSHOTS`` (made if missing), else a pytest temporary directory."""
    if configured := os.environ.get("ILLDESK_SCREENSHOTS"):
        path = Path(configured).resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def screenshot(screenshot_dir):
    """``screenshot(page, name)``: save the whole page as ``<name>.png``; returns the path."""

    def _screenshot(page, name, *, full_page=True):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise ValueError(f"screenshot name {name!r}: use letters, digits, '.', '_', '-'")
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return _screenshot
