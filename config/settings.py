"""Sift settings. Everything that differs between machines comes from the environment.

The defaults run on one machine with nothing but Python: SQLite and kombu's filesystem
broker (a Celery broker that needs no server process). Production sets DATABASE_URL
(postgres://...) and CELERY_BROKER_URL (redis://...).
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# `make run` writes .env.dev once (a generated SECRET_KEY) so that manage.py commands typed
# beside it work; variables already in the environment win. Not `.env`: docker-compose reads
# that one for its own ${...} substitutions, and .dockerignore keeps both out of the image.
environ.Env.read_env(BASE_DIR / ".env.dev")  # optional; absent in CI and in the image

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-for-debug"
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Where Sift keeps its files: the SQLite database, the embedded broker's folders,
# model artifacts and exports. One folder, so a volume in docker-compose covers it.
DATA_DIR = Path(env.str("SIFT_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()
ARTIFACT_DIR = Path(env.str("SIFT_ARTIFACT_DIR", default=str(DATA_DIR / "artifacts"))).resolve()
# Uploads waiting for their import job: web writes them, a worker reads and deletes them,
# so in production both mount this folder (docker-compose.yml: the sift-uploads volume).
SIFT_UPLOAD_DIR = Path(env.str("SIFT_UPLOAD_DIR", default=str(DATA_DIR / "uploads"))).resolve()
# Batch prediction files written by "predict" jobs (serving.batch); web and workers share it.
SIFT_PREDICTIONS_DIR = Path(env.str("SIFT_PREDICTIONS_DIR", default=str(DATA_DIR / "predictions"))).resolve()
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(DATA_DIR / "media"))
MEDIA_URL = "/media/"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc assets, served from here (no CDN)
    "axes",
    "csp",
    "labeling",
    "learners",
    "serving",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "labeling.upload_limits.UploadLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    # Last, so that it is the first to see an exception a view raised.
    "labeling.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'sift.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # The web process and the worker write to one file: take the write lock at
        # BEGIN so that two transactions never both read a free item and then both
        # lease it, and wait for the lock instead of failing at once.
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so that a worker subprocess in the tests sees the same data.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Reuse a connection across requests (PostgreSQL: no new backend per request), and check it
# before each request reuses it, so that the first request after a database restart
# reconnects instead of failing on the dead connection. SQLite opens a file: nothing to keep.
_IS_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("SIFT_CONN_MAX_AGE", default=0 if _IS_SQLITE else 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "labeling:project-list"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Inside the code tree, not SIFT_DATA_DIR: collected static files belong to the image
# (a data volume would keep serving old ones after an upgrade).
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Service tokens first: it refuses them on every view but predict and feedback.
        "serving.auth.ServiceTokenAuthentication",
        "labeling.throttling.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "labeling.api_errors.json_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # ?format= names an export format in Sift's API, not a DRF renderer.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Sift API",
    "DESCRIPTION": "Active-learning text labeling: projects, items, annotations, models, jobs.",
    "VERSION": "1",
    # The schema view documents itself as a bare object; a client has no use for it.
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI would otherwise send the schema to validator.swagger.io for a badge.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Separate request and response components (ProjectRequest / Project): what a client
    # sends and what it gets back differ (read-only ids, write-only labels), and a
    # generated client needs both right.
    "COMPONENT_SPLIT_REQUEST": True,
}
# CSRF failures on /api/ paths answer JSON like every other API error.
CSRF_FAILURE_VIEW = "labeling.api_errors.csrf_failure"

# Rate limits (README "Security and input limits"). API: DRF throttles answer 429 with
# Retry-After. Their counters live in the cache: set CACHE_URL (e.g. redis://...) when
# several web processes run, or each counts alone.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "labeling.throttling.AnonThrottle",
    "labeling.throttling.UserThrottle",
]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "anon": env.str("SIFT_API_ANON_RATE", default="60/min"),
    # The labeling page makes a few API calls per label; 20/s per user leaves room for scripts.
    "user": env.str("SIFT_API_USER_RATE", default="1200/min"),
    "bad_token": env.str("SIFT_API_BAD_TOKEN_RATE", default="20/min"),
    # Predictions and feedback, per service token (or per person trying the API out).
    "service": env.str("SIFT_API_SERVICE_RATE", default="60000/min"),
}
# Page logins: django-axes locks a username from one address out after
# SIFT_LOGIN_FAILURE_LIMIT wrong passwords in a row, for SIFT_LOGIN_COOLOFF_MINUTES, with a 429
# page. Per username+address, so nobody can lock another person out from elsewhere.
AUTHENTICATION_BACKENDS = [
    "labeling.throttling.WebLoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("SIFT_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("SIFT_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"

# HTTPS and browser hardening (README "Security and input limits"). SIFT_HTTPS turns on the
# SSL redirect, Secure cookies and HSTS together (Secure cookies alone would break logins over
# plain HTTP). Default: on when DEBUG is off and Sift answers to any name but loopback, so a
# local run on 127.0.0.1 (tests, benchmarks, docker-compose's default) stays plain HTTP.
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
SIFT_HTTPS = env.bool("SIFT_HTTPS", default=not DEBUG and not set(ALLOWED_HOSTS) <= _LOOPBACK)
SECURE_SSL_REDIRECT = SIFT_HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # container health checks call it over plain HTTP
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SIFT_HTTPS
SECURE_HSTS_SECONDS = env.int("SIFT_HSTS_SECONDS", default=365 * 24 * 3600 if SIFT_HTTPS else 0)
# Only when every subdomain is HTTPS too, and for the browsers' preload list: the domain's choice.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SIFT_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SIFT_HSTS_PRELOAD", default=False)
# Behind a TLS-terminating proxy Django sees plain HTTP; trust the proxy's header only when
# told to (any client could send it otherwise).
if env.bool("SIFT_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The pages load only their own scripts, so script-src is 'self' alone: text injected into a
# page cannot run. Styles also allow inline: the templates' style attributes and the <style>
# inside matplotlib's SVG plots, which cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Celery. The embedded default is kombu's filesystem transport: a real, separate worker
# process picks messages up from a folder (it polls about once a second).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
BROKER_DIR = DATA_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    # kombu does not create these, and both the web process (which publishes) and the
    # worker (which consumes) need them before their first message.
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
else:
    # Fail fast when the broker is down: a request that starts a job answers 503 within a few
    # seconds instead of hanging on kombu's reconnect loop.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 3}
CELERY_BROKER_CONNECTION_TIMEOUT = 3
# How long /healthz waits for the broker before it reports it down (config/health.py).
SIFT_HEALTHZ_BROKER_TIMEOUT = env.float("SIFT_HEALTHZ_BROKER_TIMEOUT", default=2)
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_TASK_DEFAULT_QUEUE = env.str("SIFT_QUEUE", default="sift")
# Simulations run for minutes to hours: on a queue of their own, with their own worker
# (`celery -A config worker --queues sift-simulate --concurrency 1`), so that a retrain never
# waits behind one.
SIFT_SIMULATE_QUEUE = env.str("SIFT_SIMULATE_QUEUE", default="sift-simulate")
CELERY_TASK_ROUTES = {"learners.tasks.simulate": {"queue": SIFT_SIMULATE_QUEUE}}
# The sweeper (learners.jobs.sweep): `celery -A config beat --schedule <SIFT_DATA_DIR>/celerybeat-schedule`.
SIFT_SWEEP_SECONDS = env.int("SIFT_SWEEP_SECONDS", default=30)
# No result backend to clean: without this beat would also schedule celery.backend_cleanup.
CELERY_RESULT_EXPIRES = None
CELERY_BEAT_SCHEDULE = {
    "sweep-jobs": {
        "task": "learners.tasks.sweep_jobs",
        "schedule": SIFT_SWEEP_SECONDS,
        # A sweep nobody ran in time is superseded by the next one; they must not pile up.
        "options": {"expires": SIFT_SWEEP_SECONDS},
    }
}
# Job state lives in learners.Job rows, which the pages and the API read.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Sift's own knobs.
SIFT_LEASE_SECONDS = env.int("SIFT_LEASE_SECONDS", default=10 * 60)
# Live leases one annotator may hold in a project at once; asking for one more is a 409.
# The labeling page holds three (the item on screen and two prefetched) plus, briefly, the
# items whose labels are still on their way.
SIFT_MAX_LEASES = env.int("SIFT_MAX_LEASES", default=5)
if SIFT_MAX_LEASES < 1:
    raise ImproperlyConfigured("SIFT_MAX_LEASES must be 1 or more.")
SIFT_SKIP_COOLDOWN_SECONDS = env.int("SIFT_SKIP_COOLDOWN_SECONDS", default=30 * 60)
# How many of the best-ranked items a retrain writes to the queue; items beyond it are
# served in random order until the next retrain ranks them.
SIFT_QUEUE_SIZE = env.int("SIFT_QUEUE_SIZE", default=2_000)
# The queue is mixed batch by batch: each batch holds every ranker's share and no two
# near-duplicate items.
SIFT_BATCH_SIZE = env.int("SIFT_BATCH_SIZE", default=20)
# Items scored per chunk; a pool of several chunks is scored by all workers in parallel.
SIFT_SCORE_CHUNK_SIZE = env.int("SIFT_SCORE_CHUNK_SIZE", default=50_000)
# Folds of the cross-validation run on the training labels of every new model (0: off);
# each fold is one more fit, so this multiplies the training time of a retrain.
SIFT_CV_FOLDS = env.int("SIFT_CV_FOLDS", default=5)
# The rankers a project's strategy_weights may name (siftml/sampling.py's registry; a
# system check keeps the two in step, since labeling may not import learners).
SIFT_RANKERS = (
    "random",
    "least_confidence",
    "margin",
    "entropy",
    "error",
    "novelty",
    "coverage",
    "error_margin",
)
# Jobs (learners.jobs). A running job's worker touches it every SIFT_HEARTBEAT_SECONDS; one
# silent for SIFT_JOB_STALL_SECONDS lost its worker (killed, or its machine lost) and is
# failed (a retrain is retried once). A queued job whose message no worker took is re-sent
# after SIFT_JOB_RESEND_SECONDS and given up after SIFT_JOB_TIMEOUT_SECONDS.
SIFT_HEARTBEAT_SECONDS = env.float("SIFT_HEARTBEAT_SECONDS", default=10)
SIFT_JOB_STALL_SECONDS = env.int("SIFT_JOB_STALL_SECONDS", default=60)
SIFT_JOB_RESEND_SECONDS = env.int("SIFT_JOB_RESEND_SECONDS", default=60)
SIFT_JOB_TIMEOUT_SECONDS = env.int("SIFT_JOB_TIMEOUT_SECONDS", default=15 * 60)
if SIFT_HEARTBEAT_SECONDS * 3 > SIFT_JOB_STALL_SECONDS:
    raise ImproperlyConfigured(
        "SIFT_JOB_STALL_SECONDS must span at least 3 heartbeats (SIFT_HEARTBEAT_SECONDS)."
    )
# Soft time limit per job kind, in seconds: past it the job fails with a clear message; the
# hard limit, SIFT_TIME_LIMIT_GRACE_SECONDS later, kills the task's process.
SIFT_TIME_LIMITS = {
    "retrain": env.int("SIFT_TIME_LIMIT_RETRAIN", default=60 * 60),
    "score": env.int("SIFT_TIME_LIMIT_SCORE", default=20 * 60),
    "activate": env.int("SIFT_TIME_LIMIT_ACTIVATE", default=60 * 60),
    "evaluate": env.int("SIFT_TIME_LIMIT_EVALUATE", default=60 * 60),
    "simulate": env.int("SIFT_TIME_LIMIT_SIMULATE", default=4 * 60 * 60),
    "import": env.int("SIFT_TIME_LIMIT_IMPORT", default=60 * 60),
    "predict": env.int("SIFT_TIME_LIMIT_PREDICT", default=60 * 60),
}
SIFT_TIME_LIMIT_GRACE_SECONDS = env.int("SIFT_TIME_LIMIT_GRACE_SECONDS", default=60)

# Input limits (see README "Security and input limits"). An upload beyond
# SIFT_MAX_UPLOAD_BYTES is refused with 413 from its Content-Length, before its body is read.
# 256 MB holds about a million typical rows; a larger file belongs to `manage.py import_items`,
# which streams from disk and has no size limit. An upload of at most SIFT_IMPORT_INLINE_BYTES
# is imported in the request (201 with the counts); a larger one by an "import" job (202).
SIFT_MAX_UPLOAD_BYTES = env.int("SIFT_MAX_UPLOAD_BYTES", default=256 * 1024 * 1024)
SIFT_IMPORT_INLINE_BYTES = env.int("SIFT_IMPORT_INLINE_BYTES", default=2 * 1024 * 1024)
SIFT_MAX_IMPORT_ROWS = env.int("SIFT_MAX_IMPORT_ROWS", default=5_000_000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# Serving (README "Serving"): the prediction API of serving/.
SIFT_PREDICT_MAX_BATCH = env.int("SIFT_PREDICT_MAX_BATCH", default=500)
SIFT_PREDICT_MAX_CHARS = env.int("SIFT_PREDICT_MAX_CHARS", default=5_000)
# Answers kept per project and process, keyed by (model id, text hash); emptied on activation.
SIFT_PREDICT_CACHE_SIZE = env.int("SIFT_PREDICT_CACHE_SIZE", default=10_000)
# Seconds a process keeps a service token, the active model id and the serving settings between
# reads (serving/recent.py); changes made in the same process are seen at once. 0: read each time.
SIFT_SERVING_STATE_TTL = env.float("SIFT_SERVING_STATE_TTL", default=5.0)
# Every prediction is logged up to this many per project and minute; above it, this share.
SIFT_PREDICTION_LOG_RATE = env.int("SIFT_PREDICTION_LOG_RATE", default=6_000)
SIFT_PREDICTION_LOG_SAMPLE = env.float("SIFT_PREDICTION_LOG_SAMPLE", default=0.1)
if not 0 < SIFT_PREDICTION_LOG_SAMPLE <= 1:
    raise ImproperlyConfigured("SIFT_PREDICTION_LOG_SAMPLE must be above 0 and at most 1.")
# `manage.py prune_prediction_logs` deletes log rows older than this.
SIFT_PREDICTION_LOG_DAYS = env.int("SIFT_PREDICTION_LOG_DAYS", default=30)
