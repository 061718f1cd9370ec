"""ZamIO settings: one module, driven by the environment through `zamio.env`.

With no variables set this is the embedded default used by `make demo`:
SQLite under var/, Celery eager, in-memory channel layer, console email.
`DATABASE_URL` switches to PostgreSQL; `REDIS_URL` to Redis for the Celery
broker, the channel layer and the cache. `DJANGO_ENV=production` hardens it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from zamio import env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.string("ZAMIO_VAR_DIR", str(BASE_DIR / "var")))

DJANGO_ENV = env.string("DJANGO_ENV", "development")
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env.boolean("DEBUG", not PRODUCTION)
if PRODUCTION:
    SECRET_KEY = env.string("SECRET_KEY", required=True)
else:
    SECRET_KEY = env.string(
        "SECRET_KEY", "insecure-development-key-not-for-production-use-0123456789"
    )

ALLOWED_HOSTS = env.listing("ALLOWED_HOSTS", [] if PRODUCTION else ["*"])
CSRF_TRUSTED_ORIGINS = env.listing("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "channels",
    "zamio",
    "users",
    "notifications",
    "artists",
    "stations",
    "tracks",
    "fingerprinting",
    "stream_capture",
    "detections",
    "royalties",
    "wallets",
    "streaming",
]

MIDDLEWARE = [
    "zamio.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "zamio.urls"
WSGI_APPLICATION = "zamio.wsgi.application"
ASGI_APPLICATION = "zamio.asgi.application"
# Threads each Daphne process runs HTTP requests on (zamio/http.py): Python work holds the
# GIL, so more threads only overlap waits on the database; at 16 concurrent clients 8
# threads per process cost the portal benchmark ~20% more CPU and 1.5-2x the p95 of 2.
HTTP_WORKER_THREADS = env.integer("HTTP_WORKER_THREADS", 2)

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

# --- Database -------------------------------------------------------------
DATABASE_URL = env.string("DATABASE_URL", "")
if not DATABASE_URL:
    # The embedded default: SQLite under var/, which a fresh clone does not have yet.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASE_URL = f"sqlite:///{VAR_DIR / 'zamio.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env.integer("DATABASE_CONN_MAX_AGE", 0)
    )
}
DATABASE_POOL_MAX_SIZE = env.integer("DATABASE_POOL_MAX_SIZE", 8)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The demo runs Celery eagerly, the capture worker and Daphne in one process, so
    # several threads write at once. A transaction takes the write lock when it begins
    # (IMMEDIATE), so it waits for the lock (up to the timeout) instead of failing at once
    # with "database is locked" when two read-then-write transactions collide; the WAL
    # journal lets readers go on while one thread writes.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASE_POOL_MAX_SIZE > 0:
    # On PostgreSQL each process keeps a pool of open connections (psycopg 3, Django's
    # native pool): a request borrows one and gives it back when it ends. Under ASGI
    # (Daphne) every request runs in a thread of its own, so connections kept per thread
    # (CONN_MAX_AGE) pile up until PostgreSQL refuses more, and a connection per request
    # costs a new PostgreSQL backend each time. DATABASE_POOL_MAX_SIZE=0 turns the pool
    # off (behind a transaction-mode PgBouncer, say); see docs/database.md.
    if DATABASES["default"]["CONN_MAX_AGE"]:
        raise ImproperlyConfigured(
            "DATABASE_CONN_MAX_AGE keeps connections per thread; with the connection pool "
            "(DATABASE_POOL_MAX_SIZE > 0) leave it at 0."
        )
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.integer("DATABASE_POOL_MIN_SIZE", 1),
        "max_size": DATABASE_POOL_MAX_SIZE,
        # A request waits at most this long for a free connection, then fails (500).
        "timeout": env.integer("DATABASE_POOL_TIMEOUT_SECONDS", 10),
    }
DATABASE_PARALLEL_WORKERS = env.integer("DATABASE_PARALLEL_WORKERS", 0)
if DATABASE_PARALLEL_WORKERS < 0:
    raise ImproperlyConfigured("DATABASE_PARALLEL_WORKERS must be 0 or more.")
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Parallel query starts worker processes for one query. For a request reading many
    # summary rows that took more CPU, not less: a platform year of the portal benchmark
    # ran 127 ms with two workers and 100 ms serial, and with many requests at once every
    # core is busy anyway. Queries stay serial unless set (a backfill may want it); see
    # docs/database.md.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _serial = f"-c max_parallel_workers_per_gather={DATABASE_PARALLEL_WORKERS}"
    _options["options"] = " ".join(filter(None, [_options.get("options"), _serial]))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, Celery broker, channel layer ----------------------------
REDIS_URL = env.string("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "zamio.cache.RedisCache",  # one client per process (see the module)
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.string("CACHE_KEY_PREFIX", "zamio"),
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": env.string("CHANNELS_PREFIX", "zamio"),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = env.string("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env.string("CELERY_RESULT_BACKEND", REDIS_URL or "cache+memory://")
CELERY_TASK_ALWAYS_EAGER = env.boolean("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_TIME_LIMIT = env.integer("CELERY_TASK_TIME_LIMIT", 600)
# Every ETA and retry delay stays below this, so Redis never redelivers a task
# that is merely waiting (see zamio/beat.py and the hardening tests).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.integer("CELERY_VISIBILITY_TIMEOUT", 3600),
}
# Queues by task-name prefix, so capture, fingerprinting, royalties and payouts scale on
# separate workers (`celery -A zamio worker -Q capture`, ...).
CELERY_TASK_ROUTES = {
    "stream_capture.*": {"queue": "capture"},
    "fingerprinting.*": {"queue": "fingerprint"},
    "detections.*": {"queue": "fingerprint"},
    "royalties.*": {"queue": "royalties"},
    "wallets.*": {"queue": "payouts"},
    # Rollup and digest work is database work, not fingerprinting (exact names win over
    # the "detections.*" pattern).
    "detections.refresh_detection_health": {"queue": "default"},
    "detections.send_airplay_digests": {"queue": "default"},
    "detections.restate_area_months": {"queue": "default"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "Africa/Accra"

# --- Auth -----------------------------------------------------------------
AUTH_USER_MODEL = "users.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "users.backends.StaffRoleBackend",  # admin permissions of support and finance staff
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
EMAIL_TOKEN_TTL = timedelta(hours=env.integer("EMAIL_TOKEN_TTL_HOURS", 24))
PASSWORD_RESET_TTL = timedelta(minutes=env.integer("PASSWORD_RESET_TTL_MINUTES", 60))
OTP_TTL = timedelta(minutes=env.integer("OTP_TTL_MINUTES", 5))
OTP_MAX_ATTEMPTS = env.integer("OTP_MAX_ATTEMPTS", 5)
FRONTEND_URL = env.string("FRONTEND_URL", "http://127.0.0.1:8000")

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.integer("JWT_ACCESS_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.integer("JWT_REFRESH_DAYS", 7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env.string("JWT_SIGNING_KEY", SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}

# --- REST API -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "users.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Deny by default: a view that forgets to say who may use it serves nobody.
    "DEFAULT_PERMISSION_CLASSES": ["zamio.permissions.DenyAll"],
    "DEFAULT_PAGINATION_CLASS": "zamio.pagination.Pagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "users.throttles.AnonRateThrottle",
        "users.throttles.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.string("THROTTLE_ANON", "120/min"),
        "user": env.string("THROTTLE_USER", "1200/min"),
        "auth": env.string("THROTTLE_AUTH", "10/min"),
    },
    "EXCEPTION_HANDLER": "zamio.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
MAX_PAGE_SIZE = 200

SPECTACULAR_SETTINGS = {
    "TITLE": "ZamIO API",
    "DESCRIPTION": "Radio airplay monitoring and music royalties.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "zamio.schema.document_error_responses",
    ],
    # Choice sets that several serializers share (or fields of one name that mean different
    # things in different apps) get one stable component name each, instead of a hash suffix
    # that changes when an unrelated serializer changes.
    "ENUM_NAME_OVERRIDES": {
        "UserRoleEnum": "users.models.Role",
        "RegistrationRoleEnum": "users.models.SELF_REGISTRABLE_ROLE_CHOICES",
        "StationClassEnum": "stations.models.StationClass",
        "StationStaffRoleEnum": "stations.models.StationStaffRole",
        "StreamLinkKindEnum": "stations.models.StreamLinkKind",
        "PlaylogFormatEnum": "stations.models.PlaylogFormat",
        "RelationshipKindEnum": "artists.models.RelationshipKind",
        "NotificationKindEnum": "notifications.models.NotificationKind",
        "PlayOutcomeEnum": "streaming.models.PlayOutcome",
        "PlayVerificationStatusEnum": "detections.models.VerificationStatus",
        # Review decisions and dispute verdicts: a play ends up verified or rejected.
        "PlayVerdictEnum": [("verified", "verified"), ("rejected", "rejected")],
        "DisputeStatusEnum": "detections.models.DisputeStatus",
        "DisputeOutcomeEnum": "detections.models.DisputeOutcome",
        "WithdrawalStatusEnum": "wallets.models.WithdrawalStatus",
        "InvoiceStatusEnum": "royalties.models.InvoiceStatus",
        "ReportKindEnum": "royalties.models.ReportKind",
        "ReportFormatEnum": "royalties.models.ReportFormat",
    },
}

CORS_ALLOWED_ORIGINS = env.listing("CORS_ALLOWED_ORIGINS")

# --- Locale ---------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Africa/Accra"
USE_I18N = True
USE_TZ = True
CURRENCY = env.string("CURRENCY", "GHS")

# --- Files ----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.string("MEDIA_ROOT", str(VAR_DIR / "media")))
# Private files (KYC documents, dispute evidence, reports) live outside MEDIA_ROOT
# and are only ever served through authorised endpoints.
PRIVATE_MEDIA_ROOT = Path(env.string("PRIVATE_MEDIA_ROOT", str(VAR_DIR / "private")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT), "base_url": None},
    },
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env.integer("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Email and SMS --------------------------------------------------------
EMAIL_BACKEND = env.string("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.string("EMAIL_HOST", "localhost")
EMAIL_PORT = env.integer("EMAIL_PORT", 25)
EMAIL_HOST_USER = env.string("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.string("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.boolean("EMAIL_USE_TLS", False)
EMAIL_FILE_PATH = env.string("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", "ZamIO <no-reply@zamio.local>")
SMS_BACKEND = env.string("SMS_BACKEND", "console")
SMS_FILE_PATH = Path(env.string("SMS_FILE_PATH", str(VAR_DIR / "sms.log")))
SMS_GATEWAY_URL = env.string("SMS_GATEWAY_URL", "")
SMS_GATEWAY_KEY = env.string("SMS_GATEWAY_KEY", "")
SMS_SENDER_ID = env.string("SMS_SENDER_ID", "ZamIO")

# --- Media tools ----------------------------------------------------------
FFMPEG_BINARY = env.string("FFMPEG_BINARY", "")

# --- Security -------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.boolean("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Logging --------------------------------------------------------------
LOG_LEVEL = env.string("LOG_LEVEL", "INFO")
LOG_JSON = env.boolean("LOG_JSON", not DEBUG)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "zamio.middleware.RequestContextLogFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(trace_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(trace_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_JSON else "plain",
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        # Eager Celery over the in-memory broker warns about a missing host; it has none.
        "kombu": {"level": "ERROR"},
    },
}

# --- Wallets and payouts (wallets/) -----------------------------------------
WALLETS_PAYOUT_PROVIDER = env.string("WALLETS_PAYOUT_PROVIDER", "sandbox")  # sandbox | momo_mtn
WALLETS_MIN_WITHDRAWAL = env.decimal("WALLETS_MIN_WITHDRAWAL", "10.00")
# Withdrawals above this amount wait for a finance officer; at or below it they go out at once.
WALLETS_APPROVAL_THRESHOLD = env.decimal("WALLETS_APPROVAL_THRESHOLD", "1000.00")
WALLETS_PAYOUT_COOLING_OFF_HOURS = env.integer("WALLETS_PAYOUT_COOLING_OFF_HOURS", 24)
# A transfer still pending at the provider this long after sending goes to needs review.
WALLETS_PAYOUT_REVIEW_AFTER_MINUTES = env.integer("WALLETS_PAYOUT_REVIEW_AFTER_MINUTES", 60)
# An approved withdrawal whose send task has not started after this long is re-queued.
WALLETS_PAYOUT_RESEND_AFTER_MINUTES = env.integer("WALLETS_PAYOUT_RESEND_AFTER_MINUTES", 10)
WALLETS_RECONCILE_LOOKBACK_DAYS = env.integer("WALLETS_RECONCILE_LOOKBACK_DAYS", 7)
_MOMO_REQUIRED = PRODUCTION and WALLETS_PAYOUT_PROVIDER == "momo_mtn"
MOMO_BASE_URL = env.string("MOMO_BASE_URL", "https://sandbox.momodeveloper.mtn.com")
MOMO_SUBSCRIPTION_KEY = env.string("MOMO_SUBSCRIPTION_KEY", "", required=_MOMO_REQUIRED)
MOMO_API_USER = env.string("MOMO_API_USER", "", required=_MOMO_REQUIRED)
MOMO_API_KEY = env.string("MOMO_API_KEY", "", required=_MOMO_REQUIRED)
MOMO_TARGET_ENVIRONMENT = env.string("MOMO_TARGET_ENVIRONMENT", "sandbox")
MOMO_CALLBACK_URL = env.string("MOMO_CALLBACK_URL", "")
MOMO_CURRENCY = env.string("MOMO_CURRENCY", "GHS")  # the MTN sandbox only accepts EUR
MOMO_CONNECT_TIMEOUT_SECONDS = env.integer("MOMO_CONNECT_TIMEOUT_SECONDS", 5)
MOMO_TIMEOUT_SECONDS = env.integer("MOMO_TIMEOUT_SECONDS", 30)

# --- Notifications (notifications/) -----------------------------------------
SMS_DEFAULT_COUNTRY_CODE = env.string("SMS_DEFAULT_COUNTRY_CODE", "233")
SMS_GATEWAY_TIMEOUT_SECONDS = env.integer("SMS_GATEWAY_TIMEOUT_SECONDS", 10)
# Where this API is reachable from a mail client (the unsubscribe link in emails).
NOTIFICATIONS_PUBLIC_API_URL = env.string("NOTIFICATIONS_PUBLIC_API_URL", FRONTEND_URL)
NOTIFICATIONS_MAX_ATTEMPTS = env.integer("NOTIFICATIONS_MAX_ATTEMPTS", 6)
NOTIFICATIONS_RETRY_BASE_SECONDS = env.integer("NOTIFICATIONS_RETRY_BASE_SECONDS", 30)
# Below CELERY_VISIBILITY_TIMEOUT, so a waiting retry is never redelivered by Redis.
NOTIFICATIONS_RETRY_MAX_SECONDS = env.integer("NOTIFICATIONS_RETRY_MAX_SECONDS", 1800)
# A delivery left pending/sending this long lost its task; the sweeper re-queues it.
NOTIFICATIONS_STALE_SECONDS = env.integer("NOTIFICATIONS_STALE_SECONDS", 600)
NOTIFICATIONS_RETENTION_DAYS = env.integer("NOTIFICATIONS_RETENTION_DAYS", 180)

# --- Catalogue: artists and tracks ----------------------------------------------
ARTISTS_KYC_MAX_FILE_BYTES = env.integer("ARTISTS_KYC_MAX_FILE_BYTES", 10 * 1024 * 1024)
ARTISTS_KYC_MAX_DOCUMENTS = env.integer("ARTISTS_KYC_MAX_DOCUMENTS", 5)
TRACKS_MAX_UPLOAD_BYTES = env.integer("TRACKS_MAX_UPLOAD_BYTES", 200 * 1024 * 1024)
TRACKS_MAX_DURATION_SECONDS = env.integer("TRACKS_MAX_DURATION_SECONDS", 20 * 60)
TRACKS_MAX_COVER_BYTES = env.integer("TRACKS_MAX_COVER_BYTES", 10 * 1024 * 1024)
TRACKS_MAX_IMPORT_BYTES = env.integer("TRACKS_MAX_IMPORT_BYTES", 2 * 1024 * 1024 * 1024)
# Imports with more rows than this run as a Celery task the client polls.
TRACKS_IMPORT_SYNC_MAX_ROWS = env.integer("TRACKS_IMPORT_SYNC_MAX_ROWS", 5)
# The "same recording under another file" check; empty turns it off.
TRACKS_RECORDING_MATCHER = env.string(
    "TRACKS_RECORDING_MATCHER", "fingerprinting.services.recording_find_matches"
)
TRACKS_DUPLICATE_MIN_CONFIDENCE = float(env.decimal("TRACKS_DUPLICATE_MIN_CONFIDENCE", "0.8"))

# --- Fan streaming (streaming/) -----------------------------------------------
STREAMING_MIN_LISTEN_SECONDS = env.integer("STREAMING_MIN_LISTEN_SECONDS", 30)
STREAMING_DEDUP_WINDOW_SECONDS = env.integer("STREAMING_DEDUP_WINDOW_SECONDS", 30)
STREAMING_MAX_EVENT_AGE_HOURS = env.integer("STREAMING_MAX_EVENT_AGE_HOURS", 72)
STREAMING_CLOCK_SKEW_SECONDS = env.integer("STREAMING_CLOCK_SKEW_SECONDS", 300)
STREAMING_PLAY_RATE = env.string("STREAMING_PLAY_RATE", "30/min")
STREAMING_PLAY_IP_RATE = env.string("STREAMING_PLAY_IP_RATE", "600/min")
STREAMING_CHART_RATE = env.string("STREAMING_CHART_RATE", "60/min")
STREAMING_CHART_CACHE_SECONDS = env.integer("STREAMING_CHART_CACHE_SECONDS", 300)

# --- Stations and stream capture (stations/, stream_capture/) ----------------------------
# Stream URLs are checked by stream_capture (SSRF guard) when a station adds them; stations
# sits below stream_capture in the import order, so it names the checker here.
STATIONS_STREAM_URL_VALIDATOR = env.string(
    "STATIONS_STREAM_URL_VALIDATOR", "stream_capture.urlsafety.url_validate"
)
# Lets capture reach 127.0.0.1/::1 (local development and tests only; never in production).
STREAM_CAPTURE_ALLOW_LOOPBACK = env.boolean("STREAM_CAPTURE_ALLOW_LOOPBACK", False)
STREAM_CAPTURE_CONNECT_TIMEOUT_SECONDS = env.integer("STREAM_CAPTURE_CONNECT_TIMEOUT_SECONDS", 5)
# A stream that sends nothing for this long is failed (the response head, too, must arrive
# within it).
STREAM_CAPTURE_READ_TIMEOUT_SECONDS = env.integer("STREAM_CAPTURE_READ_TIMEOUT_SECONDS", 10)
# A sampled capture is killed after sample length + connect timeout + this.
STREAM_CAPTURE_WALL_SLACK_SECONDS = env.integer("STREAM_CAPTURE_WALL_SLACK_SECONDS", 20)
# The longest Icecast burst-on-connect credited when dating a capture's first sample.
STREAM_CAPTURE_MAX_BURST_SECONDS = env.integer("STREAM_CAPTURE_MAX_BURST_SECONDS", 15)
STREAM_CAPTURE_RECONNECT_MAX_SECONDS = env.integer("STREAM_CAPTURE_RECONNECT_MAX_SECONDS", 60)
# Continuous workers record one health success per this much audio.
STREAM_CAPTURE_HEALTH_EVERY_SECONDS = env.integer("STREAM_CAPTURE_HEALTH_EVERY_SECONDS", 60)
# A link failing without a success for this long is down: its station's staff are told.
STREAM_DOWN_AFTER_SECONDS = env.integer("STREAM_DOWN_AFTER_SECONDS", 300)
# A down link is tried again this long after its last failure, even if a backup works.
STREAM_CAPTURE_DOWN_RETRY_SECONDS = env.integer("STREAM_CAPTURE_DOWN_RETRY_SECONDS", 600)
STREAM_CAPTURE_ATTEMPT_RETENTION_DAYS = env.integer("STREAM_CAPTURE_ATTEMPT_RETENTION_DAYS", 7)

# --- Fingerprinting ---------------------------------------------------------
# The engine's analysis rate is part of its versioned spec, not a setting.
from fingerprinting.engine import SPEC as _FINGERPRINT_SPEC  # noqa: E402

FINGERPRINT_SAMPLE_RATE = _FINGERPRINT_SPEC.sample_rate
# A match at or above this confidence is "verified"; between the candidate threshold and
# this it is kept as low-confidence for staff review; below the candidate one it is dropped.
FINGERPRINT_VERIFIED_THRESHOLD = float(env.decimal("FINGERPRINT_VERIFIED_THRESHOLD", "0.70"))
FINGERPRINT_CANDIDATE_THRESHOLD = float(env.decimal("FINGERPRINT_CANDIDATE_THRESHOLD", "0.50"))
FINGERPRINT_INDEX_REFRESH_SECONDS = env.integer("FINGERPRINT_INDEX_REFRESH_SECONDS", 30)
FINGERPRINT_INDEX_SNAPSHOT = env.string("FINGERPRINT_INDEX_SNAPSHOT", "")
FINGERPRINT_DUPLICATE_WINDOW_SECONDS = env.integer("FINGERPRINT_DUPLICATE_WINDOW_SECONDS", 15)

# --- Detections (detections/) --------------------------------------------------
# Audio is cut into windows of this length, each starting HOP seconds after the previous
# one (captured samples, station uploads and recordings alike; continuous capture too).
DETECTIONS_WINDOW_SECONDS = float(env.decimal("DETECTIONS_WINDOW_SECONDS", "10"))
DETECTIONS_HOP_SECONDS = float(env.decimal("DETECTIONS_HOP_SECONDS", "5"))
# Windows whose alignments (when the track's second 0 was on air) differ by at most this
# are the same airing; more is a jump (the song restarted or was aired again).
DETECTIONS_ALIGNMENT_TOLERANCE_SECONDS = float(
    env.decimal("DETECTIONS_ALIGNMENT_TOLERANCE_SECONDS", "4")
)
# A play is logged once this many windows agree on track and alignment, however confident
# each is (two recordings can share a stretch of audio); verified when one is verified.
# Three (20 s of audio at the default 10 s windows every 5 s): with two, songs outside the
# catalogue that share a loop with a catalogue song made 3 false plays in 24 benchmark
# station-hours; with three, none (bench/README.md, "Monitoring").
DETECTIONS_CONFIRM_WINDOWS = env.integer("DETECTIONS_CONFIRM_WINDOWS", 3)
# An open play no window has heard for this long is ended; when no windows come at all,
# the stale-play sweeper also waits two of the station's sampling intervals.
DETECTIONS_MAX_GAP_SECONDS = env.integer("DETECTIONS_MAX_GAP_SECONDS", 30)
# A new airing of a song may begin this long before its previous airing was last heard
# (a crossfade): heard from its start by then, the song was begun again, not continued.
DETECTIONS_CROSSFADE_SECONDS = env.integer("DETECTIONS_CROSSFADE_SECONDS", 8)
# A song first heard this soon after its second 0 aired (talk over the intro, a window
# too short to be sure) is dated from its second 0.
DETECTIONS_START_BACKFILL_SECONDS = env.integer("DETECTIONS_START_BACKFILL_SECONDS", 20)
# An open play's airtime reaches the rollups each time it grows past a multiple of this
# (and in full when the play ends), not with every window that extends it: a recount
# touches every summary table, and live capture extends a play every hop. Rollups of
# today may lag the airtime of plays still on air by up to this; 0 counts every window.
DETECTIONS_ROLLUP_AIRTIME_STEP_SECONDS = env.integer("DETECTIONS_ROLLUP_AIRTIME_STEP_SECONDS", 30)
# Plays shorter than this are kept but not royalty-bearing.
DETECTIONS_MIN_ROYALTY_SECONDS = env.integer("DETECTIONS_MIN_ROYALTY_SECONDS", 20)
DETECTIONS_MATCHCACHE_RETENTION_DAYS = env.integer("DETECTIONS_MATCHCACHE_RETENTION_DAYS", 30)
DETECTIONS_UPLOAD_MAX_BYTES = env.integer("DETECTIONS_UPLOAD_MAX_BYTES", 20 * 1024 * 1024)
DETECTIONS_UPLOAD_MAX_SECONDS = env.integer("DETECTIONS_UPLOAD_MAX_SECONDS", 600)
DETECTIONS_UPLOAD_MAX_AGE_DAYS = env.integer("DETECTIONS_UPLOAD_MAX_AGE_DAYS", 30)
# Continuous capture workers hold a lease per station for this long and renew it often.
DETECTIONS_CAPTURE_LEASE_SECONDS = env.integer("DETECTIONS_CAPTURE_LEASE_SECONDS", 60)

# --- Royalties (royalties/) ---------------------------------------------------
# Plays priced per database transaction by the calculator (Beat and royalties_calculate).
ROYALTIES_CALC_BATCH_SIZE = env.integer("ROYALTIES_CALC_BATCH_SIZE", 2000)
# VAT charged on station invoices, percent of the subtotal (Ghana's standard rate).
ROYALTIES_VAT_PERCENT = env.decimal("ROYALTIES_VAT_PERCENT", "15.00")
ROYALTIES_INVOICE_DUE_DAYS = env.integer("ROYALTIES_INVOICE_DUE_DAYS", 30)
ROYALTIES_INVOICE_PREFIX = env.string("ROYALTIES_INVOICE_PREFIX", "ZAM")
# Printed on statements and invoices as the issuer, and as the recipient of CMO exports.
ROYALTIES_ISSUER_NAME = env.string("ROYALTIES_ISSUER_NAME", "ZamIO Royalties")
ROYALTIES_CMO_NAME = env.string("ROYALTIES_CMO_NAME", "GHAMRO")
# For demos and end-to-end tests only: finance may close the current month before it
# ends. The closed period never changes; later plays of that month join the next period.
ROYALTIES_ALLOW_EARLY_CLOSE = env.boolean("ROYALTIES_ALLOW_EARLY_CLOSE", False)

# --- Disputes, station playlogs, compliance, analytics (detections/, stations/) ---------
DISPUTES_EVIDENCE_MAX_BYTES = env.integer("DISPUTES_EVIDENCE_MAX_BYTES", 20 * 1024 * 1024)
DISPUTES_EVIDENCE_MAX_FILES = env.integer("DISPUTES_EVIDENCE_MAX_FILES", 20)
STATIONS_PLAYLOG_MAX_BYTES = env.integer("STATIONS_PLAYLOG_MAX_BYTES", 5 * 1024 * 1024)
STATIONS_PLAYLOG_MAX_ROWS = env.integer("STATIONS_PLAYLOG_MAX_ROWS", 20000)
# A logged entry and a detected play of the same song this far apart still pair up.
STATIONS_PLAYLOG_MATCH_SLACK_SECONDS = env.integer("STATIONS_PLAYLOG_MATCH_SLACK_SECONDS", 180)
# Durations differing by more than this are listed as duration differences.
STATIONS_PLAYLOG_DURATION_TOLERANCE_SECONDS = env.integer(
    "STATIONS_PLAYLOG_DURATION_TOLERANCE_SECONDS", 15
)
STATIONS_COMPLIANCE_MAX_BYTES = env.integer("STATIONS_COMPLIANCE_MAX_BYTES", 10 * 1024 * 1024)
# Document types every station owes for every month (the missing-months list checks these).
STATIONS_COMPLIANCE_REQUIRED_TYPES = env.listing(
    "STATIONS_COMPLIANCE_REQUIRED_TYPES", ["playlist_return", "licence_fee_receipt"]
)
# Analytics answers are cached this long at most (versions bumped on commit invalidate
# them sooner); 0 turns the cache off.
ANALYTICS_CACHE_SECONDS = env.integer("ANALYTICS_CACHE_SECONDS", 600)
# Live capture changes a station's open play every window, so answers over a range that
# reaches today are kept for this many seconds of clock time instead of until the next
# change of today's plays (a change to an earlier day still invalidates at once); 0: every
# change of today's plays invalidates too.
ANALYTICS_LIVE_SECONDS = env.integer("ANALYTICS_LIVE_SECONDS", 10)
ANALYTICS_MAX_RANGE_DAYS = env.integer("ANALYTICS_MAX_RANGE_DAYS", 400)
