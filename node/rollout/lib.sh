# shellcheck shell=sh disable=SC2034 # the paths set here are used by the scripts that source this file
# Shared helpers of the node-side scripts; sourced (after setting $here), never run.
#
# The scripts run as the SSH deploy user. Its sudo allows one program, the node helper
# ($FLEET_NODE_HELPER, node/provision/fleet-node.py: root-owned, from cloud-init), whose fixed,
# argument-checked commands make the app's user and directories, write its environment file,
# hand a finished build over, remove releases and drive gunicorn@APP. Everything that runs or
# imports anything of a release (tar of its tree, pip and its build backends, the virtualenv's
# python, compileall, manage.py, the preflight, the migration classifier, gunicorn) runs as the
# app's own user through that helper (as_user, as_app), so app code never runs with the deploy
# user's rights, nor root's. The deploy user itself runs git (no repository code) and moves files.
# APP in these scripts is the app's OS user, derived by the plan from the catalog name
# (config/identity.ts: app_<name>); its home is /srv/APP, its static files /var/www/APP.
# Layout per app:  /srv/APP/{releases/TAG, venvs/HASH, shared/{env,run,log}, current, previous}
# (rollout/layout.ts APP_LAYOUT, generated into lib-rules.sh)
# Every argument was validated by the catalog already; the scripts check the shape again
# because they are the last line before a path or a shell.

# The patterns and the remote layout, generated from the TypeScript (npm run generate).
# shellcheck source=lib-rules.sh disable=SC2154 # $here is set by the script sourcing this file
. "$here/lib-rules.sh"

log() {
  printf '%s\n' "fleet: $*" >&2
}

die() {
  printf '%s\n' "fleet: error: $*" >&2
  exit 1
}

# error_line: the error in a failed command's output (stdin), as one line: the last exception
# line of a Python traceback ("pkg.SomeError: message", the message's first line; a hint such as
# psycopg2's, indented with a tab, or a chained traceback's frames are not the error), else the
# last line that is not indented.
error_line() {
  awk '/^([A-Za-z_][A-Za-z0-9_]*\.)*[A-Z][A-Za-z0-9_]*(: |$)/ && $0 !~ /^Traceback / { exc = $0 }
    /^[^ \t]/ { last = $0 }
    END { print (exc != "" ? exc : last) }' | cut -c 1-300
}

# run_or_die WHAT CMD...: runs CMD; its output goes to stderr; when it fails, dies with
# "WHAT failed: <the error line>" so the step's summary is the error itself.
run_or_die() {
  _what=$1
  shift
  _out=$(mktemp)
  if "$@" >"$_out" 2>&1; then
    cat "$_out" >&2
    rm -f "$_out"
    return 0
  fi
  tail -n 30 "$_out" >&2
  _err=$(error_line <"$_out")
  rm -f "$_out"
  die "$_what failed: $_err"
}

# pip_no_index PIP_COMMAND...: runs a `pip install --no-index` (fleet:deploy.pipMode system: the
# machine's Python packages only). A requirement none of them provides fails as the cause and the
# fix: the Debian package that would (apt-cache's python3-NAME naming), or the package index.
pip_no_index() {
  _out=$(mktemp)
  if "$@" >"$_out" 2>&1; then
    rm -f "$_out"
    return 0
  fi
  tail -n 30 "$_out" >&2
  _req=$(sed -n 's/.*No matching distribution found for \([^ ]*\).*/\1/p' "$_out" | head -n 1)
  _err=$(error_line <"$_out")
  rm -f "$_out"
  [ -n "$_req" ] || die "$APP_NAME $tag: pip install failed: $_err"
  _deb=python3-$(printf '%s' "$_req" | sed 's/[][<>=!~;@ ].*//' | tr 'A-Z_.' 'a-z--')
  die "$APP_NAME $tag: no Python package on this node provides $_req (fleet:deploy.pipMode system installs from the machine's packages only): install Debian's $_deb on the nodes, or set fleet:deploy.pipMode to index"
}

# check_arg WHAT VALUE PATTERN: VALUE must match the extended regexp PATTERN in full (in the C
# locale, where [a-z] means what it means in JavaScript).
check_arg() {
  if ! printf '%s' "$2" | LC_ALL=C grep -Eqx -e "$3"; then
    die "$1 '$2' is not allowed (must match $3)"
  fi
  case $2 in
    *"
"*) die "$1 must be a single line" ;;
  esac
}

