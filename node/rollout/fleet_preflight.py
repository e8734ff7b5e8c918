"""Preflight of a staged release (stage.sh, after collectstatic; before any node switches).

fleet_preflight.py DEPLOY_CHECKS HEALTH_PATH
Run with the release's Python, in the release, with the app's environment (as the app user):
finds what would otherwise fail only at the health check or in front of users, and says it as
one line each, naming the app, the tag, the setting (or the catalog's wsgi) and the fix:
  error: APP TAG: SETTING: what is wrong; what to do       (stage fails: no node switches)
  warning: APP TAG: SETTING: what is wrong; what to do     (listed; the release goes on)
on stdout, after one "platform set: ..." line (what fleet_platform_settings set for the app).
Exit 1 when there is an error. Needs no database (migrations run after stage).
check --deploy findings: errors fail; warnings are listed, and fail only with the catalog's
`deployChecks: fail` (DEPLOY_CHECKS).
"""
import importlib
import json
import os
import re
import sys

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.storage import staticfiles_storage  # noqa: E402
from django.core import checks  # noqa: E402
from django.http.request import validate_host  # noqa: E402

ENV = os.environ
APP = ENV["FLEET_APP"]
TAG = ENV["FLEET_RELEASE_TAG"]
APP_SETTINGS = ENV["FLEET_APP_SETTINGS"]
DOMAIN = ENV["ALLOWED_HOSTS"].split(",")[0]
DEPLOY_CHECKS, HEALTH_PATH = sys.argv[1], sys.argv[2]
NGINX_STATIC_URL = ENV["STATIC_URL"]
RELEASE = os.getcwd()
# prepare.sh's record of the catalog's `wsgi:` (module:callable, or django), beside releases/.
GUNICORN_JSON = os.path.join(RELEASE, "..", "..", "shared", "gunicorn.json")
# An assignment (not setdefault) that replaces the DJANGO_SETTINGS_MODULE gunicorn was given.
FORCED_SETTINGS = re.compile(r"""^[ \t]*(?:os\.)?environ\s*\[\s*(['"])DJANGO_SETTINGS_MODULE\1\s*\]\s*=\s*(.+?)\s*(#.*)?$""", re.M)
# The release's own files (not its virtualenv, not the collected files, not the record).
SKIPPED_DIRS = {".fleet", ".git", "node_modules", "__pycache__", "venv", ".venv"}
STATIC_TAG = re.compile(r"""{%\s*static\s+(['"])([^'"]+)\1""")
TEXT_SUFFIXES = (".py", ".env", ".cfg", ".ini", ".toml", ".json", ".yaml", ".yml", ".txt")

problems = []


def report(level, setting, what, fix):
    problems.append((level, "%s %s: %s: %s; %s" % (APP, TAG, setting, what, fix)))


def release_files(suffixes):
    for top, dirs, files in os.walk(RELEASE):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            if name.endswith(suffixes):
                yield os.path.join(top, name)


def shown(path):
    return os.path.relpath(path, RELEASE)


def override_off(name):
    return name not in importlib.import_module(ENV["DJANGO_SETTINGS_MODULE"]).platform_overrides


def check_debug():
    platform = importlib.import_module(ENV["DJANGO_SETTINGS_MODULE"])
    if settings.DEBUG:
        report("error", "DEBUG", "is True: error pages would show tracebacks and settings to every visitor",
               "set DEBUG = False in %s, or set the environment variable it reads in apps.yaml env:, or turn overrides.debug back on" % APP_SETTINGS)
    elif getattr(platform, "app_debug", False):
        report("warning", "DEBUG", "is True in %s: the platform sets DEBUG = False (overrides.debug)" % APP_SETTINGS,
               "set DEBUG = False there too, so the app runs the same elsewhere")


def check_allowed_hosts():
    if not validate_host(DOMAIN, settings.ALLOWED_HOSTS):
        fix = "add %r to ALLOWED_HOSTS in %s" % (DOMAIN, APP_SETTINGS)
        if override_off("hosts"):
            fix += ", or turn overrides.hosts back on (the platform then sets it)"
        report("error", "ALLOWED_HOSTS", "%r rejects %s, the Host the health check and nginx send: every request would answer "
               "HTTP 400 (DisallowedHost)" % (list(settings.ALLOWED_HOSTS), DOMAIN), fix)


def check_static_url():
    # overrides.static on: the platform's settings set the release's own URL, whatever the app's say.
    expected = importlib.import_module(ENV["DJANGO_SETTINGS_MODULE"]).release_static_url
    if settings.STATIC_URL != expected:
        report("error", "STATIC_URL", "is %r, but nginx serves this release's collected files at %s: every asset would answer 404"
               % (settings.STATIC_URL, expected),
               "remove STATIC_URL from %s and turn overrides.static back on (each release's files then have a URL of their own), or set STATIC_URL = %r there"
               % (APP_SETTINGS, expected))


