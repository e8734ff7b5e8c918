#!/bin/sh
# static.sh APP TAG STATIC_HOST SSH_USER SSH_PORT   (stdin: the SSH private key for STATIC_HOST)
#
# Publishes the static files of a staged release (collected with hashed names at stage) from
# this node to the nginx host's /var/www/APP/static, with rsync over SSH and without
# --delete: the older releases' hashed files stay, so pages of the release still serving on
# the other nodes, or of a rollback, keep finding their assets. Runs once per app and release.
set -eu
here=$(dirname "$0")
# shellcheck source=lib.sh
. "$here/lib.sh"

[ $# -eq 5 ] || die "usage: static.sh APP TAG STATIC_HOST SSH_USER SSH_PORT"
check_host "$3" "static host"
check_ssh_user "$4"
check_arg "ssh port" "$5" '[0-9]{1,5}'
staged_release "$1" "$2"
host=$3 user=$4 port=$5

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077
cat >"$work/key"
[ -s "$work/key" ] || die "stdin: the SSH private key for $host is missing"
ssh="ssh -i $work/key -p $port -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=$work/known_hosts"

rsync -rt --chmod=D755,F644 -e "$ssh" -- "$rel/.fleet/static/" "$user@$host:$FLEET_WEB_ROOT/$APP/static/"
count=$(find "$rel/.fleet/static" -type f | wc -l)
log "$APP_NAME $tag: $count static files published to $host:$FLEET_WEB_ROOT/$APP_NAME/static"
printf '%s %s\n' "$tag" "$count"
