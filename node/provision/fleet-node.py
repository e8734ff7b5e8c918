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
# A release directory's name (a tag with '/' flattened to '+') or a virtualenv's hash.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
SHARED_FILES = ("gunicorn.conf.py", "gunicorn_main.py")
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
}


def main(args):
    if os.geteuid() != 0:
        die("run this through sudo")
    if args[:1] == ["as"] and len(args) >= 3:
        cmd_as(args[1], args[2:])
        return
    if not args or args[0] not in COMMANDS:
        die("usage: fleet-node %s | as APP CMD..." % " | ".join(COMMANDS))
    count, fn = COMMANDS[args[0]]
    if len(args) - 1 != count:
        die("%s takes %d argument(s)" % (args[0], count))
    if args[0] in ("build-dir", "seal") and args[2] not in BUILDS:
        die("kind '%s' is not allowed (%s)" % (args[2], ", ".join(BUILDS)))
    if args[0] == "rm" and args[2] not in REMOVABLE:
        die("kind '%s' is not allowed (%s)" % (args[2], ", ".join(REMOVABLE)))
    fn(*args[1:])


if __name__ == "__main__":
    os.umask(0o022)
    try:
        main(sys.argv[1:])
    except OSError as e:
        die("%s: %s" % (" ".join(sys.argv[1:3]), e))