# named_args USAGE NAME... -- ARG...: the script's arguments as --NAME VALUE pairs, each NAME
# exactly once and nothing else; sets $arg_NAME (its dashes as underscores: --git-url -> $arg_git_url).
# A missing, repeated or unknown argument dies with USAGE and what is wrong.
named_args() {
  _usage=$1 _names=
  shift
  while [ "$1" != -- ]; do
    _names="$_names $1"
    eval "unset arg_$(printf '%s' "$1" | tr - _)"
    shift
  done
  shift
  while [ $# -gt 0 ]; do
    case $1 in --?*) ;; *) die "$_usage ('$1' is not a --NAME)" ;; esac
    case "$_names " in *" ${1#--} "*) ;; *) die "$_usage ($1 is not one of its arguments)" ;; esac
    [ $# -ge 2 ] || die "$_usage ($1 has no value)"
    _var=arg_$(printf '%s' "${1#--}" | tr - _)
    eval "_given=\${$_var+set}"
    [ -z "$_given" ] || die "$_usage ($1 is given twice)"
    eval "$_var=\$2"
    shift 2
  done
  for _name in $_names; do
    eval "_given=\${arg_$(printf '%s' "$_name" | tr - _)+set}"
    [ -n "$_given" ] || die "$_usage (--$_name is missing)"
  done
}

