"""The platform's settings of one fleet app release: DJANGO_SETTINGS_MODULE=fleet_platform_settings.

stage.sh copies this file into the top of every release as fleet_platform_settings.py, beside
manage.py. It imports the app's own settings module (FLEET_APP_SETTINGS, the catalog's
`settings:`), as `from <it> import *` would, then sets what only the platform knows, from the app's environment file, so an app that
reads none of it from the environment runs unchanged (the route django-heroku took):
  database  DATABASES["default"] from DATABASE_URL (postgres or mysql)
  hosts     ALLOWED_HOSTS: the app's domain, which the health check and nginx send as Host
  static    STATIC_URL (where nginx serves this release's files: /static/<commit>/) and STATIC_ROOT (the
            release's collected files)
  secretKey SECRET_KEY: the platform's generated key
  proxy     SECURE_PROXY_SSL_HEADER (nginx sends X-Forwarded-Proto) and the site in CSRF_TRUSTED_ORIGINS
  storage   media (the default storage) in the app's S3 bucket through django-storages
The release's .fleet/platform (stage.sh) names the ones the catalog leaves on (apps.yaml
`overrides:`), so a running release keeps what its preflight checked. Works on Django
3.2 to 5.x: STORAGES from 4.2 on, DEFAULT_FILE_STORAGE before.
A real file rather than generated text: the one copy of these rules, run as it is by the tests.
"""
import importlib
import os
from urllib.parse import unquote, urlparse

import django

_env = os.environ
_app = importlib.import_module(_env["FLEET_APP_SETTINGS"])
globals().update({name: getattr(_app, name) for name in getattr(_app, "__all__", None) or dir(_app) if not name.startswith("_")})



def _recorded(name):
    """What stage.sh recorded in this release's .fleet/NAME."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".fleet", name), encoding="utf-8") as f:
        return f.read().strip()


def _recorded_overrides():
    """The overrides stage.sh recorded in this release (.fleet/platform: "overrides=a,b ...")."""
    words = dict(w.split("=", 1) for w in _recorded("platform").split())
    return set(words["overrides"].split(",")) - {"none"}


# Which of the settings below the catalog leaves on (apps.yaml `overrides:`, all by default).
platform_overrides = _recorded_overrides()
_overrides = platform_overrides
# Where nginx serves this release's collected files: a URL of its own (STATIC_URL/<commit>/, where
# static.sh publishes them), so a page always gets the assets of the release that rendered it,
# plain names or hashed, while nodes switch one by one and after a rollback. With overrides.static
# off the app's STATIC_URL must be nginx's shared STATIC_URL (the preflight checks it).
release_static_url = "%s%s/" % (_env["STATIC_URL"], _recorded("commit")) if "static" in _overrides else _env["STATIC_URL"]
# What this module set, and what the catalog kept off or the release cannot have (stage prints both).
platform_set = []
platform_not_set = []

_S3_STORAGE = "storages.backends.s3boto3.S3Boto3Storage"
_ENGINES = {"postgres": "django.db.backends.postgresql", "postgresql": "django.db.backends.postgresql", "mysql": "django.db.backends.mysql"}
# Settings of the app's own default database that do not depend on where it is.
_KEPT_DATABASE_KEYS = ("ATOMIC_REQUESTS", "AUTOCOMMIT", "CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "TIME_ZONE", "TEST")


def _set(**values):
    globals().update(values)
    platform_set.extend(values)


def _database(url):
    parts = urlparse(url)
    engine = _ENGINES[parts.scheme]
    entry = {
        "ENGINE": engine,
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "OPTIONS": {"charset": "utf8mb4"} if engine.endswith("mysql") else {},
    }
    own = (globals().get("DATABASES") or {}).get("default") or {}
    entry.update({k: own[k] for k in _KEPT_DATABASE_KEYS if k in own})
    return {**(globals().get("DATABASES") or {}), "default": entry}


def _csrf_trusted_origins():
    site = _env["SITE_URL"]
    # Django 4.0 wants the scheme in each origin; 3.2 wants the host alone.
    origin = site if django.VERSION >= (4, 0) else urlparse(site).hostname
    own = list(globals().get("CSRF_TRUSTED_ORIGINS") or [])
    return own + ([origin] if origin not in own else [])


def _storages_installed():
    try:
        importlib.import_module("storages.backends.s3boto3")
    except ImportError:
        return False
    return True


def _media_in_s3():
    values = {"AWS_STORAGE_BUCKET_NAME": _env["AWS_STORAGE_BUCKET_NAME"], "AWS_S3_REGION_NAME": _env["AWS_S3_REGION_NAME"]}
    if _env.get("AWS_S3_ENDPOINT_URL"):
        # An S3-compatible server (the test bed's): path-style addressing, as such servers expect.
        values.update(AWS_S3_ENDPOINT_URL=_env["AWS_S3_ENDPOINT_URL"], AWS_S3_ADDRESSING_STYLE="path")
    if django.VERSION >= (4, 2):
        storages = dict(globals().get("STORAGES") or {})
        # The pre-4.2 names and STORAGES may not both be set: carry the app's over, then drop them.
        static = globals().pop("STATICFILES_STORAGE", None)
        globals().pop("DEFAULT_FILE_STORAGE", None)
        storages.setdefault("staticfiles", {"BACKEND": static or "django.contrib.staticfiles.storage.StaticFilesStorage"})
        storages["default"] = {"BACKEND": _S3_STORAGE}
        values["STORAGES"] = storages
    else:
        values["DEFAULT_FILE_STORAGE"] = _S3_STORAGE
    return values


if "database" in _overrides:
    _set(DATABASES=_database(_env["DATABASE_URL"]))
if "hosts" in _overrides:
    _set(ALLOWED_HOSTS=[h for h in _env["ALLOWED_HOSTS"].split(",") if h])
if "static" in _overrides:
    _set(STATIC_URL=release_static_url, STATIC_ROOT=_env["STATIC_ROOT"])
if "secretKey" in _overrides:
    _set(SECRET_KEY=_env["SECRET_KEY"])
if "proxy" in _overrides:
    _set(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"), CSRF_TRUSTED_ORIGINS=_csrf_trusted_origins())
if "storage" in _overrides:
    if _storages_installed():
        _set(**_media_in_s3())
    else:
        platform_not_set.append("media storage (django-storages with boto3 is not installed in the release's virtualenv)")
if "debug" in _overrides:
    # Apps written over the years hard-code DEBUG = True or default it to True; a production
    # site never shows tracebacks and settings to its visitors (the preflight says it was on).
    app_debug = bool(globals().get("DEBUG", False))
    _set(DEBUG=False)
for _name in ("database", "hosts", "static", "secretKey", "proxy", "storage", "debug"):
    if _name not in _overrides:
        platform_not_set.append("%s (overrides.%s: false)" % (_name, _name))
