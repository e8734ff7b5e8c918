#!/usr/bin/python3 -I
# fleet-node: everything the deploy user may do as root on an app node, and nothing else.
#
# Installed root-owned by cloud-init (render/cloudInit.ts, as @NODE_HELPER@) with the
# sudoers rule that lets the deploy user run this file, and only this file, as root. The
# rollout's scripts in @SCRIPTS_ROOT@ belong to the deploy user (the Pulumi engine copies new
# versions there), so they are never what root runs: root runs this fixed entry point, whose
# every argument is checked here, against the values cloud-init put in when it rendered it.
# A change to this file is new user data: new nodes (docs/infrastructure.md, "Who runs what").
#
# Paths are opened one component at a time without following symlinks (the deploy user owns
# /srv/APP and could put a link anywhere in it), and every change is made through the opened
# directory, so nothing here writes, chowns or removes outside the app's own directories.
import grp
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys

APPS_ROOT = "@APPS_ROOT@"
SCRIPTS_ROOT = "@SCRIPTS_ROOT@"
HEAVY_DIRS = ["@HEAVY_SLOTS_DIR@", "@HEAVY_LOG_DIR@"]
OS_USER = re.compile(r"@OS_USER_PATTERN@")
# An app's background process or schedule (config/processes.ts, config/patterns.ts): its name, its
# command (words of safe characters: systemd splits them, no shell reads them) and its calendar.
PROCESS_NAME = re.compile(r"@PROCESS_NAME_PATTERN@")
COMMAND = re.compile(r"@COMMAND_PATTERN@")
COMMAND_MAX = int("@COMMAND_MAX_LENGTH@")
ON_CALENDAR = re.compile(r"@ON_CALENDAR_PATTERN@")
MEMORY_MB = (int("@PROCESS_MEMORY_MIN@"), int("@PROCESS_MEMORY_MAX@"))
STOP_SECONDS = (int("@PROCESS_STOP_MIN@"), int("@PROCESS_STOP_MAX@"))
UNIT_DIR = "/etc/systemd/system"
# A release directory's name (a tag with '/' flattened to '+') or a virtualenv's hash.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
SHARED_FILES = ("gunicorn.conf.py", "gunicorn_main.py", "fleet_run.sh", "fleet_schedule.py")
# Where build-dir, seal and static-dir work: KIND -> (directory under the app's home, prefix).
BUILDS = {"release": ("releases", ".partial-"), "venv": ("venvs", "")}
# What rm removes: KIND -> (directory under the app's home, prefix).
REMOVABLE = {"release": ("releases", ""), "partial": ("releases", ".partial-"), "venv": ("venvs", "")}
UNIT_ACTIONS = {
    "start": [["reset-failed", "--quiet"], ["enable", "--now", "--quiet"]],
    "stop": [["disable", "--now", "--quiet"]],
    "reload": [["reload"]],
    "restart": [["restart"]],
}
# What `process APP NAME ACTION` does with a process's unit.
PROCESS_ACTIONS = ("restart", "release", "log")
UNIT_KINDS = ("process", "schedule")
# `logs APP WHICH SINCE MODE`: WHICH is web, a process or schedule name, or - (all of the app's).
LOG_MODES = {"once": [], "follow": ["--follow"]}
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def die(message):
    sys.stderr.write("fleet: error: %s\n" % message)
    sys.exit(1)


def caller():
    """The user who ran sudo (sudo sets SUDO_USER; the caller cannot choose it)."""
    name = os.environ.get("SUDO_USER", "")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        die("run this through sudo, as the deploy user")
    if entry.pw_uid == 0:
        die("run this through sudo, as the deploy user")
    return entry


def app_user(name, must_exist=True):
    """An app's user: the platform's name shape, an ordinary user in its own group only, at home in APPS_ROOT/NAME."""
    if not OS_USER.fullmatch(name):
        die("app user '%s' is not allowed (must match %s)" % (name, OS_USER.pattern))
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        if must_exist:
            die("user %s does not exist on this node (prepare.sh makes it)" % name)
        return None
    if entry.pw_uid == 0:
        die("user %s has uid 0: an app's user is an ordinary system user; remove it (userdel %s) and rerun" % (name, name))
    if entry.pw_uid == caller().pw_uid:
        die("user %s is the deploy user" % name)
    groups = [grp.getgrgid(g).gr_name for g in os.getgrouplist(name, entry.pw_gid)]
    if groups != [name]:
        others = " ".join(g for g in groups if g != name)
        die("user %s is also in group(s) %s: an app's user is in its own group only; remove it from the others (gpasswd -d %s GROUP)" % (name, others, name))
    if entry.pw_dir != home_of(name):
        die("user %s has the home %s, not %s: it is not an app's user" % (name, entry.pw_dir, home_of(name)))
    return entry


