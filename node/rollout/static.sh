#!/bin/sh
# static.sh APP TAG SSH_PORT EDGE_HOST...   (stdin: the app's publish key, its private half)
#
# On the first app node, after every node staged TAG: publishes the release's collected static
# files into APP's static directory on each nginx host, with rsync over SSH as the publish user
# ($FLEET_PUBLISH_USER). On the nginx host that key can do one thing: rrsync, write-only, into
# this app's static directory (render/publishAccess.ts): no shell, no other app's files.
#   - into COMMIT/, the release's own directory: the platform's settings give the release
#     STATIC_URL /static/COMMIT/ (platform_settings_module.py), so a page always links the files
#     of the release that rendered it, plain names (style.css) or hashed, while the nodes switch
#     one by one and after a rollback;
#   - into the directory itself too, without deleting: the URL of an app with overrides.static
#     off, and of templates that write /static/... by hand (the newest release's files win there);
#   - then removes the release directories no release on this node has any more (prune.sh
#     removed those releases): the only deletion the key makes, and only of COMMIT-named
#     directories. Skipped on a node that serves nothing yet (a new first node knows too few
#     releases: the others may still serve an older one).
# The directory itself belongs to the nginx host's access step, which makes it before any
# publish and removes it when the app leaves.
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
commit=$(cat "$rel/.fleet/commit")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077
cat >"$work/key"
[ -s "$work/key" ] || die "stdin: the publish key of $APP_NAME is missing"
ssh="ssh -i $work/key -p $port -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=$work/known_hosts"

# rsync_to EDGE ARGS...: rsync to the publish user on EDGE; the error names the step that grants access.
rsync_to() {
  _edge=$1
  shift
  if ! _out=$(rsync -e "$ssh" "$@" 2>&1); then
    die "$APP_NAME $tag: publishing to $_edge failed: $(printf '%s' "$_out" | tail -n 3 | tr '\n' ' ')(the nginx host's publish-access step grants the publish key: did it run?)"
  fi
}

# Filter rules that protect the kept release directories and everything not named like a commit
# (rsync: the first matching rule wins; what no rule protects is deleted).
mkdir "$work/empty"
commit_glob=$(printf '%s' "$commit" | sed 's/./[0-9a-f]/g')
for kept in "$RELEASES"/*/.fleet/commit; do
  if [ -f "$kept" ]; then printf 'protect /%s/***\n' "$(cat "$kept")"; fi
done >"$work/filter"
printf 'protect /%s/***\nrisk /%s\nprotect /*\n' "$commit" "$commit_glob" >>"$work/filter"

count=$(find "$rel/.fleet/static" -type f | wc -l)
for edge in "$@"; do
  # The forced command roots the path at the app's static directory: "." is that directory.
  rsync_to "$edge" -rt --chmod=D755,F644 -- "$rel/.fleet/static/" "$FLEET_PUBLISH_USER@$edge:$commit/"
  rsync_to "$edge" -rt --chmod=D755,F644 -- "$rel/.fleet/static/" "$FLEET_PUBLISH_USER@$edge:."
  if [ -e "$CURRENT" ]; then
    rsync_to "$edge" -r --delete --filter="merge $work/filter" -- "$work/empty/" "$FLEET_PUBLISH_USER@$edge:."
  fi
  log "$APP_NAME $tag: $count static files published to $edge (/static/$commit/)"
done
printf '%s %s\n' "$tag" "$count"
