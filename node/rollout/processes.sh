#!/bin/sh
# processes.sh check APP TAG [SPEC]...   before the switch: every program is found in the staged release
# processes.sh apply APP TAG [SPEC]...   after the switch: the units as SPECs say, each process on `current`
# processes.sh remove APP                every process and schedule of APP stopped and removed
#   SPEC: process NAME MEMORY_MB STOP_SECONDS COMMAND | schedule NAME ON_CALENDAR COMMAND
#   (COMMAND one argument: words the catalog checked, split here on spaces, never by a shell)
#
# An app's background processes and schedules (config/processes.ts, rollout/processes.ts) as
# systemd units of their own (each its own cgroup), under fixed names:
#   fleet-process-APP:NAME.service    a process: Restart=on-failure, SIGTERM then STOP_SECONDS then
#                                     SIGKILL, MemoryMax=MEMORY_MB, as APP in /srv/APP/current
#   fleet-schedule-APP:NAME.timer     on EVERY node, OnCalendar (UTC); it starts
#   fleet-schedule-APP:NAME.service   one run: fleet_schedule.py takes the schedule's database lock
#                                     and records the occurrence, so one node runs it (docs/rollout.md)
# Both run the command through shared/fleet_run.sh (the app's environment, the release's Python).
# Root's part is the node helper's (node/provision/fleet-node.py: process-unit, schedule-unit,
# process, unit-remove), which renders each unit's text from the checked values: this script
# only decides what to ask for.
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

# app_units: KIND:NAME of each process and schedule of APP with a unit on this node.
app_units() {
  for _f in "$UNIT_DIR/fleet-process-$APP:"*.service "$UNIT_DIR/fleet-schedule-$APP:"*.timer; do
    [ -e "$_f" ] || continue
    _f=${_f##*/fleet-}
    _kind=${_f%%-*}
    _name=${_f#*:}
    printf '%s:%s\n' "$_kind" "${_name%.*}"
  done
}

# stop_and_remove KIND:NAME...: disabled, stopped (a process gracefully: its own stop time) and gone.
stop_and_remove() {
  for _u; do
    node_helper unit-remove "$APP" "${_u%%:*}" "${_u#*:}"
    log "$APP_NAME: ${_u%%:*} ${_u#*:} stopped and removed"
  done
}

remove_all() {
  check_os_user "$1"
  app_paths "$1"
  has_systemd || return 0
  # shellcheck disable=SC2046 # unit names are checked words
  stop_and_remove $(app_units)
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

# check_program KIND NAME COMMAND: the command's program is in the release $rel.
check_program() {
  _word=${3%% *}
  [ -n "$(program_of "$rel" "$_word")" ] ||
    die "$APP_NAME $tag: $1 $2: its program '$_word' is not in the release (python: the virtualenv's; a name: the virtualenv's bin/ or the node's PATH; a/b: a file in the repository, executable); add it to requirements.txt or the repository, or fix the command in apps.yaml"
}

# each_spec FN ARGS...: calls `FN process NAME MEM STOP COMMAND` or `FN schedule NAME CAL COMMAND`
# for every SPEC in ARGS (the node helper checks the numbers and the calendar).
each_spec() {
  _fn=$1
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      process)
        [ $# -ge 5 ] || usage
        check_process_name "$2"
        check_command "$5"
        "$_fn" process "$2" "$3" "$4" "$5"
        shift 5
        ;;
      schedule)
        [ $# -ge 4 ] || usage
        check_process_name "$2"
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

# write_one: the units of one SPEC (a schedule's timer runs from then on); a process whose unit
# changed goes into $changed.
write_one() {
  if [ "$1" = process ]; then
    if [ "$(node_helper process-unit "$APP" "$2" "$3" "$4" "$5")" = changed ]; then changed="$changed $2"; fi
    processes="$processes $2"
  else
    node_helper schedule-unit "$APP" "$2" "$3" "$4"
  fi
  wanted="$wanted $1:$2"
}

apply() {
  [ -L "$CURRENT" ] || die "$APP_NAME does not serve on this node: nothing to run the processes with"
  # The runner and the schedule's lock, where the units find them (readable by the app only).
  if [ $# -gt 0 ]; then
    for _file in fleet_run.sh fleet_schedule.py; do node_helper shared "$APP" "$_file" <"$here/$_file"; done
  fi
  changed="" wanted="" processes=""
  each_spec write_one "$@"
  for _u in $(app_units); do
    case " $wanted " in *" $_u "*) ;; *) stop_and_remove "$_u" ;; esac
  done
  _serving=$(readlink -e "$CURRENT")
  for _p in $processes; do
    _u=$(process_unit "$_p")
    case " $changed " in *" $_p "*) _why="its unit changed" ;; *) _why="" ;; esac
    if [ -z "$_why" ] && ! systemctl is-active --quiet "$_u"; then _why="it was not running"; fi
    if [ -z "$_why" ] && [ "$(node_helper process "$APP" "$_p" release)" != "$_serving" ]; then _why="it ran another release"; fi
    if [ -n "$_why" ]; then
      # restart: SIGTERM, up to its stop time, then the new start on `current`.
      node_helper process "$APP" "$_p" restart
      log "$APP_NAME $tag: process $_p (re)started ($_why)"
    fi
  done
  # A process that exits at once (a wrong argument, a missing setting) fails the step with its log.
  if [ -n "$processes" ]; then sleep 1; fi
  for _p in $processes; do
    systemctl is-active --quiet "$(process_unit "$_p")" ||
      die "$APP_NAME $tag: process $_p does not run: $(node_helper process "$APP" "$_p" log | error_line) (journalctl -u $(process_unit "$_p"))"
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
