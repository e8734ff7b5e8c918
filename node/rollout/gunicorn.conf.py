"""gunicorn settings of one fleet app: /srv/APP/shared/gunicorn.conf.py (copied by prepare.sh).

gunicorn reads this file again on every graceful reload (HUP) and re-exec (USR2), so the
release it points at, the app's environment and the listen address are re-read each time:
  - chdir is the real path behind /srv/APP/current at (re)load time, so new workers import
    the new release while old workers finish their requests in the old one;
  - raw_env is the app's environment file (written from stdin by prepare.sh) plus the
    release's own STATIC_ROOT (its ManifestStaticFilesStorage manifest), settings module and tag/commit;
  - bind, wsgi_app, workers and timeout come from shared/gunicorn.json (written by prepare.sh
    from the app's `workers` and `timeout` in apps.yaml, or the stack's fleet:deploy defaults).
"""
import json
import os
import shlex
import sys

_shared = os.path.dirname(os.path.abspath(__file__))
_app_dir = os.path.dirname(_shared)
_release = os.path.realpath(os.path.join(_app_dir, "current"))

with open(os.path.join(_shared, "gunicorn.json"), encoding="utf-8") as _f:
    _cfg = json.load(_f)


def _read(path, default=""):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except FileNotFoundError:
        return default


def _app_env():
    """NAME='value' lines, quoted for sh by the deployment; shlex undoes the quoting."""
    env = {}
    with open(os.path.join(_shared, "env"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, value = shlex.split(line)[0].partition("=")
            env[name] = value
    env["STATIC_ROOT"] = os.path.join(_release, ".fleet", "static")
    # A release staged with the platform's settings module runs with it (it imports the app's
    # own, FLEET_APP_SETTINGS); one staged before it existed keeps the app's (lib.sh: release_python).
    if os.path.exists(os.path.join(_release, "fleet_platform_settings.py")):
        env["DJANGO_SETTINGS_MODULE"] = "fleet_platform_settings"
    env["FLEET_RELEASE_TAG"] = _read(os.path.join(_release, ".fleet", "tag"), "unknown")
    env["FLEET_RELEASE_COMMIT"] = _read(os.path.join(_release, ".fleet", "commit"), "unknown")
    return env


# gunicorn puts chdir first on sys.path only when it is not on it yet: after v1 -> v2 -> v1
# the v1 entry would sit behind v2's and new workers would import v2. Keep exactly one
# release of this app on the path, first.
_releases = os.path.join(_app_dir, "releases") + os.sep
sys.path[:] = [_release] + [p for p in sys.path if not p.startswith(_releases)]

chdir = _release
wsgi_app = _cfg["wsgi"]
bind = ["%s:%d" % (_cfg["address"], _cfg["port"])]
workers = int(_cfg["workers"])
raw_env = ["%s=%s" % kv for kv in sorted(_app_env().items())]
pidfile = os.path.join(_shared, "run", "gunicorn.pid")
errorlog = os.path.join(_shared, "log", "gunicorn.log")
proc_name = "gunicorn-" + os.path.basename(_app_dir)
timeout = int(_cfg["timeout"])
graceful_timeout = 30


def post_worker_init(worker):
    # The deployment waits for this mark: a worker of this master has imported the app.
    with open(os.path.join(_shared, "run", "booted.%d" % os.getppid()), "w", encoding="utf-8"):
        pass


def _forget_start_dir(server):
    # A USR2 re-exec first changes into the directory the master started in; that release
    # may have been pruned since, so re-exec from / (this file sets chdir again anyway).
    server.START_CTX["cwd"] = "/"


when_ready = _forget_start_dir
on_reload = _forget_start_dir
