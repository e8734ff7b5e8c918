"""gunicorn settings of one fleet app: /srv/APP/shared/gunicorn.conf.py (copied by prepare.sh).

gunicorn reads this file again on every re-exec (USR2, the deployment's only reload), so the
release it points at, the app's environment and the listen address are re-read each time:
  - chdir is the real path behind /srv/APP/current at (re)load time, so new workers import
    the new release while old workers finish their requests in the old one;
  - raw_env is the app's environment file (written from stdin by prepare.sh) plus the
    release's own STATIC_ROOT (its ManifestStaticFilesStorage manifest), settings module and tag/commit;
  - bind, wsgi_app, workers and timeout come from shared/gunicorn.json (written by prepare.sh
    from the app's `wsgi`, `workers` and `timeout` in apps.yaml, or the stack's fleet:deploy defaults),
    and so do the app's paths (rollout/layout.ts APP_LAYOUT, through lib-rules.sh).
"""
import array
import json
import os
import select
import shlex
import signal
import socket
import sys

_shared = os.path.dirname(os.path.abspath(__file__))

with open(os.path.join(_shared, "gunicorn.json"), encoding="utf-8") as _f:
    _cfg = json.load(_f)

_release = os.path.realpath(_cfg["current"])


def _read(path, default=""):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except FileNotFoundError:
        return default


def _app_env():
    """NAME='value' lines, quoted for sh by the deployment; shlex undoes the quoting."""
    env = {}
    with open(_cfg["env"], encoding="utf-8") as f:
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
_releases = _cfg["releases"] + os.sep
sys.path[:] = [_release] + [p for p in sys.path if not p.startswith(_releases)]

# `wsgi: django` (apps.yaml): Django's own handler, never the app's wsgi.py, for an app whose
# wsgi.py sets DJANGO_SETTINGS_MODULE itself (to a module only its authors' servers have): the
# handler then runs under raw_env's DJANGO_SETTINGS_MODULE, the platform's settings module.
DJANGO_WSGI = "django.core.wsgi:get_wsgi_application()"

chdir = _release
wsgi_app = DJANGO_WSGI if _cfg["wsgi"] == "django" else _cfg["wsgi"]
bind = ["%s:%d" % (_cfg["address"], _cfg["port"])]
workers = int(_cfg["workers"])
raw_env = ["%s=%s" % kv for kv in sorted(_app_env().items())]
pidfile = _cfg["pidfile"]
errorlog = _cfg["errorlog"]
proc_name = "gunicorn-" + _cfg["app"]
timeout = int(_cfg["timeout"])
graceful_timeout = 30


def _stderr_is_journal():
    """Under systemd stderr is a journald stream (JOURNAL_STREAM names it: device:inode)."""
    try:
        st = os.fstat(2)
    except OSError:
        return False
    return os.environ.get("JOURNAL_STREAM") == "%d:%d" % (st.st_dev, st.st_ino)


if _stderr_is_journal():
    errorlog = "-"  # journald keeps it (journalctl -u gunicorn@USER), with the unit's other lines


def _pid_in(path):
    try:
        return int(_read(path, "0") or 0)
    except ValueError:
        return 0


def _notify_systemd(state):
    """sd_notify(3) then sd_notify_barrier(3): returns once systemd has processed STATE."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    done, barrier = os.pipe()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(address)
            s.sendall(state.encode())
            s.sendmsg([b"BARRIER=1"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [barrier]))])
        os.close(barrier)
        barrier = -1
        select.select([done], [], [], 5)  # systemd closes its copy once it processed what came before
    finally:
        os.close(done)
        if barrier >= 0:
            os.close(barrier)


def _take_over(master):
    """A re-exec'd master (USR2) whose workers all imported the app replaces the old master:
    it becomes the unit's main process (systemd would otherwise take the old master's exit for
    the service's end), then the old one stops gracefully (its workers finish their requests)."""
    old = _pid_in(pidfile)
    if _pid_in(pidfile + ".2") != master or old in (0, master):
        return  # not a re-exec'd master, or the old one is gone already
    _notify_systemd("MAINPID=%d" % master)
    try:
        os.kill(old, signal.SIGTERM)
    except ProcessLookupError:
        pass


def post_worker_init(worker):
    # The deployment waits for these marks: run/booted.<master>/<worker>, one per worker of that
    # master that imported the app. When the last one has, a re-exec'd master takes over.
    master = os.getppid()
    marks = os.path.join(_cfg["run"], "booted.%d" % master)
    os.makedirs(marks, exist_ok=True)
    with open(os.path.join(marks, str(os.getpid())), "w", encoding="utf-8"):
        pass
    if len(os.listdir(marks)) >= worker.cfg.workers:
        _take_over(master)


def _forget_start_dir(server):
    # A USR2 re-exec first changes into the directory the master started in; that release
    # may have been pruned since, so re-exec from / (this file sets chdir again anyway).
    server.START_CTX["cwd"] = "/"


when_ready = _forget_start_dir
on_reload = _forget_start_dir