# check_int WHAT VALUE MIN MAX: VALUE must be a whole number (digits only) from MIN to MAX (the
# check_* of the limits in lib-rules.sh call it with the limits of config/patterns.ts).
check_int() {
  case $2 in
    '' | *[!0-9]* | 0?*) die "$1 '$2' is not allowed (must be a whole number from $3 to $4)" ;;
  esac
  if [ ${#2} -gt 10 ] || [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
    die "$1 '$2' is not allowed (must be a whole number from $3 to $4)"
  fi
}

# check_choice WHAT VALUE WORD...: VALUE must be one of the WORDs (the check_* of the choices in
# lib-rules.sh call it with the words of config/patterns.ts).
check_choice() {
  _what=$1 _value=$2 _words=
  shift 2
  for _word in "$@"; do
    [ "$_value" = "$_word" ] && return 0
    _words=${_words:+$_words or }$_word
  done
  die "$_what '$_value' is not allowed ($_words)"
}

# Paths of one app.
app_paths() {
  APP=$1
  # What messages call the app: its catalog name (the OS user without the platform's prefix;
  # a shortened long name keeps its hash).
  APP_NAME=${APP#app_}
  APP_DIR=$FLEET_ROOT/$APP
  RELEASES=$APP_DIR/$FLEET_APP_RELEASES
  VENVS=$APP_DIR/$FLEET_APP_VENVS
  SHARED=$APP_DIR/$FLEET_APP_SHARED
  ENV_FILE=$APP_DIR/$FLEET_APP_ENV
  RUN_DIR=$APP_DIR/$FLEET_APP_RUN
  PIDFILE=$APP_DIR/$FLEET_APP_PIDFILE
  GUNICORN_LOG=$APP_DIR/$FLEET_APP_LOG_FILE
  CURRENT=$APP_DIR/$FLEET_APP_CURRENT
  PREVIOUS=$APP_DIR/$FLEET_APP_PREVIOUS
}

# app_release APP TAG: checks both, sets the app's paths, $tag and $rel (its release directory).
app_release() {
  check_os_user "$1"
  check_tag "$2"
  app_paths "$1"
  tag=$2
  rel=$(release_dir "$2")
}

# split_git_access IN KEY HOSTS: IN holds a private key (through its -----END line), then
# known_hosts lines; writes them to KEY and HOSTS. Empty IN gives two empty files.
split_git_access() {
  sed -n '1,/^-----END /p' "$1" >"$2"
  sed '1,/^-----END /d' "$1" >"$3"
}

# staged_release APP TAG: app_release, and the release must be completely staged on this node.
staged_release() {
  app_release "$1" "$2"
  [ -f "$rel/.fleet/staged" ] || die "$APP_NAME $tag is not staged on this node"
}

# Directory names under releases/ may hold '/' from tags like release/1.2: flatten them.
release_dir() {
  printf '%s/%s' "$RELEASES" "$(printf '%s' "$1" | tr '/' '+')"
}

# node_helper COMMAND ARGS...: the node helper as root (the deploy user's only sudo right).
node_helper() {
  sudo -n "$FLEET_NODE_HELPER" "$@"
}

# as_user CMD...: runs CMD as the app user (its home, no environment file), never as the deploy user.
as_user() {
  node_helper as "$APP" "$@"
}

# as_app CMD...: runs CMD as the app user with the app's environment file loaded.
# The file is readable by the app user only; it is read inside the app user's shell.
as_app() {
  # shellcheck disable=SC2016 # expanded by the app user's shell
  as_user sh -c 'set -a; . "$0"; set +a; exec "$@"' "$ENV_FILE" "$@"
}

# release_python RELEASE_DIR ARGS...: the release's Python (its venv), as the app user, in the
# release directory, with the release's own STATIC_ROOT (collected at stage) and settings module.
# A release staged with the platform's settings module runs with it, one staged before it
# existed with the app's own (as gunicorn.conf.py does for the workers).
release_python() {
  _rel=$1
  shift
  set -- PYTHONPATH="$_rel" STATIC_ROOT="$_rel/.fleet/static" FLEET_RELEASE_TAG="$(cat "$_rel/.fleet/tag")" \
    "$_rel/.fleet/venv/bin/python" "$@"
  if [ -f "$_rel/fleet_platform_settings.py" ]; then set -- DJANGO_SETTINGS_MODULE=fleet_platform_settings "$@"; fi
  (cd "$_rel" && as_app env "$@")
}

# manage RELEASE_DIR ARGS...: Django's manage.py of one release.
manage() {
  _r=$1
  shift
  release_python "$_r" manage.py "$@"
}

# staged_newest_first: the complete releases of the app, newest stage first.
staged_newest_first() {
  # shellcheck disable=SC2012 # release directory names are validated tags: no spaces
  ls -t "$RELEASES"/*/.fleet/staged 2>/dev/null | sed 's:/\.fleet/staged$::'
}

# lock NAME: one script per app and kind at a time on a node (a rerun waits for a straggler
# of a killed run). The lock file names the holder's pid so an operator can find it.
lock() {
  _lockfile=$APP_DIR/.lock-$1
  exec 9>>"$_lockfile"
  if ! flock -w 900 9; then
    die "another $1 of $APP_NAME is still running on this node (pid $(cat "$_lockfile" 2>/dev/null))"
  fi
  printf '%s\n' "$$" >"$_lockfile"
}

# has_systemd: true when systemd manages this machine (cloud nodes, the test bed's default nodes;
# its plain nodes have none).
has_systemd() {
  [ -d /run/systemd/system ]
}

# heavy WHAT CMD...: runs CMD (a clone, a virtualenv, pip, a Django process such as collectstatic)
# in one of the node's heavy-work slots, so that however many apps stage at once (a recovery
# starts them all together), at most HEAVY_JOBS such commands run on this node and its memory
# and CPUs are not exhausted. HEAVY_JOBS: the node's configuration (heavy_jobs), else the CPU
# count. A slot is a flock(1) on a file: the kernel releases it with the last process holding
# it, so a killed step frees its slot without anyone cleaning up. The wait is logged once; every
# start and end goes to the node's heavy-work log (what `npm run bench` measures parallelism from).
# WHAT names the work in those lines (one word). Returns CMD's status; CMD runs in a subshell,
# so a `die` inside it ends CMD and the slot is still released and logged.
heavy() {
  _heavy_what=$1
  shift
  heavy_acquire "$(heavy_jobs)" "$_heavy_what"
  heavy_event start "$_heavy_what"
  set +e
  (
    set -e
    "$@"
  )
  _heavy_rc=$?
  set -e
  heavy_event end "$_heavy_what"
  exec 8>&-
  return "$_heavy_rc"
}

# heavy_jobs: how many heavy-work slots this node has: HEAVY_JOBS=N in the node's configuration
# file (fleet:nodes.heavyJobs, written by cloud-init), or the CPU count when the file, the line
# or its value (0) says nothing (nodes built before the setting existed, the local test bed).
heavy_jobs() {
  _jobs=$(sed -n 's/^HEAVY_JOBS=\([0-9][0-9]*\)$/\1/p' "$FLEET_NODE_CONFIG" 2>/dev/null | tail -n 1)
  if [ "${_jobs:-0}" -gt 0 ]; then echo "$_jobs"; else nproc; fi
}

# heavy_acquire N WHAT: holds one of N slots on fd 8 (HEAVY_SLOT says which). flock cannot wait
# for "any one of N" files, so a waiter polls them; but only one waiter at a time (the one holding
# the queue lock, fd 7): the others sleep in the kernel, and 200 waiting stages cost a node no more
# than one.
heavy_acquire() {
  for _dir in "$FLEET_HEAVY_SLOTS" "$(dirname "$FLEET_HEAVY_LOG")"; do
    # On a node only root may make them (in /run and /var/log): the node helper does.
    [ -w "$_dir" ] || mkdir -p "$_dir" 2>/dev/null || node_helper heavy-dirs
  done
  heavy_try "$1" && return 0
  log "${APP_NAME:-?} ${tag:-}: $2 waiting for one of $1 heavy-work slots"
  exec 7>>"$FLEET_HEAVY_SLOTS/queue"
  flock 7
  until heavy_try "$1"; do sleep 0.2; done
  # Not inherited by the heavy command: the next waiter may poll at once.
  exec 7>&-
}

# heavy_try N: takes a free slot on fd 8 if there is one (HEAVY_SLOT); false when all N are held.
heavy_try() {
  HEAVY_SLOT=1
  while [ "$HEAVY_SLOT" -le "$1" ]; do
    exec 8>>"$FLEET_HEAVY_SLOTS/slot-$HEAVY_SLOT"
    if flock -n 8; then return 0; fi
    exec 8>&-
    HEAVY_SLOT=$((HEAVY_SLOT + 1))
  done
  return 1
}

# heavy_event start|end WHAT: one line in the node's heavy-work log.
heavy_event() {
  printf '%s %s %s %s %s\n' "$(date +%s.%N)" "$1" "$HEAVY_SLOT" "${APP_NAME:-?}" "$2" >>"$FLEET_HEAVY_LOG"
}