def check_wsgi_module():
    """An app's wsgi.py that assigns DJANGO_SETTINGS_MODULE would run gunicorn's workers without
    the platform's settings module (and usually with a module only the app's authors' servers have)."""
    try:
        with open(GUNICORN_JSON, encoding="utf-8") as f:
            wsgi = json.load(f)["wsgi"]
    except (OSError, ValueError, KeyError):
        return
    if wsgi == "django":
        return
    base = os.path.join(RELEASE, *wsgi.split(":")[0].split("."))
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        forced = FORCED_SETTINGS.search(text)
        if forced:
            report("error", "wsgi", "%s:%d sets DJANGO_SETTINGS_MODULE = %s itself (not os.environ.setdefault): gunicorn would run the app without the platform's settings module"
                   % (shown(path), text.count("\n", 0, forced.start()) + 1, forced.group(2)),
                   "set `wsgi: django` for %s in apps.yaml (Django's own WSGI handler under the platform's settings)" % APP)
        return


def collected(name):
    """True when collectstatic collected NAME (a manifest storage also knows its hashed name)."""
    if hasattr(staticfiles_storage, "stored_name"):
        try:
            staticfiles_storage.stored_name(name)
        except ValueError:
            return False
        return True
    return staticfiles_storage.exists(name)


def check_page_assets():
    manifest = hasattr(staticfiles_storage, "stored_name")
    seen = set()
    for path in release_files((".html", ".htm", ".txt")):
        with open(path, encoding="utf-8", errors="replace") as f:
            names = [m.group(2) for m in STATIC_TAG.finditer(f.read())]
        for name in names:
            if (path, name) in seen or collected(name):
                continue
            seen.add((path, name))
            if manifest:
                what = "%s links {%% static %r %%}, which collectstatic did not collect: the page answers HTTP 500 (ValueError: Missing staticfiles manifest entry)" % (shown(path), name)
            else:
                what = "%s links {%% static %r %%}, which collectstatic did not collect: the page's asset answers 404" % (shown(path), name)
            report("error" if manifest else "warning", "STATICFILES_DIRS", what,
                   "add the file to the app's static directory (STATICFILES_DIRS or an app's static/) or correct the name")


def check_ssl_redirect():
    if not settings.SECURE_SSL_REDIRECT:
        return
    path = HEALTH_PATH.lstrip("/")
    if any(re.search(p, path) for p in settings.SECURE_REDIRECT_EXEMPT):
        return
    report("error", "SECURE_SSL_REDIRECT", "is True: the health check (plain HTTP to gunicorn on the node, %s) would get HTTP 301 to https" % HEALTH_PATH,
           "set SECURE_SSL_REDIRECT = False in %s (nginx redirects to HTTPS when the app has a certificate), or add %r to SECURE_REDIRECT_EXEMPT"
           % (APP_SETTINGS, "^%s$" % re.escape(path)))


def committed_at(value):
    for path in release_files(TEXT_SUFFIXES):
        with open(path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                if value in line:
                    return "%s:%d" % (shown(path), number)
    return None


def check_committed_secret_key():
    own = getattr(importlib.import_module(APP_SETTINGS), "SECRET_KEY", "")
    if not own or own in (ENV.get("SECRET_KEY"), ENV.get("DJANGO_SECRET_KEY")):
        return
    where = committed_at(own)
    if where is None:
        return
    if override_off("secretKey"):
        what, fix = ("the key in use is committed in the repository (%s) and the platform's does not replace it (overrides.secretKey: false)" % where,
                     "read it from the environment (SECRET_KEY or DJANGO_SECRET_KEY), remove it from the repository and rotate it")
    else:
        what, fix = ("a key is committed in the repository (%s); the platform's SECRET_KEY replaces it" % where,
                     "remove it from the repository (and rotate any copy in use elsewhere)")
    report("warning", "SECRET_KEY", what, fix)


def check_deploy():
    fail_on_warnings = DEPLOY_CHECKS == "fail"
    # What the checks above say already, with the fix in this platform's terms.
    covered = {"security.W018"} if settings.DEBUG else set()
    for message in checks.run_checks(include_deployment_checks=True):
        if message.is_silenced() or message.id in covered:
            continue
        text = str(message.msg).replace("\n", " ")
        hint = str(message.hint or "see Django's deployment checklist").replace("\n", " ")
        fatal = message.level >= checks.ERROR or (fail_on_warnings and message.level >= checks.WARNING)
        report("error" if fatal else "warning", "check --deploy %s" % message.id, text, hint.rstrip("."))


def main():
    platform = importlib.import_module(ENV["DJANGO_SETTINGS_MODULE"])
    print("platform set: %s" % (", ".join(getattr(platform, "platform_set", [])) or "nothing"))
    for line in getattr(platform, "platform_not_set", []):
        print("platform did not set: %s" % line)
    for check in (check_debug, check_allowed_hosts, check_static_url, check_wsgi_module, check_page_assets, check_ssl_redirect, check_committed_secret_key, check_deploy):
        check()
    for level, line in sorted(problems, key=lambda p: p[0] != "error"):
        print("%s: %s" % (level, line))
    return 1 if any(level == "error" for level, _ in problems) else 0


if __name__ == "__main__":
    sys.exit(main())
