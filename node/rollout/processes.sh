#!/bin/sh
# processes.sh check APP TAG [SPEC]...   before the switch: every program is found in the staged release
# processes.sh apply APP TAG [SPEC]...   after the switch: the units as SPECs say, each process on `current`
# processes.sh remove APP                every process and schedule of APP stopped and removed
#   SPEC: process NAME MEMORY_MB STOP_SECONDS COMMAND | schedule NAME ON_CALENDAR COMMAND
#   (COMMAND one argument: words the catalog checked, split here on spaces, never by a shell)
#
# An app's background processes and schedules (config/processes.ts, rollout/processes.ts) as
# systemd units of their own (each its own cgroup), written here under fixed names from checked
# arguments only:
#   fleet-process-APP:NAME.service    a process: Restart=on-failure, SIGTERM then STOP_SECONDS then
#                                     SIGKILL, MemoryMax=MEMORY_MB, as APP in /srv/APP/current
#   fleet-schedule-APP:NAME.timer     on EVERY node, OnCalendar (UTC); it starts
#   fleet-schedule-APP:NAME.service   one run: fleet_schedule.py takes the schedule's database lock
#                                     and records the occurrence, so one node runs it (docs/rollout.md)
# Both run the command through shared/fleet_run.sh (the app's environment, the release's Python).
# apply restarts a process (graceful stop, then start) when its unit changed, when it is not
# running, or when it runs another release than `current`: after a switch, every process moves to
# the new code; a put-back never reaches apply (switch.sh failed), so the processes never left
# the old release. Units of APP the SPECs no longer name are stopped and removed.
set -eu
here=$(dirname "$0")
# shellcheck source=lib.sh
. "$here/lib.sh"

UNIT_DIR=/etc/systemd/system

usage() { die "usage: processes.sh check|apply APP TAG [process NAME MEMORY_MB STOP_SECONDS COMMAND | schedule NAME ON_CALENDAR COMMAND]... | processes.sh remove APP"; }

process_unit() { printf 'fleet-process-%s:%s.service' "$APP" "$1"; }
schedule_unit() { printf 'fleet-schedule-%s:%s.%s' "$APP" "$1" "$2"; }

# app_units: the unit files of APP on this node.
app_units() {
  for _f in "$UNIT_DIR/fleet-process-$APP:"*.service "$UNIT_DIR/fleet-schedule-$APP:"*.timer "$UNIT_DIR/fleet-schedule-$APP:"*.service; do
    if [ -e "$_f" ]; then basename "$_f"; fi
  done
}

# stop_and_remove UNIT...: disabled, stopped (a process gracefully: its own stop time) and gone.
stop_and_remove() {
  for _u; do
    sudo systemctl disable --now --quiet "$_u" 2>/dev/null || true
    sudo rm -f "$UNIT_DIR/$_u"
    log "$APP_NAME: $_u stopped and removed"
  done
}

remove_all() {
  check_os_user "$1"
  app_paths "$1"
  has_systemd || return 0
  # shellcheck disable=SC2046 # unit names are checked words
  set -- $(app_units)
  [ $# -eq 0 ] && return 0
  stop_and_remove "$@"
  sudo systemctl daemon-reload
}

# program_of RELEASE WORD: where COMMAND's first word is, as fleet_run.sh finds it in RELEASE;
# nothing when it is not there.
program_of() {
  case $2 in
    python) _p=$1/.fleet/venv/bin/python ;;
    /*) _p=$2 ;;
    */*) _p=$1/$2 ;;
    *)
      _p=$1/.fleet/venv/bin/$2
      [ -x "$_p" ] || _p=$(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v "$2" 2>/dev/null || true)
      ;;
  esac
  if [ -n "$_p" ] && [ -f "$_p" ] && [ -x "$_p" ]; then printf '%s' "$_p"; fi
}

# check_spec KIND NAME COMMAND: the command's program is in the release $rel.
check_program() {
  _word=${3%% *}
  [ -n "$(program_of "$rel" "$_word")" ] ||
    die "$APP_NAME $tag: $1 $2: its program '$_word' is not in the release (python: the virtualenv's; a name: the virtualenv's bin/ or the node's PATH; a/b: a file in the repository, executable); add it to requirements.txt or the repository, or fix the command in apps.yaml"
}

# The unit texts. Every value in them was checked: names and numbers by pattern, the command by
# RULES.command (words without a character systemd or a shell would read).
common_service() {
  cat <<UNIT
User=$APP
Group=$APP
WorkingDirectory=$CURRENT
NoNewPrivileges=true
PrivateTmp=true
ProtectSystem=full
UNIT
}

process_text() { # NAME MEMORY_MB STOP_SECONDS COMMAND
  cat <<UNIT
# fleet: process $1 of $APP_NAME, written by processes.sh (apps.yaml: processes)
[Unit]
Description=fleet app $APP_NAME: process $1
After=network-online.target
ConditionPathExists=$CURRENT
StartLimitIntervalSec=0

[Service]
Type=exec
$(common_service)
ExecStart=/bin/sh $SHARED/fleet_run.sh $4
Restart=on-failure
RestartSec=2
KillSignal=SIGTERM
TimeoutStopSec=$3
MemoryMax=$2M

[Install]
WantedBy=multi-user.target
UNIT
}

schedule_service_text() { # NAME COMMAND
  cat <<UNIT
# fleet: one run of schedule $1 of $APP_NAME, started by its timer on every node; fleet_schedule.py lets one node run each time
[Unit]
Description=fleet app $APP_NAME: schedule $1
ConditionPathExists=$CURRENT

[Service]
Type=oneshot
$(common_service)
ExecStart=/bin/sh $SHARED/fleet_run.sh --schedule $1 $2
UNIT
}