def home_of(name):
    return "%s/%s" % (APPS_ROOT, name)


def open_dir(path):
    """A descriptor of the directory PATH (absolute), reached without following any symlink."""
    fd = os.open("/", DIR_FLAGS)
    try:
        for part in [p for p in path.split("/") if p]:
            nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
    except OSError as e:
        os.close(fd)
        die("%s: %s (a symlink or a missing directory where the platform expects its own)" % (path, e.strerror))
    return fd


def check_name(name):
    if not NAME.fullmatch(name):
        die("name '%s' is not allowed (must match %s)" % (name, NAME.pattern))


def remove_entry(dfd, name):
    """Removes NAME in the directory DFD, whatever it is, never following a link (rmtree with a dir_fd does not)."""
    try:
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dfd)
    else:
        os.unlink(name, dir_fd=dfd)


def fresh_dir(dfd, name, uid, gid, mode):
    """NAME in DFD as a new, empty directory of uid:gid (whatever was there is gone)."""
    remove_entry(dfd, name)
    os.mkdir(name, mode, dir_fd=dfd)
    fd = os.open(name, DIR_FLAGS, dir_fd=dfd)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def seal_tree(fd, uid, gid, where):
    """Hands the tree at FD to uid:gid, writable by that owner only, with no set-id bits. Top-down:
    a directory is sealed before its entries are listed, so a process of the builder still running
    can no longer add, rename or remove anything in it, and nothing can move from a part not yet
    sealed into one that is. Symlinks are handed over themselves, never followed."""
    os.fchown(fd, uid, gid)
    os.fchmod(fd, stat.S_IMODE(os.fstat(fd).st_mode) & 0o755)
    for entry in os.scandir(fd):
        st = os.stat(entry.name, dir_fd=fd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            os.chown(entry.name, uid, gid, dir_fd=fd, follow_symlinks=False)
        elif stat.S_ISDIR(st.st_mode):
            sub = os.open(entry.name, DIR_FLAGS, dir_fd=fd)
            try:
                seal_tree(sub, uid, gid, "%s/%s" % (where, entry.name))
            finally:
                os.close(sub)
        elif stat.S_ISREG(st.st_mode):
            f = os.open(entry.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
            try:
                fst = os.fstat(f)
                if fst.st_nlink > 1:
                    die("%s/%s has %d hard links: a build makes none" % (where, entry.name, fst.st_nlink))
                os.fchown(f, uid, gid)
                os.fchmod(f, stat.S_IMODE(fst.st_mode) & 0o755)
            finally:
                os.close(f)
        else:
            # A fifo or a socket is nothing a release or a virtualenv needs.
            os.unlink(entry.name, dir_fd=fd)


def build_parent(app, kind):
    sub, prefix = BUILDS[kind]
    return open_dir("%s/%s" % (home_of(app), sub)), prefix


def cmd_build_dir(app, kind, name):
    """A fresh directory the app's user builds a release or a virtualenv in (stage.sh)."""
    entry = app_user(app)
    check_name(name)
    dfd, prefix = build_parent(app, kind)
    fresh_dir(dfd, prefix + name, entry.pw_uid, entry.pw_gid, 0o755)


def cmd_seal(app, kind, name):
    """What the app's user built becomes the deploy user's, readable by the app, not writable by it."""
    entry = app_user(app)
    check_name(name)
    dfd, prefix = build_parent(app, kind)
    fd = os.open(prefix + name, DIR_FLAGS, dir_fd=dfd)
    seal_tree(fd, caller().pw_uid, entry.pw_gid, prefix + name)


def cmd_static_dir(app, name):
    """The release's .fleet/static, the app's own: collectstatic writes there (stage.sh)."""
    entry = app_user(app)
    check_name(name)
    dfd = open_dir("%s/releases/.partial-%s/.fleet" % (home_of(app), name))
    fresh_dir(dfd, "static", entry.pw_uid, entry.pw_gid, 0o755)


def cmd_rm(app, kind, name):
    """Removes a release, a partial build or a virtualenv of the app (prune.sh, stage.sh)."""
    app_user(app)
    check_name(name)
    sub, prefix = REMOVABLE[kind]
    remove_entry(open_dir("%s/%s" % (home_of(app), sub)), prefix + name)


def cmd_user(app):
    """The app's system user, made if missing; refused if it has more rights than an app's user."""
    if app_user(app, must_exist=False) is None:
        subprocess.run(["useradd", "--system", "--user-group", "--home-dir", home_of(app), "--no-create-home", "--shell", "/usr/sbin/nologin", app], check=True)
        app_user(app)
    listed = subprocess.run(["sudo", "-n", "-l", "-U", app], capture_output=True, text=True)
    if "may run" in listed.stdout:
        die("user %s may run sudo: an app's user may not; remove its sudoers rule" % app)


def cmd_dirs(app):
    """The app's directories: code and virtualenvs belong to the deploy user and are only readable
    by the app, so the app cannot rewrite its own code; run/ and log/ are the app's."""
    entry = app_user(app)
    deployer = caller().pw_uid
    root = open_dir(APPS_ROOT)
    layout = [(None, app, deployer, 0o750), (app, "releases", deployer, 0o750), (app, "venvs", deployer, 0o750),
              (app, "shared", deployer, 0o750), (app + "/shared", "run", entry.pw_uid, 0o755), (app + "/shared", "log", entry.pw_uid, 0o750)]
    for parent, name, uid, mode in layout:
        dfd = root if parent is None else open_dir("%s/%s" % (APPS_ROOT, parent))
        try:
            os.mkdir(name, mode, dir_fd=dfd)
        except FileExistsError:
            pass
        fd = os.open(name, DIR_FLAGS, dir_fd=dfd)
        os.fchown(fd, uid, entry.pw_gid)
        os.fchmod(fd, mode)
        os.close(fd)


def write_file(app_dir, name, data, uid, gid, mode):
    """NAME in APP_DIR/shared replaced atomically by DATA (uid:gid, MODE)."""
    dfd = open_dir(app_dir + "/shared")
    tmp = ".%s.new" % name
    remove_entry(dfd, tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dfd)
    with os.fdopen(fd, "wb") as f:
        os.fchown(f.fileno(), uid, gid)
        os.fchmod(f.fileno(), mode)
        f.write(data)
    os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)


def cmd_shared(app, name):
    """One of gunicorn's files (stdin) into shared/: the deploy user's, readable by the app."""
    entry = app_user(app)
    if name not in SHARED_FILES:
        die("shared file '%s' is not allowed (%s)" % (name, ", ".join(SHARED_FILES)))
    write_file(home_of(app), name, sys.stdin.buffer.read(), caller().pw_uid, entry.pw_gid, 0o640)


def cmd_env(app):
    """The app's environment file from stdin, readable by the app only; prints changed or same."""
    entry = app_user(app)
    data = sys.stdin.buffer.read()
    dfd = open_dir(home_of(app) + "/shared")
    try:
        fd = os.open("env", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
        with os.fdopen(fd, "rb") as f:
            same = f.read() == data
    except FileNotFoundError:
        same = False
    write_file(home_of(app), "env", data, entry.pw_uid, entry.pw_gid, 0o600)
    print("same" if same else "changed")


def cmd_remove(app):
    """Deletes the app's files and user from this node (prepare.sh --remove stopped it first)."""
    if not OS_USER.fullmatch(app):
        die("app user '%s' is not allowed (must match %s)" % (app, OS_USER.pattern))
    remove_entry(open_dir(APPS_ROOT), app)
    try:
        pwd.getpwnam(app)
    except KeyError:
        return
    app_user(app)
    subprocess.run(["userdel", app], check=True)


def cmd_unit(app, action):
    """gunicorn@APP: start (enabled, so it comes back after a reboot), stop, reload, restart."""
    app_user(app)
    if action not in UNIT_ACTIONS:
        die("unit action '%s' is not allowed (%s)" % (action, ", ".join(UNIT_ACTIONS)))
    status = 0
    for args in UNIT_ACTIONS[action]:
        quiet = subprocess.DEVNULL if args[0] == "reset-failed" else None  # a unit that never failed
        status = subprocess.run(["systemctl", *args, "gunicorn@%s.service" % app], stderr=quiet).returncode
    sys.exit(status)


def cmd_journal(app, since):
    """What gunicorn@APP logged since the epoch time SINCE (lib-gunicorn.sh: its boot error)."""
    app_user(app)
    if not re.fullmatch(r"[0-9]{1,12}(\.[0-9]{1,9})?", since):
        die("since '%s' is not allowed (seconds since the epoch)" % since)
    sys.exit(subprocess.run(["journalctl", "--quiet", "--no-pager", "-o", "cat", "-u", "gunicorn@%s.service" % app, "--since", "@" + since]).returncode)


# ---- an app's processes and schedules (node/rollout/processes.sh) ---------------------------------
# Each is a systemd unit of its own (its own cgroup) under a fixed name, whose text is rendered
# here from checked values only: the caller names the app, the process and its numbers and words,
# never a line of the unit.


def check_process_name(name):
    if not PROCESS_NAME.fullmatch(name):
        die("process name '%s' is not allowed (must match %s)" % (name, PROCESS_NAME.pattern))


def shown(value):
    """VALUE in a one-line message: its start, a line break or a control character escaped."""
    return value[:80].encode("unicode_escape").decode("ascii")


def check_command(command):
    if len(command) > COMMAND_MAX or not COMMAND.fullmatch(command):
        die("command '%s' is not allowed (at most %d characters matching %s)" % (shown(command), COMMAND_MAX, COMMAND.pattern))


def check_number(what, value, bounds):
    if not re.fullmatch(r"[1-9][0-9]{0,5}", value) or not bounds[0] <= int(value) <= bounds[1]:
        die("%s '%s' is not allowed (a whole number from %d to %d)" % (what, value, bounds[0], bounds[1]))


def unit_name(app, kind, name, suffix):
    return "fleet-%s-%s:%s.%s" % (kind, app, name, suffix)


def unit_files(app, kind, name):
    return [unit_name(app, kind, name, s) for s in (("service",) if kind == "process" else ("service", "timer"))]


def service_common(app):
    """What every unit of the app's runs as, and where: the app's user in the serving release."""
    home = home_of(app)
    return ("User=%s\nGroup=%s\nWorkingDirectory=%s/current\nNoNewPrivileges=true\nPrivateTmp=true\nProtectSystem=full\n" % (app, app, home))


def process_unit_text(app, name, memory_mb, stop_seconds, command):
    """A process: restart on failure, SIGTERM then STOP_SECONDS then SIGKILL, MemoryMax, as APP in
    APP's current release, through shared/fleet_run.sh (the app's environment, the release's Python)."""
    check_process_name(name)
    check_number("memory (MiB)", memory_mb, MEMORY_MB)
    check_number("stop seconds", stop_seconds, STOP_SECONDS)
    check_command(command)
    home = home_of(app)
    return (
        "# fleet: process %(name)s of %(app)s, written by fleet-node (apps.yaml: processes)\n"
        "[Unit]\nDescription=fleet %(app)s: process %(name)s\nAfter=network-online.target\n"
        "ConditionPathExists=%(home)s/current\nStartLimitIntervalSec=0\n\n"
        "[Service]\nType=exec\n%(common)sExecStart=/bin/sh %(home)s/shared/fleet_run.sh %(command)s\n"
        "Restart=on-failure\nRestartSec=2\nKillSignal=SIGTERM\nTimeoutStopSec=%(stop)s\nMemoryMax=%(memory)sM\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    ) % {"name": name, "app": app, "home": home, "common": service_common(app), "command": command, "stop": stop_seconds, "memory": memory_mb}


def schedule_unit_texts(app, name, on_calendar, command):
    """A schedule: a timer on every node, and the one run it starts (fleet_schedule.py, through
    fleet_run.sh --schedule, lets one node run each time: docs/rollout.md)."""
    check_process_name(name)
    if not ON_CALENDAR.fullmatch(on_calendar):
        die("calendar '%s' is not allowed (must match %s)" % (shown(on_calendar), ON_CALENDAR.pattern))
    check_command(command)
    home = home_of(app)
    values = {"name": name, "app": app, "home": home, "common": service_common(app), "command": command,
              "calendar": on_calendar, "service": unit_name(app, "schedule", name, "service")}
    service = (
        "# fleet: one run of schedule %(name)s of %(app)s, started by its timer on every node; fleet_schedule.py lets one node run each time\n"
        "[Unit]\nDescription=fleet %(app)s: schedule %(name)s\nConditionPathExists=%(home)s/current\n\n"
        "[Service]\nType=oneshot\n%(common)sExecStart=/bin/sh %(home)s/shared/fleet_run.sh --schedule %(name)s %(command)s\n"
    ) % values
    timer = (
        "# fleet: the times of schedule %(name)s of %(app)s (apps.yaml: schedules, cron in UTC)\n"
        "[Unit]\nDescription=fleet %(app)s: times of schedule %(name)s\n\n"
        "[Timer]\nOnCalendar=%(calendar)s\nAccuracySec=1s\nPersistent=false\nUnit=%(service)s\n\n"
        "[Install]\nWantedBy=timers.target\n"
    ) % values
    return {unit_name(app, "schedule", name, "service"): service, unit_name(app, "schedule", name, "timer"): timer}


def put_units(texts):
    """Writes each unit whose text differs (root's, 0644), then reloads systemd; True if one changed."""
    dfd = open_dir(UNIT_DIR)
    changed = False
    for unit, text in texts.items():
        data = text.encode()
        try:
            fd = os.open(unit, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
            with os.fdopen(fd, "rb") as f:
                if f.read() == data:
                    continue
        except FileNotFoundError:
            pass
        tmp = ".%s.new" % unit
        remove_entry(dfd, tmp)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dfd)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.rename(tmp, unit, src_dir_fd=dfd, dst_dir_fd=dfd)
        changed = True
    if changed:
        systemctl("daemon-reload")
    return changed


def systemctl(*args, quiet=False):
    return subprocess.run(["systemctl", *args], stderr=subprocess.DEVNULL if quiet else None).returncode


def cmd_process_unit(app, name, memory_mb, stop_seconds, command):
    """The unit of process NAME (enabled: it comes back after a reboot); prints changed or same.
    processes.sh restarts it when it changed, did not run, or ran another release."""
    app_user(app)
    text = process_unit_text(app, name, memory_mb, stop_seconds, command)
    changed = put_units({unit_name(app, "process", name, "service"): text})
    systemctl("enable", "--quiet", unit_name(app, "process", name, "service"))
    print("changed" if changed else "same")


def cmd_schedule_unit(app, name, on_calendar, command):
    """The units of schedule NAME, its timer enabled and started (restarted when it changed)."""
    app_user(app)
    changed = put_units(schedule_unit_texts(app, name, on_calendar, command))
    timer = unit_name(app, "schedule", name, "timer")
    systemctl("enable", "--quiet", timer)
    sys.exit(systemctl("restart" if changed else "start", timer))


def cmd_process(app, name, action):
    """restart: a graceful stop (SIGTERM, its stop time, SIGKILL), then a start on `current`;
    release: the directory its main process runs in (nothing when it does not run);
    log: its last lines in the journal (a process that did not start says why)."""
    check_process_name(name)
    app_user(app)
    unit = unit_name(app, "process", name, "service")
    if action == "restart":
        systemctl("reset-failed", "--quiet", unit, quiet=True)  # a unit that never failed
        sys.exit(systemctl("restart", unit))
    if action == "log":
        sys.exit(subprocess.run(["journalctl", "--quiet", "--no-pager", "-o", "cat", "-n", "20", "-u", unit]).returncode)
    shown = subprocess.run(["systemctl", "show", "-p", "MainPID", "--value", unit], capture_output=True, text=True).stdout.strip()
    if shown not in ("", "0") and shown.isdigit():
        try:
            print(os.readlink("/proc/%s/cwd" % shown))
        except OSError:
            pass


def cmd_unit_remove(app, kind, name):
    """The units of a process or schedule disabled, stopped (a process gracefully) and removed.
    The app's user may be gone already (the app was removed): its name is checked, not its entry."""
    if not OS_USER.fullmatch(app):
        die("app user '%s' is not allowed (must match %s)" % (app, OS_USER.pattern))
    check_process_name(name)
    units = unit_files(app, kind, name)
    systemctl("disable", "--now", "--quiet", *units, quiet=True)
    dfd = open_dir(UNIT_DIR)
    for unit in units:
        remove_entry(dfd, unit)
    systemctl("daemon-reload")
    systemctl("reset-failed", "--quiet", *units, quiet=True)


def cmd_logs(app, which, since, mode):
    """The app's journal as JSON lines (npm run logs): gunicorn's, its processes' and its schedules'
    (WHICH -), or web's, or those of one process or schedule name; the last SINCE seconds (0: all)."""
    if not OS_USER.fullmatch(app):
        die("app user '%s' is not allowed (must match %s)" % (app, OS_USER.pattern))
    if which != "-" and which != "web":
        check_process_name(which)
    if not re.fullmatch(r"[0-9]{1,12}", since):
        die("since '%s' is not allowed (a number of seconds; 0: the whole journal)" % since)
    web = ["gunicorn@%s.service" % app]
    named = [unit_name(app, kind, which if which != "-" else "*", "service") for kind in UNIT_KINDS]
    units = web if which == "web" else named if which != "-" else web + named
    args = ["journalctl", "--no-pager", "--quiet", "-o", "json"] + [a for u in units for a in ("-u", u)]
    if since != "0":
        args += ["--since", "-%ss" % int(since)]
    sys.exit(subprocess.run(args + LOG_MODES[mode]).returncode)


def cmd_owned_dir(path):
    """A platform directory (the scripts' root, the heavy-work slots and log) of the deploy user."""
    user = caller()
    os.makedirs(path, 0o755, exist_ok=True)
    fd = open_dir(path)
    os.fchown(fd, user.pw_uid, user.pw_gid)
    os.fchmod(fd, 0o755)


def cmd_as(app, argv):
    """ARGV as the app's user (its own group only, its home, no other right), in the current
    directory if that user may be there, else in /."""
    entry = app_user(app)
    if not argv:
        die("as: no command")
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    if not os.access(".", os.X_OK):
        os.chdir("/")
    env = {"HOME": entry.pw_dir, "USER": app, "LOGNAME": app, "SHELL": "/bin/sh",
           "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": os.environ.get("LANG", "C.UTF-8")}
    os.umask(0o022)
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        die("as %s: %s: %s" % (app, argv[0], e.strerror))


COMMANDS = {
    "scripts-root": (0, lambda: cmd_owned_dir(SCRIPTS_ROOT)),
    "heavy-dirs": (0, lambda: [cmd_owned_dir(d) for d in HEAVY_DIRS]),
    "user": (1, cmd_user),
    "dirs": (1, cmd_dirs),
    "shared": (2, cmd_shared),
    "env": (1, cmd_env),
    "remove": (1, cmd_remove),
    "build-dir": (3, cmd_build_dir),
    "seal": (3, cmd_seal),
    "static-dir": (2, cmd_static_dir),
    "rm": (3, cmd_rm),
    "unit": (2, cmd_unit),
    "journal": (2, cmd_journal),
    "process-unit": (5, cmd_process_unit),
    "schedule-unit": (4, cmd_schedule_unit),
    "process": (3, cmd_process),
    "unit-remove": (3, cmd_unit_remove),
    "logs": (4, cmd_logs),
}
# Arguments that must be one of a few words: COMMAND -> (argument's index, its words).
CHOICES = {
    "build-dir": (2, BUILDS), "seal": (2, BUILDS), "rm": (2, REMOVABLE),
    "process": (3, PROCESS_ACTIONS), "unit-remove": (2, UNIT_KINDS), "logs": (4, LOG_MODES),
}


def check_args(args):
    """The command and its number of arguments, and the arguments that must be one of a few words."""
    if not args or args[0] not in COMMANDS:
        die("usage: fleet-node %s | as APP CMD..." % " | ".join(COMMANDS))
    count, fn = COMMANDS[args[0]]
    if len(args) - 1 != count:
        die("%s takes %d argument(s)" % (args[0], count))
    if args[0] in CHOICES:
        index, words = CHOICES[args[0]]
        if args[index] not in words:
            die("%s: '%s' is not allowed (%s)" % (args[0], args[index], ", ".join(words)))
    return fn


def main(args):
    if os.geteuid() != 0:
        die("run this through sudo")
    if args[:1] == ["as"] and len(args) >= 3:
        cmd_as(args[1], args[2:])
        return
    check_args(args)(*args[1:])


if __name__ == "__main__":
    os.umask(0o022)
    try:
        main(sys.argv[1:])
    except OSError as e:
        die("%s: %s" % (" ".join(sys.argv[1:3]), e))
