"""Settings for illdesk, read from the environment.

With nothing set, illdesk runs on a SQLite file with Celery tasks executed in-process, and
DEBUG is off. Set ``DATABASE_URL`` for PostgreSQL, ``REDIS_URL`` for a Redis broker,
``ILLDESK_PRODUCTION=1`` for the hardened settings that pass ``manage.py check --deploy``.
Every variable is listed in README.md.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    """Read a variable; ``NAME_FILE`` (a Docker or systemd secret) wins over ``NAME``."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(name, default)


def envbool(name: str, default: bool = False) -> bool:
    value = env(name, "1" if default else "0").strip().lower()
    return value in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    return int(env(name, str(default)))


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG")
PRODUCTION = envbool("ILLDESK_PRODUCTION")

SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set in production.")
    SECRET_KEY = "django-insecure-illdesk-development-only-key-do-not-deploy"  # noqa: S105

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # The admin site that can require a second factor (ILLDESK_ADMIN_REQUIRE_2FA).
    "illdesk.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",  # its templates, for FORM_RENDERER below
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "simple_history",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "members",
    "lenders",
    "requests_app",
    # After the apps: our `manage.py import KIND FILE` stands in for its own `import`.
    "import_export",
]
# The admin's Import buttons: for those who may add the model's records.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
# An uploaded file waits for its confirmation in the cache (it expires), not in a temporary
# file left behind when a preview is never confirmed: a lenders file holds passwords.
IMPORT_EXPORT_TMP_STORAGE_CLASS = "import_export.tmp_storages.CacheStorage"

# Forms render through the project's templates first, so an error list can link an address
# (templates/django/forms/errors/list/ul.html). The workflow's action forms, a dozen on a
# request page, render through Jinja2 instead (core/rendering.py).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

MIDDLEWARE = [
    # Outermost, so it sees Django's own error pages under /api/v1/ too.
    "core.middleware.ApiErrorsAsJson",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.sessions.RenewingSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, so it sees the login views' failures (docs/security.md).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "illdesk.urls"
WSGI_APPLICATION = "illdesk.wsgi.application"
ASGI_APPLICATION = "illdesk.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# PostgreSQL when DATABASE_URL is set; otherwise a SQLite file tuned for a few concurrent
# users: WAL so readers never wait for the writer, a busy timeout instead of "database is
# locked", and IMMEDIATE transactions so a transaction takes the write lock when it begins
# (the SQLite stand-in for the row lock the workflow takes on PostgreSQL).
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    }
    # No JIT compilation: it pays off for long analytic queries, and a deep queue page's
    # estimated cost crossed its threshold, so PostgreSQL compiled, at length, a query that
    # runs in a moment (docs/performance.md, "JIT off").
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The reports' covering index (request_created) covers on PostgreSQL; SQLite builds the
# same index without its included columns, which is all the embedded default needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
AUTH_USER_MODEL = "members.User"
# Before the password is checked: axes refuses an account locked at this address, then the
# guard refuses an account or an address under attack (members.sign_in).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "members.sign_in.SignInGuard",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/accounts/login/"
PASSWORD_RESET_TIMEOUT = 24 * 60 * 60
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Celery ---------------------------------------------------------------------------
# With REDIS_URL, tasks go through Redis to a worker. Without it, they run in-process the
# moment they are queued, so the embedded default needs no broker and no worker.
REDIS_URL = env("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Fail fast when the broker is down: the outbox keeps the work and the beat drain retries.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "drain-notification-outbox": {"task": "requests_app.tasks.drain_outbox", "schedule": 60.0},
    # The jobs are cheap when there is nothing to do, so they run often: a loan is flagged
    # within the hour it crosses the line, and each is flagged once however often they run.
    **{
        f"job-{name}": {"task": "requests_app.tasks.run_job", "schedule": 3600.0, "args": [name]}
        for name in (
            "flag_not_arrived",
            "flag_overdue",
            "remind_due_soon",
            "clear_patron_data",
            "clear_sign_in_records",
        )
    },
    # A year of answers changes little in a day: the lenders' records are made nightly.
    "job-record_lenders": {
        "task": "requests_app.tasks.run_job",
        "schedule": 86400.0,
        "args": ["record_lenders"],
    },
}

# The cache holds the API's throttle counts, shared by every worker process through Redis
# when there is one. Short timeouts: with Redis down the throttle lets calls through
# (core.throttles) rather than keep anyone waiting.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "illdesk",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Rendered page fragments that are the same for everyone ({% cache … using="fragments" %}),
# in each process's own memory: no network call, and nothing to fail when Redis is down.
CACHES["fragments"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "fragments",
    "OPTIONS": {"MAX_ENTRIES": 1000},
}

