#!/bin/sh
# static.sh APP TAG SSH_PORT EDGE_HOST...   (stdin: the app's publish key, its private half)
#
# On the first app node, after every node staged TAG: publishes the release's static files
# (collected with hashed names at stage) into APP's static directory on each nginx host, with
# rsync over SSH as the publish user ($FLEET_PUBLISH_USER). On the nginx host that key can do
# one thing: rrsync, write-only, into this app's static directory (render/publishAccess.ts): no
# shell, no other app's files, no deletes. Without --delete on purpose: the older releases'
# hashed files stay, so pages of the release still serving on the other nodes, or of a
# rollback, keep finding their assets. The directory itself belongs to the nginx host's sites
# step, which makes it before any publish and removes it when the app leaves.
set -eu
here=$(dirname "$0")
# shellcheck source=lib.sh
. "$here/lib.sh"

[ $# -ge 4 ] || die "usage: static.sh APP TAG SSH_PORT EDGE_HOST..."
check_arg "ssh port" "$3" '[0-9]{1,5}'
staged_release "$1" "$2"
port=$3
shift 3
for edge in "$@"; do check_host "$edge" "nginx host"; done
[ -d "$rel/.fleet/static" ] || die "$APP_NAME $tag has no collected static files on this node (stage collects them)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077
cat >"$work/key"
[ -s "$work/key" ] || die "stdin: the publish key of $APP_NAME is missing"
ssh="ssh -i $work/key -p $port -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=$work/known_hosts"

count=$(find "$rel/.fleet/static" -type f | wc -l)
for edge in "$@"; do
  # The forced command roots the path at the app's static directory: "." is that directory.
  if ! out=$(rsync -rt --chmod=D755,F644 -e "$ssh" -- "$rel/.fleet/static/" "$FLEET_PUBLISH_USER@$edge:." 2>&1); then
    die "$APP_NAME $tag: publishing to $edge failed: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')(the nginx host's publish-access step grants the publish key: did it run?)"
  fi
  log "$APP_NAME $tag: $count static files published to $edge"
done
printf '%s %s\n' "$tag" "$count"
