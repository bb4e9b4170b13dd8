"""Settings, read from the environment.

With nothing set this is the embedded default: SQLite beside the code and the in-memory
channel layer, enough for one Daphne process on a laptop. Production sets DATABASE_URL
(PostgreSQL) and REDIS_URL (channels-redis) and runs several Daphne processes.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY to a long random string "
            "(or DEBUG=1 for local development only)."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS is not set. Set ALLOWED_HOSTS to the comma-separated host names "
            "this server answers to (or DEBUG=1 for local development only)."
        )
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "channels",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "dispatch",
    "field",
    "referrals",
    "dispatch.reports",
    # After dispatch: dispatch's db_worker command (which starts the periodic chain) wins.
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "dispatch.middleware.PrivacyHeadersMiddleware",
    "dispatch.middleware.ApiBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "dispatch.middleware.IdleLockMiddleware",
    "dispatch.middleware.SecondFactorMiddleware",
    # Last: it turns a sign-in refused for a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

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
                "dispatch.roles.role_context",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN so
    # two writers queue on the timeout instead of failing with "database is locked".
    _db.setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Keep each thread's connection: opening one (and its PRAGMAs) on every call cost about a
    # sixth of the busy time when 500 tablets were connected (bench/push_latency.py).
    _db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    if _db.get("NAME") in ("", ":memory:"):
        _db["NAME"] = str(BASE_DIR / "db.sqlite3")
    # A file, not memory: Daphne processes started by the tests must see the same data.
    _test_name = env.str("SQLITE_TEST_NAME", default=str(BASE_DIR / ".test-db.sqlite3"))
    _db.setdefault("TEST", {})["NAME"] = _test_name
else:
    if env.bool("DATABASE_POOL", default=False):
        # Under ASGI every sync_to_async thread opens its own connection; a pool keeps
        # them warm instead of paying a PostgreSQL connect on every request.
        _db["CONN_MAX_AGE"] = 0
        _db.setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN", default=2),
            "max_size": env.int("DATABASE_POOL_MAX", default=20),
        }
    else:
        _db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USING_POSTGRES = _db["ENGINE"] == "django.db.backends.postgresql"

# --- Channel layer --------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # Redis pub/sub: a group_send is one PUBLISH, and Redis hands it at once to each process
    # with a socket in that group (which keeps its groups' members in memory). The list-based
    # RedisChannelLayer took four round trips per group_send and four more commands per
    # message received (its blocking pop and in-flight backup): its delivery to another process
    # was 2.3 ms p50 against 0.95 ms here, at 2.5 times the CPU per message on the receiving
    # side. Pub/sub keeps nothing for a process that is away (a message published while its
    # connection is down is gone), and neither did the other layer promise to: it dropped at
    # capacity. The event log is what makes delivery reliable (dispatch.events): a socket
    # fills any gap from it, and clients replay from it on resume.
    # A process speaks to Redis over two connections (one publishing, one subscribed), and
    # gives up on a read after REDIS_SOCKET_TIMEOUT when Redis stops answering; redis-py 8
    # caps a pool at 100 connections and raises beyond, so the cap is raised out of the way.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": env.float("REDIS_SOCKET_TIMEOUT", default=15),
                        "max_connections": env.int("REDIS_MAX_CONNECTIONS", default=2000),
                    }
                ],
                "prefix": env.str("CHANNEL_PREFIX", default="asgi"),
            },
        }
    }
    # The API's throttles count in Redis too, so every process counts the same requests.
    CACHES = {
        "default": {
            # Django's, with one Redis client per process, not one per request (dispatch.redis_cache).
            "BACKEND": "dispatch.redis_cache.RedisCache",
            "LOCATION": REDIS_URL,
            # Beside another deployment (or a test worker) on the same Redis database.
            "KEY_PREFIX": env.str("CACHE_PREFIX", default=""),
        }
    }
else:
    # channels' in-memory layer, its expiry sweep on a clock instead of on every message
    # (config/channel_layer.py).
    CHANNEL_LAYERS = {"default": {"BACKEND": "config.channel_layer.SweptInMemoryChannelLayer"}}
# A Daphne process collects its oldest garbage at most this often, not whenever Python's rule
# says (each such pass stops every socket of the process: config/collector.py); 0 keeps Python's.
GC_FULL_PASS_SECONDS = env.float("GC_FULL_PASS_SECONDS", default=60)

# --- Background worker ----------------------------------------------------------------------
# Django's Tasks framework with django-tasks-db's backend: tasks are rows in the same database
# (SQLite or PostgreSQL), run by `manage.py db_worker` (dispatch.tasks).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# The idle lock (dispatch.middleware.IdleLockMiddleware): a session unused this long is ended,
# whatever the role. Open sockets check again who they serve this often (at most; a sign-out,
# a deactivation or a role change closes them at once).
SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_SECONDS", default=1800)
SESSION_RECHECK_SECONDS = env.float("SESSION_RECHECK_SECONDS", default=10)
# A tablet locked idle may still hear "new assignment, sign in" (field.consumers) this long
# at most, and only while the responder's shift lasts.
FIELD_NUDGE_HOURS = env.int("FIELD_NUDGE_HOURS", default=14)

# Sign-in throttling (django-axes): this many wrong passwords for one user name from one
# address lock that pair out for AXES_COOLOFF_MINUTES; supervisors see and lift lockouts on
# their Sign-in lockouts page. Behind a proxy, Daphne's --proxy-headers gives the client's
# address (REMOTE_ADDR), which is what axes reads.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_MINUTES = env.int("AXES_COOLOFF_MINUTES", default=15)
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False

# The second factor (django-otp): TOTP with recovery codes. People of these roles must have
# one (they are sent to enrolment until they do); everyone else may enrol.
OTP_REQUIRED_ROLES = [r for r in env.list("OTP_REQUIRED_ROLES", default=["supervisor", "case_manager"]) if r]
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Community response")

# --- Security -------------------------------------------------------------------------------
SECURE_COOKIES = env.bool("SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# HSTS whenever TLS is in front (a year; sent only on requests that came over TLS).
SECURE_HSTS_SECONDS = env.int(
    "SECURE_HSTS_SECONDS", default=31_536_000 if BEHIND_TLS_PROXY or SECURE_SSL_REDIRECT else 0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)

# The integration API refuses bodies over 64 KiB (CONTRACT.md); forms get the same ceiling.
API_MAX_BODY_BYTES = 64 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

# --- I18N / time ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="America/Denver")
# The deployment's first program (dispatch.Program): the migration that brought programs puts
# every record made before it here, and a fresh deployment starts with it.
FIRST_PROGRAM_SLUG = env.str("FIRST_PROGRAM_SLUG", default="community-response")
FIRST_PROGRAM_NAME = env.str("FIRST_PROGRAM_NAME", default="Community response")
USE_I18N = True
USE_TZ = True

# --- Static ---------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env.bool("STATIC_MANIFEST", default=False)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)

# --- REST framework / OpenAPI ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "dispatch.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["dispatch.api_support.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "dispatch.api_support.exception_handler",
    "DATETIME_FORMAT": "iso-8601",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Per client: an API client or a signed-in person by their user, anyone else by address
    # (dispatch.auth). Answered 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": ["dispatch.auth.ClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "client": env.str("API_THROTTLE_RATE", default="1200/min"),
        "anonymous": env.str("API_THROTTLE_ANON_RATE", default="120/min"),
        "bad_token": env.str("API_THROTTLE_BAD_TOKEN_RATE", default="20/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Community response integration API",
    "DESCRIPTION": "Version 1 of the contract between CAD, police records systems and the program.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI's files come from the sidecar package and are served by the app: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "dispatch.api_schema.add_error_answers",
    ],
}

# --- The product's own knobs ----------------------------------------------------------------
# How long the event log is kept for `resume`; CONTRACT.md promises at least 24 hours.
EVENT_RETENTION_HOURS = env.int("EVENT_RETENTION_HOURS", default=72)
# Each socket reads the log this often for events the channel layer may have dropped.
EVENT_CATCHUP_SECONDS = env.float("EVENT_CATCHUP_SECONDS", default=10)
# Idempotency keys are remembered this long.
IDEMPOTENCY_TTL_HOURS = env.int("IDEMPOTENCY_TTL_HOURS", default=24)
# An API key's client, user and program are read again at most this often per process; a
# change made in another process (a client deactivated, a role changed) takes this long at
# most to be seen in this one, and at once in the process that made it (dispatch.auth). 0: read
# on every request.
API_AUTH_CACHE_SECONDS = env.float("API_AUTH_CACHE_SECONDS", default=5)
# An assignment not acknowledged within this many seconds raises an alert on the console.
ACK_ALERT_SECONDS = env.int("ACK_ALERT_SECONDS", default=60)
# The background worker's periodic job (dispatch.tasks.periodic) runs this often: it looks for
# overdue assignments and for webhook deliveries due again.
ACK_ALERT_CHECK_SECONDS = env.float("ACK_ALERT_CHECK_SECONDS", default=5)

# Webhooks (dispatch.webhooks). A receiver has this long to answer; the worker holds a
# subscription twice that long while it delivers to it.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10)
# Seconds between a failed delivery and its next try, growing; after the last, it is given up.
# These add up to 31.6 hours: CONTRACT.md promises retries for at least 24.
WEBHOOK_RETRY_SECONDS = [10, 60, 300, 1800, 3600, 7200, 14400, 28800, 28800, 28800]
# Webhook URLs may point only at public addresses, unless the address is in one of these
# networks or hosts (comma-separated: a CAD on the local network, "10.20.0.0/16,127.0.0.1").
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])
# How long a process trusts what it read of who subscribes to what (a change made through the
# same process is seen at once).
WEBHOOK_SUBSCRIBERS_TTL_SECONDS = env.float("WEBHOOK_SUBSCRIBERS_TTL_SECONDS", default=5)
# How long one run of the worker's delivery task goes on before it makes room for other tasks.
WEBHOOK_RUN_SECONDS = env.float("WEBHOOK_RUN_SECONDS", default=20)
# Whether a client may be told of an event about another app's records is decided by that app
# (dispatch never imports the apps built on it): event type → function(data, client's user).
WEBHOOK_AUDIENCES = {"referral.updated": "referrals.selectors.referral_event_visible"}
# Which services of the directory cover which programs, for the state's programs page
# (dispatch.program_views): the directory is referrals', and dispatch never imports it.
PROGRAM_SERVICES = "referrals.selectors.program_services"

# How an incident ended, read by the field app for the EIDO export: dispatch never imports the
# apps built on it, so the wiring is named here.
EIDO_DISPOSITION = "field.selectors.incident_disposition"
# Geocoding (dispatch.geocoding): a Nominatim- or Pelias-compatible search endpoint asked before
# the local gazetteer, e.g. https://nominatim.example.org/search or https://pelias.example.org/v1/search.
# Empty: the gazetteer alone, with no network. An incident waits for it at most
# GEOCODER_TIMEOUT_SECONDS and is never refused for it.
GEOCODER_URL = env.str("GEOCODER_URL", default="")
if GEOCODER_URL and not GEOCODER_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured("GEOCODER_URL must be an http:// or https:// search endpoint.")
GEOCODER_TIMEOUT_SECONDS = env.float("GEOCODER_TIMEOUT_SECONDS", default=1.5)
if not 0 < GEOCODER_TIMEOUT_SECONDS <= 10:
    raise ImproperlyConfigured("GEOCODER_TIMEOUT_SECONDS must be more than 0 and at most 10.")

# The console's map: a tile server's URL template ({z}/{x}/{y}, and {s} for its subdomains)
# and the attribution its licence asks for. Empty: the map draws units and calls on a plain
# background, with no request anywhere (offline, tests). The Content-Security-Policy's img-src
# must allow the tile server's origin.
MAP_TILE_URL = env.str("MAP_TILE_URL", default="https://tile.openstreetmap.org/{z}/{x}/{y}.png")
MAP_TILE_ATTRIBUTION = env.str(
    "MAP_TILE_ATTRIBUTION",
    default='&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
)


# Content-Security-Policy (Django's own middleware): scripts, styles and connections only from
# this origin, no inline script anywhere (page data travels in json_script blocks), nothing
# may frame the pages. The map's tiles are the one outside origin, taken from MAP_TILE_URL.
def _tile_origin(url: str) -> list[str]:
    if not url:
        return []
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].replace("{s}", "*")
    return [f"{scheme}://{host}"]


SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", *_tile_origin(MAP_TILE_URL)],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "worker-src": [CSP.SELF],
    "manifest-src": [CSP.SELF],
    "media-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# Powerful features the product never uses are off; the tablet and the officer's form ask for
# the position, on this origin only (dispatch.middleware.PrivacyHeadersMiddleware).
PERMISSIONS_POLICY = "geolocation=(self), camera=(), microphone=(), payment=(), usb=(), display-capture=()"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
