# shellcheck shell=sh
# Controlling one app's gunicorn; sourced after lib.sh and app_paths.
#
# With systemd (cloud nodes) the infrastructure installs the template unit gunicorn@.service
# (node/provision/gunicorn@.service: Type=notify, ExecReload=kill -USR2); without systemd (a
# plain machine) the master runs daemonised with a pidfile and is signalled directly. Either
# way every reload is gunicorn's re-exec, USR2: the new master (the interpreter of the release's
# virtualenv, new or not) shares the socket with the old one, and once all its workers imported
# the app it stops the old master gracefully (gunicorn.conf.py: post_worker_init; under systemd
# it becomes the unit's main process first). So no request waits for an import (a HUP retires
# the old workers as soon as new ones spawn) and none is refused (a restart closes the socket).

GUNICORN_WAIT=30
# Why the last gunicorn_start failed (an exception line from its log), for the caller's message.
GUNICORN_FAILURE=""

# _is_gunicorn PID: a live gunicorn process (a pidfile may outlive its process, and pids come back).
_is_gunicorn() { grep -q gunicorn "/proc/$1/cmdline" 2>/dev/null; }

master_pid() {
  _pid=$(cat "$PIDFILE" 2>/dev/null || true)
  if [ -n "$_pid" ] && _is_gunicorn "$_pid"; then
    printf '%s' "$_pid"
  fi
}

gunicorn_running() {
  if has_systemd; then
    systemctl is-active --quiet "gunicorn@$APP"
  else
    [ -n "$(master_pid)" ]
  fi
}

signal_app() {
  as_user kill "-$1" "$2"
}

# wait_until SECONDS CMD...: polls CMD every 0.2 s.
wait_until() {
  _tries=$(($1 * 5))
  shift
  while [ "$_tries" -gt 0 ]; do
    if "$@"; then return 0; fi
    sleep 0.2
    _tries=$((_tries - 1))
  done
  return 1
}