# --- E-mail ---------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS")
EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "illdesk <ill@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- The service ----------------------------------------------------------------------
ILLDESK_TEAM_EMAIL = env("ILLDESK_TEAM_EMAIL", "ill-team@localhost")
ILLDESK_BASE_URL = env("ILLDESK_BASE_URL", "http://127.0.0.1:8000")
ILLDESK_CURRENCY = env("ILLDESK_CURRENCY", "USD")
#: Days after shipping before a loan counts as not arrived, by shipping method: the guide's
#: two weeks, and three for library mail, which "can take 2-3 weeks to arrive".
ILLDESK_NOT_ARRIVED_DAYS = {
    "delivery": envint("ILLDESK_NOT_ARRIVED_DAYS_DELIVERY", 14),
    "mail": envint("ILLDESK_NOT_ARRIVED_DAYS_MAIL", 21),
}
ILLDESK_PATRON_RETENTION_DAYS = envint("ILLDESK_PATRON_RETENTION_DAYS", 90)
ILLDESK_DOCUMENT_DELIVERY_URL = env(
    "ILLDESK_DOCUMENT_DELIVERY_URL", "https://www.bpl.org/interlibrary-loan/"
)
#: illdesk's own agency in ISO 18626 messages (docs/iso18626.md).
ILLDESK_AGENCY_ID_TYPE = env("ILLDESK_AGENCY_ID_TYPE", "ISIL")
ILLDESK_AGENCY_ID_VALUE = env("ILLDESK_AGENCY_ID_VALUE", "US-XX-ILLDESK")
#: The key partners' passwords are sealed under (``core.secrets``); SECRET_KEY's when empty.
ILLDESK_SECRETS_KEY = env("ILLDESK_SECRETS_KEY")

# --- The API -------------------------------------------------------------------------
# Token first, so a call without credentials is answered 401 with ``WWW-Authenticate``;
# the session serves the browsable pages. See docs/api.md.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "members.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON in: a new request's patron is an object, which form encodings cannot carry.
    # Input nested too deep to parse is a 400 (illdesk/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    # JSON out too: the browsable pages need inline script, which the CSP forbids.
    # /api/docs/ is the API's page for people.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_CLASSES": ["core.throttles.UserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env("API_RATE_PER_USER", "300/minute"),
        "token": env("API_RATE_TOKEN", "10/minute"),
    },
    "DEFAULT_PAGINATION_CLASS": "core.api.UncountedPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}
# How long a token from POST /api/v1/auth/token/ lasts (a working day), and the longest a
# person may give one they make on their API tokens page. See members/tokens.py.
API_TOKEN_HOURS = envint("API_TOKEN_HOURS", 10)
API_TOKEN_MAX_DAYS = envint("API_TOKEN_MAX_DAYS", 90)
SPECTACULAR_SETTINGS = {
    "TITLE": "illdesk API",
    "DESCRIPTION": "The request desk of a mediated interlibrary-loan service. "
    "Get a token at /api/v1/auth/token/ and send `Authorization: Token <token>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI from our own static files (drf-spectacular-sidecar): no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "requests_app.models.Status",
        "ShippingMethodEnum": "requests_app.models.ShippingMethod",
        "ChargeKindEnum": "requests_app.models.ChargeKind",
        "LenderKindEnum": "lenders.models.Lender.Kind",
    },
}

# --- Security -------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 8 * 60 * 60)
# Inactive sessions expire after SESSION_COOKIE_AGE; a page view renews the session when it
# has lost more than SESSION_RENEW_SECONDS of its life (core/sessions.py), not on every view.
SESSION_ENGINE = "core.sessions"
SESSION_RENEW_SECONDS = envint("SESSION_RENEW_SECONDS", 5 * 60)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CSRF_COOKIE_HTTPONLY = True

# Content security policy: our own scripts, styles and images only; no inline script or
# style anywhere (the API's browsable pages, which need inline script, are off).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# The client's address: REMOTE_ADDR, or with proxies in front, the address the outermost of
# them saw (X-Forwarded-For, read only as far as our own proxies wrote it). The throttles
# and the sign-in limits all key on it. See illdesk/client_address.py.
ILLDESK_TRUSTED_PROXIES = envint("ILLDESK_TRUSTED_PROXIES", 0)

# Sign-in limits (members/sign_in.py, docs/security.md). Wrong passwords lock an account at
# one address only: a stranger elsewhere cannot lock its owner out, nor one person's typos
# their colleagues at the same address. A success there resets the count.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=envint("AXES_COOLOFF_MINUTES", 15))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "members.auth_views.locked_out"
AXES_CLIENT_IP_CALLABLE = "core.client_address.client_address"
AXES_VERBOSE = False
# Past these failures in an hour, an account takes passwords only from addresses it has
# signed in from lately, and an address may sign in only to accounts it knows.
ILLDESK_ACCOUNT_FAILURES_PER_HOUR = envint("ILLDESK_ACCOUNT_FAILURES_PER_HOUR", 20)
ILLDESK_ADDRESS_FAILURES_PER_HOUR = envint("ILLDESK_ADDRESS_FAILURES_PER_HOUR", 50)
ILLDESK_KNOWN_ADDRESS_DAYS = envint("ILLDESK_KNOWN_ADDRESS_DAYS", 90)

# A second factor (TOTP) for anyone who sets one up at /accounts/two-factor/; with this
# set, the admin site opens only to sessions verified with it.
ILLDESK_ADMIN_REQUIRE_2FA = envbool("ILLDESK_ADMIN_REQUIRE_2FA", PRODUCTION)
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", "illdesk")
if PRODUCTION:
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off when ILLDESK_PRODUCTION is set.")
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Patron names never reach the logs: log lines name requests and patrons by id only.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Failed logins and lockouts are warnings; every successful login is not news.
        "axes": {"level": "WARNING"},
    },
}
