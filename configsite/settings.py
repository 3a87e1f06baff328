"""ModelDesk settings: every value comes from the environment (SPEC §2), read here only."""

import base64
import hashlib
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"  # noqa: S105

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY or SECRET_KEY == DEV_SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY and FIELD_ENCRYPTION_KEYS in the environment "
            "(see .env.example), or DEBUG=true for the development server."
        )
    SECRET_KEY = DEV_SECRET_KEY
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

# Fernet keys for secrets at rest: the first encrypts, all decrypt (rotation).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is not set. Generate a key with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`."
        )
    # Development only: a stable key derived from the dev SECRET_KEY.
    FIELD_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(b"modeldesk-fernet:" + SECRET_KEY.encode()).digest()).decode()
    ]

for _position, _key in enumerate(FIELD_ENCRYPTION_KEYS, start=1):
    # Fail at start, not at the first request: a malformed key would make every stored key unreadable.
    try:
        Fernet(_key.encode())
    except ValueError:
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS: key number {_position} is not a Fernet key (32 url-safe base64-encoded bytes)."
        ) from None

PUBLIC_REGISTRY = env.bool("PUBLIC_REGISTRY", default=False)
LOG_CHAT_CONTENT = env.bool("LOG_CHAT_CONTENT", default=False)
# The request log's writer (chat/request_log.py, ADR 0009): rows kept in memory while the database is
# unavailable (a minute at 2,000 requests/s; ~0.6 KB a row without logged content), the longest wait
# between retries, and how long an exiting process still retries before giving its rows up.
REQUEST_LOG_QUEUE_MAX = env.int("REQUEST_LOG_QUEUE_MAX", default=120_000)
REQUEST_LOG_RETRY_MAX_SECONDS = env.float("REQUEST_LOG_RETRY_MAX_SECONDS", default=2.0)
REQUEST_LOG_SHUTDOWN_SECONDS = env.float("REQUEST_LOG_SHUTDOWN_SECONDS", default=10.0)
MODELS = env.str("MODELS", default="")
OPENAI_MODELS = env.str("OPENAI_MODELS", default="")
ANTHROPIC_MODELS = env.str("ANTHROPIC_MODELS", default="")
DEFAULT_MODEL = env.str("DEFAULT_MODEL", default="")
# Model discovery and the capability catalog (SPEC §7; see models_registry/discovery and catalog.py).
MODELDESK_VALIDATE_CONCURRENCY = env.int("MODELDESK_VALIDATE_CONCURRENCY", default=8)
MODELDESK_DISCOVERY_CACHE_TTL = env.int("MODELDESK_DISCOVERY_CACHE_TTL", default=300)
MODELDESK_DISCOVERY_FALLBACK_TTL = env.int("MODELDESK_DISCOVERY_FALLBACK_TTL", default=24 * 3600)
# At most this many models in one provider's listing; a longer listing is refused as a whole (ADR
# 0008-discovery-limits). Per provider: MODELDESK_DISCOVERY_MAX_MODELS_BY_PROVIDER=openrouter=5000,hf=20000.
MODELDESK_DISCOVERY_MAX_MODELS = env.int("MODELDESK_DISCOVERY_MAX_MODELS", default=2000)
MODELDESK_DISCOVERY_MAX_MODELS_BY_PROVIDER = env.dict(
    "MODELDESK_DISCOVERY_MAX_MODELS_BY_PROVIDER", cast={"value": int}, default={}
)
for _name, _limit in [("", MODELDESK_DISCOVERY_MAX_MODELS), *MODELDESK_DISCOVERY_MAX_MODELS_BY_PROVIDER.items()]:
    if _limit < 1:
        where = f"MODELDESK_DISCOVERY_MAX_MODELS_BY_PROVIDER ({_name})" if _name else "MODELDESK_DISCOVERY_MAX_MODELS"
        raise ImproperlyConfigured(f"{where} must be at least 1, not {_limit}.")
MODELDESK_CATALOG_FILE = env.str("MODELDESK_CATALOG_FILE", default="")
MODELDESK_CATALOG_TTL = env.int("MODELDESK_CATALOG_TTL", default=3600)
# What an upstream may send and hold (providers/adapters/limits.py, clients.py); each provider may override.
UPSTREAM_MAX_RESPONSE_BYTES = env.int("UPSTREAM_MAX_RESPONSE_BYTES", default=32 * 1024 * 1024)
UPSTREAM_MAX_ERROR_BODY_BYTES = env.int("UPSTREAM_MAX_ERROR_BODY_BYTES", default=1024 * 1024)
UPSTREAM_MAX_SSE_EVENT_BYTES = env.int("UPSTREAM_MAX_SSE_EVENT_BYTES", default=4 * 1024 * 1024)
UPSTREAM_MAX_CONNECTIONS = env.int("UPSTREAM_MAX_CONNECTIONS", default=200)
for _name in ("UPSTREAM_MAX_RESPONSE_BYTES", "UPSTREAM_MAX_ERROR_BODY_BYTES", "UPSTREAM_MAX_SSE_EVENT_BYTES",
              "UPSTREAM_MAX_CONNECTIONS"):  # fmt: skip
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be a positive integer.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "servestatic",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "providers",
    "access",
    "models_registry",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "configsite.urls"
