#!/bin/sh
# switch.sh APP TAG ADDRESS PORT DOMAIN HEALTH_PATH HEALTH_SECONDS
#
# Moves this node to release TAG: atomic symlink swap of /srv/APP/current (ln -s + mv -T),
# graceful gunicorn reload (a new master, USR2: gunicorn.conf.py, lib-gunicorn.sh), then a
# health check of this node's own gunicorn with the app's Host header. On failure the old
# release is put back and reloaded, and the script fails, so the rollout moves no further node.
# Already on TAG: only makes sure gunicorn runs and is healthy. Prints "TAG COMMIT".
set -eu
here=$(dirname "$0")
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=lib-gunicorn.sh
. "$here/lib-gunicorn.sh"

[ $# -eq 7 ] || die "usage: switch.sh APP TAG ADDRESS PORT DOMAIN HEALTH_PATH HEALTH_SECONDS"
check_arg address "$3" '([0-9]{1,3}\.){3}[0-9]{1,3}'
check_port "$4"
check_domain "$5"
check_health_path "$6"
check_health_seconds "$7"
staged_release "$1" "$2"
address=$3 port=$4 domain=$5 path=$6 seconds=$7
lock switch

# point_to DIR: the atomic swap; a reader sees the old link or the new one, never none.
point_to() {
  ln -sfn "$1" "$APP_DIR/.current.new"
  mv -T "$APP_DIR/.current.new" "$CURRENT"
}

healthy() {
  if ! answer=$(health "$address" "$port" "$domain" "$path" "$1"); then
    return 1
  fi
}

# reload_and_check same|new: the new code running and healthy; else `answer` says why not.
reload_and_check() {
  GUNICORN_FAILURE=""
  answer="gunicorn did not take over"
  if ! gunicorn_reload "$1"; then
    if [ -n "$GUNICORN_FAILURE" ]; then answer="gunicorn did not start: $GUNICORN_FAILURE"; fi
    return 1
  fi
  healthy "$seconds"
}

served() {
  printf '%s %s\n' "$(cat "$CURRENT/.fleet/tag")" "$(cat "$CURRENT/.fleet/commit")"
}

# The release served before: only when current is a link to a release that is there (GNU
# readlink -f prints a path even for a missing link, which would make a first deploy "put back"
# current onto itself).
old=""
if [ -L "$CURRENT" ] && old=$(readlink -e "$CURRENT") && [ -f "$old/.fleet/tag" ]; then :; else old=""; fi
if [ "$old" = "$rel" ]; then
  if ! gunicorn_running; then gunicorn_start || die "$APP_NAME $tag on $address: gunicorn does not start (${GUNICORN_FAILURE:-no error in its log})"; fi
  healthy "$seconds" || die "$APP_NAME $tag on $address: already current but unhealthy ($answer)"
  log "$APP_NAME $tag already serving on $address"
  served
  exit 0
fi

venv_change=same
if [ -z "$old" ] || [ "$(cat "$old/.fleet/venv-hash" 2>/dev/null)" != "$(cat "$rel/.fleet/venv-hash")" ]; then
  venv_change=new
fi

point_to "$rel"
if reload_and_check "$venv_change"; then
  # previous: the release to keep for a quick way back (prune never removes it).
  if [ -n "$old" ]; then ln -sfn "$old" "$APP_DIR/.previous.new" && mv -T "$APP_DIR/.previous.new" "$PREVIOUS"; fi
  log "$APP_NAME $tag serving on $address"
  served
  exit 0
fi

failed=$answer
if [ -z "$old" ]; then
  gunicorn_stop
  rm -f "$CURRENT"
  die "$APP_NAME $tag failed its health check on $address ($failed); there was no release before it: $APP_NAME stopped on this node"
fi
point_to "$old"
back="put back $(cat "$old/.fleet/tag")"
if ! reload_and_check "$venv_change"; then back="$back, which is unhealthy as well ($answer)"; fi
die "$APP_NAME $tag failed its health check on $address ($failed): $back; no further node moves"