# _gone PID: no such process, not even a zombie: its parent has reaped it.
_gone() { [ ! -d "/proc/$1" ]; }
# _booted MASTER: a worker of MASTER has imported the app (gunicorn.conf.py's post_worker_init).
_booted() { [ -d "/proc/$1" ] && [ -e "$RUN_DIR/booted.$1" ]; }
_parent_of() { sed -n 's/^PPid:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null; }
# _new_master OLD: the master OLD's USR2 started, if it lives. It writes PIDFILE.2 until OLD is
# gone, then renames it to PIDFILE. A PIDFILE.2 is only believed while its process is OLD's
# child: gunicorn 20.1 leaves the file behind when a second worker fails to boot while the new
# master halts (the HaltServer raised in its SIGCHLD handler escapes halt() before the unlink),
# and the next reload must not take that dead master for its own.
_new_master() {
  _c=$(cat "$PIDFILE.2" 2>/dev/null || true)
  if [ -n "$_c" ] && _is_gunicorn "$_c" && [ "$(_parent_of "$_c")" = "$1" ]; then printf '%s' "$_c"; return; fi
  # Promoted already (OLD gone, the file renamed) before we looked.
  _c=$(master_pid)
  if [ -n "$1" ] && [ -n "$_c" ] && [ "$_c" != "$1" ]; then printf '%s' "$_c"; fi
}
# _reexec_settled OLD: the new master booted, or it is gone already (its app cannot boot).
_reexec_settled() {
  _p=$(_new_master "$1")
  if [ -n "$_p" ]; then _new=$_p; fi
  [ -n "$_new" ] && { _booted "$_new" || _gone "$_new"; }
}
# _end_new_master NEW: ends a new master none of whose workers imported the app, and waits until
# it is gone: while it lives, the old master ignores the next USR2 ("USR2 signal ignored. Child
# exists.": the put-back would start nothing). TERM would not do: a master halting on its
# workers' boot failure ignores it and may wait out graceful_timeout (30 s) for a worker it
# already reaped (gunicorn 20.1). None of its workers accepted a connection (a worker accepts
# only once it imported the app), so KILL, its workers first, loses no request.
_end_new_master() {
  [ -d "/proc/$1" ] || return 0
  signal_app STOP "$1" 2>/dev/null || true # spawns no worker while its workers go
  for _w in $(pgrep -P "$1" || true); do signal_app KILL "$_w" 2>/dev/null || true; done
  signal_app KILL "$1" 2>/dev/null || true
  wait_until "$GUNICORN_WAIT" _gone "$1" || log "the failed gunicorn master of $APP_NAME ($1) is still there"
}
_promoted() { [ "$(master_pid)" = "$1" ]; }

# gunicorn_start: returns non-zero when no worker of a new master imported the app in time.
gunicorn_start() {
  _clear_marks
  # A master whose app failed to boot keeps its socket and pidfile while it exits; a new
  # one started meanwhile could not bind, and its pidfile would be taken for the old one's.
  _prev=$(cat "$PIDFILE" 2>/dev/null || true)
  if [ -n "$_prev" ]; then wait_until "$GUNICORN_WAIT" _not_gunicorn "$_prev" || true; fi
  _log_mark=$(_log_mark)
  if has_systemd; then
    # enable: the app comes back when the node reboots. start returns once gunicorn listens
    # (READY=1); a master whose app cannot boot exits after that, and systemd retries it, until
    # its start limit (5 starts in 10 s) fails the unit, which then refuses every start, even
    # with a release that boots: reset-failed clears that first.
    node_helper unit "$APP" start || true
  else
    (cd / && as_user "$CURRENT/.fleet/venv/bin/python" "$SHARED/gunicorn_main.py" \
      -c "$SHARED/gunicorn.conf.py" --daemon)
  fi
  _seen=""
  wait_until "$GUNICORN_WAIT" _start_settled || true
  if ! _started; then
    GUNICORN_FAILURE=$(_boot_error "$_log_mark")
    log "gunicorn of $APP_NAME did not start: ${GUNICORN_FAILURE:-no error in its log} (see $(_log_name))"
    return 1
  fi
}
_not_gunicorn() { ! _is_gunicorn "$1"; }
_started() { _p=$(master_pid) && [ -n "$_p" ] && _booted "$_p"; }
# Started, or the new master (a pid other than the one before) is gone already: its app
# cannot boot.
_start_settled() {
  _p=$(cat "$PIDFILE" 2>/dev/null || true)
  if [ -n "$_p" ] && [ "$_p" != "$_prev" ]; then _seen=$_p; fi
  _started && return 0
  [ -n "$_seen" ] && [ ! -d "/proc/$_seen" ]
}
# Where gunicorn logs (gunicorn.conf.py): journald under systemd, else a file in shared/log.
_log_name() {
  if has_systemd; then echo "journalctl -u gunicorn@$APP"; else echo "$GUNICORN_LOG"; fi
}
# _log_mark: where the log ends now (journald: a time, the file: its size), for _boot_error.
# The time to the microsecond, as journald stamps entries: in whole seconds, what a master that
# failed earlier in the same second logged would be taken for this start's error.
_log_mark() {
  if has_systemd; then date +%s.%6N; else as_user stat -c %s "$GUNICORN_LOG" 2>/dev/null || echo 0; fi
}
# _log_since MARK: what gunicorn logged after MARK.
_log_since() {
  if has_systemd; then
    node_helper journal "$APP" "$1" 2>/dev/null
  else
    as_user tail -c "+$(($1 + 1))" "$GUNICORN_LOG" 2>/dev/null
  fi
}
# _last_exception MARK: the last exception line gunicorn logged after MARK.
_last_exception() {
  _log_since "$1" | grep -E '^[A-Za-z_][A-Za-z0-9_.]*(Error|Exception)(:|$)' | tail -n 1 | cut -c 1-200 || true
}
_exception_logged() { _exception=$(_last_exception "$1") && [ -n "$_exception" ]; }
# _boot_error MARK: why this start's workers could not import the app: the last exception line
# gunicorn logged after MARK. One line, not a traceback: what a failed step prints ends up in
# Pulumi's error output. journald takes a service's output in asynchronously: a line the
# master wrote before it exited may land a moment later, so wait for it a little.
_boot_error() {
  _exception=""
  wait_until 5 _exception_logged "$1" || true
  printf '%s' "$_exception"
}

gunicorn_stop() {
  if has_systemd; then
    node_helper unit "$APP" stop || true
    return
  fi
  _pid=$(master_pid)
  if [ -n "$_pid" ]; then
    signal_app TERM "$_pid"
    wait_until "$GUNICORN_WAIT" _gone "$_pid" || signal_app KILL "$_pid" || true
  fi
}

# gunicorn_reload same|new: a new master (USR2) with the release and environment `current` has
# now, whether its virtualenv is the same or new (only a unit older than the re-exec needs to
# know). Starts gunicorn when it is not running (first release, or a master that died).
# Returns non-zero when the new master did not take over (the caller puts back).
gunicorn_reload() {
  if ! gunicorn_running; then
    gunicorn_start
    return
  fi
  _clear_marks
  _old=$(master_pid)
  if has_systemd && ! _unit_follows_reexec; then
    # A node installed before the unit was Type=notify (cloud-init writes it on first boot
    # only): systemd would take the old master's exit for the service's end. What that unit
    # can do: its reload (HUP) for the same virtualenv, a restart for a new one.
    if [ "$1" = same ]; then node_helper unit "$APP" reload; else node_helper unit "$APP" restart; fi
  else
    _log_mark=$(_log_mark)
    if has_systemd; then node_helper unit "$APP" reload; else signal_app USR2 "$_old"; fi
    _new=""
    wait_until "$GUNICORN_WAIT" _reexec_settled "$_old" || true
    if [ -z "$_new" ] || ! _booted "$_new"; then
      GUNICORN_FAILURE=$(_boot_error "$_log_mark")
      log "the new gunicorn master of $APP_NAME did not boot: ${GUNICORN_FAILURE:-no error in its log} (see $(_log_name)); the old one still serves"
      if [ -n "$_new" ]; then _end_new_master "$_new"; fi
      return 1
    fi
    # The new master stops the old one once all its workers booted; the old one's workers
    # finish their requests first (graceful_timeout, 30 s).
    wait_until $((GUNICORN_WAIT * 2)) _gone "$_old" || { log "the old gunicorn master of $APP_NAME ($_old) did not stop"; return 1; }
    wait_until "$GUNICORN_WAIT" _promoted "$_new" || { log "the new gunicorn master of $APP_NAME ($_new) did not take over"; return 1; }
  fi
  # A master whose new workers cannot boot exits; start afresh so the caller's health
  # check sees this release and the put-back path finds a running server.
  if ! gunicorn_running; then gunicorn_start || return 1; fi
}

# _unit_follows_reexec: the installed unit lets a re-exec'd master become its main process.
_unit_follows_reexec() {
  [ "$(systemctl show -p NotifyAccess --value "gunicorn@$APP" 2>/dev/null)" = all ]
}

# Boot marks of masters that are gone (their pids may come back for other processes).
_clear_marks() {
  for _m in "$RUN_DIR"/booted.*; do
    [ -e "$_m" ] || continue
    if [ ! -d "/proc/${_m##*.}" ]; then as_user rm -rf "$_m"; fi
  done
}

# health ADDRESS PORT DOMAIN PATH SECONDS: HTTP 2xx from this node's own gunicorn for the
# app's domain, within SECONDS. Prints the last answer on failure.
health() {
  python3 - "$@" <<'EOF'
import sys, time, urllib.request, urllib.error
address, port, domain, path, seconds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
deadline, last = time.monotonic() + seconds, "no answer"
while True:
    req = urllib.request.Request("http://%s:%s%s" % (address, port, path), headers={"Host": domain})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            if 200 <= r.status < 300:
                sys.exit(0)
            last = "HTTP %d" % r.status
    except urllib.error.HTTPError as e:
        last = "HTTP %d" % e.code
    except OSError as e:
        last = str(getattr(e, "reason", e))
    if time.monotonic() > deadline:
        print(last)
        sys.exit(1)
    time.sleep(0.3)
EOF
}
