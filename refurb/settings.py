"""refurb settings: one module, every deployment-specific value read from the environment.

The defaults give the embedded setup (SQLite under var/, tasks in-process, no server needed).
Production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY, ALLOWED_HOSTS and the SECURE_* values
listed in docs/deploy.md.
"""

import os
import secrets
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = env_str(name)
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


VAR_DIR = Path(env_str("REFURB_VAR_DIR") or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else a random key kept in var/ (never a key committed to the repo)."""
    key = env_str("SECRET_KEY")
    if key:
        return key
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        # Written whole in a private file (mode 0600) and then linked into place, so that two processes starting
        # at once (make test's two passes) never read a half-written key: the first link wins, both read it.
        handle, draft = tempfile.mkstemp(dir=VAR_DIR, prefix=".secret_key.")
        try:
            with os.fdopen(handle, "w") as out:
                out.write(secrets.token_urlsafe(64))
            try:
                os.link(draft, key_file)
            except FileExistsError:
                pass  # another process got there first: keep theirs
            except OSError:  # a file system without hard links: create-if-absent instead
                try:
                    with open(key_file, "x") as out:
                        out.write(Path(draft).read_text())
                    key_file.chmod(0o600)
                except FileExistsError:
                    pass
        finally:
            os.unlink(draft)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "inventory",
    "testbench",
    "grading",
    "resale",
    "workbench",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "refurb.urls"
WSGI_APPLICATION = "refurb.wsgi.application"

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

# --- Database -------------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'refurb.sqlite3'}",
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock when a transaction starts, so two writers (two benches
        # starting one card) serialise instead of both reading the old state: SQLite has no row locks.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so that tests with several connections (threads) share one database; named after the
    # database itself, so that suites run against different databases (DATABASE_URL) never delete each other's.
    _name = Path(DATABASES["default"]["NAME"] or ":memory:")
    if _name.name == ":memory:":
        _name = VAR_DIR / "refurb.sqlite3"
    DATABASES["default"]["TEST"] = {"NAME": str(_name.with_name(f"test-{_name.name}"))}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or VAR_DIR / "static")
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
# Intake photos come from phones: allow a few large pictures per request.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Security (production turns these on from the environment; see docs/deploy.md) ----------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_str("SECURE_PROXY_SSL_HEADER"):
    # e.g. HTTP_X_FORWARDED_PROTO when TLS ends at a reverse proxy
    SECURE_PROXY_SSL_HEADER = (env_str("SECURE_PROXY_SSL_HEADER"), "https")
X_FRAME_OPTIONS = "DENY"

# --- Celery ---------------------------------------------------------------------------------------
# The embedded mode, the default: no broker, so test runs execute in threads of the process that queues them (`bench
# run`, `make run`) and other tasks (PDFs) run in-process; no server is needed. With CELERY_BROKER_URL set, runs go
# to their bench hosts' workers. Code asks REFURB_EMBEDDED, never Celery's eager flag, what mode it is in.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or None
REFURB_EMBEDDED = CELERY_BROKER_URL is None
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
CELERY_TASK_ALWAYS_EAGER = REFURB_EMBEDDED
if REFURB_EMBEDDED:
    # Celery still builds a producer pool for eager tasks; with no URL it would be AMQP on a guessed "localhost"
    # (and kombu says so on every first task). An in-memory transport: nothing leaves the process.
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# A run goes to the queue of the bench its card is seated in (bench.<name>); see testbench/orchestration/routing.py.
CELERY_TASK_ROUTES = ("testbench.orchestration.routing.route_task",)
# A bench worker takes one run per free GPU slot, no more: a prefetched run would wait behind a long burn-in.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-runs": {"task": "testbench.orchestration.tasks.runs_sweep_task",
                         "schedule": float(env_int("REFURB_SWEEP_INTERVAL_S", 10) or 10)},
}

# --- REST API -------------------------------------------------------------------------------------
_NUM_PROXIES = env_int("REFURB_NUM_PROXIES", 0)
if _NUM_PROXIES < 0:
    raise ImproperlyConfigured(f"REFURB_NUM_PROXIES={_NUM_PROXIES} must be 0 (no proxy) or the number of proxies")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an anonymous request gets 401 with "WWW-Authenticate: Token".
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.RolePermission"],
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Reverse proxies in front of the web app, so rate limits count clients, not the proxy (X-Forwarded-For).
    # 0 (never None, which would take a client's own X-Forwarded-For header as its identity: a new one per request
    # would escape every rate limit).
    "NUM_PROXIES": _NUM_PROXIES,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "refurb API",
    "DESCRIPTION": "Used GPUs from intake to sale: the catalog, lots and cards with their lifecycle, test benches and "
    "runs, grades and signed certificates (with a public verify endpoint), and resale: listings on channels, "
    "matched sets, orders, returns, channel exports and sale imports. Authenticate with a session or "
    "`Authorization: Token <key>`; what each role may do is in the README.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "UnitStateEnum": "inventory.choices.UnitState",
        "CosmeticGradeEnum": "inventory.choices.CosmeticGrade",
        "ThermalMaterialEnum": "inventory.choices.ThermalMaterial",
        "FanConditionEnum": "inventory.choices.FanCondition",
        "RunStateEnum": "testbench.choices.RunState",
        "VerdictEnum": "testbench.choices.Verdict",
    },
}

# --- refurb ---------------------------------------------------------------------------------------
REFURB_DEFAULT_CURRENCY = env_str("REFURB_DEFAULT_CURRENCY", "USD")
REFURB_INTAKE_MAX_ROWS = env_int("REFURB_INTAKE_MAX_ROWS", 5000)
# The largest intake file, refused before it is read: 5,000 rows with long notes fit in well under 4 MiB.
REFURB_INTAKE_MAX_BYTES = env_int("REFURB_INTAKE_MAX_BYTES", 4 * 1024 * 1024)
# Inspection photos are served only to users who may see them (never under MEDIA_URL). Empty: the web process
# streams each file. Set to the prefix of an nginx `internal` location over MEDIA_ROOT (e.g. /protected-media/) to
# let the proxy send the file once the app has checked the user (X-Accel-Redirect; docs/deploy.md).
REFURB_MEDIA_ACCEL_PREFIX = env_str("REFURB_MEDIA_ACCEL_PREFIX")
# A running run writes a heartbeat (with its progress) this often; one silent for REFURB_RUN_STALE_AFTER_S is
# interrupted by the sweep, which each bench host runs every REFURB_SWEEP_INTERVAL_S (0: leave it to beat). A bench
# host reports itself every REFURB_BENCH_HEARTBEAT_S. See docs/orchestration.md for the sizes these give.
REFURB_RUN_HEARTBEAT_S = env_int("REFURB_RUN_HEARTBEAT_S", 2)
REFURB_RUN_STALE_AFTER_S = env_int("REFURB_RUN_STALE_AFTER_S", 30)
REFURB_SWEEP_INTERVAL_S = env_int("REFURB_SWEEP_INTERVAL_S", 10)
REFURB_BENCH_HEARTBEAT_S = env_int("REFURB_BENCH_HEARTBEAT_S", 10)
REFURB_SLOT_RETRY_S = env_int("REFURB_SLOT_RETRY_S", 5)  # a run whose slot is busy is retried after this

# Certificates (docs/grading.md). The signing key: PEM text in REFURB_SIGNING_KEY, else the key file (created on
# first use). REFURB_PUBLIC_URL is where buyers reach /verify/<id>/; it goes into each certificate's QR code.
REFURB_SIGNING_KEY = env_str("REFURB_SIGNING_KEY")
REFURB_SIGNING_KEY_FILE = Path(env_str("REFURB_SIGNING_KEY_FILE") or VAR_DIR / "keys" / "certificate-signing.pem")
REFURB_ISSUER = env_str("REFURB_ISSUER", "refurb")
# Shown to buyers on every certificate's page: how to reach the seller, and the warranty terms (empty: not shown).
REFURB_ISSUER_CONTACT = env_str("REFURB_ISSUER_CONTACT", "")
# An inspection photo from a phone: refused above this size, stored scaled down to this many pixels on its long side.
REFURB_PHOTO_MAX_BYTES = env_int("REFURB_PHOTO_MAX_BYTES", 10 * 1024 * 1024)
REFURB_PHOTO_MAX_PX = env_int("REFURB_PHOTO_MAX_PX", 1600)
REFURB_WARRANTY_TERMS = env_str("REFURB_WARRANTY_TERMS", "")
# What the public home page says this seller does.
REFURB_SELLER_ABOUT = env_str(
    "REFURB_SELLER_ABOUT",
    "We buy graphics cards from retired mining rigs and put every one through an automated test: its memory, its "
    "compute units, its speed, its cooling and its PCIe link. Each card that passes gets a grade and a signed "
    "certificate that anyone can check here, without an account.")
REFURB_PUBLIC_URL = env_str("REFURB_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# eBay conditions this seller may use (grading/policy.py): 2010–2030 need approval into eBay's Refurbished programme;
# 2500 "Seller refurbished" is offered where the site and category still allow it, else 3000 "Used".
REFURB_EBAY_REFURBISHED_PROGRAMME = env_bool("REFURB_EBAY_REFURBISHED_PROGRAMME", False)
REFURB_EBAY_SELLER_REFURBISHED = env_bool("REFURB_EBAY_SELLER_REFURBISHED", True)
# The eBay site the Seller Hub upload is for (its Action header: SiteID and Country), e.g. US, UK, Germany / DE.
REFURB_EBAY_SITE_ID = env_str("REFURB_EBAY_SITE_ID", "US")
REFURB_EBAY_COUNTRY = env_str("REFURB_EBAY_COUNTRY", "US")
# Requests per client address to the public verify page and endpoint (DRF's "N/s|min|hour|day").
REFURB_VERIFY_RATE = env_str("REFURB_VERIFY_RATE", "120/min")

# The cache holds rate-limit counters: per process unless REFURB_CACHE_URL names a shared Redis (production).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if env_str("REFURB_CACHE_URL"):
    CACHES["default"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                         "LOCATION": env_str("REFURB_CACHE_URL")}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # WeasyPrint logs each layout step at INFO, and fontTools each table it prunes.
    "loggers": {"weasyprint.progress": {"level": "WARNING"}, "fontTools": {"level": "WARNING"},
                "pypdf": {"level": "ERROR"},  # pypdf warns of every oddity in a file it is asked to check
                # A line per task at INFO: noise in a command's output when tasks run in-process; a worker's own
                # log (celery -l info) still shows them.
                **({"celery.app.trace": {"level": "WARNING"}} if REFURB_EMBEDDED else {})},
}
