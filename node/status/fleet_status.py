"""What runs on one host, read-only, as one JSON object on stdout (`npm run status`).

    python3 - node ROOT APP,ADDRESS,PORT,DOMAIN,HEALTH_PATH ...   (an app node; as the deploy user, no sudo)
    python3 - edge CONF_DIR MARKER SKIP                             (an nginx host; SKIP: the server-names file)

Sent on stdin by rollout/fleetStatus.ts, never copied to the host: the same text reads every
host whatever scripts version it has. It changes nothing: it reads files, asks systemd or the
pidfile whether gunicorn runs, and GETs the app's health path on this node with its Host.
node: {"kind": "node", "apps": {APP: {"tag", "commit", "previous", "processes", "health", "pendingSwitch"}}}
edge: {"kind": "edge", "sites": {APP_NAME: {"upstream": ["ADDRESS:PORT", ...], "weights": {...}, "maintenance": bool}}}
"""
import glob
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

SPEC = re.compile(r"^(app_[a-z0-9_-]{1,27}),([0-9.]{7,15}),([0-9]{4,5}),([a-z0-9.-]{1,253}),(/[A-Za-z0-9._~/-]*)$")


def read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return None


def processes(user, home):
    if os.path.isdir("/run/systemd/system"):
        r = subprocess.run(["systemctl", "is-active", "gunicorn@" + user], capture_output=True, text=True, check=False)
        return "running" if r.stdout.strip() == "active" else (r.stdout.strip() or "stopped")
    pid = read(os.path.join(home, "shared", "run", "gunicorn.pid"))
    if pid and pid.isdigit() and "gunicorn" in (read("/proc/%s/cmdline" % pid) or ""):
        return "running"
    return "stopped"


def health(address, port, domain, path):
    req = urllib.request.Request("http://%s:%s%s" % (address, port, path), headers={"Host": domain})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return "ok" if 200 <= r.status < 300 else "HTTP %d" % r.status
    except urllib.error.HTTPError as e:
        return "HTTP %d" % e.code
    except OSError as e:
        return str(getattr(e, "reason", e))[:120]


def release_of(link):
    target = os.path.realpath(link) if os.path.islink(link) else None
    if target is None or not os.path.isdir(target):
        return None, None
    return read(os.path.join(target, ".fleet", "tag")), read(os.path.join(target, ".fleet", "commit"))


def node(root, specs):
    apps = {}
    for spec in specs:
        m = SPEC.match(spec)
        if not m:
            sys.exit("fleet_status: bad app spec %r (APP,ADDRESS,PORT,DOMAIN,HEALTH_PATH)" % spec)
        user, address, port, domain, path = m.groups()
        home = os.path.join(root, user)
        if not os.path.isdir(home):
            apps[user] = {"tag": None, "commit": None, "previous": None, "processes": "absent", "health": "absent", "pendingSwitch": False}
            continue
        tag, commit = release_of(os.path.join(home, "current"))
        previous, _ = release_of(os.path.join(home, "previous"))
        apps[user] = {
            "tag": tag,
            "commit": commit,
            "previous": previous,
            "processes": processes(user, home),
            "health": health(address, port, domain, path),
            # switch.sh's new link, left when a switch was killed between its ln and its mv.
            "pendingSwitch": os.path.lexists(os.path.join(home, ".current.new")),
        }
    return {"kind": "node", "apps": apps}


UPSTREAM_SERVER = re.compile(r"^\s*server\s+([0-9.]+:[0-9]+)([^;]*);")


def edge(conf_dir, marker, skip):
    sites = {}
    for conf in sorted(glob.glob(os.path.join(conf_dir, "fleet-*.conf"))):
        if os.path.basename(conf) == skip:
            continue
        name = os.path.basename(conf)[len("fleet-"):-len(".conf")]
        text = read(conf) or ""
        upstream, weights = [], {}
        in_upstream = False
        for line in text.splitlines():
            if line.startswith("upstream "):
                in_upstream = True
            elif in_upstream and line.startswith("}"):
                in_upstream = False
            elif in_upstream:
                m = UPSTREAM_SERVER.match(line)
                if m:
                    upstream.append(m.group(1))
                    w = re.search(r"\bweight=([0-9]+)", m.group(2))
                    weights[m.group(1)] = int(w.group(1)) if w else 1
        sites[name] = {"upstream": upstream, "weights": weights, "maintenance": marker in text}
    return {"kind": "edge", "sites": sites}


def main(argv):
    if len(argv) >= 2 and argv[0] == "node":
        print(json.dumps(node(argv[1], argv[2:]), sort_keys=True))
    elif len(argv) == 4 and argv[0] == "edge":
        print(json.dumps(edge(argv[1], argv[2], argv[3]), sort_keys=True))
    else:
        sys.exit("usage: fleet_status.py node ROOT SPEC... | edge CONF_DIR MARKER SKIP")


main(sys.argv[1:])
