#!/bin/sh
# prepare.sh APP ADDRESS PORT WSGI WORKERS TIMEOUT   (stdin: the app's environment file)
# prepare.sh --remove APP
#
# Makes a node ready for one app, idempotently: the app's system user, /srv/APP/{releases,
# venvs,shared}, gunicorn's settings, and the environment file (NAME='value' lines with the
# database URL, SECRET_KEY and the app's secrets) written from stdin, 0600 and owned by the
# app user, never passed on a command line. When the environment changed and gunicorn runs,
# it reloads gracefully so the new values apply. --remove stops the app and deletes its files
# and user from this node (the database is kept: data is never dropped by a deploy).
set -eu
here=$(dirname "$0")
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=lib-gunicorn.sh
. "$here/lib-gunicorn.sh"

remove() {
  check_os_user "$1"
  app_paths "$1"
  # Its processes and schedules first (processes.sh), then gunicorn: nothing of the app keeps running.
  sh "$here/processes.sh" remove "$1"
  if [ -d "$APP_DIR" ] && id -u "$APP" >/dev/null 2>&1; then
    gunicorn_stop
  fi
  node_helper remove "$APP"
  log "$APP_NAME removed from this node"
}

if [ "${1:-}" = --remove ]; then
  remove "${2:?usage: prepare.sh --remove APP}"
  exit 0
fi

[ $# -eq 6 ] || die "usage: prepare.sh APP_USER ADDRESS PORT WSGI WORKERS TIMEOUT"
check_os_user "$1"
check_arg address "$2" '([0-9]{1,3}\.){3}[0-9]{1,3}'
check_port "$3"
check_wsgi "$4"
check_workers "$5"
check_timeout "$6"
app_paths "$1"

# The app's code runs as this user: its own group only, no uid 0, no sudo (a user of this name
# made by hand is not taken over as it is). The node helper makes it and checks that.
node_helper user "$APP"
# Code and virtualenvs belong to the deploy user and are only readable by the app, so the
# app cannot rewrite its own code; run/ and log/ are the app's. run/ is readable by all: the
# deploy user reads gunicorn's pidfile there to signal it.
node_helper dirs "$APP"
for file in gunicorn.conf.py gunicorn_main.py; do node_helper shared "$APP" "$file" <"$here/$file"; done
# Where gunicorn.conf.py finds the app's files: the layout of lib-rules.sh (rollout/layout.ts).
printf '{"address": "%s", "port": %s, "wsgi": "%s", "workers": %s, "timeout": %s, "app": "%s", "current": "%s", "releases": "%s", "env": "%s", "run": "%s", "pidfile": "%s", "errorlog": "%s"}\n' \
  "$2" "$3" "$4" "$5" "$6" "$APP" "$CURRENT" "$RELEASES" "$ENV_FILE" "$RUN_DIR" "$PIDFILE" "$GUNICORN_LOG" >"$SHARED/gunicorn.json.new"
chmod 0644 "$SHARED/gunicorn.json.new"
mv -f "$SHARED/gunicorn.json.new" "$SHARED/gunicorn.json"

# The environment: read from stdin into a file only the app user can read.
new_env=$(mktemp "$SHARED/.env.XXXXXX")
trap 'rm -f "$new_env"' EXIT
cat >"$new_env"
LC_ALL=C grep -Evq "^($FLEET_PATTERN_ENV_NAME='.*'|)$" "$new_env" && die "stdin must be NAME='value' lines"
changed=$(node_helper env "$APP" <"$new_env")

if [ "$changed" = changed ] && [ -e "$CURRENT" ] && gunicorn_running; then
  log "environment of $APP_NAME changed: reloading gunicorn"
  gunicorn_reload same
fi
log "$APP_NAME prepared"
