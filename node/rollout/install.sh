#!/bin/sh
# install.sh APP ADDRESS PORT WSGI WORKERS TIMEOUT TAG GIT_URL PIP_MODE OVERRIDES DEPLOY_CHECKS HEALTH_PATH
#   stdin: the app's environment file, the line $FLEET_GIT_ACCESS_MARKER, then the git access
#   (the deploy key and known_hosts lines, or nothing)
#
# One step per app and node: prepare.sh (the app's user, home and environment file; a changed
# environment reloads gunicorn) with the first part of stdin, then stage.sh (releases/TAG; a
# release already staged returns at once) with the second. The two halves never touch the
# disk outside the scripts' own private files. Prints stage.sh's "TAG COMMIT".
set -eu
here=$(dirname "$0")
# shellcheck source=lib.sh
. "$here/lib.sh"

[ $# -eq 12 ] || die "usage: install.sh APP_USER ADDRESS PORT WSGI WORKERS TIMEOUT TAG GIT_URL PIP_MODE OVERRIDES DEPLOY_CHECKS HEALTH_PATH"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077
cat >"$work/in"
grep -Fqx -- "$FLEET_GIT_ACCESS_MARKER" "$work/in" || die "stdin: the line $FLEET_GIT_ACCESS_MARKER between the environment and the git access is missing"
sed "/^$FLEET_GIT_ACCESS_MARKER\$/,\$d" "$work/in" >"$work/env"
sed "1,/^$FLEET_GIT_ACCESS_MARKER\$/d" "$work/in" >"$work/git"
rm -f "$work/in"
umask 022

sh "$here/prepare.sh" "$1" "$2" "$3" "$4" "$5" "$6" <"$work/env"
rm -f "$work/env"
sh "$here/stage.sh" "$1" "$7" "$8" "$9" "${10}" "${11}" "${12}" <"$work/git"