ASGI_APPLICATION = "configsite.asgi.application"
WSGI_APPLICATION = "configsite.wsgi.application"

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

(BASE_DIR / "var").mkdir(exist_ok=True)
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", 60 if DATABASES["default"]["ENGINE"].endswith("postgresql") else 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the request log be written while readers read.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "timeout": 20,
            # Writers take the lock when the transaction begins, so two writers queue
            # instead of failing with "database is locked" on a read-then-write.
            "transaction_mode": "IMMEDIATE",
        }
    )


# A cache that hangs must not hang requests (configsite/cache_guard.py, ADR 0008): each Redis call
# gives up after CACHE_TIMEOUT_SECONDS; the process then serves what it holds (the last configuration
# snapshot, the API keys it has seen) for CACHE_OUTAGE_GRACE_SECONDS, and answers 503 past that.
CACHE_TIMEOUT_SECONDS = env.float("CACHE_TIMEOUT_SECONDS", default=0.5)
CACHE_OUTAGE_GRACE_SECONDS = env.float("CACHE_OUTAGE_GRACE_SECONDS", default=60.0)
# After a configuration change, requests wait up to this long for the new snapshot (built once per
# process, in a thread) and are then served from the previous one until it is ready (providers/snapshot_store.py).
SNAPSHOT_REBUILD_WAIT_SECONDS = env.float("SNAPSHOT_REBUILD_WAIT_SECONDS", default=1.0)
# ...but never from a snapshot older than this after a change was seen: then they wait for the build.
SNAPSHOT_MAX_STALE_SECONDS = env.float("SNAPSHOT_MAX_STALE_SECONDS", default=30.0)


def _cache_config(url: str) -> dict:
    """`locmem://` (SPEC §2 default) is not a django-environ scheme; everything else is."""
    if url.startswith(("locmem://", "locmemcache://")):
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "modeldesk"}
    config = environ.Env.cache_url_config(url)
    if url.startswith(("redis://", "rediss://")):
        # Django's RedisCache with one client and pool per process, not per request: configsite/redis_pool.py.
        config["BACKEND"] = "configsite.redis_pool.RedisCache"
        # Bounded waits and no retry: a hung Redis fails fast, and the breaker takes over (cache_guard.py).
        config["OPTIONS"] = {
            "socket_timeout": CACHE_TIMEOUT_SECONDS,
            "socket_connect_timeout": CACHE_TIMEOUT_SECONDS,
            **config.get("OPTIONS", {}),
        }
    return config


CACHES = {"default": {**_cache_config(env.str("CACHE_URL", default="locmem://")), "KEY_PREFIX": "modeldesk"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SERVESTATIC_USE_FINDERS = True
SERVESTATIC_AUTOREFRESH = DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

API_PAGE_SIZE = env.int("API_PAGE_SIZE", default=100)
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=1000)
if not 1 <= API_PAGE_SIZE <= API_MAX_PAGE_SIZE:
    raise ImproperlyConfigured(
        f"API_PAGE_SIZE ({API_PAGE_SIZE}) must be at least 1 and at most API_MAX_PAGE_SIZE ({API_MAX_PAGE_SIZE})."
    )
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "access.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["access.permissions.ScopedAccess"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Every list endpoint is paginated: ?limit= (default API_PAGE_SIZE, at most API_MAX_PAGE_SIZE) and ?offset=.
    "DEFAULT_PAGINATION_CLASS": "configsite.pagination.ApiPagination",
    "PAGE_SIZE": API_PAGE_SIZE,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "ModelDesk API",
    "DESCRIPTION": "Model registry, configuration and OpenAI-compatible gateway.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
# Probes call over plain HTTP inside the cluster, whatever SECURE_SSL_REDIRECT says.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_PROXY", default=False) else None
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Error pages and error e-mails hide provider keys in local variables and POST data too.
DEFAULT_EXCEPTION_REPORTER_FILTER = "configsite.exception_reporter.SecretsExceptionReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # The SDKs log a line per upstream request and retry at INFO; keep commands' stderr readable.
        "httpx2": {"level": env.str("HTTP_LOG_LEVEL", default="WARNING")},
        "openai": {"level": env.str("HTTP_LOG_LEVEL", default="WARNING")},
        "anthropic": {"level": env.str("HTTP_LOG_LEVEL", default="WARNING")},
    },
}
