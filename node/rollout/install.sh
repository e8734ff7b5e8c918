#!/bin/sh
# install.sh --app APP_USER --address ADDRESS --port PORT --wsgi WSGI --workers N --timeout SECONDS
#            --tag TAG --git-url URL --pip-mode MODE --overrides LIST --deploy-checks MODE --health-path PATH
#   (each argument once, in any order)
#   stdin: the app's environment file, the line $FLEET_GIT_ACCESS_MARKER, then the git access
#   (the deploy key and known_hosts lines, or nothing)
#
# One step per app and node: prepare.sh (the app's user, home and environment file; a changed
# environment reloads gunicorn) with the first part of stdin, then stage.sh (releases/TAG; a
# release already staged returns at once) with the second. The two halves never touch the
# disk outside the scripts' own private files. Prints stage.sh's "TAG COMMIT".
# shellcheck disable=SC2154 # named_args sets the arg_* variables
set -eu
here=$(dirname "$0")
# shellcheck source=lib.sh
. "$here/lib.sh"

named_args "usage: install.sh --app APP_USER --address ADDRESS --port PORT --wsgi WSGI --workers N --timeout SECONDS --tag TAG --git-url URL --pip-mode MODE --overrides LIST --deploy-checks MODE --health-path PATH" \
  app address port wsgi workers timeout tag git-url pip-mode overrides deploy-checks health-path -- "$@"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077
cat >"$work/in"
grep -Fqx -- "$FLEET_GIT_ACCESS_MARKER" "$work/in" || die "stdin: the line $FLEET_GIT_ACCESS_MARKER between the environment and the git access is missing"
sed "/^$FLEET_GIT_ACCESS_MARKER\$/,\$d" "$work/in" >"$work/env"
sed "1,/^$FLEET_GIT_ACCESS_MARKER\$/d" "$work/in" >"$work/git"
rm -f "$work/in"
umask 022

sh "$here/prepare.sh" "$arg_app" "$arg_address" "$arg_port" "$arg_wsgi" "$arg_workers" "$arg_timeout" <"$work/env"
rm -f "$work/env"
sh "$here/stage.sh" "$arg_app" "$arg_tag" "$arg_git_url" "$arg_pip_mode" "$arg_overrides" "$arg_deploy_checks" "$arg_health_path" <"$work/git"
