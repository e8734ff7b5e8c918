#!/bin/sh
# webroot.sh APP            on the nginx host: /var/www/APP/static, owned by the deploy user
# webroot.sh --remove APP   deletes it (the app left the stack)
#
# The directory static.sh publishes into; nginx (configured by the StaticHost component)
# serves /static/ from it.
set -eu
here=$(dirname "$0")
# shellcheck source=lib.sh
. "$here/lib.sh"

if [ "${1:-}" = --remove ]; then
  check_os_user "${2:?usage: webroot.sh --remove APP}"
  sudo rm -rf -- "${FLEET_WEB_ROOT:?}/$2"
  exit 0
fi
[ $# -eq 1 ] || die "usage: webroot.sh APP"
check_os_user "$1"
sudo install -d -o root -g root -m 0755 "$FLEET_WEB_ROOT"
sudo install -d -o "$(id -un)" -m 0755 "$FLEET_WEB_ROOT/$1" "$FLEET_WEB_ROOT/$1/static"
log "$FLEET_WEB_ROOT/$1/static ready"
