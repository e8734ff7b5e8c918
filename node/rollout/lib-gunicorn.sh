# shellcheck shell=sh
# Controlling one app's gunicorn; sourced after lib.sh and app_paths.
#
# With systemd (cloud nodes) the infrastructure installs the template unit gunicorn@.service:
#   User=%i  Group=%i
#   ExecStart=/srv/%i/current/.fleet/venv/bin/python /srv/%i/shared/gunicorn_main.py -c /srv/%i/shared/gunicorn.conf.py
#   ExecReload=/bin/kill -HUP $MAINPID
# Without systemd (the local test bed, or any plain machine) the master runs daemonised with
# a pidfile and is signalled directly. Either way a reload that keeps the virtualenv is a HUP
# (new workers import the new release, old ones finish their requests); a changed virtualenv
# needs a new interpreter: USR2 re-exec (old and new masters share the socket, then the old
# one stops gracefully), or a restart under systemd, which nginx's next upstream covers.

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

workers_of() {
  pgrep -P "$1" 2>/dev/null | sort || true
}

signal_app() {
  sudo -u "$APP" -- kill "-$1" "$2"
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

_gone() { [ ! -d "/proc/$1" ]; }
# _booted MASTER: a worker of MASTER has imported the app (gunicorn.conf.py's post_worker_init).
_booted() { [ -d "/proc/$1" ] && [ -e "$SHARED/run/booted.$1" ]; }
_old_workers_gone() {
  for _w in $1; do
    if [ -d "/proc/$_w" ]; then return 1; fi
  done
  return 0
}
_booted_or_gone() { _booted "$1" || _gone "$1"; }
# After USR2 the new master writes PIDFILE.2 until the old one is gone, then renames it.
_new_master_ready() {
  _new=$(cat "$PIDFILE.2" 2>/dev/null || true)
  [ -n "$_new" ] && [ "$_new" != "$1" ] && _booted "$_new"
}
_promoted() { [ "$(master_pid)" = "$1" ]; }

# gunicorn_start: returns non-zero when no worker of a new master imported the app in time.
gunicorn_start() {
  if has_systemd; then
    sudo systemctl start "gunicorn@$APP"
    return
  fi
  # A master whose app failed to boot keeps its socket and pidfile while it exits; a new
  # one started meanwhile could not bind, and its pidfile would be taken for the old one's.
  _prev=$(cat "$PIDFILE" 2>/dev/null || true)
  if [ -n "$_prev" ]; then wait_until "$GUNICORN_WAIT" _not_gunicorn "$_prev" || true; fi
  _log_size=$(sudo -u "$APP" -- stat -c %s "$SHARED/log/gunicorn.log" 2>/dev/null || echo 0)
  (cd / && sudo -u "$APP" -H -- "$CURRENT/.fleet/venv/bin/python" "$SHARED/gunicorn_main.py" \
    -c "$SHARED/gunicorn.conf.py" --daemon)
  _seen=""
  wait_until "$GUNICORN_WAIT" _start_settled || true
  if ! _started; then
    GUNICORN_FAILURE=$(_boot_error "$_log_size")
    log "gunicorn of $APP_NAME did not start: ${GUNICORN_FAILURE:-no error in its log} (see $SHARED/log/gunicorn.log)"
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
# _boot_error OFFSET: the last exception line gunicorn logged after byte OFFSET, i.e. why
# this start's workers could not import the app. One line, not a traceback: what a failed
# step prints ends up in Pulumi's error output.
_boot_error() {
  sudo -u "$APP" -- tail -c "+$(($1 + 1))" "$SHARED/log/gunicorn.log" 2>/dev/null |
    grep -E '^[A-Za-z_][A-Za-z0-9_.]*(Error|Exception)(:|$)' | tail -n 1 | cut -c 1-200 || true
}

gunicorn_stop() {
  if has_systemd; then
    sudo systemctl stop "gunicorn@$APP" || true
    return
  fi
  _pid=$(master_pid)
  if [ -n "$_pid" ]; then
    signal_app TERM "$_pid"
    wait_until "$GUNICORN_WAIT" _gone "$_pid" || signal_app KILL "$_pid" || true
  fi
}

# gunicorn_reload same|new: HUP when the virtualenv is unchanged, else a new interpreter.
# Starts gunicorn when it is not running (first release, or a master that died).
# Returns non-zero when the new workers or master did not take over (the caller puts back).
gunicorn_reload() {
  if ! gunicorn_running; then
    gunicorn_start
    return
  fi
  _clear_marks
  if has_systemd; then
    if [ "$1" = same ]; then sudo systemctl reload "gunicorn@$APP"; else sudo systemctl restart "gunicorn@$APP"; fi
    return
  fi
  _old=$(master_pid)
  if [ "$1" = same ]; then
    _before=$(workers_of "$_old")
    # After the HUP either a new worker imports the release (and marks it again) or the
    # worker fails to boot and the master exits; wait for one of the two, not for a guess.
    sudo -u "$APP" -- rm -f "$SHARED/run/booted.$_old"
    signal_app HUP "$_old"
    wait_until "$GUNICORN_WAIT" _old_workers_gone "$_before" || { log "old workers of $APP_NAME did not stop"; return 1; }
    wait_until "$GUNICORN_WAIT" _booted_or_gone "$_old" || true
  else
    signal_app USR2 "$_old"
    if wait_until "$GUNICORN_WAIT" _new_master_ready "$_old"; then
      _new=$(cat "$PIDFILE.2")
      signal_app TERM "$_old"
      wait_until "$GUNICORN_WAIT" _gone "$_old" || true
      wait_until "$GUNICORN_WAIT" _promoted "$_new" || { log "the new gunicorn master of $APP_NAME ($_new) did not take over"; return 1; }
    else
      log "the new gunicorn master of $APP_NAME did not start (see $SHARED/log/gunicorn.log); the old one still serves"
      return 1
    fi
  fi
  # A master whose new workers cannot boot exits; start afresh so the caller's health
  # check sees this release and the put-back path finds a running server.
  if ! gunicorn_running; then gunicorn_start || return 1; fi
}

# Boot marks of masters that are gone (their pids may come back for other processes).
_clear_marks() {
  for _m in "$SHARED"/run/booted.*; do
    [ -e "$_m" ] || continue
    if [ ! -d "/proc/${_m##*.}" ]; then sudo -u "$APP" -- rm -f "$_m"; fi
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
