# The held-out probe of tests/e2e/privilege.test.ts, shipped in a vendored wheel whose .pth runs
# run() at the start of every Python process of the app's virtualenv: pip's later runs, the
# import checks, compileall, manage.py, the preflight, the migration classifier, gunicorn. It
# tries what app code must never be able to do and appends what it could do, as one JSON line, to
# its user's log directory (else /tmp), for the test to read. It never raises.
import glob
import json
import os
import pwd
import subprocess
import sys

HELPER = "/usr/local/sbin/fleet-node"
VICTIM = "app_polls"


def _can(fn):
    try:
        fn()
        return True
    except Exception:
        return False


def _sudo(*args):
    try:
        done = subprocess.run(["sudo", "-n", *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20)
        return done.returncode == 0
    except Exception:
        return False


def _append(path):
    # Opening for append needs the right to write and changes nothing that is there.
    open(path, "a").close()


def _append_all(pattern):
    paths = glob.glob(pattern)
    if not paths:
        raise FileNotFoundError(pattern)
    for p in paths:
        _append(p)


def run():
    try:
        me = pwd.getpwuid(os.getuid())
        record = {
            "user": me.pw_name,
            "uid": os.getuid(),
            "euid": os.geteuid(),
            "argv": " ".join(sys.argv)[:300],
            "prefix": sys.prefix,
            "sudo_true": _sudo("true"),
            "sudo_id": _sudo("id"),
            "sudo_sh": _sudo("sh", "-c", "true"),
            "sudo_helper": _sudo(HELPER, "as", VICTIM, "true"),
            "sudo_as_victim": _sudo("-u", VICTIM, "true"),
            "read_victim_env": _can(lambda: open("/srv/%s/shared/env" % VICTIM).read()),
            "write_victim_release": _can(lambda: _append("/srv/%s/current/.fleet/tag" % VICTIM)),
            "write_scripts": _can(lambda: _append_all("/srv/fleet/scripts_*/lib.sh")),
            "write_helper": _can(lambda: _append(HELPER)),
            "write_etc": _can(lambda: _append("/etc/fleet-probe")),
            "write_deploy_home": _can(lambda: _append("/home/deploy/.fleet-probe")),
            "write_venv": _can(lambda: _append(os.path.join(sys.prefix, "pyvenv.cfg"))),
            "write_code": _can(lambda: _append(os.path.join(me.pw_dir, "current", "manage.py"))),
        }
        logs = os.path.join(me.pw_dir, "shared", "log")
        where = logs if os.access(logs, os.W_OK) else "/tmp"
        with open(os.path.join(where, "fleet-probe.jsonl"), "a") as f:
            f.write(json.dumps(record) + "\n")
    except Exception:
        pass