schedule_timer_text() { # NAME ON_CALENDAR
  cat <<UNIT
# fleet: the times of schedule $1 of $APP_NAME (apps.yaml: schedules, cron in UTC)
[Unit]
Description=fleet app $APP_NAME: times of schedule $1

[Timer]
OnCalendar=$2
AccuracySec=1s
Persistent=false
Unit=$(schedule_unit "$1" service)

[Install]
WantedBy=timers.target
UNIT
}

# put_unit UNIT TEXT: writes the unit when its text changed; then UNIT is in $changed.
put_unit() {
  _tmp=$(mktemp)
  printf '%s\n' "$2" >"$_tmp"
  if ! cmp -s "$_tmp" "$UNIT_DIR/$1"; then
    sudo install -m 0644 "$_tmp" "$UNIT_DIR/$1"
    changed="$changed $1"
  fi
  rm -f "$_tmp"
  wanted="$wanted $1"
}

# each_spec FN ARGS...: calls `FN process NAME MEM STOP COMMAND` or `FN schedule NAME CAL COMMAND`
# for every SPEC in ARGS, checking each.
each_spec() {
  _fn=$1
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      process)
        [ $# -ge 5 ] || usage
        check_process_name "$2"
        check_arg "memory" "$3" '[1-9][0-9]{1,4}'
        check_arg "stop seconds" "$4" '[1-9][0-9]{0,2}'
        check_command "$5"
        "$_fn" process "$2" "$3" "$4" "$5"
        shift 5
        ;;
      schedule)
        [ $# -ge 4 ] || usage
        check_process_name "$2"
        check_on_calendar "$3"
        check_command "$4"
        "$_fn" schedule "$2" "$3" "$4"
        shift 4
        ;;
      *) usage ;;
    esac
  done
}

check_one() {
  if [ "$1" = process ]; then check_program process "$2" "$5"; else check_program schedule "$2" "$4"; fi
}

write_one() {
  if [ "$1" = process ]; then
    put_unit "$(process_unit "$2")" "$(process_text "$2" "$3" "$4" "$5")"
    processes="$processes $2"
  else
    put_unit "$(schedule_unit "$2" service)" "$(schedule_service_text "$2" "$4")"
    put_unit "$(schedule_unit "$2" timer)" "$(schedule_timer_text "$2" "$3")"
    schedules="$schedules $2"
  fi
}

# runs_current UNIT: the unit's process runs in the release `current` points at.
runs_current() {
  _pid=$(systemctl show -p MainPID --value "$1")
  [ "${_pid:-0}" != 0 ] && [ "$(sudo readlink "/proc/$_pid/cwd")" = "$(readlink -e "$CURRENT")" ]
}

apply() {
  [ -L "$CURRENT" ] || die "$APP_NAME does not serve on this node: nothing to run the processes with"
  # The runner and the schedule's lock, where the units find them (readable by the app only).
  sudo install -o "$(id -un)" -g "$APP" -m 0640 "$here/fleet_run.sh" "$here/fleet_schedule.py" "$SHARED/"
  changed="" wanted="" processes="" schedules="" removed=""
  each_spec write_one "$@"
  for _u in $(app_units); do
    case " $wanted " in *" $_u "*) ;; *) stop_and_remove "$_u" && removed=yes ;; esac
  done
  if [ -n "$changed$removed" ]; then sudo systemctl daemon-reload; fi
  for _p in $processes; do
    _u=$(process_unit "$_p")
    sudo systemctl enable --quiet "$_u"
    case " $changed " in *" $_u "*) _why="its unit changed" ;; *) _why="" ;; esac
    if [ -z "$_why" ] && ! systemctl is-active --quiet "$_u"; then _why="it was not running"; fi
    if [ -z "$_why" ] && ! runs_current "$_u"; then _why="it ran another release"; fi
    if [ -n "$_why" ]; then
      sudo systemctl reset-failed --quiet "$_u" 2>/dev/null || true
      # restart: SIGTERM, up to its stop time, then the new start on `current`.
      sudo systemctl restart "$_u"
      log "$APP_NAME $tag: process $_p (re)started ($_why)"
    fi
  done
  for _s in $schedules; do
    _t=$(schedule_unit "$_s" timer)
    sudo systemctl enable --quiet "$_t"
    case " $changed " in *" $_t "*) sudo systemctl restart "$_t" ;; *) sudo systemctl start "$_t" ;; esac
  done
  # A process that exits at once (a wrong argument, a missing setting) fails the step with its log.
  if [ -n "$processes" ]; then sleep 1; fi
  for _p in $processes; do
    _u=$(process_unit "$_p")
    systemctl is-active --quiet "$_u" ||
      die "$APP_NAME $tag: process $_p does not run: $(sudo journalctl --quiet --no-pager -o cat -u "$_u" -n 20 | error_line) (journalctl -u $_u)"
  done
}

mode=${1:-}
case $mode in
  remove)
    [ $# -eq 2 ] || usage
    remove_all "$2"
    exit 0
    ;;
  check | apply) ;;
  *) usage ;;
esac
[ $# -ge 3 ] || usage
app_release "$2" "$3"
shift 3
if ! has_systemd; then
  [ $# -eq 0 ] || die "$APP_NAME $tag: processes and schedules need systemd on the app nodes (this node has none)"
  exit 0
fi
if [ "$mode" = check ]; then
  [ $# -eq 0 ] && exit 0
  [ -f "$rel/.fleet/staged" ] || die "$APP_NAME $tag is not staged on this node"
  each_spec check_one "$@"
  exit 0
fi
lock processes
apply "$@"
