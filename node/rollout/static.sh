#!/bin/sh
# static.sh APP TAG NODE SSH_USER SSH_PORT   (stdin: the SSH private key for NODE)
#
# On the nginx host, after webroot.sh: publishes the static files of a release staged on NODE
# (collected with hashed names at stage) into /var/www/APP/static, with rsync over SSH from
# NODE and without --delete: the older releases' hashed files stay, so pages of the release
# still serving on the other nodes, or of a rollback, keep finding their assets. Runs once per
# app and release. (It runs here, not on NODE, so that the step that publishes is the step
# that owns the web root on this host: its delete removes the files when the app goes.)
set -eu
here=$(dirname "$0")
# shellcheck source=lib.sh
. "$here/lib.sh"

[ $# -eq 5 ] || die "usage: static.sh APP TAG NODE SSH_USER SSH_PORT"
check_host "$3" "node"
check_ssh_user "$4"
check_arg "ssh port" "$5" '[0-9]{1,5}'
app_release "$1" "$2"
[ -d "$FLEET_WEB_ROOT/$APP/static" ] || die "$FLEET_WEB_ROOT/$APP/static is missing on this host (webroot.sh makes it)"
host=$3 user=$4 port=$5

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077
cat >"$work/key"
[ -s "$work/key" ] || die "stdin: the SSH private key for $host is missing"
# What rsync writes here nginx must read (without -p, rsync applies the umask to new files).
umask 022
ssh="ssh -i $work/key -p $port -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=$work/known_hosts"

$ssh "$user@$host" test -f "$rel/.fleet/staged" || die "$APP_NAME $tag is not staged on $host"
rsync -rt --chmod=D755,F644 -e "$ssh" -- "$user@$host:$rel/.fleet/static/" "$FLEET_WEB_ROOT/$APP/static/"
count=$($ssh "$user@$host" find "$rel/.fleet/static" -type f | wc -l)
log "$APP_NAME $tag: $count static files published from $host to $FLEET_WEB_ROOT/$APP/static"
printf '%s %s\n' "$tag" "$count"
